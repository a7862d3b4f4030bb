"""Named stages for Nsight and for per-stage timings: the one helper the Python layer uses.

`stage(name)` wraps a block in the NVTX push/pop range `name` (compiled in with CUDA; without
it the push and pop do nothing and cost a function call each). Ranges nest as the blocks do:
condensation opens "cuts_ext.condense" around a call, "iter" around each iteration and
"kernel", "spectrum", "diffuse" or "merge" around each phase of one, so Nsight shows them as
cuts_ext.condense/iter/kernel and so on; `segment` opens "cuts_ext.segment" around an image and
"foreground", "embed", "coarsen", "condense" and "maps" inside it (python/profile_gpu.sh).

Inside `record_stages()`, every stage is also timed, keyed by its full path: on the host clock,
or for a block that runs on a GPU (`stage(..., cuda=True)`) by CUDA events recorded on torch's
current stream, the stream the package's kernels run on, so that asynchronous work is counted
where it runs and no synchronisation is added inside the loop. Recording is per thread of
control (a context variable) and costs nothing when off.
"""

from __future__ import annotations

import contextvars
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

from . import _C


@dataclass
class StageTimes:
    """The stages timed inside one `record_stages()`: per stage path
    ("cuts_ext.condense/iter/diffuse", ...), in the order each first ran, its spans: host
    seconds, or (begin, end) CUDA events."""

    _spans: Dict[str, List[Any]] = field(default_factory=dict)
    _path: List[str] = field(default_factory=list)

    def seconds(self) -> Dict[str, Tuple[float, int]]:
        """{path: (total seconds, times run)}, in the order each stage first ran. Waits for the
        GPU's recorded events (so call it after the work, not inside a loop)."""
        totals = {}
        for path, spans in self._spans.items():
            total = 0.0
            for span in spans:
                if isinstance(span, tuple):
                    begin, end = span
                    end.synchronize()
                    span = begin.elapsed_time(end) / 1000.0
                total += span
            totals[path] = (total, len(spans))
        return totals

    def table(self) -> List[str]:
        """Markdown lines: stage, runs, total ms, ms per run, share of the outermost stage."""
        totals = self.seconds()
        outer = max((s for path, (s, _) in totals.items() if "/" not in path), default=0.0)
        lines = ["| stage | runs | total ms | ms per run | share |", "|---|---:|---:|---:|---:|"]
        for path, (seconds, runs) in totals.items():
            share = f"{100 * seconds / outer:.0f} %" if outer > 0 else "-"
            lines.append(f"| {path} | {runs} | {1000 * seconds:.1f} | "
                         f"{1000 * seconds / max(runs, 1):.2f} | {share} |")
        return lines

    def _begin(self, name: str, cuda: bool) -> tuple:
        self._path.append(name)
        path = "/".join(self._path)
        self._spans.setdefault(path, [])  # first run: the stage's place in the order
        if cuda:
            import torch
            begin = torch.cuda.Event(enable_timing=True)
            begin.record()
            return path, begin
        return path, time.perf_counter()

    def _end(self, token: tuple) -> None:
        path, begin = token
        self._path.pop()
        if isinstance(begin, float):
            self._spans[path].append(time.perf_counter() - begin)
            return
        import torch
        end = torch.cuda.Event(enable_timing=True)
        end.record()
        self._spans[path].append((begin, end))


_recording: contextvars.ContextVar[Optional[StageTimes]] = contextvars.ContextVar(
    "cuts_ext_stage_times", default=None)


@contextmanager
def stage(name: str, cuda: bool = False) -> Iterator[None]:
    """The NVTX range `name` around the block; timed when inside `record_stages()`.

    Args:
        name: the range's name (no "/": the path is made of the nesting).
        cuda: the block's work runs on a GPU, on torch's current stream (timed by CUDA events
            when recording; torch must then be importable).
    """
    times = _recording.get()
    token = times._begin(name, cuda) if times is not None else None
    _C._nvtx_push(name)
    try:
        yield
    finally:
        _C._nvtx_pop()
        if token is not None:
            times._end(token)


@contextmanager
def record_stages() -> Iterator[StageTimes]:
    """Times every `stage` opened inside the block (nested recordings: the inner one only).

    Example:
        with record_stages() as times:
            cuts_ext.condense(X)
        print("\\n".join(times.table()))
    """
    times = StageTimes()
    token = _recording.set(times)
    try:
        yield times
    finally:
        _recording.reset(token)
