"""Running `cuts` in the test's own process, and a folder of small .npy images to run it on."""

from pathlib import Path

import numpy as np

from cuts_ext import cli
from support.images import smooth_images


def npy_images(folder: Path, count: int = 2) -> Path:
    """`folder`, created and holding image0.npy ... as float [16, 16] smooth images."""
    folder.mkdir()
    for number, picture in enumerate(smooth_images(np.random.default_rng(5),
                                                   (count, 1, 16, 16))):
        np.save(folder / f"image{number}.npy", picture[0])
    return folder


def run_cuts(capsys, *args) -> tuple:
    """(exit status, stderr lines) of `cuts ARGS` run in this process."""
    try:
        status = cli.main([str(arg) for arg in args])
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err.strip().splitlines()
