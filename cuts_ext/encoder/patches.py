"""Pixel-centred patches: the view of an image that CUTS embeds, one patch per pixel."""

from __future__ import annotations

from typing import Any

from .. import _C
from .._arrays import FLOAT_DTYPES, INDEX_DTYPES, as_operand
from .._checks import INT32_MAX, integer


def extract_patches(images: Any, size: int = 5, centers: Any = None) -> Any:
    """The size^d patch centred on every pixel (voxel), or on the given centres.

    Beyond the image border the edge is replicated (the padding of the CUTS encoder's
    convolutions), so every pixel, corners included, has a full patch.

    Args:
        images: [B, C, H, W] images or [B, C, D, H, W] volumes; float32 or float64; numpy, torch
            (CPU or CUDA), cupy, or any ``__dlpack__`` / ``__cuda_array_interface__`` object.
        size: patch side P; odd, >= 1, and no larger than any spatial extent.
        centers: optional [B, S, d] integer coordinates, (y, x) for images or (z, y, x) for
            volumes, each inside the image, on the same device as `images`.

    Returns:
        An array of the images' dtype, library and device:
        without centres [B, H, W, C, P, P] (2-D) or [B, D, H, W, C, P, P, P] (3-D), so that
        ``out.reshape(B * H * W, -1)`` is one row per pixel; with centres [B, S, C, P, P] or
        [B, S, C, P, P, P].

    Raises:
        ValueError: wrong rank, non-float images, even / non-positive size, size larger than the
            image, malformed or out-of-range centres; a torch tensor that requires grad (the
            kernel has no backward, so its result would silently cut the graph: detach it).
        TypeError: `size` is not an integer; images or centers not an array of numbers.
        RuntimeError: CUDA input where no CUDA GPU can run (or CUDA was not compiled in).
        MemoryError: the output could not be allocated on the GPU.
    """
    size = integer(size, "size", minimum=1, maximum=INT32_MAX)
    if getattr(images, "requires_grad", False):
        raise ValueError("images requires grad, but extract_patches is not differentiable (its "
                         "result would carry no gradient): pass images.detach()")
    src = as_operand(images, "images", FLOAT_DTYPES)
    # Operands own the memory their descriptors point to: keep them alive across the calls.
    centre_operand = None
    if centers is not None:
        centre_operand = as_operand(centers, "centers", INDEX_DTYPES).astype("int64")
    centres_descriptor = centre_operand.descriptor if centre_operand is not None else None
    shape = _C.extract_patches_shape(src.descriptor, size, centres_descriptor)
    out = src.empty(shape, src.dtype)
    _C.extract_patches(src.descriptor, size, centres_descriptor, out.descriptor, src.stream())
    return out.value
