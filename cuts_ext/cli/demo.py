"""`cuts demo`: the whole pipeline on data that ships with cuts_ext's dependencies.

Inputs, each with its own encoder trained here (no labels anywhere):
- scikit-image's fundus photograph (`skimage.data.retina()`, 1411 x 1411 RGB), resized to
  128 x 128, the resolution of the retina data CUTS was evaluated on;
- nibabel's example anatomical MRI (`nibabel/tests/data/anatomical.nii`, 33 x 41 x 25),
  segmented in 3-D; its label volumes keep the file's affine and header;
- when nilearn is installed, a whole brain: the MNI152 template that nilearn's wheel bundles,
  resampled to 2 mm (99 x 117 x 95 = 1.1 M voxels), segmented through the volume path
  (foreground, streamed embedding, super-voxels); without nilearn the demo says so and skips it.
The inputs are written to OUT/inputs first and read back like any user file, so the demo runs
exactly the code path of `cuts segment`.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..io.errors import OutputExistsError
from .options import add_common_options

# Side the fundus photograph is resized to.
RETINA_SIDE = 128

# The whole-brain input: its name, resolution and training (crops of the one volume).
BRAIN = "mni152_2mm"
BRAIN_MM = 2
BRAIN_TRAINING = {"batch_size": 8, "crop": 48, "step": "windows", "val_fraction": 0.25}


def add_parser(sub: "argparse._SubParsersAction") -> None:
    demo = sub.add_parser(
        "demo", help="run the whole pipeline on bundled example data (a fundus photograph, an "
                     "MRI volume, a whole brain with nilearn)",
        description="Train CUTS encoders on scikit-image's fundus photograph and on nibabel's "
                    "example MRI volume (and, when nilearn is installed, on the MNI152 brain "
                    "template its wheel bundles), segment them, and write the segmentations and "
                    "figures to OUT. Needs no arguments and no downloads.")
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
    for name in ("retina", "anatomical", BRAIN):  # refuse before minutes of training, not after
        if (out / name).exists() and not args.overwrite:
            raise OutputExistsError(f"{out / name}: already exists; pass --overwrite to "
                                    "replace it")
    inputs = write_inputs(out / "inputs")
    if not any(path.name.startswith(BRAIN) for path in inputs):
        _say(args, "the whole-brain volume is skipped: it comes from nilearn's wheel "
                   "(pip install nilearn)")
    for path in inputs:
        image = read_image(path)
        shape = " x ".join(map(str, image.spatial_shape))
        _say(args, f"{image.name}: {shape}, {image.data.shape[0]} channel(s); training the "
                   f"encoder for {args.epochs} epochs")
        # The whole brain trains on random crops with the windowed step: a full step over
        # whole 3-D crops would take most of the demo's time on a laptop CPU.
        options = (BRAIN_TRAINING if image.name == BRAIN else
                   {"batch_size": 1, "val_fraction": 0.0})
        copies = BRAIN_TRAINING["batch_size"] if image.name == BRAIN else 1
        model = prepare_model(None, [image] * copies, device=args.device, seed=args.seed,
                              train_options={"epochs": args.epochs, **options},
                              progress=not args.quiet)
        result = segment_image(model, image, device=args.device, seed=args.seed)
        folder = write_outputs(out, image, result.segmentation, overwrite=args.overwrite)
        segmentation = result.segmentation
        counts = [segmentation.cluster_counts[i] for i in segmentation.levels]
        auto = segmentation.auto_level
        points = result.condensation.hierarchy.shape[1]
        _say(args, f"  condensed {points} points ({int(np.prod(image.spatial_shape))} voxels) in "
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
    brain = write_brain(folder / f"{BRAIN}.nii.gz")
    return [retina_path, mri_path] + ([brain] if brain is not None else [])


def write_brain(path: Path) -> Optional[Path]:
    """The MNI152 T1 template of nilearn's wheel resampled to BRAIN_MM mm into `path`, or None
    when nilearn is not installed."""
    try:
        import nilearn
        from nilearn.image import resample_img
    except ImportError:
        return None
    import nibabel
    template = (Path(nilearn.__file__).parent / "datasets" / "data" /
                "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz")
    image = resample_img(nibabel.load(template), target_affine=np.diag([BRAIN_MM] * 3),
                         interpolation="continuous", force_resample=True, copy_header=True)
    nibabel.save(image, path)
    return path


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
