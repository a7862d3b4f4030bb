"""A label-free choice of one level (granularity) per image.

Three criteria:

- "consensus": the level whose partition agrees best, by adjusted Rand index, with
  the persistent-structures map. The persistent map gathers the structures that hold over many
  levels; the one level closest to it is the single granularity that best represents what
  persists, and unlike the persistent map it is a genuine partition of the image.
- "lifetime": the level whose cluster count holds for the most condensation iterations. eps
  grows by a constant factor per iteration, so iterations measure log-scale and a long plateau
  is a partition that survives a wide range of scales (the "most stable scale" of scale-space).
  Levels under `min_clusters` clusters are not candidates: at the end of a run eps outgrows the
  data and the last two or three clusters persist for many iterations whatever the image holds.
- "clusters": the level whose cluster count is nearest `clusters` on a log scale (the
  granularity asked for, in clusters, snapped to the hierarchy's own levels).

The default depends on the kind of input (defaults.py, README "How the defaults were chosen"):
"consensus" for 2-D images, chosen by the cross-validation of python/bench/bench_quality.py
--cv 5 on the retina development images (all three criteria and their parameters were
candidates); "clusters" with 32 for volumes, where consensus does worse on the MNI152 template.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional

import numpy as np

from .._checks import integer
from .defaults import DEFAULT, resolve
from .metrics import adjusted_rand_index
from .persistence import persistent_map

AUTO_LEVEL_METHODS = ("consensus", "lifetime", "clusters")

# Fewer clusters cannot separate a target from both background and the rest of the tissue.
MIN_CLUSTERS = 8


def consensus_level(label_maps: np.ndarray, persistent: Optional[np.ndarray] = None,
                    foreground: Optional[np.ndarray] = None) -> Optional[int]:
    """The level whose label map has the highest adjusted Rand index with the persistent map
    (ties: the finer level).

    Args:
        label_maps: integer [L, *spatial], fine to coarse.
        persistent: the persistent map of `label_maps` [*spatial]; computed when None.
        foreground: bool [*spatial], the voxels that were segmented (None: all); the index is
            taken over those only, so the background both maps share does not count as
            agreement.
    Returns:
        a position in 0..L-1, or None when L = 0.
    """
    if len(label_maps) == 0:
        return None
    if persistent is None:
        persistent = persistent_map(label_maps, background=None if foreground is None else 0)
    if foreground is not None:
        label_maps, persistent = label_maps[:, foreground], persistent[foreground]
    agreement = [adjusted_rand_index(label_map, persistent) for label_map in label_maps]
    return int(np.argmax(agreement))


def level_lifetimes(cluster_counts: List[int], levels: List[int]) -> List[int]:
    """For each level, the number of iterations whose cluster count equals the level's.

    Counts never increase along a run, so these iterations are consecutive: the plateau.

    Args:
        cluster_counts: T ints, clusters after each iteration.
        levels: the level iterations (indices into cluster_counts), fine to coarse.
    Returns:
        one int >= 2 per level (a level is a plateau: the next iteration merges nothing).
    """
    counts = [int(c) for c in cluster_counts]
    return [counts.count(counts[iteration]) for iteration in levels]


def lifetime_level(cluster_counts: List[int], levels: List[int],
                   min_clusters: int = MIN_CLUSTERS) -> Optional[int]:
    """The level with the longest plateau among levels of at least `min_clusters` clusters
    (all levels when none has that many); ties: the finer level.

    Returns:
        a position in `levels`, or None when there is no level.
    """
    levels = [int(i) for i in levels]
    if not levels:
        return None
    counts = [int(c) for c in cluster_counts]
    lifetimes = level_lifetimes(counts, levels)
    candidates = [j for j, i in enumerate(levels) if counts[i] >= min_clusters]
    candidates = candidates or list(range(len(levels)))
    return max(candidates, key=lambda j: (lifetimes[j], -j))


def clusters_level(cluster_counts: List[int], levels: List[int], clusters: int) -> Optional[int]:
    """The level whose cluster count is nearest `clusters` in ratio (|log count - log
    clusters| least; ties: the finer level).

    Returns:
        a position in `levels`, or None when there is no level.
    """
    if not levels:
        return None
    distance = [abs(math.log(int(cluster_counts[i])) - math.log(clusters)) for i in levels]
    return int(np.argmin(distance))


def auto_level(segmentation: Any, method: str = DEFAULT,
               clusters: Any = DEFAULT) -> Optional[int]:
    """The automatic granularity of one segmentation.

    Args:
        segmentation: anything with `label_maps` [L, *spatial], `levels` and `cluster_counts`,
            and for "consensus" optionally `persistent` [*spatial] (a `MultiscaleSegmentation`).
        method: "consensus", "lifetime" or "clusters" (module docstring); "default": the
            criterion for maps of this dimension ("consensus" for 2-D, "clusters" for 3-D;
            other dimensions have no default: ValueError).
        clusters: the cluster count that "clusters" aims at (>= 1); "default": 32.
    Returns:
        the chosen position in `segmentation.levels` (0 = finest), None when there is no level.
    Raises:
        TypeError: `segmentation` lacks one of those attributes (an array of maps, say), or
            `clusters` is not an integer.
        ValueError: an unknown `method`, `clusters` < 1, or "default" for maps that are
            neither 2-D nor 3-D.
    """
    missing = [name for name in ("label_maps", "levels", "cluster_counts")
               if not hasattr(segmentation, name)]
    if missing:
        raise TypeError("segmentation must be a MultiscaleSegmentation (or have label_maps, "
                        f"levels and cluster_counts), got {type(segmentation).__name__}"
                        f" without {', '.join(missing)}")
    spatial_ndim = np.ndim(segmentation.label_maps) - 1
    method = resolve(method, "auto_method", spatial_ndim)
    if method == "consensus":  # the persistent map is computed when there is none
        return consensus_level(segmentation.label_maps, getattr(segmentation, "persistent", None),
                               getattr(segmentation, "foreground", None))
    if method == "lifetime":
        return lifetime_level(segmentation.cluster_counts, segmentation.levels)
    if method == "clusters":
        clusters = resolve(clusters, "auto_clusters", spatial_ndim)
        integer(clusters, "clusters", minimum=1)
        return clusters_level(segmentation.cluster_counts, segmentation.levels, clusters)
    raise ValueError(f"method must be one of {', '.join(AUTO_LEVEL_METHODS)}, got {method!r}")
