"""The diffusion time of condensation: the knee of the von Neumann entropy of P's singular values.

docs/method.md, "Diffusion time", as the authors' code computes it: entry k of the entropy curve
(k = 0..t_max-1) uses the singular values raised to the power k + 1 (their curve starts at s^1),
and the knee index k is the diffusion time t.

P = D^-1 S is block diagonal over the connected components of the kernel graph, so its singular
values are those of its blocks (the engine finds them, where the graph lives). A block of up to
`exact_limit` points is decomposed exactly (dense: numpy's SVD, as the reference does for the
whole matrix, or above 128 points the eigenvalues of B B^T); the larger blocks' contribution to
the entropy curve is estimated by stochastic Lanczos quadrature on P^T P, which needs only the
engine's sparse products. Isolated points (most of them after the first iterations) contribute
exactly 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

FLOAT64_EPS = float(np.finfo(np.float64).eps)

#: The largest diffusion time and entropy-curve length condense accepts (t, t_max). The reference
#: uses 50; by a few hundred powers every curve is flat to rounding, and each unit of t is one
#: sparse product per iteration, so larger values only run longer.
MAX_DIFFUSION_TIME = 1000

# Powers s^p are taken of s / s_max instead of s once s_max^p could pass this exponent (e^600):
# the curve depends only on the ratios of the values, and for smaller values nothing changes.
_LARGEST_SAFE_EXPONENT = 600.0


@dataclass
class TimeChoice:
    """The chosen diffusion time and how it was found.

    Attributes:
        t: the diffusion time, >= 1.
        exact: True when every block's spectrum was computed exactly.
        largest_block: the size of the largest connected block of P.
    """

    t: int
    exact: bool
    largest_block: int


def diffusion_time(engine: Any, t_max: int, exact_limit: int,
                   rng: np.random.Generator) -> TimeChoice:
    """The knee of the entropy curve of P = D^-1 S for the kernel the engine holds.

    Args:
        engine: a `_C.Condenser` with a kernel built; its `spectrum_blocks` gives the blocks of
            S and the entries of the small ones, its `lanczos` (the recurrence on P^T P from a
            probe block) drives the stochastic estimate of the large ones. The graph itself
            never leaves the engine.
        t_max: the length of the entropy curve; t = 1 when it is below 3 (no knee exists).
        exact_limit: blocks of up to this many points are decomposed exactly.
        rng: the random source of the stochastic estimate (used only for larger blocks).
    """
    blocks = engine.spectrum_blocks(exact_limit)
    sizes = blocks["sizes"]
    largest = int(sizes.max()) if sizes.size else 0
    if t_max < 3:
        return TimeChoice(1, True, largest)
    exact_values = _exact_singular_values(blocks, exact_limit)
    powers = np.arange(1, t_max + 1)
    if largest <= exact_limit:
        return TimeChoice(knee(entropy_curve(exact_values, t_max)), True, largest)
    # Spectral sums of the exact blocks plus one stochastic estimate over all the large ones:
    # probes vanish outside them, and P^T P never mixes blocks.
    nodes = _lanczos_nodes(engine, (sizes > exact_limit)[blocks["block"]], rng,
                           steps=_lanczos_steps(blocks["edges"]))
    top = max([float(exact_values.max(initial=0.0))] + [float(s.max(initial=0.0))
                                                         for _, s in nodes])
    scale = _safe_scale(top, t_max)
    sums = _power_sums(exact_values / scale if scale != 1.0 else exact_values, powers) + \
        _lanczos_power_sums(nodes, powers, scale)
    total, weighted_log = sums[:, 0], sums[:, 1]
    curve = np.log(total) - weighted_log / total
    return TimeChoice(knee(curve), False, largest)


def entropy_curve(s: np.ndarray, t_max: int) -> np.ndarray:
    """H[k] = -sum_i p_i log p_i, p_i = s_i^(k+1) / sum_j s_j^(k+1) + eps64, k = 0..t_max-1.

    Args:
        s: float64 [n] singular values (n >= 1).
    Returns:
        float64 [t_max].
    """
    scale = _safe_scale(float(s.max()), t_max)
    if scale != 1.0:
        s = s / scale
    curve = np.empty(t_max)
    for k in range(t_max):
        st = s ** (k + 1)
        p = st / st.sum() + FLOAT64_EPS
        curve[k] = -np.sum(p * np.log(p))
    return curve


def knee(y: np.ndarray) -> int:
    """The knee of the curve y over x = 0..n-1 (n >= 3), as docs/method.md defines it.

    For each break b in 1..n-2: a least-squares line through points 0..b and another through
    points b-1..n-1; the error is the summed absolute residual of the first over 0..b plus that
    of the second over b..n-1. The least error wins, the first on ties.
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[0]
    # A shift changes no fit; it makes a flat curve's residuals exactly 0, so that it ties at
    # every break and the first (t = 1) wins rather than rounding noise.
    y = y - y[0]
    x = np.arange(n, dtype=np.float64)
    errors = np.empty(n - 2)
    for b in range(1, n - 1):
        errors[b - 1] = (_line_residuals(x, y, 0, b + 1, 0) +
                         _line_residuals(x, y, b - 1, n, b))
    return int(np.argmin(errors)) + 1


def _line_residuals(x: np.ndarray, y: np.ndarray, fit_lo: int, hi: int, lo: int) -> float:
    """Sum of |residuals| over points lo..hi-1 of the line fitted to points fit_lo..hi-1."""
    xs, ys = x[fit_lo:hi], y[fit_lo:hi]
    x_mean, y_mean = xs.mean(), ys.mean()
    slope = np.dot(xs - x_mean, ys - y_mean) / np.dot(xs - x_mean, xs - x_mean)
    return float(np.abs(y[lo:hi] - (y_mean + slope * (x[lo:hi] - x_mean))).sum())


def _exact_singular_values(blocks: dict, exact_limit: int) -> np.ndarray:
    """The singular values of every block of P = D^-1 S of at most `exact_limit` points, block
    by block in block order (each block's values descending, as numpy's SVD returns them).

    Args:
        blocks: the engine's `spectrum_blocks(exact_limit)`: block [M] and sizes [B] (int64),
            degree [M] (float64), and rows, cols (int32), values (float64): the entries of S in
            the blocks of 2..exact_limit points, grouped by block size, ascending.
    """
    block, sizes, degree = blocks["block"], blocks["sizes"], blocks["degree"]
    small = sizes <= exact_limit
    offsets = np.concatenate([[0], np.cumsum(np.where(small, sizes, 0))])
    s = np.empty(offsets[-1])
    # Position of every point within its block (members in increasing index).
    order = np.argsort(block, kind="stable")
    local = np.empty_like(order)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    local[order] = np.arange(order.shape[0]) - starts[block[order]]
    s[offsets[np.flatnonzero(small & (sizes == 1))]] = 1.0  # an isolated point: P_ii = 1
    # The entries of blocks of 2..exact_limit points come grouped by block size: one slice per
    # size, with temporaries the size of a slice (the entries may run to tens of millions).
    rows, cols, values = blocks["rows"], blocks["cols"], blocks["values"]
    present = np.unique(sizes[(sizes >= 2) & small])
    bounds = np.searchsorted(sizes[block[rows]], np.append(present, exact_limit + 1))
    for size, lo, hi in zip(present, bounds[:-1], bounds[1:]):
        same_size = np.flatnonzero(sizes == size)
        slot = np.full(sizes.shape[0], -1)
        slot[same_size] = np.arange(same_size.shape[0])
        dense = np.zeros((same_size.shape[0], size, size))
        r = rows[lo:hi]
        # P_ij = S_ij / D_i, as the reference divides.
        dense[slot[block[r]], local[r], local[cols[lo:hi]]] = values[lo:hi] / degree[r]
        s[offsets[same_size][:, None] + np.arange(size)] = _block_singular_values(dense)
    return s


def _block_singular_values(blocks: np.ndarray) -> np.ndarray:
    """[n, size] singular values, descending, of a stack of dense blocks [n, size, size].

    Up to 128 points, numpy's SVD, exactly what the reference computes. Above, the square roots
    of the eigenvalues of the symmetric B B^T, two to three times faster; squaring costs
    relative accuracy on the small values (on iteration 0's kernel of a 36 x 36 retina crop,
    1,296 values down to 2.6e-5, the largest relative difference from the SVD was 2.6e-9), far
    below what moves the knee: the fidelity tests still reproduce the reference exactly.
    """
    size = blocks.shape[-1]
    if size <= 128:
        return np.linalg.svd(blocks, compute_uv=False)
    gram = blocks @ np.swapaxes(blocks, -1, -2)
    return np.sqrt(np.clip(np.linalg.eigvalsh(gram), 0.0, None))[..., ::-1]


def _power_sums(s: np.ndarray, powers: np.ndarray) -> np.ndarray:
    """[len(powers), 2]: sum_i s_i^p and sum_i s_i^p log s_i^p for each power p."""
    return _power_terms(s, powers).sum(axis=0)


def _power_terms(s: np.ndarray, powers: np.ndarray) -> np.ndarray:
    """[len(s), len(powers), 2]: s^p and s^p log s^p (0 where s = 0) per value and power."""
    st = s[:, None] ** powers[None, :]
    logs = np.log(np.where(st > 0, st, 1.0))
    return np.stack([st, st * logs], axis=2)


# Each Lanczos step streams the kernel graph twice, so on graphs of many edges the number of steps
# is cut to keep a step budget of about 40 steps per 2 million edges, never below 8 (8 nodes
# still integrate the even powers up to s^30 exactly).
_LANCZOS_EDGE_BUDGET = 40 * 2_000_000


def _lanczos_steps(edges: int) -> int:
    return int(min(40, max(8, _LANCZOS_EDGE_BUDGET // max(edges, 1))))


def _safe_scale(top: float, t_max: int) -> float:
    """1, or `top` when top^t_max could overflow (the powers are then taken of s / top)."""
    if top > 1.0 and t_max * math.log(top) > _LARGEST_SAFE_EXPONENT:
        return top
    return 1.0


def _lanczos_nodes(engine: Any, support: np.ndarray, rng: np.random.Generator,
                   probes: int = 12, steps: int = 40) -> list:
    """Stochastic Lanczos quadrature nodes of the singular values of P restricted to the points
    where `support` is True (a union of whole blocks): one (weights, values) pair per probe.

    The singular values are the square roots of the eigenvalues of A = P^T P. For Rademacher
    probes v on the support, a Lanczos run of `steps` on A from v gives nodes theta (Ritz values)
    and weights tau (squared first components of the Ritz vectors) with
    v^T f(A) v ~ |v|^2 sum tau f(theta); averaged over probes this estimates trace f(A) (Ubaru,
    Chen and Saad, 2017). All probes advance together inside the engine (`engine.lanczos`,
    where the graph lives: on CUDA only the coefficients come back). A probe's Krylov space
    closes early where beta < 1e-10; its later coefficients are ignored. Returned per probe:
    (tau |v|^2, sqrt(theta)).
    """
    n = int(support.sum())
    V = np.zeros((support.shape[0], probes))
    V[support] = rng.choice([-1.0, 1.0], size=(n, probes))
    norm2 = np.einsum("ij,ij->j", V, V)
    steps = min(steps, n)
    alphas, betas = engine.lanczos(V, steps)
    length = np.full(probes, steps)
    for j in range(steps):
        closed = (betas[j] < 1e-10) & (length > j + 1)
        length[closed] = j + 1
    nodes = []
    for p in range(probes):
        k = length[p]
        T = np.diag(alphas[:k, p]) + np.diag(betas[:k - 1, p], 1) + np.diag(betas[:k - 1, p], -1)
        theta, vectors = np.linalg.eigh(T)
        nodes.append((vectors[0] ** 2 * norm2[p], np.sqrt(np.clip(theta, 0.0, None))))
    return nodes


def _lanczos_power_sums(nodes: list, powers: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The estimate of `_power_sums` of the values divided by `scale` from `_lanczos_nodes`:
    the probes' quadratures, averaged."""
    sums = np.zeros((powers.shape[0], 2))
    for tau, values in nodes:
        sums += np.einsum("k,kpc->pc", tau, _power_terms(
            values / scale if scale != 1.0 else values, powers))
    return sums / len(nodes)
