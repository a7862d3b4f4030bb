"""A small cohort on disk for the Dask tests, and hooks that tests install in worker processes
with `client.run` (each lasts until that worker process ends)."""

import time

import nibabel
import numpy as np
from PIL import Image

from support.images import smooth_images

IMAGE_SIDE = 32
VOLUME_SHAPE = (10, 12, 14)


def write_cohort(root, images=4, corrupt=False):
    """`images` RGB PNGs of IMAGE_SIDE^2 in root/images with masks in root/masks, one NIfTI
    volume of VOLUME_SHAPE in root/volumes, and with `corrupt` a PNG that is not one.

    Returns:
        the sorted image paths (the corrupt one included) and the volume's path.
    """
    folders = {name: root / name for name in ("images", "masks", "volumes")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    pictures = smooth_images(np.random.default_rng(5), (images, 3, IMAGE_SIDE, IMAGE_SIDE))
    for number, picture in enumerate(pictures):
        rgb = np.round((picture.transpose(1, 2, 0) + 1) * 127.5).astype(np.uint8)
        Image.fromarray(rgb).save(folders["images"] / f"img{number}.png")
        Image.fromarray(((picture[0] > 0) * 255).astype(np.uint8)).save(
            folders["masks"] / f"img{number}.png")
    if corrupt:
        (folders["images"] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    volume = smooth_images(np.random.default_rng(6), (1, 1, *VOLUME_SHAPE))[0, 0]
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), str(folders["volumes"] / "vol.nii.gz"))
    return sorted(folders["images"].glob("*.png")), folders["volumes"] / "vol.nii.gz"


def count_encoder_loads():
    """Worker hook: counts this process's calls of load_encoder (read with `encoder_loads`)."""
    from cuts_ext.encoder import checkpoint

    original = checkpoint.load_encoder

    def counted(*args, **kwargs):
        counted.calls += 1
        return original(*args, **kwargs)

    counted.calls = 0
    checkpoint.load_encoder = counted


def encoder_loads():
    """Worker hook: how many times this process loaded an encoder since count_encoder_loads."""
    from cuts_ext.encoder import checkpoint

    return getattr(checkpoint.load_encoder, "calls", 0)


def slow_down_jobs(seconds):
    """Worker hook: every `run_job` of this process first sleeps `seconds` (so that a test can
    kill the worker while it holds a task)."""
    from cuts_ext.segmentation import cohort

    original = cohort.run_job

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return original(*args, **kwargs)

    cohort.run_job = slow
