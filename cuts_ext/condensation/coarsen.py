"""Super-voxels before condensation: at most `max_points` connected groups of similar voxels.

Exact condensation of a whole volume (~9 M voxels) is out of reach; `coarsen` groups the voxels
into super-voxels that enter condensation as one point each, at their mean features and weighted
by their voxel counts, and its labels carry the hierarchy back to the voxels. The algorithm (SLIC
passes on the features' device, then connectivity and merging) is documented in
csrc/coarsen/coarsen.h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence


from .. import _C
from .._arrays import FLOAT_DTYPES, Operand, as_operand, like_operand
from .._checks import INT32_MAX, integer, real, sizes


@dataclass(frozen=True)
class Coarsening:
    """Super-voxels of a grid, in the input's library and on its device.

    Attributes:
        labels: [*spatial] int32: -1 on the background, else the super-voxel 0..K-1, numbered in
            the order of each super-voxel's first voxel (row-major).
        counts: [K] int64 voxels of each super-voxel (they sum to the foreground's voxels).
        means: [K, F] float64 mean features of each super-voxel.
    """

    labels: Any
    counts: Any
    means: Any

    @property
    def count(self) -> int:
        """K, the number of super-voxels."""
        return int(self.counts.shape[0])


def coarsen(features: Any, spatial_shape: Sequence[int], max_points: int, *,
            foreground: Any = None, compactness: float = 0.1,
            iterations: int = 5) -> Coarsening:
    """Groups the voxels into at most `max_points` connected super-voxels of similar features.

    SLIC: centres seeded on a regular grid of step S over the foreground's bounding box (S the
    smallest step that seeds at most `max_points` centres), `iterations` passes that move each
    centre to its voxels' mean and give each voxel the nearest centre seeded in the 3^d cells
    around it, by ||f - c_f||^2 + (compactness / S)^2 ||x - c_x||^2 (x in voxels); then every
    super-voxel is made face-connected and small or surplus ones merge into the adjacent one of
    nearest mean (csrc/coarsen/coarsen.h). The result does not depend on the thread count, and
    a CUDA input gives the CPU's result.

    Args:
        features: [N, F] float32 or float64, N = prod(spatial_shape), the voxels in row-major
            order of the grid, F >= 1, all finite; numpy, torch (CPU or CUDA) or cupy.
        spatial_shape: the grid, [H, W] or [D, H, W].
        max_points: M >= 1, the most super-voxels returned.
        foreground: optional bool or uint8 mask of shape spatial_shape or [N] on the features'
            device (nonzero = foreground, at least one voxel); None: every voxel.
        compactness: m >= 0, the weight of position: a voxel one grid step from a centre costs
            m^2, as much as a squared feature distance of m^2. 0 follows the features only.
        iterations: SLIC passes, >= 1.

    Returns:
        A `Coarsening` in the features' library and on their device.

    Raises:
        ValueError: a malformed shape or dtype, max_points, compactness or iterations out of
            range, non-finite features, an all-background foreground, or a foreground of more
            than max_points connected components (super-voxels are connected).
        TypeError: max_points or iterations is not an integer.
        RuntimeError: CUDA input where no CUDA GPU can run.
    """
    max_points = integer(max_points, "max_points", minimum=1)
    iterations = integer(iterations, "iterations", minimum=1, maximum=INT32_MAX)
    compactness = real(compactness, "compactness", minimum=0)
    spatial = _spatial_shape(spatial_shape)
    voxels = math.prod(spatial)
    src = as_operand(features, "features", FLOAT_DTYPES)
    if len(src.shape) != 2 or src.shape[0] != voxels or src.shape[1] < 1:
        raise ValueError(f"features must have shape [N, F] with N = prod(spatial_shape) = "
                         f"{voxels} and F >= 1, got {list(src.shape)}")
    mask = _foreground(foreground, spatial, src)
    labels = src.empty([voxels], "int32")
    counts, means = _C.coarsen(src.descriptor, list(spatial),
                               None if mask is None else mask.descriptor, max_points,
                               float(compactness), iterations, labels.descriptor, src.stream())
    return Coarsening(labels.value.reshape(spatial), like_operand(counts, src),
                      like_operand(means, src))


def _spatial_shape(spatial_shape: Sequence[int]) -> tuple[int, ...]:
    return sizes(spatial_shape, "spatial_shape", lengths=(2, 3))


def _foreground(foreground: Any, spatial: tuple[int, ...], src: Operand) -> Optional[Operand]:
    """The mask as a flat uint8 operand on the features' device, or None for all voxels."""
    if foreground is None:
        return None
    mask = as_operand(foreground, "foreground", ("bool", "uint8"))
    voxels = math.prod(spatial)
    if mask.shape not in (spatial, (voxels,)):
        raise ValueError(f"foreground must have shape {list(spatial)} (spatial_shape) or "
                         f"[{voxels}], got {list(mask.shape)}")
    if (mask.device, mask.device_index) != (src.device, src.device_index):
        raise ValueError(f"foreground must be on the features' device ({src.device}:"
                         f"{src.device_index}), got {mask.device}:{mask.device_index}")
    if not bool(mask.value.any()):
        raise ValueError("foreground has no foreground voxel")
    mask = mask.astype("uint8")
    return Operand(mask.value.reshape(voxels), mask.library, mask.device, mask.device_index)
