"""Scores of a segmentation against a reference mask, as the CUTS paper computes them.

All functions take 2-D [H, W] or 3-D [D, H, W] arrays; distances are in pixels (voxels). Masks
are arrays of numbers or bools, nonzero = foreground: anything else (None, strings) is a
TypeError, NaN or infinite values and masks of different shapes a ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List

import numpy as np
from scipy import ndimage

from .._checks import describe


def dice(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Dice coefficient 2 |A & B| / (|A| + |B|) of two masks (nonzero = foreground).

    Two empty masks agree perfectly: 1.0 (the reference adds 1e-12 to both terms, which gives
    the same limit).
    """
    a, b = _binary_pair(prediction, reference)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def hausdorff_distance(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Symmetric Hausdorff distance between the foreground pixels of two masks.

    The same value as ``skimage.metrics.hausdorff_distance(prediction, reference)`` (Euclidean,
    over all nonzero pixels, not only boundaries) when both masks have foreground. When either
    is empty, the image diagonal sqrt(sum of squared sizes), as the CUTS evaluation does
    (scikit-image would give inf, or 0 for two empty masks).
    """
    a, b = _binary_pair(prediction, reference)
    if not a.any() or not b.any():
        return float(np.sqrt(np.sum(np.square(np.asarray(a.shape, dtype=np.float64)))))
    # The Euclidean distance transform of ~b gives every pixel's distance to b's nearest pixel,
    # exactly (the square root of an integer), so no pairwise search is needed.
    a_to_b = ndimage.distance_transform_edt(~b)[a].max()
    b_to_a = ndimage.distance_transform_edt(~a)[b].max()
    return float(max(a_to_b, b_to_a))


def label_hint_mask(label_map: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The region of the label that holds the most foreground pixels of the reference.

    Ties go to the smallest label. An empty reference gives an empty mask (nothing to hint).

    Args:
        label_map: integer [H, W] or [D, H, W].
        reference: mask of the same shape (nonzero = foreground).
    Returns:
        bool, the shape of `label_map`.
    """
    label_map = np.asarray(label_map)
    reference = _binary_pair(label_map, reference)[1]
    if not reference.any():
        return np.zeros(label_map.shape, dtype=bool)
    labels, counts = np.unique(label_map[reference], return_counts=True)
    return label_map == labels[np.argmax(counts)]


def adjusted_rand_index(labels_a: np.ndarray, labels_b: np.ndarray) -> float:
    """Adjusted Rand index of two partitions of the same pixels (1 = identical, ~0 = chance).

    The Hubert-Arabie formula on the contingency table, as scikit-learn's
    ``adjusted_rand_score`` computes it; 1.0 when the two partitions are trivially equal (both
    one cluster, or both all singletons).

    Args:
        labels_a, labels_b: integer arrays of the same shape (any ids).
    """
    a, b = np.asarray(labels_a).ravel(), np.asarray(labels_b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"label arrays differ in size: {a.size} and {b.size}")
    _, rows = np.unique(a, return_inverse=True)
    columns_ids, columns = np.unique(b, return_inverse=True)
    table = np.bincount(rows * len(columns_ids) + columns)

    def pairs(counts: np.ndarray) -> float:
        counts = counts.astype(np.float64)
        return float(np.sum(counts * (counts - 1) / 2))

    together = pairs(table)
    in_a, in_b = pairs(np.bincount(rows)), pairs(np.bincount(columns))
    expected = in_a * in_b / (a.size * (a.size - 1) / 2) if a.size > 1 else 0.0
    largest = (in_a + in_b) / 2
    return 1.0 if largest == expected else (together - expected) / (largest - expected)


@dataclass
class LevelScores:
    """Label-hint scores of every level of a multi-scale segmentation.

    Attributes:
        dice: L floats, the Dice of each level's label-hint mask.
        hausdorff: L floats, its Hausdorff distance in pixels.
    """

    dice: List[float]
    hausdorff: List[float]

    @property
    def best_dice_level(self) -> int:
        """The level with the highest Dice (the first on ties)."""
        return int(np.argmax(self.dice))

    @property
    def best_hausdorff_level(self) -> int:
        """The level with the lowest Hausdorff distance (the first on ties); chosen on its own,
        so it may differ from `best_dice_level`, as in the paper's "best" column."""
        return int(np.argmin(self.hausdorff))


def score_levels(label_maps: np.ndarray, reference: np.ndarray) -> LevelScores:
    """Label-hint Dice and Hausdorff distance of each label map against a reference mask.

    Args:
        label_maps: integer [L, H, W] or [L, D, H, W], L >= 1.
        reference: mask [H, W] or [D, H, W].
    """
    if len(label_maps) == 0:
        raise ValueError("no label maps to score")
    hints = [label_hint_mask(label_map, reference) for label_map in label_maps]
    return LevelScores(dice=[dice(h, reference) for h in hints],
                       hausdorff=[hausdorff_distance(h, reference) for h in hints])


def _binary_pair(prediction: np.ndarray, reference: np.ndarray) -> tuple:
    """The two masks as bool arrays (nonzero = foreground).

    Raises:
        TypeError: either is not an array of numbers or bools (None, strings, a scalar).
        ValueError: NaN or infinite values (neither inside nor outside), or shapes differ.
    """
    a, b = _mask_values(prediction, "prediction") != 0, _mask_values(reference, "reference") != 0
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {list(a.shape)} and {list(b.shape)}")
    return a, b


def _mask_values(mask: Any, name: str) -> np.ndarray:
    values = np.asarray(mask)
    if values.ndim == 0 or values.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of numbers or bools (a mask), got "
                        f"{describe(mask)}")
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise ValueError(f"{name} holds NaN or infinite values: a mask is 0 or nonzero")
    return values
