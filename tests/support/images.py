"""Synthetic test inputs."""

import numpy as np


def smooth_images(rng, shape, dtype=np.float32):
    """Random images with spatial structure (a cumulative sum smooths white noise), in [-1, 1]."""
    x = rng.standard_normal(shape)
    for axis in range(2, len(shape)):
        x = np.cumsum(x, axis=axis)
    x -= x.min()
    x /= max(x.max(), 1e-12)
    return (2.0 * x - 1.0).astype(dtype)
