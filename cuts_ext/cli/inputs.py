"""Reading the inputs of `cuts train` and `cuts segment`, and their lines on the terminal.

Each input is resolved and read on its own: one that fails is reported (one line on stderr,
"cuts COMMAND: error: PATH: reason") and skipped, and the others still complete.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional

from ..io import InputError, read_image
from ..io.paths import find_inputs, split_name_clashes


def resolve_sources(command: str, sources: list, outputs: Optional[Path] = None) -> tuple:
    """(input files, number of failures): each source resolved on its own, so one that names
    nothing readable is reported and skipped; an input with the name of an earlier one (from
    another source) is reported and skipped too, as its outputs would replace the earlier's.
    Files inside `outputs`, the run's output folder, are left out (with a warning): a pattern
    such as scans/** would otherwise take the label images of an earlier run as inputs."""
    resolved, failures = _each_input(command, sources, find_inputs)
    found = [path for paths in resolved for path in paths]
    if outputs is not None:
        root = outputs.resolve()
        within = [path.resolve().is_relative_to(root) for path in found]
        inside = [path for path, is_inside in zip(found, within) if is_inside]
        if inside:
            print(f"cuts {command}: warning: left out {len(inside)} file(s) inside the output "
                  f"folder {outputs} ({some_paths(inside)})", file=sys.stderr)
            found = [path for path, is_inside in zip(found, within) if not is_inside]
    paths, clashes = split_name_clashes(found)
    for clash in clashes:
        report_error(command, clash)
    return paths, failures + len(clashes)


def read_inputs(command: str, sources: list, outputs: Optional[Path] = None) -> tuple:
    """(images read, number of failures): each source is resolved (`resolve_sources`) and each
    file read on its own, so one bad input is reported and skipped."""
    paths, failures = resolve_sources(command, sources, outputs)
    images, unreadable = _each_input(command, paths, read_image)
    return images, failures + unreadable


def _each_input(command: str, items: list, action: Any) -> tuple:
    """([action(item) for the items where it succeeds], number of InputErrors), each error
    reported on its own line."""
    results, failures = [], 0
    for item in items:
        try:
            results.append(action(item))
        except InputError as error:
            failures += 1
            report_error(command, error)
    return results, failures


def some_paths(paths: list, shown: int = 3) -> str:
    """The first `shown` of `paths`, and how many more."""
    names = ", ".join(str(path) for path in paths[:shown])
    return names + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


def report_error(command: str, error: Exception) -> None:
    """One input's failure, one line on stderr."""
    print(f"cuts {command}: error: {error}", file=sys.stderr)


def no_input(command: str) -> int:
    """Says that nothing could be read; the exit status of that run."""
    print(f"cuts {command}: error: no input could be read", file=sys.stderr)
    return 1


def say(args: argparse.Namespace, text: str) -> None:
    """A progress line on stdout, unless --quiet."""
    # tqdm.write prints the line above a progress bar (as print does without one).
    if not args.quiet:
        from tqdm.auto import tqdm
        tqdm.write(text)
