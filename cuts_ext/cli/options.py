"""Command-line options shared by several `cuts` subcommands."""

from __future__ import annotations

import argparse
from typing import Union

from ..condensation.preparation import check_weight
from ..io.paths import SUPPORTED_SUFFIXES
from ..segmentation.defaults import DEFAULT

#: The readable formats, as the help texts list them.
FORMATS = ", ".join(SUPPORTED_SUFFIXES)


def add_inputs_argument(parser: argparse.ArgumentParser) -> None:
    """The IMAGES positional of the commands that read inputs, with the readable formats."""
    parser.add_argument("inputs", nargs="+", metavar="IMAGES",
                        help=f"image / volume files, folders or globs ({FORMATS})")


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """--device, --seed and --quiet, shared by the pipeline subcommands."""
    parser.add_argument("--device", default=None, type=device_option,
                        help="cpu, cuda or cuda:N (default: cuda when usable, else cpu)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars or per-image lines; errors still print")


# The training options' defaults (--epochs' is the subcommand's, `default_epochs`), filled in by
# `training_options` so that the parsed values are None where an option was not given
# (`given_training_options`).
TRAINING_DEFAULTS = {"epochs": None, "batch_size": 16, "lr": 1e-3, "crop": None, "step": "full"}


def add_training_options(parser: argparse.ArgumentParser, epochs: int) -> None:
    parser.set_defaults(default_epochs=epochs)
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs (default {epochs})")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="images per step (default 16)")
    parser.add_argument("--lr", type=float, default=None, help="AdamW learning rate (1e-3)")
    parser.add_argument("--crop", type=int, default=None,
                        help="train on random crops of this side (default 256 for images, "
                             "64 for volumes; smaller inputs are used whole, a batch of "
                             "inputs of different sizes at its smallest)")
    parser.add_argument("--step", choices=["full", "windows"], default=None,
                        help="training step: full (the reference, default) computes every "
                             "pixel's embedding; windows only the sampled pixels' receptive "
                             "fields, much faster per step, its batch norm statistics from "
                             "those windows (README, Benchmarks: slightly lower Dice)")


def given_training_options(args: argparse.Namespace) -> list:
    """The training options given on the command line, as spelled there."""
    return [f"--{name.replace('_', '-')}" for name in TRAINING_DEFAULTS
            if getattr(args, name) is not None]


def training_options(args: argparse.Namespace) -> dict:
    """`train` keyword arguments from the shared command-line options, defaults filled in."""
    defaults = {**TRAINING_DEFAULTS, "epochs": args.default_epochs}
    given = {name: getattr(args, name) for name in defaults}
    return {**{name: defaults[name] if value is None else value for name, value in given.items()},
            "seed": args.seed, "device": args.device, "progress": not args.quiet}


def device_option(text: str) -> str:
    """argparse type of --device: cpu, cuda or cuda:N (whether CUDA can run is checked later,
    as an input error)."""
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda") or (index and (not index.isdigit() or kind == "cpu")):
        raise argparse.ArgumentTypeError(f"must be cpu, cuda or cuda:N, got {text!r}")
    return text


def weight_option(text: str) -> Union[float, str]:
    """argparse type of --position-weight and --channel-weight: a finite number >= 0, or
    "default" (the input kind's, `segmentation.defaults`)."""
    if text == DEFAULT:
        return DEFAULT
    try:
        value = float(text)
        check_weight(value, "weight")
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}") from None
    return value


def max_points_option(text: str) -> Union[int, str, None]:
    """argparse type of --max-points: an integer >= 1, "none" for no limit, or "default"."""
    if text.strip().lower() == "none":
        return None
    if text == DEFAULT:
        return DEFAULT
    return _positive_integer(text, "an integer >= 1, none or default")


def worker_count_option(text: str) -> int:
    """argparse type of --workers: an integer >= 1."""
    return _positive_integer(text, "an integer >= 1")


def _positive_integer(text: str, expected: str) -> int:
    """int(text) when it is >= 1; otherwise argparse's error saying `expected`."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
    return value
