"""Diffusion condensation (CUTS stage 2): a coarse-to-fine hierarchy of clusters of N points.

`condense` prepares the points (preparation.py), then drives the compiled engine
(csrc/condense/condense.h, through engine.py) one iteration at a time: kernel, diffusion time
(spectrum.py), diffusion, merge. The engine keeps the points and a sparse kernel graph, never an
N x N matrix. docs/method.md, "Stage 2: condensation", states what is computed.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import numpy as np

from .._arrays import as_operand, like_operand, to_numpy
from .._checks import integer, level_index, real, sizes
from ..profiling import stage
from .bounds import iteration_limit, point_radius
from .device_preparation import device_points, prepare_points_on_device
from .engine import (KERNEL_DECAY, KERNEL_THRESHOLD, adaptive_neighbours, check_weights,
                     host_points, new_engine)
from .preparation import (check_channels, check_positions,
                          check_spatial_shape, check_weight, prepare_points)
from .spectrum import MAX_DIFFUSION_TIME, diffusion_time

# The reference keeps the merge threshold at this quantile (numpy percentile 0.0001) of all pair
# distances after iteration 0's diffusion, plus this offset.
_THRESHOLD_PERCENTILE = 0.0001
_THRESHOLD_OFFSET = 1e-7

# The reference's rule for the fixed kernel's first bandwidth (docs/method.md, "Iteration 0"):
# granularity * 0.1 * std(X) * n^(1/5) over the merged points, a Silverman-like scale.
_BANDWIDTH_FACTOR = 0.1
_BANDWIDTH_EXPONENT = 1 / 5


@dataclass
class CondensationResult:
    """The condensation hierarchy of N points.

    Attributes:
        hierarchy: int32 [T, N]: the cluster of every point after iterations 0..T-1, ids
            0..k-1 numbered by each cluster's smallest point index. numpy, or a tensor of the
            input's library and device.
        levels: the iterations chosen as output granularities, fine to coarse (docs/method.md,
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
    _points: Any = field(default=None, repr=False)  # X as float64 [N, C], host or X's GPU

    @property
    def n_iterations(self) -> int:
        return len(self.cluster_counts)

    def labels(self, level: int = 0) -> Any:
        """int32 [N]: the labels at `levels[level]` (0 = the finest level; negative counts from
        the coarsest). TypeError for a non-integer level, ValueError for one out of range or a
        hierarchy with no levels."""
        if not self.levels:
            raise ValueError("this hierarchy has no levels (no iteration merged nothing)")
        return self.hierarchy[self.levels[level_index(level, len(self.levels))]]

    def label_map(self, shape: Sequence[int], level: int = 0) -> Any:
        """The labels at a level reshaped to the image or volume `shape` (H x W or D x H x W),
        for X built from the pixels of one image in row-major order."""
        labels = self.labels(level)
        shape = sizes(shape, "shape", minimum=0)
        if int(np.prod(shape)) != labels.shape[0]:
            raise ValueError(f"shape {tuple(shape)} does not hold {labels.shape[0]} points")
        return labels.reshape(tuple(shape))

    def centroids(self, level: int = 0) -> np.ndarray:
        """float64 [k, C]: the mean of the input points of each cluster at a level."""
        labels = to_numpy(self.labels(level)).astype(np.int64)
        k = int(labels.max()) + 1
        points = to_numpy(self._points)  # a GPU input prepared on its GPU left X there
        sums = np.zeros((k, points.shape[1]))
        np.add.at(sums, labels, points)
        return sums / np.bincount(labels, minlength=k)[:, None]


def condense(X: Any, *, knn: int = 30, n_pca: Optional[int] = 50,
             t: Union[str, int] = "auto", t_max: int = 50, scale: float = 1.025,
             decay: float = KERNEL_DECAY, thresh: float = KERNEL_THRESHOLD,
             granularity: float = 1.0, position_weight: float = 0.0,
             spatial_shape: Optional[Sequence[int]] = None, positions: Any = None,
             channels: Any = None, channel_weight: float = 0.0, device: Optional[str] = None,
             seed: int = 0, exact_spectrum_limit: int = 2048,
             max_iterations: Optional[int] = None, weights: Any = None, exact: bool = False,
             pos_encoding: Optional[tuple] = None) -> CondensationResult:
    """Diffusion condensation of the rows of X, as docs/method.md specifies it.

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
        t: "auto" (knee of the von Neumann entropy of P's singular values) or a fixed int in
            1..1,000 used at every iteration.
        t_max: length of iteration 0's entropy curve (1..1,000); later iterations use the t of
            iteration 0.
        scale: growth of eps per iteration (> 1).
        decay, thresh: the alpha-decay exponent and the affinity below which entries are dropped.
        granularity: multiplies the initial eps.
        position_weight: 0 (the reference: appearance alone), or the weight (> 0) of a
            unit-norm sinusoidal encoding of each point's position, appended to its
            L2-normalised row before PCA (see `positional_encoding`): the rows then weigh
            position against appearance as position_weight against 1.
        spatial_shape: the image's (volume's) spatial shape, for X whose rows are its pixels
            (voxels) in row-major order; needed when position_weight > 0, unless `positions`
            gives the points' places instead.
        positions: [N, d] coordinates in [0, 1] of each row's point (e.g. the centroids of
            super-voxels, each coordinate divided by its axis' size - 1), instead of the grid
            of spatial_shape.
        channels: [N] or [N, c] values of each point in the image itself (a pixel's
            intensities or colours; a super-voxel's mean), needed when channel_weight > 0.
        channel_weight: 0 (the reference), or the weight (> 0) of the channels, centred and
            scaled to a total variance of 1 (weighted by `weights`), appended to each
            L2-normalised row beside the positional encoding. Normalising the rows discards
            their norms, and with them much of what an encoder's vectors say about intensity;
            this puts the intensity back, weighed against appearance as channel_weight
            against 1.
        device: "cpu", "cuda" or None (where X lives). The kernel graph, diffusion, merges
            and the spectrum's blocks and products run on the device; the exact decompositions
            of small spectrum blocks on the host. Preparation (normalisation, PCA) runs on the
            host, except for an input already on a GPU unless `exact`.
        exact: for an input on a GPU, prepare it on the host with the exact SVD PCA, so that
            the hierarchy is the CPU's bit for bit (docs/method.md, "Numerical contract").
            False (default): prepare it on its GPU, PCA from the covariance, no host copy of X;
            the hierarchy then agrees with the CPU's to rounding of the prepared points. Host
            input is always prepared exactly.
        seed: seeds the stochastic spectrum estimate (used only for blocks above
            `exact_spectrum_limit`).
        exact_spectrum_limit: connected blocks of P up to this many points get an exact dense
            SVD; larger ones a stochastic Lanczos estimate of the entropy curve (its products
            run in float32 on the CPU and float64 on a GPU, so above this limit the two may
            pick a different t).
        max_iterations: stop after this many iterations. None: until one cluster is left,
            which must happen by an iteration computed from the data after iteration 0
            (condensation/bounds.py); settings under which that passes 10,000 iterations (a
            scale very close to 1) are refused with a ValueError saying which scale would do.
        weights: [N] positive finite numbers: how many original points each row stands for
            (e.g. the voxel counts of super-voxels), or None for 1 each (the reference). They
            enter every kernel as cluster sizes do (docs/method.md, "Weighted points"); with
            all weights 1 the result is the unweighted one, bit for bit.
        pos_encoding: deprecated: (shape, weight), the same as spatial_shape=shape,
            position_weight=weight (a DeprecationWarning says so).

    Returns:
        A `CondensationResult`.

    Raises:
        ValueError: X not [N, C], C = 0, NaN / Inf, complex or unsafe integer dtype, ragged; a
            parameter out of range (the message names it), t or t_max above 1,000, settings
            that cannot finish (above); on CUDA, knn > 256 with N > 258.
        TypeError: X is not an array of numbers; a count (knn, t, ...) that is not an integer,
            a number (scale, ...) that is not a real number.
        RuntimeError: CUDA requested where no GPU can run.
        MemoryError: the GPU cannot hold the kernel graph, or on the CPU it would pass a quarter
            of the machine's memory (12 bytes a neighbour pair; the message gives the size).
    """
    options = _check_options(knn, n_pca, t, t_max, scale, decay, thresh, granularity, seed,
                             exact_spectrum_limit, max_iterations)
    knn, n_pca, t, t_max, scale, granularity, max_iterations = (
        options[key] for key in ("knn", "n_pca", "t", "t_max", "scale", "granularity",
                                 "max_iterations"))
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be None, 'cpu' or 'cuda', got {device!r}")
    if not isinstance(exact, bool):
        raise TypeError(f"exact must be True or False, got {exact!r}")
    operand = as_operand(X, "X", None)  # what X can become is checked by *_points below
    on_cuda = device == "cuda" or (device is None and operand.device == "cuda")
    prepared_on_device = _prepare_on_device(operand.device == "cuda" and on_cuda, exact)
    operand, points = (device_points if prepared_on_device else host_points)(X, operand)
    if pos_encoding is not None:
        spatial_shape, position_weight = _deprecated_pos_encoding(pos_encoding, position_weight,
                                                                  spatial_shape)
    position_weight, spatial_shape, positions = _check_position(
        position_weight, spatial_shape, positions, points.shape[0])
    weights = check_weights(weights, points.shape[0])
    channel_weight, channels = _check_channels(channel_weight, channels, points.shape[0])
    n = points.shape[0]
    if n == 0:
        return _result(np.zeros((0, 0), np.int32), [], [], [], [], [], float("nan"), points, operand)

    def phase(name: str) -> Any:  # NVTX range and, when recording, timing (profiling.py)
        return stage(name, cuda=on_cuda)

    with phase("cuts_ext.condense"):
        with phase("prepare"):
            prepare = prepare_points_on_device if prepared_on_device else prepare_points
            prepared = prepare(points, n_pca, position_weight, spatial_shape, positions,
                               channels, channel_weight, weights)
            radius = point_radius(prepared)
            engine = new_engine(prepared, operand, on_cuda, options["decay"], options["thresh"])
            del prepared  # the engine holds its own copy
            if weights is not None:
                engine.set_weights(weights)
        rng = np.random.default_rng(options["seed"])
        history, counts, bandwidths, times, t_exact, seconds = [], [], [], [], [], []

        def pick_time(curve_length: int) -> int:
            if t != "auto":
                t_exact.append(True)
                return t
            choice = diffusion_time(engine, curve_length, options["exact_spectrum_limit"], rng)
            t_exact.append(choice.exact)
            return choice.t

        def record(t_used: int, eps_used: float, started: float) -> None:
            history.append(engine.labels())
            counts.append(engine.size())
            times.append(t_used)
            bandwidths.append(float(eps_used))
            seconds.append(time.perf_counter() - started)

        started = time.perf_counter()
        with phase("iter"):
            with phase("kernel"):
                engine.adaptive_kernel(adaptive_neighbours(knn, n))
            with phase("spectrum"):
                t0 = pick_time(t_max)
            with phase("diffuse"):
                engine.diffuse(t0)
            with phase("merge"):
                threshold = merge_threshold(engine)
                engine.merge(threshold)
            eps = initial_bandwidth(engine, granularity)
            record(t0, eps, started)
        limit = 1 if engine.size() == 1 else iteration_limit(
            eps, scale, radius, options["decay"], threshold, max_iterations)
        while engine.size() > 1 and len(history) < limit:
            started = time.perf_counter()
            eps *= scale
            with phase("iter"):
                with phase("kernel"):
                    engine.fixed_kernel(eps)
                with phase("spectrum"):
                    t_i = pick_time(t0)
                with phase("diffuse"):
                    engine.diffuse(t_i)
                with phase("merge"):
                    engine.merge(threshold)
                record(t_i, eps, started)
    return _result(np.stack(history), counts, bandwidths, times, t_exact, seconds, threshold,
                   points, operand)


def _prepare_on_device(gpu_input: bool, exact: bool) -> bool:
    """Whether `condense` prepares X where it lives (a GPU input, not `exact`) rather than on
    the host. A function of its own so that the CPU suite can route a CPU tensor through the
    device preparation (torch runs it anywhere) and check its contract."""
    return gpu_input and not exact


def initial_bandwidth(engine: Any, granularity: float) -> float:
    """eps after iteration 0: granularity * 0.1 * std * n^(1/5), std the population standard
    deviation over all entries of the engine's (merged) points and n their count."""
    spread = float(np.std(engine.points()))
    return granularity * _BANDWIDTH_FACTOR * spread * engine.size() ** _BANDWIDTH_EXPONENT


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
    """The level iterations of a hierarchy with these cluster counts (docs/method.md, "Levels").

    With c(-2) = c(-1) = N, iteration i >= -2 is a plateau when c(i + 1) = c(i); walking the
    plateaus in order, one is a level when its count differs from the previous plateau's.
    """
    c = [n_points, n_points] + [int(k) for k in counts]
    plateaus = [i for i in range(len(c) - 1) if c[i + 1] == c[i]]
    return [plateaus[j] - 2 for j in range(1, len(plateaus))
            if c[plateaus[j]] != c[plateaus[j - 1]]]


def _result(hierarchy, counts, bandwidths, times, t_exact, seconds, threshold, points,
            operand) -> CondensationResult:
    return CondensationResult(
        hierarchy=like_operand(hierarchy, operand),
        levels=levels_from_counts(counts, points.shape[0]),
        cluster_counts=counts, eps=bandwidths, t=times, t_exact=t_exact, seconds=seconds,
        merge_threshold=threshold, _points=points)


def _check_position(position_weight: Any, spatial_shape: Any, positions: Any, n: int) -> tuple:
    """(weight, shape, positions) checked: ValueError for a weight that is not a finite number
    >= 0, a shape whose sizes do not multiply to N, malformed positions, both a shape and
    positions, or neither with a positive weight."""
    position_weight = check_weight(position_weight, "position_weight")
    if spatial_shape is not None and positions is not None:
        raise ValueError("give spatial_shape or positions, not both")
    if spatial_shape is not None:
        spatial_shape = check_spatial_shape(spatial_shape, n)
    elif positions is not None:
        positions = check_positions(positions, n)
    elif position_weight > 0:
        raise ValueError("position_weight > 0 needs spatial_shape, the image's shape whose pixels "
                         "are the rows of X (or positions, the rows' coordinates)")
    return position_weight, spatial_shape, positions


def _check_channels(channel_weight: Any, channels: Any, n: int) -> tuple:
    """(weight, channels) checked: ValueError for a weight that is not a finite number >= 0,
    malformed channels, or a positive weight without channels."""
    channel_weight = check_weight(channel_weight, "channel_weight")
    if channels is not None:
        channels = check_channels(channels, n)
    elif channel_weight > 0:
        raise ValueError("channel_weight > 0 needs channels, each point's values in the image")
    return channel_weight, channels


def _deprecated_pos_encoding(pos_encoding: Any, position_weight: Any, spatial_shape: Any) -> tuple:
    """(shape, weight) of the deprecated pos_encoding=(shape, weight), which must then be the
    only way the position is given, and whose weight must be > 0 (as it always had to be)."""
    warnings.warn("condense(pos_encoding=(shape, weight)) is deprecated and will be removed in "
                  "the next release: use spatial_shape=shape, position_weight=weight",
                  DeprecationWarning, stacklevel=3)
    if position_weight != 0 or spatial_shape is not None:
        raise ValueError("give pos_encoding (deprecated) or position_weight and spatial_shape, "
                         "not both")
    try:
        shape, weight = pos_encoding
    except (TypeError, ValueError):
        raise ValueError(f"pos_encoding must be None or (shape, weight), got "
                         f"{pos_encoding!r}") from None
    if not (isinstance(weight, (int, float, np.floating, np.integer)) and math.isfinite(weight)
            and weight > 0):
        raise ValueError(f"pos_encoding weight must be a finite number > 0, got {weight!r}")
    return shape, weight


def check_condense_options(options: Optional[dict], name: str = "condense_options") -> None:
    """Checks keyword arguments meant for `condense` before any work (e.g. by `segment`, before
    training): TypeError for a name condense does not take, and condense's own checks of every
    value (its defaults standing in for the rest)."""
    if options is None:
        return
    if not isinstance(options, dict):
        raise TypeError(f"{name} must be a dict of condense keyword arguments, got "
                        f"{type(options).__name__}")
    parameters = inspect.signature(condense).parameters
    unknown = sorted(set(options) - {key for key, p in parameters.items()
                                      if p.kind is inspect.Parameter.KEYWORD_ONLY})
    if unknown:
        raise TypeError(f"{name} holds names condense does not take: {', '.join(unknown)}")
    values = {key: p.default for key, p in parameters.items()
              if p.kind is inspect.Parameter.KEYWORD_ONLY}
    values.update(options)
    _check_options(*(values[key] for key in (
        "knn", "n_pca", "t", "t_max", "scale", "decay", "thresh", "granularity", "seed",
        "exact_spectrum_limit", "max_iterations")))


def _check_options(knn, n_pca, t, t_max, scale, decay, thresh, granularity, seed,
                   exact_spectrum_limit, max_iterations) -> dict:
    """Validates condense's parameters; ValueError / TypeError naming the one at fault. Returns
    them in their working types."""
    if t != "auto":
        if isinstance(t, str):
            raise ValueError(f"t must be 'auto' or an integer >= 1, got {t!r}")
        t = integer(t, "t", minimum=1, maximum=MAX_DIFFUSION_TIME)
    return dict(
        knn=integer(knn, "knn", minimum=1),
        n_pca=None if n_pca is None else integer(n_pca, "n_pca", minimum=1),
        t=t,
        t_max=integer(t_max, "t_max", minimum=1, maximum=MAX_DIFFUSION_TIME),
        scale=real(scale, "scale", minimum=1, above=True),
        decay=real(decay, "decay", minimum=0, above=True),
        thresh=real(thresh, "thresh", minimum=0, maximum=1, above=True, below=True),
        granularity=real(granularity, "granularity", minimum=0, above=True),
        seed=integer(seed, "seed") % 2**64,
        exact_spectrum_limit=integer(exact_spectrum_limit, "exact_spectrum_limit", minimum=1),
        max_iterations=None if max_iterations is None else integer(
            max_iterations, "max_iterations", minimum=1))
