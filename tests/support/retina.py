"""The retina development images (shared/data/retina, outside the repository), when present."""

from pathlib import Path

import numpy as np
import pytest

RETINA = Path(__file__).resolve().parents[3] / "shared" / "data" / "retina"


def retina_images(count=None):
    """[N, 3, 128, 128] float32 in [-1, 1], sorted by file name; skips the test when absent."""
    folder = RETINA / "images"
    files = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not files:
        pytest.skip(f"retina images not found under {folder} (they are not part of the repo)")
    from skimage.io import imread
    images = [imread(path)[..., :3] for path in files[:count]]
    stack = np.stack(images).astype(np.float32) / 127.5 - 1.0
    return np.ascontiguousarray(np.moveaxis(stack, -1, 1))
