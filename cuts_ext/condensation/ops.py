"""The low-level steps of diffusion condensation, for pipelines that run their own loop.

Each call builds an engine on the given points as they are (no normalisation, no PCA) on their
device, runs one step and returns arrays in the input's library. `cuts_ext.condense` is these
steps plus the choice of t, the merge threshold and the eps schedule.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .._arrays import like_operand, to_numpy
from .engine import KERNEL_DECAY, KERNEL_THRESHOLD, host_points, new_engine


def diffusion_step(X: Any, *, eps: Optional[float] = None, knn: Optional[int] = None,
                   weights: Any = None, t: int = 1, decay: float = KERNEL_DECAY,
                   thresh: float = KERNEL_THRESHOLD) -> Any:
    """X <- P^t X for one of the two kernels of docs/method.md ("Kernels"),
    P = D^-1 (K + K^T) / 2.

    Give exactly one of `eps` (the fixed kernel exp(-(d/eps)^decay)) or `knn` (the adaptive kernel
    of iteration 0, bandwidth the distance to the k-th nearest other point). Entries below
    `thresh` are dropped, columns are weighted by `weights`, then the kernel is symmetrised.

    Args:
        X: [M, C] points; float (computed in float64), on the CPU or a GPU.
        weights: [M] positive cluster sizes (default 1 each), weighting the columns of either
            kernel before it is symmetrised (docs/method.md, "Weighted points").
        t: the number of diffusion products (>= 0).

    Returns:
        float64 [M, C], in X's library and on its device.
    """
    if (eps is None) == (knn is None):
        raise ValueError("give exactly one of eps (fixed kernel) or knn (adaptive kernel)")
    if int(t) < 0:
        raise ValueError(f"t must be >= 0, got {t}")
    operand, engine = _engine(X, decay, thresh, weights)
    if knn is not None:
        if int(knn) < 1:
            raise ValueError(f"knn must be >= 1, got {knn}")
        engine.adaptive_kernel(int(knn))
    else:
        if not (np.isfinite(eps) and eps > 0):
            raise ValueError(f"eps must be a positive number, got {eps}")
        engine.fixed_kernel(float(eps))
    engine.diffuse(int(t))
    return like_operand(np.ascontiguousarray(engine.points()), operand)


def merge(X: Any, threshold: float, *, weights: Any = None) -> tuple:
    """Joins every pair of rows closer than `threshold` (strictly), transitively.

    Each group becomes the plain mean of its rows; groups are numbered by their smallest row.

    Args:
        X: [M, C] points.
        threshold: the merge distance, > 0.
        weights: [M] positive cluster sizes (default 1 each); a group's weight is their sum.

    Returns:
        (points float64 [G, C], group int64 [M]: the new index of every row, weights float64
        [G]), in X's library and on its device. Map original labels with ``group[labels]``.
    """
    if not (np.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be a positive number, got {threshold}")
    # A merge needs no kernel: the engine's kernel parameters are irrelevant to it.
    operand, engine = _engine(X, KERNEL_DECAY, KERNEL_THRESHOLD, weights)
    engine.merge(float(threshold))
    group = engine.labels().astype(np.int64)
    return tuple(like_operand(np.ascontiguousarray(a), operand)
                 for a in (engine.points(), group, engine.weights()))


def _engine(X: Any, decay: float, thresh: float, weights: Any) -> tuple:
    operand, points = host_points(X)
    engine = new_engine(points, operand, operand.device == "cuda", decay, thresh)
    if weights is not None:
        # set_weights checks the length and positivity.
        engine.set_weights(np.asarray(to_numpy(weights), dtype=np.float64).reshape(-1))
    return operand, engine

