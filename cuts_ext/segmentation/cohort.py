"""Segmenting a cohort: each input on its own, here one after another or as Dask tasks.

An `InputJob` names one input (a file, read where the job runs, or an image already read), its
reference mask file and its foreground. `run_job` segments it with an encoder and writes its
outputs into OUT/NAME (all or nothing: `io.write_outputs`), returning an `Outcome`: the levels,
the condensation time and the metrics row, or the one-line reason it failed.

`run_on_cluster` submits one task per job to a `dask.distributed.Client`. The encoder travels
once, as checkpoint bytes broadcast to every worker, and is loaded there once per worker
process (cached by the bytes' SHA-256); each worker reads its input and writes its outputs
itself; outcomes come back as the tasks finish (`dask.distributed.as_completed`). A task whose
worker dies is rerun elsewhere by Dask. `segment_on_cluster` is `segment(client=...)`: the same
one task per image, returning the `SegmentedImage`s instead of writing them.

A complete output is a folder OUT/NAME holding NAME.npz. Output folders appear only by the
atomic rename of a finished staging folder, so such a folder holds every output of its input;
`--resume` skips those inputs, and a task rerun after its worker died having already written
finds its output complete and reports it instead of failing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Tuple, Union

from .._progress import progress_bar
from ..io import (InputError, LoadedImage, OutputExistsError, input_name, read_image, read_mask,
                  refuse_existing, write_outputs)
from .evaluation import score_written
from .pipeline import segment_image

# The failures of one input that are reported while the other inputs go on (as `cuts segment`
# always did): unreadable files, masks that do not fit, existing outputs, bad values, memory.
# RuntimeError is not one: it is what a broken CUDA context raises for every later input, and
# what torch raises where the checks before the work missed something (a bug to hear of once).
INPUT_FAILURES = (InputError, OutputExistsError, ValueError, OSError, MemoryError)


@dataclass(frozen=True)
class InputJob:
    """One input of a cohort and what goes with it.

    Attributes:
        image: the input file (read where the job runs) or the image already read.
        mask: the reference mask file, or None (no scores).
        foreground: `segment_image`'s foreground: None, "auto", "default", or a mask file.
    """

    image: Union[Path, LoadedImage]
    mask: Optional[Path] = None
    foreground: Any = "default"

    def absolute(self) -> "InputJob":
        """This job with absolute file paths (the same files, from any working folder)."""
        def absolute(value: Any) -> Any:
            return value.absolute() if isinstance(value, Path) else value
        return InputJob(absolute(self.image), absolute(self.mask), absolute(self.foreground))

    @property
    def path(self) -> Path:
        return self.image.path if isinstance(self.image, LoadedImage) else Path(self.image)

    @property
    def name(self) -> str:
        """The input's name, which its output folder OUT/NAME carries."""
        return self.image.name if isinstance(self.image, LoadedImage) else input_name(self.image)


@dataclass(frozen=True)
class Outcome:
    """What became of one input.

    Attributes:
        path: the input file.
        name: its name (the output folder's).
        folder: OUT/NAME when its outputs are complete, else None.
        levels: the number of levels written (None for `reused` outputs).
        seconds: the condensation's time, 0 for `reused` outputs.
        metrics: its metrics.csv row (`evaluation.CSV_COLUMNS`) when it has a mask.
        error: why it failed, one line starting with the input's path; None on success.
        reused: the outputs were complete before this job ran (`--resume`, or a task rerun
            after its worker died having written them).
        warnings: the warnings the job gave on a Dask worker, whose own log would otherwise
            be the only place they appear; `run_on_cluster` gives them again on the client.
    """

    path: Path
    name: str
    folder: Optional[Path] = None
    levels: Optional[int] = None
    seconds: float = 0.0
    metrics: Optional[dict] = None
    error: Optional[str] = None
    reused: bool = False
    warnings: Tuple[str, ...] = ()


def describe_failure(error: BaseException, path: Optional[Any] = None) -> str:
    """The one-line reason of a failure: an InputError's message starts with its file; any
    other is prefixed with `path` when one is given."""
    if isinstance(error, InputError) or path is None:
        return str(error)
    return f"{path}: {error}"


def run_job(model: Any, job: InputJob, out: Any, *, overwrite: bool = False,
            **settings: Any) -> Outcome:
    """Segments one input and writes its outputs into OUT/NAME, all or nothing.

    Args:
        model: the trained `CUTSEncoder`.
        job: the input, its mask file and foreground.
        out: the output folder.
        overwrite: replace an existing OUT/NAME.
        settings: `segment_image`'s keywords (device, seed, position_weight,
            condense_options, max_points).
    Returns:
        its `Outcome`; a failure of INPUT_FAILURES is its `error`, not raised.
    """
    try:
        image = job.image if isinstance(job.image, LoadedImage) else read_image(job.image)
        mask = None if job.mask is None else read_mask(job.mask, image.spatial_shape,
                                                       image_path=image.path,
                                                       affine=image.affine)
        foreground = job.foreground
        if isinstance(foreground, Path):
            foreground = read_mask(foreground, image.spatial_shape, image_path=image.path,
                                   affine=image.affine)
        result = segment_image(model, image, mask, foreground=foreground, **settings)
        folder = write_outputs(out, image, result.segmentation, overwrite=overwrite)
    except INPUT_FAILURES as error:
        return Outcome(job.path, job.name, error=describe_failure(error, job.path))
    return Outcome(job.path, image.name, folder, len(result.segmentation.levels),
                   sum(result.condensation.seconds), result.metrics)


def complete_output(job: InputJob, out: Any) -> Optional[Outcome]:
    """The `reused` Outcome of a job whose folder OUT/NAME is complete (holds NAME.npz),
    scored against its mask when it has one; None when it is not complete."""
    folder = Path(out) / job.name
    written = folder / f"{job.name}.npz"
    if not written.is_file():
        return None
    try:
        metrics = None if job.mask is None else score_written(written, job.mask)
    except INPUT_FAILURES as error:
        return Outcome(job.path, job.name, error=describe_failure(error, written))
    return Outcome(job.path, job.name, folder, metrics=metrics, reused=True)


# The encoder of each worker process: {(SHA-256 of its checkpoint bytes, device): encoder},
# holding the latest one only. The lock makes a worker's threads load it once.
_WORKER_ENCODERS: dict = {}
_WORKER_LOCK = threading.Lock()


def worker_encoder(digest: str, payload: bytes, device: Any = None) -> Any:
    """The encoder of the checkpoint bytes `payload` (`encoder_bytes`; SHA-256 `digest`) on
    `device` (None: the CPU), loaded once per process and kept for the next tasks."""
    from ..encoder.checkpoint import load_encoder

    key = (digest, str(device))
    with _WORKER_LOCK:
        if key not in _WORKER_ENCODERS:
            _WORKER_ENCODERS.clear()
            _WORKER_ENCODERS[key] = load_encoder(payload, device=device)
        return _WORKER_ENCODERS[key]


def _job_task(digest: str, payload: bytes, job: InputJob, out: Any, overwrite: bool,
              settings: dict) -> Outcome:
    """One input on a worker. Without `overwrite` the client submitted only inputs without an
    output folder, so a complete one here was written by an earlier run of this very task
    whose worker then died: it is reported, not segmented again."""
    if not overwrite:
        earlier = complete_output(job, out)
        if earlier is not None:
            return earlier
    model = worker_encoder(digest, payload, settings.get("device"))
    # Recording swaps the process's warning filters: with several threads per worker, a
    # warning of a job running beside this one may be recorded here instead (never lost).
    with warnings.catch_warnings(record=True) as given:
        warnings.simplefilter("always")
        outcome = run_job(model, job, out, overwrite=overwrite, **settings)
    return dataclasses.replace(outcome, warnings=tuple(str(w.message) for w in given))


def _segment_task(digest: str, payload: bytes, image: LoadedImage, mask: Any, foreground: Any,
                  settings: dict) -> Any:
    """One image of `segment(client=...)` on a worker: its `SegmentedImage`."""
    return segment_image(worker_encoder(digest, payload, settings.get("device")), image, mask,
                         foreground=foreground, **settings)


def run_on_cluster(client: Any, model: Any, jobs: Sequence[InputJob], out: Any, *,
                   overwrite: bool = False, settings: Optional[dict] = None,
                   progress: bool = True) -> Iterator[Outcome]:
    """Runs `run_job` for every job as one Dask task each and yields the outcomes as the tasks
    finish, with one progress bar over the inputs.

    Each worker reads its input and writes OUT/NAME itself, so `out` must be a folder every
    worker can reach (a shared file system on a multi-machine cluster). Without `overwrite`,
    an input whose OUT/NAME exists fails here, before any task (`io.refuse_existing`). A task
    that raises anything else, or whose workers die (Dask reruns a task whose worker died, up
    to its `allowed-failures` setting), fails its input only, with the exception as reason.

    Args:
        client: a `dask.distributed.Client`.
        model: the trained `CUTSEncoder` (its weights travel as checkpoint bytes).
        jobs: the inputs; their files must be readable by the workers.
        out: the output folder.
        overwrite: replace existing output folders.
        settings: `segment_image`'s keywords (device, seed, position_weight, ...).
        progress: show the progress bar.
    """
    distributed = _distributed(client)
    settings = dict(settings or {})
    encoder = _share_encoder(client, model)
    bar = progress_bar(total=len(jobs), enabled=progress, desc="segmenting", unit="input")
    futures = {}
    for job in jobs:
        try:
            refuse_existing(Path(out) / job.name, overwrite)
        except OutputExistsError as error:
            bar.update()
            yield Outcome(job.path, job.name, error=describe_failure(error, job.path))
            continue
        futures[client.submit(_job_task, *encoder, job, out, overwrite, settings,
                              pure=False)] = job
    try:
        for future in distributed.as_completed(futures):
            job = futures[future]
            try:
                outcome = future.result()
            except Exception as error:  # the task's own failure, reported for its input only
                outcome = Outcome(job.path, job.name,
                                  error=f"{job.path}: {type(error).__name__}: {error}")
            future.release()
            for message in outcome.warnings:
                warnings.warn(message, UserWarning, stacklevel=2)
            bar.update()
            yield outcome
    finally:
        bar.close()
        client.cancel(list(futures))


def segment_on_cluster(client: Any, model: Any, work: Sequence[tuple], settings: dict,
                       progress: bool = True) -> list:
    """`segment(client=...)`: one Dask task per (image, mask, foreground) of `work`, the
    encoder shared as in `run_on_cluster`.

    Returns:
        the `SegmentedImage`s in the order of `work`.
    Raises:
        TypeError: `client` is not a `dask.distributed.Client`.
        the first exception a task raised (the remaining tasks are cancelled).
    """
    distributed = _distributed(client)
    encoder = _share_encoder(client, model)
    futures = [client.submit(_segment_task, *encoder, image, mask, foreground, settings,
                             pure=False)
               for image, mask, foreground in work]
    try:
        for future in progress_bar(distributed.as_completed(futures), enabled=progress,
                                   total=len(futures), desc="segmenting", unit="image"):
            future.result()
        return client.gather(futures)
    finally:
        client.cancel(futures)


def _share_encoder(client: Any, model: Any) -> tuple:
    """(SHA-256, future of the checkpoint bytes, held by every worker) of `model`: the tasks
    receive the worker's copy of the bytes, never a pickled module."""
    from ..encoder.checkpoint import encoder_bytes

    payload = encoder_bytes(model)
    return (hashlib.sha256(payload).hexdigest(),
            client.scatter(payload, broadcast=True, hash=False))


def check_client(client: Any) -> None:
    """TypeError unless `client` is a `dask.distributed.Client` (RuntimeError without Dask),
    ValueError when it is closed: checked before any training."""
    _distributed(client)
    if client.status != "running":
        raise ValueError(f"client is {client.status}, not running: connect it (or make a new "
                         "Client) before segmenting")


def _distributed(client: Any = None) -> Any:
    """dask.distributed, checking that `client` (when given) is one of its clients."""
    try:
        import dask.distributed as distributed
    except ImportError as error:
        raise RuntimeError("distributed segmentation needs dask.distributed: "
                           "pip install 'cuts_ext[dask]'") from error
    if client is not None and not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a dask.distributed.Client, got "
                        f"{type(client).__name__}")
    return distributed


@contextmanager
def dask_client(scheduler: Optional[str] = None, workers: Optional[int] = None) -> Iterator[Any]:
    """A `dask.distributed.Client` of the cluster whose scheduler is at `scheduler`, or (given
    `workers`) of a LocalCluster of that many worker processes, one thread each, closed on
    exit; its workers ignore Ctrl-C (dask_worker.py), which this process handles.

    Raises:
        ValueError: neither or both given, or `workers` < 1.
        OSError: no scheduler answers at `scheduler` (Dask's connect timeout).
    """
    if (scheduler is None) == (workers is None):
        raise ValueError("give exactly one of scheduler and workers")
    distributed = _distributed()
    if scheduler is not None:
        with distributed.Client(scheduler) as client:
            yield client
        return
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    import logging
    # ":0": the scheduler's HTTP server (dashboard, metrics) on a free port, not on 8787, which
    # another cluster on this machine may hold.
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.ERROR,
                                  preload=[f"{__package__}.dask_worker"]) as cluster, \
            distributed.Client(cluster) as client:
        yield client
