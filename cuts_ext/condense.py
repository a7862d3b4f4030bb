"""Diffusion condensation (CUTS stage 2): a coarse-to-fine hierarchy of clusters of N points.

`condense` prepares the points (L2 rows, exact PCA), then drives the compiled engine
(csrc/include/cuts/condense.h) one iteration at a time: kernel, diffusion time, diffusion, merge.
The engine keeps the points and a sparse kernel graph, never an N x N matrix.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import _C
from ._arrays import Operand, as_operand, index_argument, to_numpy
from ._spectrum import diffusion_time

# The reference keeps the merge threshold at this quantile (numpy percentile 0.0001) of all pair
# distances after iteration 0's diffusion, plus this offset.
_THRESHOLD_PERCENTILE = 0.0001
_THRESHOLD_OFFSET = 1e-7


@dataclass
class CondensationResult:
    """The condensation hierarchy of N points.

    Attributes:
        hierarchy: int32 [T, N]: the cluster of every point after iterations 0..T-1, ids
            0..k-1 numbered by each cluster's smallest point index. numpy, or a tensor of the
            input's library and device.
        levels: the iterations chosen as output granularities, fine to coarse (ALGORITHM.md,
            "Levels").
        cluster_counts: T ints, clusters after each iteration.
        eps: T floats: iteration 0 records the bandwidth set after its merge, iteration i >= 1
            the bandwidth of its fixed kernel.
        t: T ints, the diffusion time of each iteration.
        t_exact: T bools, False where t came from the stochastic spectrum estimate.
        seconds: T floats, wall time of each iteration.
        merge_threshold: the merge distance (NaN for N < 2).
    """

    hierarchy: Any
    levels: list
    cluster_counts: list
    eps: list
    t: list
    t_exact: list
    seconds: list
    merge_threshold: float
    _points: Optional[np.ndarray] = field(default=None, repr=False)

    @property
    def n_iterations(self) -> int:
        return len(self.cluster_counts)

    def labels(self, level: int = 0) -> Any:
        """int32 [N]: the labels at `levels[level]` (0 = the finest level; negative counts from
        the coarsest)."""
        if not self.levels:
            raise ValueError("this hierarchy has no levels (no iteration merged nothing)")
        return self.hierarchy[self.levels[level]]

    def label_map(self, shape: Sequence[int], level: int = 0) -> Any:
        """The labels at a level reshaped to the image or volume `shape` (H x W or D x H x W),
        for X built from the pixels of one image in row-major order."""
        labels = self.labels(level)
        if int(np.prod(shape)) != labels.shape[0]:
            raise ValueError(f"shape {tuple(shape)} does not hold {labels.shape[0]} points")
        return labels.reshape(tuple(shape))

    def centroids(self, level: int = 0) -> np.ndarray:
        """float64 [k, C]: the mean of the input points of each cluster at a level."""
        labels = to_numpy(self.labels(level)).astype(np.int64)
        k = int(labels.max()) + 1
        sums = np.zeros((k, self._points.shape[1]))
        np.add.at(sums, labels, self._points)
        return sums / np.bincount(labels, minlength=k)[:, None]


def condense(X: Any, *, knn: int = 30, n_pca: Optional[int] = 50,
             t: Union[str, int] = "auto", t_max: int = 50, scale: float = 1.025,
             decay: float = 40, thresh: float = 1e-4, granularity: float = 1.0,
             pos_encoding: Optional[tuple] = None, device: Optional[str] = None, seed: int = 0, exact_spectrum_limit: int = 2048,
             max_iterations: Optional[int] = None) -> CondensationResult:
    """Diffusion condensation of the rows of X, as ALGORITHM.md specifies it.

    Iteration 0 builds the adaptive kernel (bandwidth: distance to the k-th neighbour,
    k = min(knn, N - 2)), picks t, diffuses, fixes the merge threshold and merges; each later
    iteration grows eps by `scale`, builds the cluster-size-weighted fixed kernel, picks t,
    diffuses and merges, until one cluster remains.

    Args:
        X: [N, C] points (pixels x features): numpy, torch (CPU or CUDA), cupy or any array;
            float, or integers that convert to float64 exactly. Computation is float64.
            CUDA input runs on its GPU.
        knn: neighbours of the adaptive bandwidth (>= 1).
        n_pca: PCA dimension, applied (exactly) when N > n_pca and C > n_pca; None: no PCA.
        t: "auto" (knee of the von Neumann entropy of P's singular values) or a fixed int >= 1
            used at every iteration.
        t_max: length of iteration 0's entropy curve; later iterations use the t of iteration 0.
        scale: growth of eps per iteration (> 1).
        decay, thresh: the alpha-decay exponent and the affinity below which entries are dropped.
        granularity: multiplies the initial eps.
        pos_encoding: None (the reference: off), or (shape, gamma) for X whose rows are the
            pixels (voxels) of an image (volume) of spatial `shape` in row-major order: appends
            gamma times a unit-norm sinusoidal encoding of each point's position to its
            L2-normalised row, before PCA (see `positional_encoding`). gamma > 0 weighs position
            against appearance (both rows then have norm 1 and gamma).
        device: "cpu", "cuda" or None (where X lives). Preparation (normalisation, PCA) and
            the spectrum run on the host; the kernel graph, diffusion and merges on the device.
        seed: seeds the stochastic spectrum estimate (used only for blocks above
            `exact_spectrum_limit`).
        exact_spectrum_limit: connected blocks of P up to this many points get an exact dense
            SVD; larger ones a stochastic Lanczos estimate of the entropy curve (its products
            run in float32 on the CPU and float64 on a GPU, so above this limit the two may
            pick a different t).
        max_iterations: stop after this many iterations (None: until one cluster is left).

    Returns:
        A `CondensationResult`.

    Raises:
        ValueError: X not [N, C], C = 0, NaN / Inf, complex or unsafe integer dtype; a
            parameter out of range (the message names it); on CUDA, knn > 256 with N > 258.
        RuntimeError: CUDA requested where no GPU can run.
        MemoryError: the GPU cannot hold the kernel graph, or on the CPU it would pass a quarter
            of the machine's memory (12 bytes a neighbour pair; the message gives the size).
    """
    options = _check_options(knn, n_pca, t, t_max, scale, decay, thresh, granularity, seed,
                             exact_spectrum_limit, max_iterations)
    operand, points = _host_points(X)
    _check_pos_encoding(pos_encoding, points.shape[0])
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be None, 'cpu' or 'cuda', got {device!r}")
    on_cuda = device == "cuda" or (device is None and operand.device == "cuda")
    n = points.shape[0]
    if n == 0:
        return _result(np.zeros((0, 0), np.int32), [], [], [], [], [], float("nan"), points, operand)
    prepared = prepare_points(points, n_pca, pos_encoding)
    # Both engines start from the same float64 points, prepared on the host.
    source = _engine_points(prepared, operand, on_cuda)  # alive across the constructor
    engine = _C.Condenser(source.descriptor, float(decay), float(thresh), source.stream())
    del prepared, source  # the engine holds its own copy; at 65,536 points this is 26 MB
    rng = np.random.default_rng(options["seed"])
    history, counts, bandwidths, times, exact, seconds = [], [], [], [], [], []

    def pick_time(curve_length: int) -> int:
        if t != "auto":
            exact.append(True)
            return int(t)
        choice = diffusion_time(engine, curve_length, exact_spectrum_limit, rng)
        exact.append(choice.exact)
        return choice.t

    def record(t_used: int, eps_used: float, started: float) -> None:
        history.append(engine.labels())
        counts.append(engine.size())
        times.append(t_used)
        bandwidths.append(float(eps_used))
        seconds.append(time.perf_counter() - started)

    _C._nvtx_push("cuts_ext.condense")  # the whole run, for Nsight Systems
    try:
        started = time.perf_counter()
        engine.adaptive_kernel(max(1, min(knn, n - 2)))
        t0 = pick_time(t_max)
        engine.diffuse(t0)
        threshold = merge_threshold(engine)
        engine.merge(threshold)
        eps = granularity * 0.1 * float(np.std(engine.points())) * engine.size() ** (1 / 5)
        record(t0, eps, started)
        while engine.size() > 1 and (max_iterations is None or len(history) < max_iterations):
            started = time.perf_counter()
            eps *= scale
            engine.fixed_kernel(eps)
            t_i = pick_time(t0)
            engine.diffuse(t_i)
            engine.merge(threshold)
            record(t_i, eps, started)
    finally:
        _C._nvtx_pop()
    return _result(np.stack(history), counts, bandwidths, times, exact, seconds, threshold,
                   points, operand)


def _engine_points(prepared: np.ndarray, operand: Operand, on_cuda: bool) -> Operand:
    """The prepared points where the engine runs: the host array, or a copy on X's GPU (the
    current GPU for host input with device="cuda")."""
    if not on_cuda:
        return Operand(prepared, "numpy", "cpu", 0)
    _C.require_cuda("X")
    if operand.library == "cupy":
        import cupy
        with cupy.cuda.Device(operand.device_index):
            return Operand(cupy.asarray(prepared), "cupy", "cuda", operand.device_index)
    import torch
    index = operand.device_index if operand.device == "cuda" else torch.cuda.current_device()
    return Operand(torch.from_numpy(prepared).to(torch.device("cuda", index)), "torch", "cuda",
                   index)


def prepare_points(X: np.ndarray, n_pca: Optional[int],
                   pos_encoding: Optional[tuple] = None) -> np.ndarray:
    """L2-normalised rows, the optional positional encoding appended, then exact PCA to `n_pca`
    dimensions when N > n_pca and C > n_pca.

    PCA centres the columns and projects them on the top right singular vectors, each with its
    sign fixed so that its largest-magnitude entry is positive. Zero rows stay zero.

    Args:
        X: float64 [N, C].
        pos_encoding: None or (shape, gamma), as `condense` takes it.
    Returns:
        float64 [N, min(C', n_pca)], C-contiguous, C' = C plus the encoding's columns.
    """
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X = X / np.where(norms > 0, norms, 1.0)
    if pos_encoding is not None:
        shape, gamma = pos_encoding
        X = np.concatenate([X, gamma * positional_encoding(shape)], axis=1)
    n, c = X.shape
    if n_pca is None or n <= n_pca or c <= n_pca:
        return np.ascontiguousarray(X)
    centred = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:n_pca]
    largest = np.argmax(np.abs(components), axis=1)
    components = components * np.sign(components[np.arange(n_pca), largest])[:, None]
    return np.ascontiguousarray(centred @ components.T)


# Octaves of the positional encoding: wavelengths from twice the image's extent down to a
# quarter of it, coarse enough that position separates regions, not neighbouring pixels.
_POSITION_OCTAVES = 4


def positional_encoding(shape: Sequence[int]) -> np.ndarray:
    """float64 [prod(shape), 2 * 4 * d]: sin and cos of pi * 2^f * u for f = 0..3 and each of
    the d axes, u the coordinate scaled to [0, 1], rows in row-major pixel order, divided by
    sqrt(4 d) so that every row has norm 1."""
    axes = [np.linspace(0.0, 1.0, size) if size > 1 else np.zeros(1) for size in shape]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(shape))
    angles = np.pi * grid[:, :, None] * 2.0 ** np.arange(_POSITION_OCTAVES)  # [N, d, F]
    features = np.concatenate([np.sin(angles), np.cos(angles)], axis=2).reshape(grid.shape[0], -1)
    return features / np.sqrt(_POSITION_OCTAVES * len(shape))


def merge_threshold(engine: Any) -> float:
    """numpy's ``percentile(pair_distances, 0.0001)`` (linear) plus 1e-7, from the few smallest
    pair distances the engine finds (the quantile needs only two order statistics). NaN when
    there is no pair."""
    m = engine.size()
    pairs = m * (m - 1) // 2
    if pairs == 0:
        return float("nan")
    # numpy's "linear" method: virtual index (n - 1) q, then a lerp between its neighbours that
    # switches form at gamma = 0.5; reproduced operation for operation.
    q = np.true_divide(_THRESHOLD_PERCENTILE, 100)
    virtual = np.float64(pairs - 1) * q
    below = int(np.floor(virtual))
    distances = engine.smallest_pair_distances(min(below + 2, pairs))
    a = distances[below]
    b = distances[min(below + 1, pairs - 1)]
    gamma = virtual - np.floor(virtual)
    difference = b - a
    value = b - difference * (1 - gamma) if gamma >= 0.5 else a + difference * gamma
    return float(value) + _THRESHOLD_OFFSET


def levels_from_counts(counts: Sequence[int], n_points: int) -> list:
    """The level iterations of a hierarchy with these cluster counts (ALGORITHM.md, "Levels").

    With c(-2) = c(-1) = N, iteration i >= -2 is a plateau when c(i + 1) = c(i); walking the
    plateaus in order, one is a level when its count differs from the previous plateau's.
    """
    c = [n_points, n_points] + [int(k) for k in counts]
    plateaus = [i for i in range(len(c) - 1) if c[i + 1] == c[i]]
    return [plateaus[j] - 2 for j in range(1, len(plateaus))
            if c[plateaus[j]] != c[plateaus[j - 1]]]


def _result(hierarchy, counts, bandwidths, times, exact, seconds, threshold, points,
            operand) -> CondensationResult:
    return CondensationResult(
        hierarchy=_like_input(hierarchy, operand), levels=levels_from_counts(counts, points.shape[0]),
        cluster_counts=counts, eps=bandwidths, t=times, t_exact=exact, seconds=seconds,
        merge_threshold=threshold, _points=points)


def _like_input(array: np.ndarray, operand: Operand) -> Any:
    """`array` in the library and on the device of the input."""
    if operand.library == "torch":
        import torch
        return torch.from_numpy(array).to(operand.value.device)
    if operand.library == "cupy":
        import cupy
        return cupy.asarray(array)
    return array


def _host_points(X: Any) -> tuple:
    """(operand, float64 [N, C] host copy of X), refusing what cannot become float64 exactly."""
    operand = as_operand(X, "X", None)  # convertibility is checked below
    value = operand.value
    if operand.library == "torch":
        import torch
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.float()
        value = value.cpu().numpy()
    elif operand.library == "cupy":
        value = value.get()
    if value.ndim != 2:
        raise ValueError(f"X must be [N, C], got shape {list(value.shape)}")
    if value.shape[0] > 0 and value.shape[1] == 0:
        raise ValueError("X must have at least one feature column, got shape "
                         f"{list(value.shape)}")
    if value.dtype.kind not in "fiub" or not np.can_cast(value.dtype, np.float64, "safe"):
        raise ValueError(f"X must be real: float, or integers that convert to float64 exactly; "
                         f"got {value.dtype}")
    if value.dtype.kind in "iu" and value.size and np.abs(value).max() > 2**53:
        raise ValueError(f"X holds {value.dtype} values beyond 2^53, which float64 cannot "
                         "represent exactly")
    points = np.ascontiguousarray(value, dtype=np.float64)
    if not np.isfinite(points).all():
        raise ValueError("X must be finite: found NaN or Inf")
    return operand, points


def _check_pos_encoding(pos_encoding: Optional[tuple], n: int) -> None:
    """ValueError unless pos_encoding is None or (shape, gamma) with prod(shape) = N, gamma > 0."""
    if pos_encoding is None:
        return
    try:
        shape, gamma = pos_encoding
        shape = [index_argument(size, "pos_encoding shape") for size in shape]
    except (TypeError, ValueError) as error:
        raise ValueError(f"pos_encoding must be None or (shape, gamma), got {pos_encoding!r}: "
                         f"{error}") from None
    if not shape or min(shape) < 1 or int(np.prod(shape)) != n:
        raise ValueError(f"pos_encoding shape {tuple(shape)} must be positive sizes whose product "
                         f"is the number of points, {n}")
    if not (isinstance(gamma, (int, float, np.floating, np.integer)) and math.isfinite(gamma)
            and gamma > 0):
        raise ValueError(f"pos_encoding gamma must be a finite number > 0, got {gamma!r}")


def _check_options(knn, n_pca, t, t_max, scale, decay, thresh, granularity, seed,
                   exact_spectrum_limit, max_iterations) -> dict:
    """Validates condense's parameters; ValueError / TypeError naming the one at fault."""
    if index_argument(knn, "knn") < 1:
        raise ValueError(f"knn must be >= 1, got {knn}")
    if n_pca is not None and index_argument(n_pca, "n_pca") < 1:
        raise ValueError(f"n_pca must be None or >= 1, got {n_pca}")
    if t != "auto" and (isinstance(t, str) or index_argument(t, "t") < 1):
        raise ValueError(f"t must be 'auto' or an integer >= 1, got {t!r}")
    if index_argument(t_max, "t_max") < 1:
        raise ValueError(f"t_max must be >= 1, got {t_max}")
    for name, value, ok, expected in (
            ("scale", scale, lambda v: v > 1, "> 1 (eps must grow for the run to end)"),
            ("decay", decay, lambda v: v > 0, "> 0"),
            ("thresh", thresh, lambda v: 0 < v < 1, "in (0, 1)"),
            ("granularity", granularity, lambda v: v > 0, "> 0")):
        if not (isinstance(value, (int, float, np.floating, np.integer))
                and math.isfinite(value) and ok(value)):
            raise ValueError(f"{name} must be a finite number {expected}, got {value!r}")
    if index_argument(exact_spectrum_limit, "exact_spectrum_limit") < 1:
        raise ValueError(f"exact_spectrum_limit must be >= 1, got {exact_spectrum_limit}")
    if max_iterations is not None and index_argument(max_iterations, "max_iterations") < 1:
        raise ValueError(f"max_iterations must be None or >= 1, got {max_iterations}")
    return {"seed": index_argument(seed, "seed") % 2**64}
