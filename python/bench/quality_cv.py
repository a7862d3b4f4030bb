"""Cross-validated choice of `segment`'s tuned settings on the retina development images.

The settings: the condensation's position weight, point budget, channel weight and PCA
dimension (quality_runs.py), and the label-free rules that turn a hierarchy into the outputs a
user without labels gets (the persistent map's thresholds, the automatic level's criterion). A
candidate is one value of all of them. The package has one default per kind of input, whatever
the training step or seed, so the protocol chooses as the package does: the images are split
into K folds (the same split in every run, a run being one training step and seed); for each
fold, the candidate with the best mean Dice of the two label-free outputs (automatic level and
persistent map, equally weighted) on the other K - 1 folds, averaged over all runs, is chosen,
and the held-out fold of every run is scored with it. The held-out scores, pooled over folds,
estimate what the chosen defaults do on new images: no image scored on a fold had a say in
what was chosen for it. The package's defaults are the same choice made on all the images
(`choose_default`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from quality_runs import CondensationSetting, ImageSegmentation

# Columns of a score table: each image's label-hint Dice and Hausdorff distance (pixels) of the
# oracle best level, the automatic level and the persistent map.
COLUMNS = ("best_dice", "best_hausdorff", "auto_dice", "auto_hausdorff",
           "persistent_dice", "persistent_hausdorff")
OBJECTIVE = ("auto_dice", "persistent_dice")

PERSISTENT_METHODS = ("reference", "stable")
AREA_FRACTIONS = (0.005, 0.01, 0.02, 0.03, 0.04, 0.05)
PERSISTENCES = (1, 2, 3, 4)
LIFETIME_MIN_CLUSTERS = (4, 8, 16)
TARGET_CLUSTERS = (16, 24, 32, 40, 48, 64)


@dataclass(frozen=True)
class LabelFreeRules:
    """The persistent map's method and thresholds (`persistence.persistent_map`) and the
    automatic level's criterion (`level_choice`: "consensus"; "lifetime" with `auto_count` its
    min_clusters; "clusters" with `auto_count` its target)."""

    min_area_fraction: float
    min_persistence: int
    auto_method: str
    auto_count: int = 0
    persistent_method: str = "reference"

    def __str__(self) -> str:
        auto = {"consensus": "consensus",
                "lifetime": f"lifetime >= {self.auto_count} clusters",
                "clusters": f"nearest {self.auto_count} clusters"}[self.auto_method]
        return (f"persistent {self.persistent_method}, area >= {self.min_area_fraction:g}, "
                f"persistence >= {self.min_persistence}; auto {auto}")


Candidate = Tuple[CondensationSetting, LabelFreeRules]


def all_rules() -> List[LabelFreeRules]:
    """The grid of label-free rules the protocol chooses from."""
    rules = []
    for method, area, persistence in itertools.product(PERSISTENT_METHODS, AREA_FRACTIONS,
                                                       PERSISTENCES):
        rules.append(LabelFreeRules(area, persistence, "consensus", 0, method))
        rules.extend(LabelFreeRules(area, persistence, "lifetime", clusters, method)
                     for clusters in LIFETIME_MIN_CLUSTERS)
        rules.extend(LabelFreeRules(area, persistence, "clusters", clusters, method)
                     for clusters in TARGET_CLUSTERS)
    return rules


def score_setting(segmented: Sequence[ImageSegmentation], masks: np.ndarray,
                  rules: Sequence[LabelFreeRules]) -> Dict[LabelFreeRules, np.ndarray]:
    """For each rule, the score table float [n_images, len(COLUMNS)] of one setting's
    segmentations against the masks."""
    from cuts_ext.metrics import dice, hausdorff_distance, label_hint_mask
    from cuts_ext.segmentation.level_choice import (clusters_level, consensus_level,
                                                    lifetime_level)
    from cuts_ext.segmentation.metrics import score_levels
    from cuts_ext.segmentation.persistence import persistent_map

    tables = {rule: np.zeros((len(segmented), len(COLUMNS))) for rule in rules}
    for number, (seg, mask) in enumerate(zip(segmented, masks)):
        levels = score_levels(seg.label_maps, mask)
        best = (max(levels.dice), min(levels.hausdorff))
        persistent = {}  # (area, persistence, method) -> (map, Dice, Hausdorff)
        for rule in rules:
            key = (rule.min_area_fraction, rule.min_persistence, rule.persistent_method)
            if key not in persistent:
                painted = persistent_map(seg.label_maps, key[0], key[1], method=key[2])
                hint = label_hint_mask(painted, mask)
                persistent[key] = (painted, dice(hint, mask), hausdorff_distance(hint, mask))
            painted, persistent_dice, persistent_hausdorff = persistent[key]
            if rule.auto_method == "consensus":
                chosen = consensus_level(seg.label_maps, painted)
            elif rule.auto_method == "lifetime":
                chosen = lifetime_level(seg.cluster_counts, seg.levels, rule.auto_count)
            else:
                chosen = clusters_level(seg.cluster_counts, seg.levels, rule.auto_count)
            tables[rule][number] = (*best, levels.dice[chosen], levels.hausdorff[chosen],
                                    persistent_dice, persistent_hausdorff)
    return tables


def objective(table: np.ndarray, rows: np.ndarray) -> float:
    """The selection score of a candidate on the images `rows`: the mean Dice of the
    label-free outputs."""
    columns = [COLUMNS.index(name) for name in OBJECTIVE]
    return float(table[np.ix_(rows, columns)].mean())


def best_candidate(runs: Sequence[Dict[Candidate, np.ndarray]], rows: np.ndarray) -> Candidate:
    """The candidate with the highest `objective` on `rows`, averaged over `runs` (each a
    table per candidate, all runs with the same candidates; ties: the first in order)."""
    return max(runs[0], key=lambda c: float(np.mean([objective(run[c], rows) for run in runs])))


def folds(n_images: int, k: int, seed: int = 0) -> List[np.ndarray]:
    """k disjoint index sets covering 0..n_images-1, from one fixed shuffle."""
    if not 2 <= k <= n_images:
        raise ValueError(f"--cv needs 2 <= K <= the number of images ({n_images}), got {k}")
    order = np.random.default_rng(seed).permutation(n_images)
    return [np.sort(part) for part in np.array_split(order, k)]


def cross_validate(runs: Dict[Any, Dict[Candidate, np.ndarray]],
                   k: int) -> Tuple[Dict[Any, np.ndarray], list]:
    """Held-out scores of every run, each fold scored with the candidate chosen on the other
    folds of all runs.

    Args:
        runs: run key (training step, seed) -> candidate -> score table [n_images, COLUMNS];
            the same images, in the same order, in every run.
    Returns:
        (run key -> float [n_images, len(COLUMNS)], each image scored with the candidate chosen
         without it; the K candidates chosen, one per fold).
    """
    tables = list(runs.values())
    n_images = next(iter(tables[0].values())).shape[0]
    held_out = {key: np.zeros((n_images, len(COLUMNS))) for key in runs}
    chosen = []
    for fold in folds(n_images, k):
        candidate = best_candidate(tables, np.setdiff1d(np.arange(n_images), fold))
        for key, run in runs.items():
            held_out[key][fold] = run[candidate][fold]
        chosen.append(candidate)
    return held_out, chosen


def choose_default(runs: Sequence[Dict[Candidate, np.ndarray]]) -> Candidate:
    """The protocol's choice on every image of every run."""
    return best_candidate(runs, np.arange(next(iter(runs[0].values())).shape[0]))
