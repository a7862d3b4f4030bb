"""The `cuts` command: one module per subcommand (info, train, segment, evaluate, demo),
options shared between them in options.py, the reading of inputs in inputs.py.

Exit status: 0 on success; 2 for a usage error (argparse: an unknown option, a malformed value,
naming the option); 1 when an input or setting is refused or a run fails in an expected way
(ValueError, TypeError, RuntimeError, MemoryError, OSError: one line on stderr, "cuts COMMAND:
error: ..."; also a declared dependency missing from the environment, named with its pip
install line), or on an unexpected error, which prints one line saying it is a bug; its
traceback only with --debug or CUTS_DEBUG=1. Ctrl-C exits 130; a closed stdout (`| head`) 141,
silently.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Any

from .._missing import missing_dependency
from . import demo, evaluate, info, segment, train

#: The errors the library documents for bad inputs and failed runs.
EXPECTED_ERRORS = (ValueError, TypeError, RuntimeError, MemoryError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cuts",
        description="CUTS: unsupervised multi-scale segmentation of medical images.")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, print the full traceback too (or set CUTS_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info.add_parser(sub)
    train.add_parser(sub)
    segment.add_parser(sub)
    evaluate.add_parser(sub)
    demo.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("CUTS_DEBUG", "") not in ("", "0")
    try:
        with warnings.catch_warnings():  # restores the usual display when the command ends
            warnings.showwarning = _warning_line(args.command)
            check_device(args)
            status = args.run(args)
            sys.stdout.flush()  # a reader that left shows here, not in the interpreter's exit
            return status
    except KeyboardInterrupt:
        print(f"cuts {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`cuts info | head -1`): stop quietly, as a command
        # killed by SIGPIPE would (128 + 13), with stdout pointed at /dev/null so that the
        # interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except EXPECTED_ERRORS as error:
        if debug:
            raise
        print(f"cuts {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug (or an incomplete installation): say which
        if debug:
            raise
        missing = missing_dependency(error)
        if missing is not None:
            print(f"cuts {args.command}: error: {missing}", file=sys.stderr)
            return 1
        print(f"cuts {args.command}: internal error: {type(error).__name__}: {one_line(error)} "
              "(a bug in cuts_ext: please report it to its maintainers with the command line "
              "and the traceback, which --debug or CUTS_DEBUG=1 prints)", file=sys.stderr)
        return 1


def check_device(args: argparse.Namespace) -> None:
    """RuntimeError naming --device when it asks for CUDA where torch cannot use a GPU (its
    spelling was checked by the parser)."""
    if getattr(args, "device", None) is not None:
        from ..encoder.device import torch_device
        torch_device(args.device, "--device")


def _warning_line(command: str) -> Any:
    """A `warnings.showwarning` that prints the library's warnings as the command's own lines,
    "cuts COMMAND: warning: ...", not as Python's file:line report."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"cuts {command}: warning: {one_line(message)}", file=sys.stderr)
    return show


def one_line(error: BaseException) -> str:
    """The error's message on one line."""
    return " ".join(str(error).split()) or type(error).__name__
