"""The persistent-structures map: one label map that keeps the structures that last across levels.

docs/method.md, "Persistent-structures map", two ways:
- "reference", the authors': label ids are compared across levels by number. In a condensation
  hierarchy the clusters of every iteration are numbered 0..k-1 by their smallest point index,
  so id j at two levels is the cluster holding the j-th "first pixel" in each; that is what the
  reference compares, and what is reproduced here.
- "stable" (cuts_ext): the regions themselves are followed through the nested levels, and the
  non-overlapping regions that survive the widest span of scales are kept (the excess-of-mass
  selection of HDBSCAN, with a region's stability the span of log cluster counts it lives
  through).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .._checks import describe, integer, real
from .defaults import DEFAULT, resolve

# The package's method; the authors' is "reference" (with 1 % and 2 levels). "stable" was chosen
# by the cross-validation of python/bench/bench_quality.py --cv 5 in 29 of 30 folds (session 8)
# and in every fold since. Its thresholds depend on the kind of input (defaults.py).
PERSISTENT_METHODS = ("reference", "stable")
PERSISTENT_METHOD = "stable"


def persistent_map(label_maps: np.ndarray, min_area_fraction: Any = DEFAULT,
                   min_persistence: Any = DEFAULT,
                   background: Optional[int] = None,
                   method: str = PERSISTENT_METHOD) -> np.ndarray:
    """Paints the persistent structures of a stack of label maps.

    method "stable": `stable_structures` (nested maps only). method "reference": for every
    label id: its persistence (the number of levels it appears in) and the level
    where its area is largest (the first such level on ties). Ids whose largest area is under
    `min_area_fraction` of the image, or with persistence under `min_persistence`, are dropped.
    The others are painted, each with its region at its largest-area level, in order of
    decreasing area, ties by decreasing persistence, then by increasing id; later paint covers
    earlier paint, so smaller structures end up on top.

    Painted pixels hold a positive value and unpainted pixels 0, so that "no persistent
    structure" is not confused with a structure (the reference paints the id itself onto zeros,
    which merges structure 0 with the unpainted pixels): id + 1 for "reference", 1..K by
    decreasing area for "stable".

    Args:
        label_maps: integer [L, H, W] or [L, D, H, W], ids >= 0 (L levels, any order).
        min_area_fraction: in [0, 1]; min_persistence: an integer >= 1 (TypeError / ValueError
            otherwise). "default": the value for maps of this dimension (`defaults.py`: 3 % and
            2 levels for 2-D images, 4 % and 1 level for volumes).
        background: the id that marks voxels outside the foreground in every level (0 in the
            maps of a masked volume), or None. It is never painted, and areas are then
            fractions of the foreground rather than of the whole image.
        method: "reference" or "stable" (ValueError for another).
    Returns:
        int32 [H, W] or [D, H, W].
    Raises:
        TypeError: label_maps is not an array of numbers (None, strings).
        ValueError: label_maps not integer [L, *spatial] with ids >= 0; maps that are not
            nested ("stable"); "default" thresholds for maps neither 2-D nor 3-D.
    """
    if method not in PERSISTENT_METHODS:
        raise ValueError(f"method must be one of {PERSISTENT_METHODS}, got {method!r}")
    label_maps = np.asarray(label_maps)
    if label_maps.ndim == 0 or label_maps.dtype.kind not in "biufc":  # None, strings, ...
        raise TypeError(f"label_maps must be an integer array [L, *spatial], got "
                        f"{describe(label_maps)}")
    if label_maps.ndim < 2 or label_maps.dtype.kind not in "iu":
        raise ValueError(f"label_maps must be integer [L, *spatial], got {label_maps.dtype} "
                         f"{list(label_maps.shape)}")
    min_area_fraction = resolve(min_area_fraction, "min_area_fraction", label_maps.ndim - 1)
    min_persistence = resolve(min_persistence, "min_persistence", label_maps.ndim - 1)
    real(min_area_fraction, "min_area_fraction", minimum=0.0, maximum=1.0)
    integer(min_persistence, "min_persistence", minimum=1)
    spatial = label_maps.shape[1:]
    painted = np.zeros(spatial, dtype=np.int32)
    if label_maps.shape[0] == 0 or painted.size == 0:
        return painted
    if label_maps.min() < 0:
        raise ValueError("label_maps must hold ids >= 0")
    if method == "stable":
        return stable_structures(label_maps, min_area_fraction, min_persistence, background)
    flat = label_maps.reshape(label_maps.shape[0], -1)  # no copy: a volume's maps are large
    n_ids = int(flat.max()) + 1
    areas = np.stack([np.bincount(level, minlength=n_ids) for level in flat])  # [L, ids]
    persistence = (areas > 0).sum(axis=0)
    largest_level = areas.argmax(axis=0)
    largest_area = areas.max(axis=0)
    ids = np.arange(n_ids)
    extent = painted.size
    if background is not None and background < n_ids:
        extent -= int(areas[0, background])
    kept = (largest_area >= min_area_fraction * extent) & (persistence >= min_persistence)
    if background is not None and background < n_ids:
        kept[background] = False
    # lexsort's last key is the primary one: area down, then persistence down, then id up.
    order = np.lexsort((ids, -persistence, -largest_area))
    target = painted.reshape(-1)
    for label in order[kept[order]]:
        target[flat[largest_level[label]] == label] = label + 1
    return painted


def stable_structures(label_maps: np.ndarray, min_area_fraction: float, min_persistence: int,
                      background: Optional[int] = None,
                      weights: Optional[np.ndarray] = None) -> np.ndarray:
    """The regions of a nested hierarchy that last longest, painted as one partition.

    A region (the pixels of one label at one or more consecutive levels) is born at the first
    level it appears and lives while the next level holds it unchanged. Its stability is the
    span of scales it survives, ln k(birth) - ln k(after), where k is a level's cluster count
    (labels present, background left out) and k(after) that of the level where it has merged
    (1 past the coarsest level): a region that lasts from 400 clusters to 40 is as stable as
    one from 40 to 4. It is 0 when the region's area is under `min_area_fraction` of the image
    (foreground) or it appears in fewer than `min_persistence` levels. From the finest level up,
    a region is kept when its stability is at least the summed stability of what its children
    keep, else the children's choice stands (HDBSCAN's excess-of-mass selection). A region
    covering the whole image (foreground) is never kept. The kept regions partition the image
    and are painted 1, 2, ... by decreasing area.

    Args:
        label_maps: integer [L, *spatial] ids >= 0, fine to coarse, nested: every region of a
            level lies inside one region of the next (condensation's levels are).
        min_area_fraction, min_persistence: as in `persistent_map`, given as numbers (maps of
            points do not tell the kind of input whose default applies).
        background: as in `persistent_map` (its region is never kept; it stays 0).
        weights: int [*spatial], how many pixels each position stands for (> 0 each), or None
            (1 each). Maps of points that stand for voxels (super-voxels: [L, M] and their
            voxel counts) then give each point the value its voxels would get from the voxel
            maps, at the cost of M instead of every voxel.
    Returns:
        int32 [*spatial].
    Raises:
        ValueError: maps that are not nested.
    """
    flat = label_maps.reshape(label_maps.shape[0], -1)  # no copy: a volume's maps are large
    n_ids = int(flat.max()) + 1
    mass = None if weights is None else np.asarray(weights, np.int64).reshape(-1)
    extent = flat.shape[1] if mass is None else int(mass.sum())
    if background is not None:
        extent -= int(np.count_nonzero(flat[0] == background) if mass is None
                      else mass[flat[0] == background].sum())
    # Per region: [first level, last level, area, its label at the first level]; its children.
    regions, children = [], []
    region_of = {}  # label at the previous level -> its region
    scale = np.zeros(flat.shape[0] + 1)  # -ln(cluster count) per level, 0 (one) past the last
    for level, labels in enumerate(flat):
        areas = np.bincount(labels, minlength=n_ids) if mass is None else \
            np.bincount(labels, mass, n_ids).round().astype(np.int64)  # exact below 2^53
        count = np.count_nonzero(areas) - (background is not None and areas[background] > 0)
        scale[level] = -np.log(max(count, 1))
        merged_from = {}  # label here -> the regions of the previous level inside it
        if level > 0:
            parent = np.full(n_ids, -1, np.int64)
            parent[flat[level - 1]] = labels  # nested maps write one value per label
            if not np.array_equal(parent[flat[level - 1]], labels):
                raise ValueError(f"label maps are not nested: a region of level {level - 1} "
                                 f"is split at level {level}")
            for label, region in region_of.items():
                merged_from.setdefault(int(parent[label]), []).append(region)
        region_of = {}
        for label in np.flatnonzero(areas).tolist():
            kids = merged_from.get(label, [])
            if len(kids) == 1 and regions[kids[0]][2] == areas[label]:
                regions[kids[0]][1] = level  # the same region, one level older
                region_of[label] = kids[0]
            else:
                regions.append([level, level, int(areas[label]), label])
                children.append(kids)
                region_of[label] = len(regions) - 1
    excluded = region_of.get(background) if background is not None else None
    keeps = []  # per region: (the regions its subtree keeps, their summed stability)
    for index, (first, last, area, _) in enumerate(regions):  # children come before parents
        stability = scale[last + 1] - scale[first] if (
            area >= min_area_fraction * extent and last - first + 1 >= min_persistence) else 0.0
        below = sum(keeps[child][1] for child in children[index])
        never = area >= extent or index == excluded
        if children[index] and (never or below > stability):
            keeps.append(([r for child in children[index] for r in keeps[child][0]], below))
        else:
            keeps.append(([index], stability))
    kept = [r for root in region_of.values() if root != excluded for r in keeps[root][0]]
    kept.sort(key=lambda r: -regions[r][2])
    painted = np.zeros(flat.shape[1], np.int32)
    values = np.zeros((flat.shape[0], n_ids), np.int32)  # per level, label -> painted value
    for value, index in enumerate(kept, start=1):
        values[regions[index][0], regions[index][3]] = value
    for level in np.unique([regions[index][0] for index in kept]).tolist():
        at_level = values[level][flat[level]]
        painted = np.where(at_level > 0, at_level, painted)
    return painted.reshape(label_maps.shape[1:])
