"""Dense NumPy/SciPy oracle for CUTS stage 2, diffusion condensation.

This module is the executable definition of the method described in
``docs/method.md`` ("Stage 2: condensation"). It keeps every
N x N quantity in memory (pairwise distances, kernel, diffusion operator) and favours a plain,
step-by-step reading of the text over speed: the fast C++/CUDA kernels of ``cuts_ext`` are held
to it iteration by iteration, and benchmarks use it as their baseline.

Where the text is silent or cannot be taken literally, the choice follows the authors'
reference code (CATCH on graphtools 1.5, as called by the CUTS repository). With ``n_pca=None``
this oracle reproduces a transcription of that code on retina crops (N = 576 to 1,600): the
same iterations, cluster counts and levels, adjusted Rand index 1.0 at every iteration. The
recorded t differs only where P = I, where it has no effect (the reference's knee of a flat
curve is decided by rounding noise; here it is 1).

One point where a natural reading differs from the reference:

- Entropy curve: p_i(t) = s_i^t for t = 0..t_max-1 would be the natural reading. The
  reference's curve starts at s^1 (entry k uses s^(k+1)) and uses the knee's index k as t, as
  docs/method.md states it. The natural reading gives other hierarchies (e.g. t0 = 7 instead
  of 6 on a 24 x 24 crop, diverging at iteration 1), so this oracle follows the reference (see
  `von_neumann_entropy`).

Choices where the text is silent:

- A zero adaptive bandwidth (a point with at least k exact duplicates) is raised to float64
  machine epsilon, as graphtools does: duplicates then keep affinity 1, every other point 0.
- k = min(knn, N - 2) is raised to 1 for N = 2, the only case where the formula gives 0.
- Kernel entries below thresh are dropped before symmetrising, as graphtools does. The fixed
  kernel is symmetric before weighting (one bandwidth for all rows), so its only
  symmetrisation that changes anything is the one after the column weighting.
- The singular values of P are computed per connected component of the kernel graph. P is
  block diagonal up to a permutation, so this is the same spectrum; it avoids a full N x N SVD
  while most points are still isolated, and an isolated point contributes exactly 1.
- The knee fit is computed on y - y[0]: a line fit does not depend on that shift, and it makes
  the residuals of a constant curve exactly zero, so that a flat entropy curve (P = I) ties at
  every break and the first break, t = 1, is chosen.
- Entropy curves with fewer than 3 points have no break point; t = 1 is used then (the
  reference raises an error).
- X <- P^t X is applied as t products P @ X (the reference forms P^t first; same values up to
  rounding).
- A fixed integer ``t`` is used at every iteration (the reference uses it at iteration 0 only
  and still picks later times by the knee).
- PCA applies when N > n_pca and C > n_pca (the reference only tests N), exactly (the
  reference uses randomized PCA).
- Zero rows stay zero under L2 normalisation (as scikit-learn's ``normalize`` leaves them).
  The optional positional encoding is not part of this oracle (its weight is 0 in the
  reference).
- Degenerate inputs: N = 0 gives an empty hierarchy (T = 0). N = 1 gives one iteration with one
  cluster, t = 1 (P = [[1]], a flat curve) and no merge threshold (NaN: there is no pair).
  Two points, or all-identical points, merge into one cluster at iteration 0: the threshold
  exceeds the smallest distance by 1e-7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import cdist, pdist

FLOAT64_EPS = float(np.finfo(np.float64).eps)


@dataclass
class OracleResult:
    """The condensation hierarchy of N points after T iterations.

    Attributes:
        labels: int32 [T, N]; ``labels[i]`` is the cluster of every original point after
            iteration i (iteration 0 first). Ids are 0..k-1, numbered in the order of each
            cluster's smallest original point index.
        cluster_counts: T ints, the number of clusters after each iteration.
        t: T ints, the diffusion time used at each iteration.
        eps: T floats. Iteration 0 records the bandwidth computed at its step 4 (after its merge;
            iteration 0 itself uses the adaptive kernel); iteration i >= 1 records the bandwidth
            of its fixed kernel (already multiplied by ``scale``).
        merge_threshold: the distance below which points merge, computed once at iteration 0;
            NaN when N < 2 (there is no pair to measure).
        levels: iteration indices that are levels (fine to coarse), see `levels_from_counts`.
    """

    labels: np.ndarray
    cluster_counts: list
    t: list
    eps: list
    merge_threshold: float
    levels: list

    @property
    def n_iterations(self) -> int:
        """T, the number of recorded iterations."""
        return int(self.labels.shape[0])


def prepare(X: np.ndarray, n_pca: Optional[int] = 50) -> np.ndarray:
    """L2-normalise the rows, then reduce to `n_pca` dimensions by exact PCA when N, C > n_pca.

    PCA centres the columns and projects them on the top `n_pca` right singular vectors, each
    with its sign fixed so that its largest-magnitude entry is positive (the first such entry on
    ties). Rows of norm 0 stay zero.

    Args:
        X: [N, C] real array.
        n_pca: target dimension, or None for no PCA.

    Returns:
        float64 [N, C] or [N, n_pca].
    """
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X = X / np.where(norms > 0, norms, 1.0)
    n, c = X.shape
    if n_pca is None or n <= n_pca or c <= n_pca:
        return X
    centred = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:n_pca]
    largest = np.argmax(np.abs(components), axis=1)
    components = components * np.sign(components[np.arange(n_pca), largest])[:, None]
    return centred @ components.T


def _alpha_decay(ratio: np.ndarray, decay: float, thresh: float) -> np.ndarray:
    """exp(-ratio^decay), with entries below `thresh` set to 0. float64, same shape as `ratio`."""
    # A far point (or a zero bandwidth raised to machine epsilon) makes ratio^decay overflow
    # to inf; exp(-inf) = 0 is exactly the affinity wanted there.
    with np.errstate(over="ignore"):
        K = np.exp(-np.power(ratio, decay))
    K[K < thresh] = 0.0
    return K


def adaptive_kernel(X: np.ndarray, knn: int = 30, decay: float = 40,
                    thresh: float = 1e-4, weights: Optional[np.ndarray] = None) -> np.ndarray:
    """The symmetrised adaptive alpha-decay kernel of iteration 0.

    K_ij = exp(-(d_ij / b_i)^decay), b_i the distance from i to its k-th nearest neighbour (i
    itself not counted), k = min(knn, N - 2) but at least 1 (N = 2 would give 0); entries below
    `thresh` are dropped; with weights (points that stand for several), column j is weighted by
    w_j as in the fixed kernel; then K <- (K + K^T) / 2. For N = 1 the kernel is [[w_0]] (the
    point's affinity to itself, whatever its bandwidth).

    Args:
        X: float64 [N, C], N >= 1.
        knn, decay, thresh: the kernel parameters (reference 30, 40, 1e-4).
        weights: [N] positive weights, or None for 1 each (the reference).

    Returns:
        float64 [N, N], symmetric, the weights (ones) on the diagonal.
    """
    n = X.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if n == 1:
        return w[None, :].copy()
    D = cdist(X, X)
    k = max(1, min(knn, n - 2))
    # Each sorted row starts with the point's own zero distance, so position k (0-based) is the
    # k-th neighbour not counting the point itself.
    bandwidth = np.partition(D, k, axis=1)[:, k]
    bandwidth = np.maximum(bandwidth, FLOAT64_EPS)
    K = _alpha_decay(D / bandwidth[:, None], decay, thresh) * w[None, :]
    return (K + K.T) / 2


def fixed_kernel(X: np.ndarray, eps: float, weights: np.ndarray, decay: float = 40,
                 thresh: float = 1e-4) -> np.ndarray:
    """The weighted fixed-bandwidth alpha-decay kernel of iterations >= 1.

    K_ij = exp(-(d_ij / eps)^decay), entries below `thresh` dropped; column j is weighted by
    the size w_j of cluster j, then K <- (K + K^T) / 2, i.e. K_ij (w_i + w_j) / 2.

    Args:
        X: float64 [n, C], the current (merged) points.
        eps: bandwidth, > 0.
        weights: [n] number of original points in each current point.
        decay, thresh: the kernel parameters (reference 40, 1e-4).

    Returns:
        float64 [n, n], symmetric, diagonal equal to `weights`.
    """
    # One bandwidth for every row, so the unweighted kernel is already symmetric.
    K = _alpha_decay(cdist(X, X) / max(eps, FLOAT64_EPS), decay, thresh)
    K = K * np.asarray(weights, dtype=np.float64)[None, :]
    return (K + K.T) / 2


def diffusion_operator(K: np.ndarray) -> np.ndarray:
    """P = D^-1 K, D the diagonal of row sums: a row-stochastic float64 [n, n] from K [n, n].

    K has a positive diagonal, so no row sum is zero.
    """
    return K / K.sum(axis=1, keepdims=True)


def singular_values(P: np.ndarray) -> np.ndarray:
    """All n singular values of P [n, n] (float64 [n], in no particular order).

    They are gathered per connected component of P's nonzero pattern: P is block diagonal up to
    a permutation, which leaves the singular values unchanged, so this equals
    ``numpy.linalg.svd(P, compute_uv=False)`` without its cost while most blocks are small.
    """
    n_blocks, block = connected_components(csr_matrix(P != 0), directed=False)
    parts = []
    for b in range(n_blocks):
        members = np.flatnonzero(block == b)
        parts.append(np.linalg.svd(P[np.ix_(members, members)], compute_uv=False))
    return np.concatenate(parts)


def von_neumann_entropy(P: np.ndarray, t_max: int) -> np.ndarray:
    """The von Neumann entropy curve of P, as the reference computes it.

    Entry k (k = 0..t_max-1) is H = -sum_i p_i log p_i with p_i = s_i^(k+1) / sum_j s_j^(k+1)
    + eps64, s the singular values of P. The natural reading takes the powers t = 0..t_max-1, but
    the reference's curve starts at s^1 (and its knee index is then used as t); only this
    reading reproduces the reference's hierarchies.

    Args:
        P: float64 [n, n] diffusion operator.
        t_max: number of curve points, >= 1.

    Returns:
        float64 [t_max].
    """
    s = singular_values(P)
    H = np.empty(t_max)
    for k in range(t_max):
        # s_max >= 1 for a stochastic P, so the sum never underflows.
        st = s ** (k + 1)
        p = st / st.sum() + FLOAT64_EPS
        H[k] = -np.sum(p * np.log(p))
    return H


def knee(y: np.ndarray) -> int:
    """The knee of a curve y over x = 0..n-1 (n >= 3).

    For each break b in 1..n-2, a least-squares line is fitted to points 0..b and another to
    points b-1..n-1; the error of b is the summed absolute residual of the first line over
    points 0..b plus that of the second over points b..n-1. The knee is the b of least error,
    the first one on ties.

    Args:
        y: float [n].

    Returns:
        The knee b, an int in 1..n-2.
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[0]
    if n < 3:
        raise ValueError(f"knee needs a curve of at least 3 points, got {n}")
    x = np.arange(n, dtype=np.float64)
    # Shifting y changes no residual, and it makes a constant curve exactly zero, so a flat
    # curve ties at every break instead of picking one by rounding noise.
    y = y - y[0]

    def abs_residuals(lo: int, hi: int, fit_lo: int) -> np.ndarray:
        """|residuals| over points lo..hi-1 of the line fitted to points fit_lo..hi-1."""
        xs, ys = x[fit_lo:hi], y[fit_lo:hi]
        x_mean, y_mean = xs.mean(), ys.mean()
        slope = np.dot(xs - x_mean, ys - y_mean) / np.dot(xs - x_mean, xs - x_mean)
        return np.abs(y[lo:hi] - (y_mean + slope * (x[lo:hi] - x_mean)))

    best_b, best_error = 0, np.inf
    for b in range(1, n - 1):
        error = abs_residuals(0, b + 1, 0).sum() + abs_residuals(b, n, b - 1).sum()
        if error < best_error:
            best_b, best_error = b, error
    return best_b


def von_neumann_entropy_t(P: np.ndarray, t_max: int) -> int:
    """The diffusion time chosen by the knee of the von Neumann entropy curve of P.

    Args:
        P: float64 [n, n] diffusion operator.
        t_max: number of entropy curve points.

    Returns:
        t >= 1: ``knee(von_neumann_entropy(P, t_max))``, or 1 when t_max < 3 (no break point
        exists; 1 is the smallest time that diffuses at all).
    """
    if t_max < 3:
        return 1
    return knee(von_neumann_entropy(P, t_max))


def diffuse(P: np.ndarray, X: np.ndarray, t: int) -> np.ndarray:
    """P^t X, applied as t products with P: float64 [n, C] from P [n, n] and X [n, C].

    t products with an [n, C] matrix cost less than forming P^t when C < n.
    """
    for _ in range(t):
        X = P @ X
    return X


def merge_threshold(X: np.ndarray) -> float:
    """The 1e-6 quantile of the distances of all pairs i < j of X [n, C], plus 1e-7.

    Numpy's ``percentile(d, 0.0001)`` (linear interpolation). NaN when n < 2: there is no pair.
    """
    if X.shape[0] < 2:
        return float("nan")
    return float(np.percentile(pdist(X), 0.0001)) + 1e-7


def merge(X: np.ndarray, labels: np.ndarray, weights: np.ndarray,
          threshold: float) -> tuple:
    """Join every pair closer than `threshold` (strictly), transitively.

    The groups are the connected components of the graph "d_ij < threshold". A group becomes one
    point at the plain (unweighted) mean of its members' positions. Groups are numbered in the
    order of their smallest member; the rows of X are kept ordered by their smallest original
    point, so this is also the order of the groups' smallest original points.

    Args:
        X: float64 [n, C], the current points.
        labels: int [N], the current point of every original point.
        weights: [n], the number of original points in each current point.
        threshold: merge distance.

    Returns:
        (X [m, C] float64, labels [N] int64, weights [m] int64) after merging, m <= n.
    """
    _, group = connected_components(csr_matrix(cdist(X, X) < threshold), directed=False)
    # Renumber the groups by their smallest member rather than trust scipy's numbering.
    _, first_member = np.unique(group, return_index=True)
    order = np.argsort(first_member)
    new_id = np.empty(order.shape[0], dtype=np.int64)
    new_id[order] = np.arange(order.shape[0])
    group = new_id[group]
    m = order.shape[0]
    sums = np.zeros((m, X.shape[1]))
    np.add.at(sums, group, X)
    members = np.bincount(group, minlength=m)
    merged_weights = np.bincount(group, weights=weights, minlength=m).astype(np.int64)
    return sums / members[:, None], group[labels], merged_weights


def levels_from_counts(counts: list, n_points: int) -> list:
    """The levels ("topological activity") of a hierarchy with the given cluster counts.

    With c(i) = counts[i] and c(-2) = c(-1) = n_points, iteration i >= -2 is a plateau when
    c(i + 1) = c(i). Walking the plateaus in increasing i, a plateau is a level when its count
    differs from the previous plateau's count (the first plateau, i = -2, never is).

    Args:
        counts: T ints, the number of clusters after iterations 0..T-1.
        n_points: N, the number of original points.

    Returns:
        Level iteration indices, increasing (fine to coarse).
    """
    c = [n_points, n_points] + [int(k) for k in counts]
    plateaus = [i for i in range(len(c) - 1) if c[i + 1] == c[i]]
    return [plateaus[j] - 2 for j in range(1, len(plateaus))
            if c[plateaus[j]] != c[plateaus[j - 1]]]


def _check_arguments(X: np.ndarray, knn, t, t_max, scale, decay, thresh, granularity,
                     max_iterations) -> None:
    """Raise ValueError for a malformed input or parameter of `condense_oracle`."""
    if X.ndim != 2:
        raise ValueError(f"X must be [N, C], got shape {X.shape}")
    if X.shape[0] > 0 and X.shape[1] == 0:
        raise ValueError("X must have at least one column")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite")
    if knn < 1:
        raise ValueError(f"knn must be >= 1, got {knn}")
    if not (t == "auto" or (isinstance(t, (int, np.integer)) and t >= 1)):
        raise ValueError(f"t must be 'auto' or an int >= 1, got {t!r}")
    if t_max < 1:
        raise ValueError(f"t_max must be >= 1, got {t_max}")
    # scale > 1 is what makes the loop end (see condense_oracle).
    if not scale > 1:
        raise ValueError(f"scale must be > 1, got {scale}")
    if not decay > 0:
        raise ValueError(f"decay must be > 0, got {decay}")
    if not 0 < thresh < 1:
        raise ValueError(f"thresh must be in (0, 1), got {thresh}")
    if not granularity > 0:
        raise ValueError(f"granularity must be > 0, got {granularity}")
    if max_iterations is not None and max_iterations < 1:
        raise ValueError(f"max_iterations must be None or >= 1, got {max_iterations}")


def condense_oracle(X, *, knn: int = 30, n_pca: Optional[int] = 50,
                    t: Union[str, int] = "auto", t_max: int = 50, scale: float = 1.025,
                    decay: float = 40, thresh: float = 1e-4, granularity: float = 1.0,
                    max_iterations: Optional[int] = None,
                    weights: Optional[np.ndarray] = None) -> OracleResult:
    """Diffusion condensation of X as docs/method.md states it (entropy curve as the reference's).

    Iteration 0: adaptive kernel, t (curve of length `t_max`), X <- P^t X, merge threshold,
    merge, eps = granularity * 0.1 * std(X) * n^(1/5). Each later iteration, while more than one
    point remains: eps <- eps * scale, weighted fixed kernel, t (curve of length t0, the t of
    iteration 0), X <- P^t X, merge.

    The loop always ends: eps grows geometrically while diffusion (an averaging) never widens
    the point cloud, so eventually every pair lies within the kernel; from then on each
    diffusion shrinks the cloud's diameter by a factor bounded below 1 until all points fall
    within the merge threshold. `max_iterations` only caps the work (e.g. in tests).

    Args:
        X: [N, C] real array-like (N pixels, C features).
        knn: k of the adaptive kernel (used as min(knn, N - 2), at least 1).
        n_pca: PCA dimension, applied when N > n_pca and C > n_pca; None disables PCA.
        t: "auto" (knee of the entropy curve) or a fixed int >= 1 used at every iteration.
        t_max: length of iteration 0's entropy curve.
        scale: growth factor of eps per iteration, > 1.
        decay: alpha-decay exponent of both kernels.
        thresh: kernel entries below it are dropped.
        granularity: multiplies the initial eps.
        max_iterations: stop after this many iterations (>= 1), or None for no cap.
        weights: [N] positive integers, how many points each row stands for (docs/method.md,
            "Weighted points"), or None for 1 each (the reference).

    Returns:
        OracleResult with T iterations (T = 0 when N = 0).

    Raises:
        ValueError: malformed X (not 2-D, non-finite, no columns) or parameter.
    """
    X = np.asarray(X, dtype=np.float64)
    _check_arguments(X, knn, t, t_max, scale, decay, thresh, granularity, max_iterations)
    N = X.shape[0]
    if N == 0:
        return OracleResult(labels=np.zeros((0, 0), dtype=np.int32), cluster_counts=[], t=[],
                            eps=[], merge_threshold=float("nan"), levels=[])

    X = prepare(X, n_pca)
    labels = np.arange(N, dtype=np.int64)
    weights = np.ones(N, dtype=np.int64) if weights is None else np.asarray(weights, np.int64)
    history, counts, times, bandwidths = [], [], [], []

    def record(point_labels: np.ndarray, n_clusters: int, t_used: int, eps_used: float) -> None:
        history.append(point_labels.astype(np.int32))
        counts.append(int(n_clusters))
        times.append(int(t_used))
        bandwidths.append(float(eps_used))

    # Iteration 0: adaptive kernel; its t (t0) is the curve length of every later iteration.
    P = diffusion_operator(adaptive_kernel(X, knn, decay, thresh, weights))
    t0 = von_neumann_entropy_t(P, t_max) if t == "auto" else int(t)
    X = diffuse(P, X, t0)
    threshold = merge_threshold(X)
    X, labels, weights = merge(X, labels, weights, threshold)
    eps = granularity * 0.1 * float(np.std(X)) * X.shape[0] ** (1 / 5)
    record(labels, X.shape[0], t0, eps)

    while X.shape[0] > 1 and (max_iterations is None or len(history) < max_iterations):
        eps = eps * scale
        P = diffusion_operator(fixed_kernel(X, eps, weights, decay, thresh))
        t_i = von_neumann_entropy_t(P, t0) if t == "auto" else int(t)
        X = diffuse(P, X, t_i)
        X, labels, weights = merge(X, labels, weights, threshold)
        record(labels, X.shape[0], t_i, eps)

    return OracleResult(labels=np.stack(history), cluster_counts=counts, t=times,
                        eps=bandwidths, merge_threshold=threshold,
                        levels=levels_from_counts(counts, N))
