"""The anchor / positive pixel pairs of CUTS stage 1 (docs/method.md, "Stage 1: the encoder")."""

from __future__ import annotations

from typing import Any

from .. import _C
from .._arrays import FLOAT_DTYPES, as_operand
from .._checks import INT32_MAX, integer, real


def sample_pairs(images: Any, n_anchors: int = 8, size: int = 5, radius: int = 5,
                 attempts: int = 10, ssim_min: float = 0.5, seed: int = 0,
                 data_range: float = 2.0) -> tuple[Any, Any]:
    """Anchor pixels and their positives for the intra-image contrastive loss.

    Per image, `n_anchors` anchors are drawn uniformly among the pixels whose whole patch lies
    inside the image. For each, `attempts` candidates are drawn uniformly in [a - radius,
    a + radius) on every axis (patch inside the image; the upper end excluded, as the authors'
    ``random.randrange``); the positive is the candidate whose patch has the highest SSIM with
    the anchor's patch, if that exceeds `ssim_min`, and otherwise the anchor's diagonal
    neighbour one pixel toward the image centre. SSIM is scikit-image's
    ``structural_similarity(pa, pb, win_size=size, channel_axis=-1, data_range=data_range)`` on
    the two patches, computed in float64.

    Every pair comes from its own counter-based random stream of `seed`: the result depends only
    on the images, the arguments and the seed, never on global random state, and the CPU and
    CUDA kernels give the same pairs.

    Args:
        images: [B, C, H, W] or [B, C, D, H, W]; float32 or float64; finite; intensities
            typically scaled to [-1, 1] (hence the default data_range 2).
        n_anchors: S, anchors per image (>= 1).
        size: patch side P; odd, >= 3, no larger than any spatial extent.
        radius: candidate neighbourhood half-width (>= 1).
        attempts: candidates per anchor (>= 0; 0 always takes the fallback neighbour).
        ssim_min: a candidate must exceed this SSIM, in [-1, 1].
        seed: any integer (taken modulo 2**64).
        data_range: the intensity range for SSIM's constants, > 0.

    Returns:
        (anchors, positives): two [B, S, d] int64 arrays of (y, x) or (z, y, x) coordinates, in
        the images' library and on their device.

    Raises:
        ValueError: wrong rank, non-float or non-finite images, an invalid parameter.
        TypeError: an integer parameter that is not an integer, a real one that is not a real
            number, images not an array of numbers.
        RuntimeError: CUDA input where no CUDA GPU can run (or CUDA was not compiled in).
    """
    # Each argument's kind and range, so that Python callers get TypeError for the wrong kind
    # (the C++ checks repeat the ranges for its other callers); what depends on the images
    # (size against the image, at least one channel) is checked there.
    args = (integer(n_anchors, "n_anchors", minimum=1, maximum=2**62),
            integer(size, "size", minimum=1, maximum=INT32_MAX),
            integer(radius, "radius", minimum=1, maximum=INT32_MAX),
            integer(attempts, "attempts", minimum=0, maximum=INT32_MAX),
            real(ssim_min, "ssim_min", minimum=-1, maximum=1),
            real(data_range, "data_range", minimum=0, above=True),
            integer(seed, "seed") % 2**64)
    src = as_operand(images, "images", FLOAT_DTYPES)
    shape = _C.sample_pairs_shape(src.descriptor, *args)
    anchors, positives = src.empty(shape, "int64"), src.empty(shape, "int64")
    _C.sample_pairs(src.descriptor, *args, anchors.descriptor, positives.descriptor,
                    src.stream())
    return anchors.value, positives.value
