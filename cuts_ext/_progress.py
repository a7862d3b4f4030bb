"""Progress bars: the one place that decides how they behave, on a terminal and in a log.

On a terminal a bar redraws itself up to ten times a second (tqdm's default) and each redraw
replaces the last. Written to a file or a pipe (a batch job's log, `cuts segment ... 2> log`),
every redraw is kept: a 200-epoch training run would leave thousands of them. There, a bar
redraws at most every LOG_INTERVAL_SECONDS (and once at the end), in ASCII, so that a log still
shows where a long job is without being flooded. Notebooks keep tqdm's widget.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, Optional

LOG_INTERVAL_SECONDS = 30.0


def progress_bar(iterable: Optional[Iterable] = None, *, enabled: bool, **options: Any) -> Any:
    """A tqdm bar over `iterable` (or one updated by hand, with `total=`), hidden unless
    `enabled`; `options` are tqdm's (desc, unit, total, file, ...)."""
    from tqdm.auto import tqdm
    from tqdm.notebook import tqdm as notebook_bar

    if not issubclass(tqdm, notebook_bar) and not _is_terminal(options.get("file") or sys.stderr):
        options.setdefault("mininterval", LOG_INTERVAL_SECONDS)
        options.setdefault("ascii", True)
    return tqdm(iterable, disable=not enabled, **options)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
