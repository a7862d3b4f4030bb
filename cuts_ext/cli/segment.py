"""`cuts train` and `cuts segment`: images in, a checkpoint or segmentations out.

Each input is read on its own: one that fails is reported (one line on stderr, "cuts COMMAND:
error: PATH: reason") and the others still complete; the exit status is then 1. Exit 0 when
every input succeeded, 2 for a usage error (argparse).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional

from ..io import InputError, match_masks, read_image, read_mask, resolve_inputs
from ..io.errors import OutputExistsError
from ..segmentation.pipeline import DEFAULT_FOREGROUND, MAX_POINTS, POSITION_WEIGHT
from .options import (add_common_options, add_training_options, max_points_option,
                      position_weight_option)


def add_parsers(sub: "argparse._SubParsersAction") -> None:
    train = sub.add_parser(
        "train", help="train the CUTS encoder on images (no labels) and save a checkpoint",
        description="Train the stage-1 encoder on images or volumes without labels "
                    "(contrastive + patch reconstruction losses) and write a checkpoint that "
                    "`cuts segment --model` reads.")
    train.add_argument("inputs", nargs="+", metavar="IMAGES",
                       help="image / volume files, folders or globs (PNG, JPEG, TIFF, .npy, "
                            ".npz, .nii, .nii.gz)")
    train.add_argument("-o", "--output", required=True, metavar="CHECKPOINT",
                       help="checkpoint file to write (e.g. model.pt)")
    train.add_argument("--resume", action="store_true",
                       help="continue from CHECKPOINT when it exists")
    add_training_options(train, epochs=200)
    add_common_options(train)
    train.set_defaults(run=run_train)

    segment = sub.add_parser(
        "segment", help="multi-scale segmentations of images or volumes",
        description="Embed every input with the CUTS encoder (a --model checkpoint, or one "
                    "trained here on the inputs), condense its pixels, and write per input "
                    "OUT/NAME/: NAME.npz (hierarchy, levels, label maps, persistent map, "
                    "automatic level), label images (PNG for 2-D, NIfTI keeping the input's "
                    "affine and header for 3-D) and NAME_figure.png. With --masks, also "
                    "OUT/metrics.csv and a summary.")
    segment.add_argument("inputs", nargs="+", metavar="IMAGES",
                         help="image / volume files, folders or globs")
    segment.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="output folder (one subfolder per input)")
    segment.add_argument("--model", metavar="CHECKPOINT",
                         help="a `cuts train` checkpoint (default: train one on IMAGES first)")
    segment.add_argument("--save-model", metavar="CHECKPOINT",
                         help="where to keep the model trained here (default: not kept)")
    segment.add_argument("--masks", metavar="MASKS",
                         help="reference masks (file, folder or glob) matched by name; used "
                              "only for scoring")
    segment.add_argument("--granularity", type=float, default=1.0,
                         help="condensation's initial bandwidth factor (default 1)")
    segment.add_argument("--position-weight", type=position_weight_option, default=POSITION_WEIGHT,
                         help="weight of the pixels' positional encoding in condensation "
                              f"(default {POSITION_WEIGHT}; 0: appearance alone, as the "
                              "reference method)")
    segment.add_argument("--foreground", default=DEFAULT_FOREGROUND, metavar="WHICH",
                         help="the voxels to segment (others get label 0): none (all), auto "
                              "(the head or brain without the air), masks matched by name "
                              "like --masks (file, folder or glob), or default: none for "
                              "2-D images, auto for volumes (default)")
    segment.add_argument("--max-points", type=max_points_option, default=MAX_POINTS,
                         metavar="N", help="the most points condensed per input; larger "
                                           "foregrounds are grouped into N super-voxels "
                                           f"(default {MAX_POINTS}; none: no limit)")
    segment.add_argument("--overwrite", action="store_true",
                         help="replace existing outputs (default: refuse)")
    add_training_options(segment, epochs=50)
    add_common_options(segment)
    segment.set_defaults(run=run_segment)


def run_train(args: argparse.Namespace) -> int:
    from ..encoder.training import train

    images, failures = read_inputs("train", args.inputs)
    if not images:
        return _no_input("train")
    train([image.data for image in images], checkpoint=args.output, resume=args.resume,
          **training_options(args))
    _say(args, f"wrote {args.output}")
    return 1 if failures else 0


def run_segment(args: argparse.Namespace) -> int:
    from ..io import write_outputs
    from ..segmentation.evaluation import format_summary, write_metrics_csv
    from ..segmentation.pipeline import prepare_model, segment_image

    out = Path(args.output)
    csv_path = out / "metrics.csv"
    if args.masks and csv_path.exists() and not args.overwrite:
        raise OutputExistsError(f"{csv_path}: already exists; pass --overwrite to replace it")
    images, failures = read_inputs("segment", args.inputs)
    if not images:
        return _no_input("segment")
    masks = _masks_for(images, args.masks) if args.masks else {}
    foregrounds = _foregrounds_for(images, args.foreground)
    train_options = training_options(args)
    device, seed = train_options.pop("device"), train_options.pop("seed")
    if args.save_model and not args.model:
        train_options["checkpoint"] = args.save_model
    model = prepare_model(args.model, images, device=device, seed=seed,
                          train_options=train_options, progress=not args.quiet)
    rows = []
    for number, image in enumerate(images, start=1):
        try:
            mask, foreground = masks.get(image.path), foregrounds.get(image.path)
            for given in (mask, foreground):
                if isinstance(given, Exception):
                    raise given
            result = segment_image(model, image, mask, device=device, seed=seed,
                                   position_weight=args.position_weight,
                                   condense_options={"granularity": args.granularity},
                                   foreground=foreground, max_points=args.max_points)
            folder = write_outputs(out, image, result.segmentation, overwrite=args.overwrite)
        except (InputError, OutputExistsError, ValueError, OSError, MemoryError) as error:
            failures += 1
            _error("segment", error, image.path)
            continue
        if result.metrics is not None:
            rows.append(result.metrics)
        seconds = sum(result.condensation.seconds)
        _say(args, f"[{number}/{len(images)}] {image.name}: {len(result.segmentation.levels)} "
                   f"levels, condensed in {seconds:.1f} s -> {folder}")
    if rows:
        write_metrics_csv(rows, csv_path, overwrite=args.overwrite)
        _say(args, format_summary(rows) + f"\nwrote {csv_path}")
    if failures:
        print(f"cuts segment: error: {failures} input(s) failed", file=sys.stderr)
    return 1 if failures else 0


def read_inputs(command: str, sources: list) -> tuple:
    """(images read, number of failures): each source is resolved and each file read on its own,
    so one bad input is reported and skipped."""
    images, failures = [], 0
    for source in sources:
        try:
            paths = resolve_inputs(source)
        except InputError as error:
            failures += 1
            _error(command, error)
            continue
        for path in paths:
            try:
                images.append(read_image(path))
            except InputError as error:
                failures += 1
                _error(command, error)
    return images, failures


def training_options(args: argparse.Namespace) -> dict:
    """`train` keyword arguments from the shared command-line options."""
    return {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
            "crop": args.crop, "seed": args.seed, "device": args.device,
            "progress": not args.quiet}


def _masks_for(images: list, masks: str) -> dict:
    """{image path: bool mask, None, or the exception reading it raised} (a bad mask fails its
    image only)."""
    matched = match_masks([image.path for image in images], masks)
    out: dict = {}
    for image in images:
        try:
            path = matched[image.path]
            out[image.path] = None if path is None else read_mask(
                path, image.spatial_shape, image_path=image.path)
        except InputError as error:
            out[image.path] = error
    return out


def _foregrounds_for(images: list, foreground: str) -> dict:
    """{image path: segment_image's foreground}: the keyword itself, or the matched mask as
    _masks_for reads it (None where no mask file matches: the whole image)."""
    if foreground in ("auto", DEFAULT_FOREGROUND):
        return {image.path: foreground for image in images}
    if foreground == "none":
        return {image.path: None for image in images}
    return _masks_for(images, foreground)


def _error(command: str, error: Exception, path: Optional[Any] = None) -> None:
    # InputError messages start with the file at fault; others get the input's path.
    message = str(error) if isinstance(error, InputError) or path is None else f"{path}: {error}"
    print(f"cuts {command}: error: {message}", file=sys.stderr)


def _no_input(command: str) -> int:
    print(f"cuts {command}: error: no input could be read", file=sys.stderr)
    return 1


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text)

