"""The low-level steps of diffusion condensation, for pipelines that run their own loop.

Each call builds an engine on the given points as they are (no normalisation, no PCA) on their
device, runs one step and returns arrays in the input's library. `cuts_ext.condense` is these
steps plus the choice of t, the merge threshold and the eps schedule.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

import numpy as np

from .._arrays import like_operand
from .._checks import integer, real
from .engine import (KERNEL_DECAY, KERNEL_THRESHOLD, adaptive_neighbours, check_weights,
                     host_points, new_engine, unit_exponent)
from .spectrum import MAX_DIFFUSION_TIME


def diffusion_step(X: Any, *, eps: Optional[float] = None, knn: Optional[int] = None,
                   weights: Any = None, t: int = 1, decay: float = KERNEL_DECAY,
                   thresh: float = KERNEL_THRESHOLD) -> Any:
    """X <- P^t X for one of the two kernels of docs/method.md ("Kernels"),
    P = D^-1 (K + K^T) / 2.

    Give exactly one of `eps` (the fixed kernel exp(-(d/eps)^decay)) or `knn` (the adaptive kernel
    of iteration 0, bandwidth the distance to the k-th nearest other point, k = min(knn, M - 2)
    and at least 1, as `condense` clamps it). Entries below `thresh` are dropped, columns are
    weighted by `weights`, then the kernel is symmetrised.

    Args:
        X: [M, C] points; float (computed in float64), finite, on the CPU or a GPU. Points of
            any finite magnitude work: beyond 2^+-200 they are scaled by a power of two (exactly)
            for the step and back.
        eps: the fixed kernel's bandwidth, a finite number > 0.
        knn: the adaptive kernel's neighbour count, an integer >= 1.
        weights: [M] positive cluster sizes (default 1 each), weighting the columns of either
            kernel before it is symmetrised (docs/method.md, "Weighted points").
        t: the number of diffusion products, an integer in 0..1,000.
        decay, thresh: the kernel's exponent (> 0) and drop threshold (in (0, 1)).

    Returns:
        float64 [M, C], in X's library and on its device.

    Raises:
        ValueError: X not a finite real [M, C] array; not exactly one of eps and knn; a value
            out of range (the message names it).
        TypeError: knn or t not an integer, eps / decay / thresh not a real number.
    """
    if (eps is None) == (knn is None):
        raise ValueError("give exactly one of eps (fixed kernel) or knn (adaptive kernel)")
    t = integer(t, "t", minimum=0, maximum=MAX_DIFFUSION_TIME)
    knn = None if knn is None else integer(knn, "knn", minimum=1)
    eps = None if eps is None else real(eps, "eps", minimum=0, above=True)
    operand, engine, exponent = _engine(X, decay, thresh, weights)
    if knn is not None:
        engine.adaptive_kernel(adaptive_neighbours(knn, engine.size()))
    else:
        engine.fixed_kernel(_scaled(eps, exponent))
    engine.diffuse(t)
    return like_operand(np.ascontiguousarray(np.ldexp(engine.points(), exponent)), operand)


def merge(X: Any, threshold: float, *, weights: Any = None) -> tuple:
    """Joins every pair of rows closer than `threshold` (strictly), transitively.

    Each group becomes the plain mean of its rows; groups are numbered by their smallest row.
    Means of points of any finite magnitude are finite (beyond 2^+-200 the points are scaled by
    a power of two for the merge and back).

    Args:
        X: [M, C] finite points.
        threshold: the merge distance, a finite number > 0.
        weights: [M] positive cluster sizes (default 1 each); a group's weight is their sum.

    Returns:
        (points float64 [G, C], group int64 [M]: the new index of every row, weights float64
        [G]), in X's library and on its device. Map original labels with ``group[labels]``.

    Raises:
        ValueError: X not a finite real [M, C] array; threshold or weights out of range.
        TypeError: threshold not a real number, weights not an array of numbers.
    """
    threshold = real(threshold, "threshold", minimum=0, above=True)
    # A merge needs no kernel: the engine's kernel parameters are irrelevant to it.
    operand, engine, exponent = _engine(X, KERNEL_DECAY, KERNEL_THRESHOLD, weights)
    engine.merge(_scaled(threshold, exponent))
    group = engine.labels().astype(np.int64)
    return tuple(like_operand(np.ascontiguousarray(a), operand)
                 for a in (np.ldexp(engine.points(), exponent), group, engine.weights()))


def _engine(X: Any, decay: Any, thresh: Any, weights: Any) -> tuple:
    """(operand, engine on X / 2^e, e), with the kernel parameters and weights checked."""
    decay = real(decay, "decay", minimum=0, above=True)
    thresh = real(thresh, "thresh", minimum=0, maximum=1, above=True, below=True)
    operand, points = host_points(X)
    weights = check_weights(weights, points.shape[0])
    exponent = unit_exponent(points)
    if exponent:
        points = np.ldexp(points, -exponent)
    engine = new_engine(points, operand, operand.device == "cuda", decay, thresh)
    if weights is not None:
        engine.set_weights(weights)
    return operand, engine, exponent


def _scaled(length: float, exponent: int) -> float:
    """A distance for points divided by 2^exponent, kept within the positive finite floats."""
    return float(min(max(np.ldexp(length, -exponent), 5e-324), sys.float_info.max))
