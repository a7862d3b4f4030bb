"""`cuts train`: images in, an encoder checkpoint out (no labels).

Exit 0 when every input was read and trained on; 1 when an input failed (the others still
train) or was too small to train on; 2 for a usage error (argparse).
"""

from __future__ import annotations

import argparse

from ..io import InputError, writable_file
from .inputs import no_input, read_inputs, report_error, say
from .options import (add_common_options, add_inputs_argument, add_training_options,
                      training_options)


def add_parser(sub: "argparse._SubParsersAction") -> None:
    train = sub.add_parser(
        "train", help="train the CUTS encoder on images (no labels) and save a checkpoint",
        description="Train the stage-1 encoder on images or volumes without labels "
                    "(contrastive + patch reconstruction losses) and write a checkpoint that "
                    "`cuts segment --model` reads.")
    add_inputs_argument(train)
    train.add_argument("-o", "--output", required=True, metavar="CHECKPOINT",
                       help="checkpoint file to write (e.g. model.pt)")
    existing = train.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true",
                          help="continue from CHECKPOINT when it exists")
    existing.add_argument("--overwrite", action="store_true",
                          help="replace an existing CHECKPOINT (default: refuse, so that a "
                               "trained model is never lost to a repeated command)")
    add_training_options(train, epochs=200)
    add_common_options(train)
    train.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    from ..encoder.model import PATCH_SIZE
    from ..encoder.training import train
    from ..segmentation.pipeline import split_trainable

    # The checkpoint's place is checked before minutes of training (resume reads it as is).
    writable_file(args.output, "-o", overwrite=args.overwrite or args.resume,
                  remedy="--resume to continue it or --overwrite to replace it")
    images, failures = read_inputs("train", args.inputs)
    if not images:
        return no_input("train")
    trainable, too_small = split_trainable(images, PATCH_SIZE)
    for image in too_small:  # a checkpoint without them: they count as failed inputs here
        report_error("train", InputError(
            f"{image.path}: spatial shape {list(image.spatial_shape)} is under the patch size "
            f"({PATCH_SIZE}) along an axis, too small to train on; left out (the trained "
            "encoder segments it)"))
    train([image.data for image in trainable], checkpoint=args.output, resume=args.resume,
          **training_options(args))
    say(args, f"wrote {args.output}")
    return 1 if failures or too_small else 0
