"""embed(): the latent vector of every pixel (voxel), in overlapping tiles when an image or
volume does not fit in memory at once."""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Iterator, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from .._arrays import host_array
from .._checks import integer
from .model import RECEPTIVE_RADIUS, CUTSEncoder

#: Working memory one forward pass may take (bytes) before embed splits the work.
WORK_BYTES = 512 * 2 ** 20


class Embedding(NamedTuple):
    """The result of `embed`, float32, in the input's library and on its device.

    Attributes:
        z: [B, F, *spatial], F = 8 * num_kernels: the latent vector of every pixel.
        reconstruction: [B, C, *spatial]: the centre pixel of each pixel's reconstructed patch.
    """

    z: Any
    reconstruction: Any


@torch.no_grad()
def embed(model: Union[CUTSEncoder, DistributedDataParallel], images: Any, *,
          tile: Union[int, Sequence[int], None] = None) -> Embedding:
    """Every pixel's latent vector and reconstructed value, computed on the model's device.

    The model runs in eval mode (batch norm with its running statistics; the model's mode is
    restored afterwards), so each output pixel depends only on the input within
    RECEPTIVE_RADIUS = 8 pixels of it. Tiling therefore extends each tile by that halo (or up
    to the image border, where the convolutions' own replicate padding applies), keeps the
    tile's core, and equals the untiled result up to float rounding.

    Args:
        model: a `CUTSEncoder` (or DistributedDataParallel around one), e.g. from `train` or
            `load_encoder`.
        images: [B, C, H, W] (2-D encoder) or [B, C, D, H, W] (3-D), float, finite, scaled to
            [-1, 1] like the training images; numpy, torch (any device) or a ``__dlpack__``
            array.
        tile: side of each tile's core, an int or one per spatial axis. None: whole images,
            as many per pass as fit in WORK_BYTES of working memory, and tiles sized to that
            budget for an image that alone exceeds it.

    Returns:
        An `Embedding`: numpy arrays for numpy input, otherwise torch tensors on the input's
        device.

    Raises:
        ValueError: images of the wrong rank, with a channel count other than the model's
            in_channels, non-float or non-finite, ragged; an invalid tile; a latent map that
            is not finite (intensities far outside [-1, 1], beyond what float32 holds).
        TypeError: `model` is not a CUTSEncoder; images not an array of numbers; a tile side
            that is not an integer.
    """
    module = model.module if isinstance(model, DistributedDataParallel) else model
    if not isinstance(module, CUTSEncoder):
        raise TypeError(f"model must be a cuts_ext.CUTSEncoder, got {type(module).__name__}")
    as_numpy = isinstance(images, np.ndarray)
    x = _as_tensor(images)
    _check_images(x, module)
    B, C = x.shape[:2]
    spatial = tuple(x.shape[2:])
    out_device = torch.device("cpu") if as_numpy else x.device
    z = torch.empty((B, module.latent_channels) + spatial, device=out_device)
    reconstruction = torch.empty((B, C) + spatial, device=out_device)
    for where, latent, centres in embed_tiles(module, x, tile=tile):
        z[where] = latent.to(out_device)
        reconstruction[where] = centres.to(out_device)
    if as_numpy:
        return Embedding(z.numpy(), reconstruction.numpy())
    return Embedding(z, reconstruction)


@torch.no_grad()
def embed_tiles(model: CUTSEncoder, x: torch.Tensor, *,
                tile: Union[int, Sequence[int], None] = None,
                skip: Optional[Callable[[tuple], bool]] = None) -> Iterator[tuple]:
    """The embedding of `x` piece by piece, for callers that reduce each piece as soon as it
    exists instead of holding the whole latent map (a 1 mm brain volume's is 4.4 GB).

    Pieces are whole images (as many per pass as fit in WORK_BYTES) or, for an image that alone
    exceeds it (or with `tile`), tiles with the halo that makes them equal to the untiled
    result, as `embed` describes.

    Args:
        model: a `CUTSEncoder`, run in eval mode (its mode is restored afterwards).
        x: float tensor [B, C, *spatial]; its rank and channels are checked against the
            model here (ValueError), its values by the caller (`embed` checks them).
        tile: as `embed` takes it.
        skip: called with a piece's target index (below) before it is computed; True skips the
            piece (e.g. a tile holding no foreground).

    Yields:
        (where, latent, centres): `where` indexes the piece in [B, *, *spatial] arrays
        (a batch slice, all channels, then one slice per spatial axis); latent float32
        [b, F, *piece] and centres float32 [b, C, *piece] on the model's device.
    """
    model._check_input(x)  # rank and channels: torch's own errors would not say which
    device = next(model.parameters()).device
    B, C = x.shape[:2]
    spatial = tuple(x.shape[2:])
    bytes_per_voxel = 4 * (2 * C + 4 * model.latent_channels)
    core = _tile_shape(tile, spatial, bytes_per_voxel)
    chunk = 1
    if core == spatial:
        chunk = max(1, WORK_BYTES // (bytes_per_voxel * math.prod(spatial)))
    was_training = model.training
    model.eval()
    try:
        for first in range(0, B, chunk):
            images_chunk = slice(first, min(first + chunk, B))
            for outer, inner, target in _tiles(spatial, core, RECEPTIVE_RADIUS):
                where = (images_chunk, slice(None)) + target
                if skip is not None and skip(where):
                    continue
                piece = x[(images_chunk, slice(None)) + outer].to(device, torch.float32)
                latent = model.latent(piece)
                centres = model.reconstruct_centres(latent)
                if not bool(torch.isfinite(latent).all() & torch.isfinite(centres).all()):
                    raise ValueError(
                        "the encoder's output is not finite for these images (their largest "
                        f"magnitude is {float(piece.abs().max()):.3g} in float32): scale "
                        "intensities to [-1, 1] as the encoder was trained, and check that the "
                        "model's weights are finite")
                keep = (slice(None), slice(None)) + inner
                yield where, latent[keep], centres[keep]
    finally:
        model.train(was_training)


def _as_tensor(images: Any) -> torch.Tensor:
    """A tensor view of `images`: torch tensors as they are (detached), anything else through
    the host conversion every entry point shares (strides, byte order, ragged lists)."""
    if isinstance(images, torch.Tensor):
        return images.detach()
    if hasattr(images, "__dlpack__") and not hasattr(images, "__array__"):
        return torch.from_dlpack(images)
    return torch.from_numpy(host_array(images, "images"))


def _check_images(x: torch.Tensor, model: CUTSEncoder) -> None:
    model._check_input(x)  # rank and channels, as the forward pass checks them
    if not x.is_floating_point():
        raise ValueError(f"images must be floating point scaled to [-1, 1], got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("images contains non-finite values (NaN or infinity)")


def _tile_shape(tile: Union[int, Sequence[int], None], spatial: tuple,
                bytes_per_voxel: int) -> tuple:
    """The core side of the tiles per axis (the whole extent where no tiling is needed)."""
    if tile is None:
        if bytes_per_voxel * math.prod(spatial) <= WORK_BYTES:
            return spatial
        # The largest cube (with its halo) within the budget, at least 8 voxels of core.
        side = int((WORK_BYTES / bytes_per_voxel) ** (1 / len(spatial))) - 2 * RECEPTIVE_RADIUS
        tile = max(8, side)
    if isinstance(tile, (int, np.integer, float)):
        sides = (tile,) * len(spatial)
    else:
        sides = tuple(tile) if isinstance(tile, (tuple, list)) else ()
    if len(sides) != len(spatial):
        raise ValueError(f"tile must be a positive integer or {len(spatial)} of them, "
                         f"got {tile!r}")
    return tuple(min(integer(s, "tile", minimum=1), n) for s, n in zip(sides, spatial))


def _tiles(spatial: tuple, core: tuple, halo: int):
    """(outer, inner, target) slices per tile: `outer` is read from the image, `inner` is the
    tile's core within the outer block, `target` is where that core goes in the output."""
    for starts in itertools.product(*(range(0, n, c) for n, c in zip(spatial, core))):
        outer, inner, target = [], [], []
        for start, side, n in zip(starts, core, spatial):
            stop = min(start + side, n)
            low, high = max(start - halo, 0), min(stop + halo, n)
            outer.append(slice(low, high))
            inner.append(slice(start - low, stop - low))
            target.append(slice(start, stop))
        yield tuple(outer), tuple(inner), tuple(target)
