"""Which pixels / voxels of an image to segment: all of them, a given mask, or the object ("auto").

    foreground_mask(image, foreground) -> bool [*spatial]

`foreground` is None (every voxel), "auto" (the rule below), or a mask of the image's spatial
shape (numpy, torch, or anything np.asarray takes; nonzero = foreground). File masks are read
with `cuts_ext.io.read_mask(path, image.spatial_shape, image_path=image.path,
affine=image.affine)` and passed here.

The "auto" rule, on an image scaled to [-1, 1] as `io.read_image` scales it:

1. Intensity: x = the maximum over channels (a voxel is dark only when every channel is: air is
   dark in every MRI contrast, the surround of a photograph in every colour, while the fundus
   of a retina photograph is bright mostly in red).
2. Candidates:
   a. Masked data: when at least MASKED_FRACTION (20 %) of the voxels hold exactly the minimum
      of x, the data carries its own mask (a skull-stripped volume such as the MNI152 brain
      template, a masked EPI: background stored as 0, -1 after scaling): the candidates are the
      voxels above the minimum, with no threshold.
   b. Otherwise Otsu's threshold t on x (256 bins between the 1st and 99th percentiles of x,
      values outside clipped to them) splits the voxels into a dark and a bright class with
      means m0 and m1. With lo the 1st percentile of x, the dark class is air (a noise floor,
      a black surround) when m0 - lo <= AIR_RATIO (0.35) * (m1 - lo); the candidates are then
      the voxels with x > m0 + (m1 - m0) / 3, a third of the way from the air to the object.
      (Otsu's own threshold is not used: across an empty valley its between-class variance is
      flat, and its first maximum sits at the top of the air's noise; the class means are
      stable. A third keeps dim tissue, such as coil fall-off or a vignetted fundus rim, yet
      sits well above air noise.) Otherwise the image holds no air (a crop inside the brain:
      Otsu splits two tissues, e.g. grey matter and CSF from white matter) and every voxel is a
      candidate.
3. The largest connected component of the candidates (face connectivity: 4 neighbours in 2-D,
   6 in 3-D; the first in scan order on a tie). Air noise islands and detached specks go.
4. Its holes filled: background regions (face connectivity) that do not reach the array's
   border; then, in a volume, also in every slice along each of the three axes, regions that
   do not reach the slice's edge, so that cavities opening onto a face cut by the field of view
   (ventricles, the skull's dark shell, dark CSF voxels of a skull-stripped brain) are kept.
   No morphological opening or closing: the object's outline stays where the threshold put it.

An empty result (a constant image: every voxel at the minimum) raises ValueError.

What "auto" cannot tell: it keeps one connected object (a head, a brain, a fundus), so several
separate objects on a dark background (cells, two scans side by side) lose all but the
largest; a volume that has at least 20 % exact-minimum voxels (zero padding) and noisy air
besides keeps that air; a crop with no air whose darkest tissue sits near the noise floor
(AIR_RATIO is measured on the class means) can be mistaken for air and lose its dark edge.

Defaults for the pipeline (defaults.py): None for 2-D images and "auto" for volumes.
- 2-D inputs are photographs and microscopy, whose frame is content (the CUTS retina images
  are mostly fundus), where a dark region is as likely an object of interest (a lesion, a
  vessel, a cell) as background, and whose pixels are cheap to condense: segment them all.
- Volumes are mostly MRI or CT of a head or body in air or in a zeroed background, often half
  of the voxels or more (61 % of nibabel's example4d.nii.gz): condensing it costs time and
  memory that grow with the voxels, and its noise can form clusters of its own that crowd the
  hierarchy's levels and the automatic level choice. "auto" drops it, and on masked
  (skull-stripped) volumes keeps the data's own mask (its largest piece, holes filled).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
from scipy import ndimage

from .._arrays import to_numpy

# Fraction of voxels at exactly the minimum from which an image counts as masked (rule 2a).
MASKED_FRACTION = 0.2

# Largest (m0 - lo) / (m1 - lo) of a dark Otsu class that is air (rule 2b). Measured: air of
# Rician noise around a synthetic head (tissue / noise sigma 3 to 100) 0.02-0.31, around
# nibabel's anatomical.nii padded with air 0.04-0.22, the black surround of the 40 CUTS retina
# photographs 0.05-0.26; the two tissue classes of anatomical.nii itself (all brain) 0.49.
# Too low a value only keeps air (as foreground=None would); too high drops tissue.
AIR_RATIO = 0.35

_ACCEPTED = ("None, 'auto', or a mask array of the image's spatial shape (numpy, torch, or "
             "anything np.asarray takes; nonzero = foreground)")


def foreground_mask(image: Any, foreground: Any = None) -> np.ndarray:
    """The voxels to segment.

    Args:
        image: float32 [C, H, W] or [C, D, H, W] in [-1, 1], as `io.read_image` returns it
            (numpy or torch).
        foreground: None (every voxel), "auto" (the rule of the module docstring), or a mask
            array of shape [H, W] / [D, H, W], nonzero = foreground, any dtype.
    Returns:
        bool [H, W] or [D, H, W]; a new array (a given mask is copied).
    Raises:
        ValueError: `image` is not a finite [C, *spatial] array with 2 or 3 spatial axes;
            `foreground` is of no accepted kind, a mask of another shape than the image's, or
            holds no voxel (given so, or found so by "auto").
    """
    data = _check_image(image)
    spatial = data.shape[1:]
    if foreground is None:
        return np.ones(spatial, dtype=bool)
    if isinstance(foreground, str):
        if foreground != "auto":
            raise ValueError(f"foreground must be {_ACCEPTED}; got the string {foreground!r}")
        mask = _auto_foreground(data)
    else:
        mask = _given_mask(foreground, spatial)
    if not mask.any():
        raise ValueError(f"foreground holds no voxel of the image of shape {list(spatial)}"
                         + (" (found by 'auto')" if isinstance(foreground, str) else ""))
    return mask


def _auto_foreground(image: np.ndarray) -> np.ndarray:
    """The "auto" rule of the module docstring on a checked float [C, *spatial] array.

    Returns:
        bool [*spatial]; all False only when every voxel holds the minimum.
    """
    x = image.max(axis=0)
    low = x.min()
    if np.count_nonzero(x == low) >= MASKED_FRACTION * x.size:
        candidates = x > low
    else:
        threshold = _air_threshold(x)
        candidates = np.ones(x.shape, dtype=bool) if threshold is None else x > threshold
    return _fill_holes(_largest_component(candidates))


def _air_threshold(x: np.ndarray) -> Optional[float]:
    """Rule 2b: the threshold above which voxels of intensity `x` are not air, or None when
    the darker Otsu class of `x` is not air (so no voxel is).

    Args:
        x: float array of any shape (the channel maximum of an image).
    Returns:
        float (m0 + (m1 - m0) / 3), or None.
    """
    values = x.astype(np.float64, copy=False).ravel()
    lo, hi = np.percentile(values, [1.0, 99.0])
    if not hi > lo:
        return None  # one intensity for 98 % of the voxels: nothing to split
    clipped = np.clip(values, lo, hi)
    t = _otsu(clipped, lo, hi)
    dark, bright = clipped[clipped <= t], clipped[clipped > t]
    if dark.size == 0 or bright.size == 0:
        return None
    m0, m1 = dark.mean(), bright.mean()
    if m0 - lo > AIR_RATIO * (m1 - lo):
        return None
    return float(m0 + (m1 - m0) / 3)


def _otsu(values: np.ndarray, lo: float, hi: float, bins: int = 256) -> float:
    """Otsu's threshold: the bin edge between the two classes of largest between-class
    variance, over a histogram of `bins` bins on [lo, hi]."""
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts, dtype=np.float64)                  # voxels at or below each edge
    w1 = w0[-1] - w0
    s0 = np.cumsum(counts * centers)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges[1 + int(np.argmax(between[:-1]))])


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest face-connected component of `mask` (the first in scan order on a tie)."""
    labels, count = ndimage.label(mask)
    if count <= 1:
        return labels > 0
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Rule 4: holes filled in the whole array, then (3-D) in every slice along each axis."""
    mask = _fill(mask, axis=None)
    if mask.ndim == 3:
        for axis in range(3):
            mask = _fill(mask, axis=axis)
    return mask


def _fill(mask: np.ndarray, axis: Optional[int]) -> np.ndarray:
    """Fills background regions that do not reach the border; with `axis`, regions of each
    slice along that axis that do not reach the slice's edge (connectivity within slices only,
    border = the faces of the other axes)."""
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    if axis is not None:
        centre = [1] * mask.ndim
        for offset in (0, 2):
            centre[axis] = offset
            structure[tuple(centre)] = False
    labels, count = ndimage.label(~mask, structure=structure)
    if count == 0:
        return mask
    reaches_border = np.zeros(count + 1, dtype=bool)
    reaches_border[0] = True
    for dim in range(mask.ndim):
        if dim == axis:
            continue
        for end in (0, -1):
            reaches_border[np.take(labels, end, axis=dim)] = True
    return mask | ~reaches_border[labels]  # label 0 (the mask) counts as reaching it


def _check_image(image: Any) -> np.ndarray:
    """The image as a numpy array [C, *spatial] with 2 or 3 spatial axes, finite."""
    try:
        data = to_numpy(image)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"image must be an array [C, H, W] or [C, D, H, W]; got "
                         f"{type(image).__name__}") from error
    if data.ndim not in (3, 4) or data.dtype.kind not in "biuf" or 0 in data.shape:
        raise ValueError(f"image must be a non-empty numeric array [C, H, W] or [C, D, H, W]; "
                         f"got shape {list(data.shape)} of dtype {data.dtype}")
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise ValueError("image holds NaN or infinite values")
    return data


def _given_mask(foreground: Any, spatial: Tuple[int, ...]) -> np.ndarray:
    """A mask argument as bool [*spatial], checked."""
    try:
        mask = to_numpy(foreground)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"foreground must be {_ACCEPTED}; got {type(foreground).__name__}") \
            from error
    if mask.ndim == 0 or mask.dtype.kind not in "biuf":
        raise ValueError(f"foreground must be {_ACCEPTED}; got {type(foreground).__name__}"
                         + (f" of dtype {mask.dtype}" if mask.ndim else ""))
    if mask.shape != tuple(spatial):
        raise ValueError(f"foreground has shape {list(mask.shape)}, the image's spatial shape "
                         f"is {list(spatial)}")
    return mask != 0
