"""`cuts demo`: the whole pipeline on data that ships with cuts_ext's dependencies.

Two inputs, each with its own encoder trained here (no labels anywhere):
- scikit-image's fundus photograph (`skimage.data.retina()`, 1411 x 1411 RGB), resized to
  128 x 128, the resolution of the retina data CUTS was evaluated on;
- nibabel's example anatomical MRI (`nibabel/tests/data/anatomical.nii`, 33 x 41 x 25),
  segmented in 3-D; its label volumes keep the file's affine and header.
The inputs are written to OUT/inputs first and read back like any user file, so the demo runs
exactly the code path of `cuts segment`.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

from ..io.errors import OutputExistsError
from .options import add_common_options

# Side the fundus photograph is resized to.
RETINA_SIDE = 128


def add_parser(sub: "argparse._SubParsersAction") -> None:
    demo = sub.add_parser(
        "demo", help="run the whole pipeline on bundled example data (a fundus photograph and "
                     "an MRI volume)",
        description="Train CUTS encoders on scikit-image's fundus photograph and on nibabel's "
                    "example MRI volume, segment both, and write the segmentations and figures "
                    "to OUT. Needs no arguments and no downloads.")
    demo.add_argument("-o", "--output", default="cuts_demo", metavar="OUT",
                      help="output folder (default ./cuts_demo)")
    demo.add_argument("--epochs", type=int, default=60,
                      help="training epochs per encoder (default 60)")
    demo.add_argument("--overwrite", action="store_true", help="replace an earlier demo's outputs")
    add_common_options(demo)
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..io import read_image, write_outputs
    from ..segmentation.pipeline import prepare_model, segment_image

    started = time.perf_counter()
    out = Path(args.output)
    for name in ("retina", "anatomical"):  # refuse before minutes of training, not after
        if (out / name).exists() and not args.overwrite:
            raise OutputExistsError(f"{out / name}: already exists; pass --overwrite to "
                                    "replace it")
    inputs = write_inputs(out / "inputs")
    for path in inputs:
        image = read_image(path)
        shape = " x ".join(map(str, image.spatial_shape))
        _say(args, f"{image.name}: {shape}, {image.data.shape[0]} channel(s); training the "
                   f"encoder for {args.epochs} epochs")
        model = prepare_model(None, [image], device=args.device, seed=args.seed,
                              train_options={"epochs": args.epochs, "batch_size": 1,
                                             "val_fraction": 0.0},
                              progress=not args.quiet)
        result = segment_image(model, image, device=args.device, seed=args.seed)
        folder = write_outputs(out, image, result.segmentation, overwrite=args.overwrite)
        segmentation = result.segmentation
        counts = [segmentation.cluster_counts[i] for i in segmentation.levels]
        auto = segmentation.auto_level
        _say(args, f"  condensed {int(np.prod(image.spatial_shape))} pixels in "
                   f"{sum(result.condensation.seconds):.1f} s: {len(counts)} levels with "
                   f"{', '.join(map(str, counts))} clusters; automatic level: "
                   f"{'none' if auto is None else f'{auto} ({counts[auto]} clusters)'}")
        _say(args, f"  wrote {folder}/: {image.name}_figure.png (image, reconstruction, "
                   f"levels, persistent map), label images, {image.name}.npz")
    _say(args, f"done in {time.perf_counter() - started:.0f} s; outputs in {out}/")
    return 0


def write_inputs(folder: Path) -> list:
    """Writes the two demo inputs into `folder` and returns their paths."""
    from PIL import Image
    from skimage.data import retina
    from skimage.transform import resize

    folder.mkdir(parents=True, exist_ok=True)
    fundus = resize(retina(), (RETINA_SIDE, RETINA_SIDE), anti_aliasing=True)
    retina_path = folder / "retina.png"
    Image.fromarray(np.round(fundus * 255).astype(np.uint8)).save(retina_path)
    mri_path = folder / "anatomical.nii"
    shutil.copyfile(bundled_mri(), mri_path)
    return [retina_path, mri_path]


def bundled_mri() -> Path:
    """nibabel's example anatomical volume, found by path: `nibabel.testing.data_path` would
    import pytest, which a plain install does not have."""
    import nibabel
    path = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: nibabel's bundled example volume is missing from this "
                                "nibabel installation")
    return path


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, flush=True)
