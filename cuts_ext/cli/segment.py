"""`cuts segment`: images in, segmentations out.

Each input is read on its own: one that fails is reported (one line on stderr, "cuts segment:
error: PATH: reason") and the others still complete; the exit status is then 1. Exit 0 when
every input succeeded, 2 for a usage error (argparse).

`cuts segment` runs its inputs one after another here, or with --scheduler / --workers as one
Dask task each (segmentation/cohort.py); --resume skips inputs whose outputs are complete.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional

from ..io import match_masks, writable_file, writable_folder
from ..io.errors import OutputExistsError
from ..segmentation.defaults import DEFAULT, IMAGE_DEFAULTS, VOLUME_DEFAULTS
from .inputs import no_input, read_inputs, resolve_sources, say, some_paths
from .options import (add_common_options, add_inputs_argument, add_training_options,
                      given_training_options, max_points_option, training_options,
                      weight_option, worker_count_option)


def add_parser(sub: "argparse._SubParsersAction") -> None:
    segment = sub.add_parser(
        "segment", help="multi-scale segmentations of images or volumes",
        description="Embed every input with the CUTS encoder (a --model checkpoint, or one "
                    "trained here on the inputs), condense its pixels, and write per input "
                    "OUT/NAME/: NAME.npz (hierarchy, levels, label maps, persistent map, "
                    "automatic level), label images (PNG for 2-D images, NIfTI keeping the "
                    "input's affine and header for volumes and NIfTI inputs) and "
                    "NAME_figure.png. With --masks, also "
                    "OUT/metrics.csv and a summary.")
    add_inputs_argument(segment)
    segment.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="output folder (one subfolder per input)")
    # With --model nothing is trained, so there would be nothing for --save-model to keep.
    model = segment.add_mutually_exclusive_group()
    model.add_argument("--model", metavar="CHECKPOINT",
                       help="a `cuts train` checkpoint (default: train one on IMAGES first)")
    model.add_argument("--save-model", metavar="CHECKPOINT",
                       help="where to keep the model trained here (default: not kept)")
    segment.add_argument("--masks", metavar="MASKS",
                         help="reference masks (file, folder or glob) matched by name; used "
                              "only for scoring")
    segment.add_argument("--granularity", type=float, default=1.0,
                         help="condensation's initial bandwidth factor (default 1)")
    image, volume = IMAGE_DEFAULTS, VOLUME_DEFAULTS

    def default(name: str) -> str:
        return f"default: {getattr(image, name)} for 2-D images, {getattr(volume, name)} " \
               "for volumes"

    segment.add_argument("--position-weight", type=weight_option, default=DEFAULT,
                         help="weight of the pixels' positional encoding in condensation "
                              f"({default('position_weight')}; 0: appearance alone, as the "
                              "reference method)")
    segment.add_argument("--channel-weight", type=weight_option, default=DEFAULT,
                         help="weight of the image's own channels (intensities) beside the "
                              f"embedding in condensation ({default('channel_weight')}; 0: "
                              "the embedding alone, as the reference method)")
    segment.add_argument("--foreground", default=DEFAULT, metavar="WHICH",
                         help="the voxels to segment (others get label 0): none (all), auto "
                              "(the head or brain without the air), masks matched by name "
                              "like --masks (file, folder or glob), or "
                              f"{default('foreground').replace('None', 'none')}")
    segment.add_argument("--max-points", type=max_points_option, default=DEFAULT,
                         metavar="N", help="the most points condensed per input; larger "
                                           "foregrounds are grouped into N super-voxels "
                                           f"({default('max_points')}; none: no limit)")
    existing = segment.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true",
                          help="replace existing outputs (default: refuse)")
    existing.add_argument("--resume", action="store_true",
                          help="skip the inputs whose output folder OUT/NAME is complete "
                               "(holds NAME.npz), so a killed run restarted does only the "
                               "missing work; with --save-model, training continues from that "
                               "checkpoint")
    cluster = segment.add_mutually_exclusive_group()
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                         help="segment on the Dask cluster whose scheduler is at ADDRESS (e.g. "
                              "tcp://host:8786), one task per input: workers read their input "
                              "and write its outputs, so IMAGES and OUT must be reachable from "
                              "them (needs cuts_ext[dask])")
    cluster.add_argument("--workers", type=worker_count_option, metavar="N",
                         help="segment on a local Dask cluster of N worker processes, started "
                              "and closed by this command (needs cuts_ext[dask])")
    add_training_options(segment, epochs=50)
    add_common_options(segment)
    segment.set_defaults(run=run_segment)


def run_segment(args: argparse.Namespace) -> int:
    from ..segmentation.cohort import InputJob, complete_output
    from ..segmentation.evaluation import (format_summary, merge_metrics_csv,
                                           write_metrics_csv)

    ignored = given_training_options(args) if args.model else []
    if ignored:
        verb = "sets" if len(ignored) == 1 else "set"
        raise ValueError(f"{', '.join(ignored)} {verb} how the encoder is trained, but --model "
                         "gives one: nothing is trained; drop one of them")
    # Every output's place is checked before any reading, training or condensation.
    out = writable_folder(args.output, "-o")
    if args.save_model:
        writable_file(args.save_model, "--save-model", overwrite=args.overwrite or args.resume,
                      remedy="--resume to continue its training, --overwrite to replace it, "
                             "or --model to use it")
    csv_path = out / "metrics.csv"
    if args.masks and csv_path.exists() and not (args.overwrite or args.resume):
        raise OutputExistsError(f"{csv_path}: already exists; pass --overwrite to replace it")
    on_cluster = args.scheduler is not None or args.workers is not None
    # On a cluster with a given model, the workers read the inputs; otherwise they are read
    # here (the encoder is trained on them when no model is given).
    read = resolve_sources if on_cluster and args.model else read_inputs
    images, failures = read("segment", args.inputs, out)
    if not images:
        return no_input("segment")
    paths = [getattr(image, "path", image) for image in images]
    masks = match_masks(paths, args.masks) if args.masks else {}
    if args.masks and not any(mask is not None for mask in masks.values()):
        print(f"cuts segment: warning: --masks {args.masks} matched none of the "
              f"{len(paths)} input(s): nothing is scored and no metrics.csv is written",
              file=sys.stderr)
    foregrounds = _foregrounds_for(paths, args.foreground)
    jobs = [InputJob(image, masks.get(path), foregrounds[path])
            for image, path in zip(images, paths)]
    outcomes = []
    if args.resume:
        complete = [complete_output(job, out) for job in jobs]
        outcomes = [outcome for outcome in complete if outcome is not None]
        jobs = [job for job, outcome in zip(jobs, complete) if outcome is None]
        say(args, f"resume: {len(outcomes)} of {len(images)} inputs already complete in "
                   f"{out}; segmenting {len(jobs)}")
    if jobs:
        outcomes += _segment_jobs(args, images, jobs, out, on_cluster)
    rows = []
    # Keyed by absolute path: on a scheduler the jobs carry their paths made absolute.
    order = {Path(path).absolute(): number for number, path in enumerate(paths)}
    for outcome in sorted(outcomes, key=lambda outcome: order[Path(outcome.path).absolute()]):
        failures += outcome.error is not None
        if outcome.metrics is not None:
            rows.append(outcome.metrics)
    if rows:
        if args.overwrite:
            write_metrics_csv(rows, csv_path, overwrite=True)
        else:
            # A run started into the same folder since this one checked adds its rows too.
            merge_metrics_csv(rows, csv_path)
        say(args, format_summary(rows) + f"\nwrote {csv_path}")
    if failures:
        print(f"cuts segment: error: {failures} input(s) failed", file=sys.stderr)
    return 1 if failures else 0


def _segment_jobs(args: argparse.Namespace, images: list, jobs: list, out: Path,
                  on_cluster: bool) -> list:
    """The outcomes of `jobs`, segmented here one by one or on the Dask cluster of --scheduler
    / --workers, each reported as it finishes (a line, or its error on stderr)."""
    from ..segmentation.cohort import dask_client, run_job, run_on_cluster
    from ..segmentation.pipeline import prepare_model

    train_options = training_options(args)
    device, seed = train_options.pop("device"), train_options.pop("seed")
    if args.save_model:  # never with --model (argparse refuses the pair)
        train_options.update(checkpoint=args.save_model, resume=args.resume)

    def model() -> Any:
        return prepare_model(args.model, images, device=device, seed=seed,
                             train_options=train_options, progress=not args.quiet)

    settings = dict(device=device, seed=seed, position_weight=args.position_weight,
                    channel_weight=args.channel_weight,
                    condense_options={"granularity": args.granularity},
                    max_points=args.max_points)
    outcomes = []

    def report(number: int, outcome: Any) -> None:
        outcomes.append(outcome)
        if outcome.error is not None:
            print(f"cuts segment: error: {outcome.error}", file=sys.stderr)
        elif outcome.reused:
            say(args, f"[{number}/{len(jobs)}] {outcome.name}: complete -> {outcome.folder}")
        else:
            say(args, f"[{number}/{len(jobs)}] {outcome.name}: {outcome.levels} levels, "
                       f"condensed in {outcome.seconds:.1f} s -> {outcome.folder}")
            if outcome.levels == 0:  # written, but with nothing to look at: say so
                print(f"cuts segment: warning: {outcome.name}: no level (its points never kept "
                      "a cluster count for two iterations, as with a few dozen voxels): no "
                      "label image, and the persistent map is all 0", file=sys.stderr)

    if not on_cluster:
        encoder = model()
        for number, job in enumerate(jobs, start=1):
            report(number, run_job(encoder, job, out, overwrite=args.overwrite, **settings))
        return outcomes
    # The cluster is reached before the encoder is trained: a scheduler that does not answer
    # fails in seconds, not after the training.
    with dask_client(args.scheduler, args.workers) as client:
        if args.scheduler is not None:  # workers elsewhere run in other folders
            out, jobs = out.absolute(), [job.absolute() for job in jobs]
        finished = run_on_cluster(client, model(), jobs, out, overwrite=args.overwrite,
                                  settings=settings, progress=not args.quiet)
        for number, outcome in enumerate(finished, start=1):
            report(number, outcome)
    return outcomes


def _foregrounds_for(paths: list, foreground: str) -> dict:
    """{input path: its job's foreground}: the keyword itself (None for "none"), or the mask
    file matched like --masks; an input that no mask matches takes its kind's default (said
    on stderr: a missing mask must not silently mean "every voxel")."""
    if foreground in ("auto", DEFAULT):
        return {path: foreground for path in paths}
    if foreground == "none":
        return {path: None for path in paths}
    matched = match_masks(paths, foreground)
    unmatched = [path for path, mask in matched.items() if mask is None]
    if unmatched:
        print(f"cuts segment: warning: --foreground {foreground} has no mask for "
              f"{len(unmatched)} of {len(paths)} input(s) ({some_paths(unmatched)}): they take "
              "the default foreground (auto for volumes, every pixel of 2-D images)",
              file=sys.stderr)
    return {path: DEFAULT if mask is None else mask for path, mask in matched.items()}
