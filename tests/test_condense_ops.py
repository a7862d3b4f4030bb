"""The condensation engine's steps: cuts_ext.ops and the CPU engine against the oracle's building
blocks, and each accelerator's engine against the CPU engine (support/engines.py)."""

import re

import numpy as np
import pytest
import torch

import cuts_ext
from support import condense_oracle as oracle
from support.devices import ACCELERATORS, FLOAT_DTYPES
from support.engines import (POINTS_ATOL, VALUES_RTOL, assert_graphs_match, assert_state_matches,
                             blobs, cpu_and_accelerator_engines, image_patches, merge_distance)


@pytest.fixture
def points(rng):
    return np.concatenate([c + 0.3 * rng.standard_normal((40, 4)) for c in np.eye(4)[:3] * 3])


@pytest.mark.parametrize("t", [0, 1, 3])
def test_fixed_kernel_diffusion_equals_the_oracle(points, rng, t):
    weights = rng.integers(1, 5, size=points.shape[0]).astype(np.float64)
    P = oracle.diffusion_operator(oracle.fixed_kernel(points, 0.8, weights))
    ours = cuts_ext.ops.diffusion_step(points, eps=0.8, weights=weights, t=t)
    np.testing.assert_allclose(ours, oracle.diffuse(P, points, t), rtol=0, atol=1e-13)


def test_adaptive_kernel_diffusion_equals_the_oracle(points):
    P = oracle.diffusion_operator(oracle.adaptive_kernel(points, knn=10))
    ours = cuts_ext.ops.diffusion_step(points, knn=10, t=2)
    np.testing.assert_allclose(ours, oracle.diffuse(P, points, 2), rtol=0, atol=1e-13)


def test_weighted_adaptive_kernel_diffusion_equals_the_oracle(points, rng):
    weights = rng.integers(1, 9, size=points.shape[0]).astype(np.float64)
    P = oracle.diffusion_operator(oracle.adaptive_kernel(points, knn=10, weights=weights))
    ours = cuts_ext.ops.diffusion_step(points, knn=10, weights=weights, t=2)
    np.testing.assert_allclose(ours, oracle.diffuse(P, points, 2), rtol=0, atol=1e-13)


def test_merge_equals_the_oracle(points, rng):
    X = np.concatenate([points, points[::7] + 1e-9])  # near-duplicates that must merge
    weights = rng.integers(1, 4, size=X.shape[0]).astype(np.float64)
    expected_x, expected_labels, expected_w = oracle.merge(X, np.arange(X.shape[0]), weights, 1e-6)
    merged, group, merged_weights = cuts_ext.ops.merge(X, 1e-6, weights=weights)
    np.testing.assert_array_equal(group, expected_labels)
    np.testing.assert_array_equal(merged, expected_x)
    np.testing.assert_array_equal(merged_weights, expected_w)
    assert merged.shape[0] == points.shape[0]


def test_torch_in_torch_out(points):
    x = torch.from_numpy(points)
    out = cuts_ext.ops.diffusion_step(x, eps=0.8)
    assert isinstance(out, torch.Tensor)
    merged, group, _ = cuts_ext.ops.merge(x, 0.5)
    assert isinstance(merged, torch.Tensor) and group.dtype == torch.int64


@pytest.mark.parametrize("call,words", [
    (lambda X: cuts_ext.ops.diffusion_step(X), ["exactly one of eps"]),
    (lambda X: cuts_ext.ops.diffusion_step(X, eps=1.0, knn=3), ["exactly one of eps"]),
    (lambda X: cuts_ext.ops.diffusion_step(X, eps=-1.0), ["eps"]),
    (lambda X: cuts_ext.ops.diffusion_step(X, eps=1.0, t=-1), ["t must"]),
    (lambda X: cuts_ext.ops.diffusion_step(X, eps=1.0, weights=np.ones(3)), ["weights", "one value per point"]),
    (lambda X: cuts_ext.ops.diffusion_step(X, eps=1.0, weights=-np.ones(120)), ["weights", "positive"]),
    (lambda X: cuts_ext.ops.merge(X, 0.0), ["threshold"]),
    (lambda X: cuts_ext.ops.merge(X[:, :, None], 0.1), ["X", "[N, C]"]),
])
def test_bad_input_raises_naming_the_argument(points, call, words):
    with pytest.raises(ValueError) as raised:
        call(points)
    for word in words:
        assert word in str(raised.value)


def clumps():
    """Clumps of 1 to 9 points far apart: under a fixed kernel of 0.05, many blocks of
    different sizes."""
    rng = np.random.default_rng(3)
    return np.concatenate([rng.normal(10.0 * k, 0.01, size=(1 + k % 9, 3)) for k in range(40)])


@pytest.mark.parametrize("exact_limit", [1, 6, 10_000])
def test_spectrum_blocks_equal_scipy_components_of_the_kernel_graph(exact_limit):
    """The engine's blocks, degrees and small-block entries, against scipy on its own graph."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components
    from cuts_ext import _C
    from cuts_ext._arrays import Operand
    X = clumps()
    engine = _C.Condenser(Operand(X, "numpy", "cpu", 0).descriptor, 40.0, 1e-4, 0)
    engine.fixed_kernel(0.05)
    row_ptr, cols, values = engine.kernel_graph()
    S = csr_matrix((values, cols, row_ptr), shape=(X.shape[0],) * 2)
    count, expected_block = connected_components(S, directed=False)
    blocks = engine.spectrum_blocks(exact_limit)
    assert blocks["sizes"].shape == (count,) and blocks["edges"] == values.shape[0]
    # Same partition; numbered by smallest member, so first appearances come in order.
    np.testing.assert_array_equal(np.unique(blocks["block"], return_index=True)[1],
                                  np.sort(np.unique(expected_block, return_index=True)[1]))
    np.testing.assert_array_equal(np.bincount(blocks["block"]), blocks["sizes"])
    np.testing.assert_allclose(blocks["degree"], np.asarray(S.sum(axis=1)).ravel(), rtol=1e-15)
    size = blocks["sizes"][blocks["block"]]
    small = (size > 1) & (size <= exact_limit)
    # Rows of small blocks, grouped by block size, then block, then index.
    small_rows = np.flatnonzero(small)[np.lexsort((blocks["block"][small], size[small]))]
    coo = S[small_rows].tocoo()
    np.testing.assert_array_equal(blocks["rows"], small_rows[coo.row])
    np.testing.assert_array_equal(blocks["cols"], coo.col)
    np.testing.assert_array_equal(blocks["values"], coo.data)


def test_gram_product_equals_the_sparse_formula_in_float32_precision(rng):
    """The CPU's float32 P^T P V = S D^-2 S V against scipy in float64 on the engine's graph."""
    from scipy.sparse import csr_matrix, diags
    from cuts_ext import _C
    from cuts_ext._arrays import Operand
    X = rng.standard_normal((1500, 5))  # over the one-thread limit: the OpenMP path runs
    engine = _C.Condenser(Operand(X, "numpy", "cpu", 0).descriptor, 40.0, 1e-4, 0)
    engine.adaptive_kernel(15)
    row_ptr, cols, values = engine.kernel_graph()
    S = csr_matrix((values, cols, row_ptr), shape=(1500, 1500))
    D2 = diags(1.0 / np.asarray(S.sum(axis=1)).ravel() ** 2)
    for columns in (1, 12, 45):  # one vector, two (the probes), and more than one slice
        V = rng.standard_normal((1500, columns))
        expected = S @ (D2 @ (S @ V))
        got = engine.gram_product(V)
        assert got.dtype == np.float64 and got.shape == V.shape
        np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-6 * np.abs(expected).max())
    with pytest.raises(ValueError, match="M, columns"):
        engine.gram_product(V[:10])


def lanczos_reference(gram_product, V, steps):
    """The recurrence of Condenser::lanczos (csrc/condense/engine.h) in numpy, on the engine's
    own product: (alphas, betas) [steps, p]."""
    q_prev, q = np.zeros_like(V), V / np.sqrt(np.einsum("ij,ij->j", V, V))
    beta = np.zeros(V.shape[1])
    alphas, betas = np.zeros((steps, V.shape[1])), np.zeros((steps, V.shape[1]))
    for j in range(steps):
        w = gram_product(q) - beta * q_prev
        alphas[j] = np.einsum("ij,ij->j", q, w)
        w -= alphas[j] * q
        beta = betas[j] = np.linalg.norm(w, axis=0)
        q_prev, q = q, w / np.where(beta > 0, beta, 1.0)
    return alphas, betas


def test_lanczos_equals_the_recurrence_on_the_engines_product(rng):
    from cuts_ext import _C
    from cuts_ext._arrays import Operand
    X = rng.standard_normal((700, 4))
    engine = _C.Condenser(Operand(X, "numpy", "cpu", 0).descriptor, 40.0, 1e-4, 0)
    engine.adaptive_kernel(10)
    V = rng.choice([-1.0, 1.0], size=(700, 5))
    V[:100, 2] = 0.0  # a probe supported on part of the points, as the spectrum's are
    alphas, betas = engine.lanczos(V, 12)
    expected_alphas, expected_betas = lanczos_reference(engine.gram_product, V, 12)
    assert alphas.shape == betas.shape == (12, 5)
    # Only the column sums' order differs from numpy's.
    np.testing.assert_allclose(alphas, expected_alphas, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(betas, expected_betas, rtol=1e-12, atol=1e-14)
    assert engine.lanczos(V, 0)[0].shape == (0, 5)
    assert engine.transfers() == {"to_device_bytes": 0, "to_host_bytes": 0, "copies": 0}


@pytest.mark.parametrize("probes,steps,words", [
    (np.ones((699, 2)), 3, "[M, columns]"),
    (np.ones((700, 0)), 3, "columns >= 1"),
    (np.zeros((700, 2)), 3, "nonzero"),
    (np.full((700, 2), np.nan), 3, "finite"),
    (np.ones((700, 2)), -1, "steps"),
])
def test_lanczos_refuses_bad_probes(rng, probes, steps, words):
    from cuts_ext import _C
    from cuts_ext._arrays import Operand
    engine = _C.Condenser(Operand(rng.standard_normal((700, 3)), "numpy", "cpu", 0).descriptor,
                          40.0, 1e-4, 0)
    engine.adaptive_kernel(10)
    with pytest.raises(ValueError, match=re.escape(words)):
        engine.lanczos(probes, steps)


@pytest.mark.parametrize("kernel", ["fixed", "adaptive"])
def test_kernel_graph_equals_the_dense_oracle_kernel_on_the_threaded_path(rng, kernel):
    """Above 1,024 points the engine finds neighbours and builds its graph's row blocks in
    parallel: the graph must still be the oracle's kernel entry for entry, each row sorted by
    column."""
    from cuts_ext import _C
    from cuts_ext._arrays import Operand
    X = np.concatenate([c + 0.4 * rng.standard_normal((500, 6)) for c in np.eye(6)[:3] * 2])
    weights = rng.integers(1, 5, size=X.shape[0]).astype(np.float64)
    engine = _C.Condenser(Operand(X, "numpy", "cpu", 0).descriptor, 40.0, 1e-4, 0)
    if kernel == "fixed":
        engine.set_weights(weights)
        engine.fixed_kernel(0.9)
        expected = oracle.fixed_kernel(X, 0.9, weights)
    else:
        engine.adaptive_kernel(30)
        expected = oracle.adaptive_kernel(X, knn=30)
    row_ptr, cols, values = engine.kernel_graph()
    rows = np.repeat(np.arange(X.shape[0]), np.diff(row_ptr))
    assert np.all(np.diff(cols)[np.diff(rows) == 0] > 0)  # ascending within each row
    expected_rows, expected_cols = np.nonzero(expected)
    assert values.shape[0] > 20 * X.shape[0]  # dense enough that the rows are long
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_array_equal(cols, expected_cols)
    # numpy's vectorised exp and pow may differ from libm's in the last bit.
    np.testing.assert_allclose(values, expected[expected_rows, expected_cols], rtol=1e-14, atol=0)


@pytest.mark.parametrize("kernel", ["fixed", "adaptive"])
def test_products_over_several_row_blocks_equal_scipy(rng, kernel):
    """The CPU graph holds each pair once (csrc/condense/cpu/upper_graph.h); its products read a
    pair from both of its rows and compute blocks of output rows in parallel. Over several
    blocks (9,000 points: 7 blocks in the 50-wide diffusion, 2 in the float32 products),
    diffusion must still be scipy's CSR product bit for bit (the same operations in the same
    order) and the Gram product equal to it within float32 rounding."""
    from scipy.sparse import csr_matrix
    from cuts_ext import _C
    from cuts_ext._arrays import Operand
    # Points along a line in 50-D, so that the neighbour windows stay short.
    X = np.linspace(0, 30, 9000)[:, None] * np.ones(50) / np.sqrt(50)
    X = X + 0.01 * rng.standard_normal(X.shape)
    engine = _C.Condenser(Operand(X, "numpy", "cpu", 0).descriptor, 40.0, 1e-4, 0)
    if kernel == "fixed":
        engine.set_weights(rng.integers(1, 5, size=X.shape[0]).astype(np.float64))
        engine.fixed_kernel(0.3)
    else:
        engine.adaptive_kernel(10)
    row_ptr, cols, values = engine.kernel_graph()
    assert values.shape[0] > 10 * X.shape[0]
    S = csr_matrix((values, cols, row_ptr), shape=(X.shape[0],) * 2)
    degree = engine.spectrum_blocks(1)["degree"]
    rows = np.repeat(np.arange(X.shape[0]), np.diff(row_ptr))
    P = csr_matrix((values / degree[rows], cols, row_ptr), shape=S.shape)  # S_ij / D_i
    V = rng.standard_normal((X.shape[0], 12))
    expected_gram = S @ ((S @ V) / degree[:, None] ** 2)
    np.testing.assert_allclose(engine.gram_product(V), expected_gram, rtol=1e-4,
                               atol=1e-5 * np.abs(expected_gram).max())
    expected = P @ (P @ X)
    engine.diffuse(2)
    np.testing.assert_array_equal(engine.points().reshape(X.shape), expected)


# --- an accelerator engine against the CPU engine, step by step ------------------------------


@pytest.mark.parametrize("data", ["blobs", "patches"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("device", ACCELERATORS)
def test_engine_steps_match_the_cpu(device, rng, data, dtype):
    x = blobs(rng) if data == "blobs" else image_patches(rng)
    cpu, gpu = cpu_and_accelerator_engines(x, device, dtype)
    assert_state_matches(cpu, gpu, atol=0)

    cpu.adaptive_kernel(10)
    gpu.adaptive_kernel(10)
    assert_graphs_match(cpu, gpu)
    block = rng.standard_normal((cpu.size(), 3))
    # The CPU computes this product in float32 (csrc/condense/cpu/upper_graph.h), the GPU in
    # float64.
    np.testing.assert_allclose(gpu.gram_product(block), cpu.gram_product(block), rtol=1e-5,
                               atol=1e-6)
    cpu.diffuse(4)
    gpu.diffuse(4)
    np.testing.assert_allclose(gpu.points(), cpu.points(), rtol=0, atol=POINTS_ATOL)

    m = cpu.size()
    count = min(m * (m - 1) // 2, 7)
    np.testing.assert_allclose(gpu.smallest_pair_distances(count),
                               cpu.smallest_pair_distances(count), rtol=0, atol=POINTS_ATOL)
    threshold = merge_distance(cpu)
    assert gpu.merge(threshold) == cpu.merge(threshold)
    assert_state_matches(cpu, gpu)
    with pytest.raises(ValueError, match="no kernel"):
        gpu.kernel_graph()

    points = cpu.points()
    eps = 0.1 * float(np.std(points)) * cpu.size() ** 0.2
    for _ in range(15):
        if cpu.size() == 1:
            break
        eps *= 1.3
        cpu.fixed_kernel(eps)
        gpu.fixed_kernel(eps)
        assert_graphs_match(cpu, gpu)
        cpu.diffuse(3)
        gpu.diffuse(3)
        np.testing.assert_allclose(gpu.points(), cpu.points(), rtol=0, atol=POINTS_ATOL)
        assert gpu.merge(threshold) == cpu.merge(threshold)
        assert_state_matches(cpu, gpu)
    assert cpu.size() < m


def test_smallest_pair_distances_equal_the_sorted_pair_distances(rng):
    # Past count = m / 2 the search radius comes from the k-th neighbours, k = ceil(2 count / m)
    # (condense/kernel.h, pair_search), instead of listing every pair.
    from scipy.spatial.distance import pdist

    from cuts_ext import _C
    from cuts_ext._arrays import Operand
    x = blobs(rng, n=300, c=4, spread=0.05)
    x[10] = x[3]  # a duplicate: distance 0
    engine = _C.Condenser(Operand(x, "numpy", "cpu", 0).descriptor, 40.0, 1e-4, 0)
    every = np.sort(pdist(x))
    for count in (1, 150, 151, 299, 300, 301, 1000, 20000, every.size - 1, every.size):
        np.testing.assert_array_equal(engine.smallest_pair_distances(count), every[:count])


@pytest.mark.parametrize("device", ACCELERATORS)
def test_queries_and_merges_are_bit_identical_before_diffusion(device, rng):
    # No exp / pow involved: k-th neighbours, pair distances, merged means are the CPU's exactly.
    x = blobs(rng, n=300, c=4, spread=0.05)
    x[10] = x[3]  # a duplicate: distance 0
    cpu, gpu = cpu_and_accelerator_engines(x, device)
    for count in (1, 5, 150, 151, 1000, 300 * 299 // 2, 10**9):
        np.testing.assert_array_equal(gpu.smallest_pair_distances(count),
                                      cpu.smallest_pair_distances(count))
    threshold = float(cpu.smallest_pair_distances(40)[-1])  # strict: the 40th pair stays apart
    assert gpu.merge(threshold) == cpu.merge(threshold) < 300
    assert_state_matches(cpu, gpu, atol=0)
    # The adaptive kernel's structure and bandwidths: the graph's columns are exact.
    cpu.adaptive_kernel(30)
    gpu.adaptive_kernel(30)
    assert_graphs_match(cpu, gpu)


@pytest.mark.parametrize("c", [1, 2, 97, 7000])  # 7000 features: too wide for a shared tile
@pytest.mark.parametrize("device", ACCELERATORS)
def test_feature_counts(device, rng, c):
    x = rng.standard_normal((150 if c < 7000 else 40, c))
    cpu, gpu = cpu_and_accelerator_engines(x, device)
    k = 5
    cpu.adaptive_kernel(k)
    gpu.adaptive_kernel(k)
    assert_graphs_match(cpu, gpu)
    cpu.diffuse(2)
    gpu.diffuse(2)
    np.testing.assert_allclose(gpu.points(), cpu.points(), rtol=0, atol=POINTS_ATOL)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_runs_on_the_given_stream(device, rng):
    import torch
    x = blobs(rng, n=200)
    stream = torch.cuda.Stream()
    cpu, gpu = cpu_and_accelerator_engines(x, device, stream=stream)
    with torch.cuda.stream(stream):
        for engine in (cpu, gpu):
            engine.adaptive_kernel(8)
            engine.diffuse(3)
    assert_graphs_match(cpu, gpu)
    np.testing.assert_allclose(gpu.points(), cpu.points(), rtol=0, atol=POINTS_ATOL)


# --- edge cases -----------------------------------------------------------------------------


@pytest.mark.parametrize("device", ACCELERATORS)
def test_single_point(device):
    cpu, gpu = cpu_and_accelerator_engines(np.array([[0.5, -1.0, 2.0]]), device)
    for engine in (cpu, gpu):
        engine.adaptive_kernel(1)  # no neighbour: infinite bandwidth, the self-loop only
    assert_graphs_match(cpu, gpu, exact=True)
    row_ptr, cols, values = gpu.kernel_graph()
    assert row_ptr.tolist() == [0, 1] and cols.tolist() == [0] and values.tolist() == [1.0]
    gpu.diffuse(5)
    np.testing.assert_array_equal(gpu.points(), [[0.5, -1.0, 2.0]])
    assert gpu.smallest_pair_distances(3).shape == (0,)
    assert gpu.merge(float("nan")) == 1
    gpu.fixed_kernel(0.1)
    assert gpu.kernel_graph()[0].tolist() == [0, 1]
    assert gpu.labels().tolist() == [0]


@pytest.mark.parametrize("device", ACCELERATORS)
def test_nan_threshold_merges_nothing(device, rng):
    cpu, gpu = cpu_and_accelerator_engines(blobs(rng, n=50), device)
    assert gpu.merge(float("nan")) == cpu.merge(float("nan")) == 50
    assert gpu.merge(-1.0) == 50
    assert_state_matches(cpu, gpu, atol=0)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_everything_merges_into_one(device, rng):
    cpu, gpu = cpu_and_accelerator_engines(blobs(rng, n=80), device)
    assert gpu.merge(1e6) == cpu.merge(1e6) == 1
    assert_state_matches(cpu, gpu, atol=0)
    assert gpu.weights().tolist() == [80.0]


@pytest.mark.parametrize("device", ACCELERATORS)
def test_k_beyond_the_points_gives_infinite_bandwidths(device, rng):
    cpu, gpu = cpu_and_accelerator_engines(rng.standard_normal((6, 3)), device)
    for engine in (cpu, gpu):
        engine.adaptive_kernel(10)  # fewer than k others: every pair at affinity 1
    assert_graphs_match(cpu, gpu, exact=True)
    assert gpu.kernel_graph()[1].size == 36
    block = rng.standard_normal((6, 4))
    # float32 on the CPU (csrc/condense/cpu/upper_graph.h), float64 on the GPU.
    np.testing.assert_allclose(gpu.gram_product(block), cpu.gram_product(block), rtol=1e-5,
                               atol=1e-6)


def assert_blocks_match(cpu, gpu, exact_limit):
    expected, got = cpu.spectrum_blocks(exact_limit), gpu.spectrum_blocks(exact_limit)
    assert got["edges"] == expected["edges"]
    for key in ("block", "sizes", "rows", "cols"):
        assert got[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    for key in ("degree", "values"):
        np.testing.assert_allclose(got[key], expected[key], rtol=VALUES_RTOL, atol=0, err_msg=key)


@pytest.mark.parametrize("exact_limit", [1, 6, 10_000])
@pytest.mark.parametrize("device", ACCELERATORS)
def test_spectrum_blocks_match_the_cpu(device, rng, exact_limit):
    """The device union-find's blocks, the degrees and the small blocks' entries: many blocks
    (clumps), then one block of every point (an adaptive kernel on image patches)."""
    cpu, gpu = cpu_and_accelerator_engines(clumps(), device)
    for engine in (cpu, gpu):
        engine.fixed_kernel(0.05)
    assert_blocks_match(cpu, gpu, exact_limit)
    cpu, gpu = cpu_and_accelerator_engines(image_patches(rng), device)
    for engine in (cpu, gpu):
        engine.adaptive_kernel(10)
    assert_blocks_match(cpu, gpu, exact_limit)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_lanczos_on_the_device_matches_the_recurrence_and_the_cpu(device, rng):
    cpu, gpu = cpu_and_accelerator_engines(image_patches(rng), device)
    for engine in (cpu, gpu):
        engine.adaptive_kernel(10)
    V = rng.choice([-1.0, 1.0], size=(cpu.size(), 12))
    alphas, betas = gpu.lanczos(V, 20)
    # On the device's own float64 product: only the order of the column sums differs.
    expected_alphas, expected_betas = lanczos_reference(gpu.gram_product, V, 20)
    np.testing.assert_allclose(alphas, expected_alphas, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(betas, expected_betas, rtol=1e-8, atol=1e-12)
    # The CPU's products are float32: its first coefficients agree to that precision.
    cpu_alphas, cpu_betas = cpu.lanczos(V, 20)
    np.testing.assert_allclose(alphas[:4], cpu_alphas[:4], rtol=1e-4)
    np.testing.assert_allclose(betas[:4], cpu_betas[:4], rtol=1e-4)
    with pytest.raises(ValueError, match="nonzero"):
        gpu.lanczos(np.zeros_like(V), 3)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_an_iteration_copies_o_of_m_bytes(device, rng):
    """One iteration as the driver runs it (kernel, diffusion time by the stochastic estimate
    with small blocks decomposed on the host, diffusion, merge, labels) moves at most
    8 (N + M (probes + 12)) bytes plus the small blocks' entries (16 bytes each) between host
    and device (the probe block up; blocks, degrees, labels down): never the graph, which is
    many times larger."""
    from cuts_ext.condensation.driver import merge_threshold
    from cuts_ext.condensation.spectrum import diffusion_time
    x = image_patches(rng, shape=(1, 1, 48, 50))
    _, gpu = cpu_and_accelerator_engines(x, device)
    n = m = gpu.size()
    gpu.adaptive_kernel(30)
    blocks = gpu.spectrum_blocks(200)
    assert blocks["sizes"].max() > 200  # the estimate runs
    before = gpu.transfers()
    choice = diffusion_time(gpu, 50, 200, np.random.default_rng(0))
    gpu.diffuse(choice.t)
    gpu.merge(merge_threshold(gpu))
    gpu.labels()
    after = gpu.transfers()
    moved = sum(after[key] - before[key] for key in ("to_device_bytes", "to_host_bytes"))
    budget = 8 * (n + m * (12 + 12)) + 16 * len(blocks["rows"])
    assert not choice.exact and moved <= budget, (moved, budget)
    assert 16 * blocks["edges"] > 2 * budget  # the graph would not have fitted


@pytest.mark.parametrize("device", ACCELERATORS)
def test_large_k_is_refused_on_cuda(device, rng):
    _, gpu = cpu_and_accelerator_engines(rng.standard_normal((300, 2)), device)
    with pytest.raises(ValueError, match="at most 256 neighbours"):
        gpu.adaptive_kernel(257)
    gpu.adaptive_kernel(256)
    assert gpu.kernel_graph()[0].size == 301


@pytest.mark.parametrize("device", ACCELERATORS)
def test_steps_need_a_kernel(device, rng):
    _, gpu = cpu_and_accelerator_engines(rng.standard_normal((10, 2)), device)
    with pytest.raises(ValueError, match="no kernel"):
        gpu.kernel_graph()
    with pytest.raises(ValueError, match="needs a kernel"):
        gpu.diffuse(1)
    with pytest.raises(ValueError, match="needs a kernel"):
        gpu.gram_product(np.zeros((10, 2)))
    gpu.adaptive_kernel(3)
    with pytest.raises(ValueError, match="block"):
        gpu.gram_product(np.zeros((9, 2)))


@pytest.mark.parametrize("device", ACCELERATORS)
def test_weighted_adaptive_kernel_matches_the_cpu(device, rng):
    x = blobs(rng)
    cpu, gpu = cpu_and_accelerator_engines(x, device)
    weights = rng.integers(1, 9, size=x.shape[0]).astype(np.float64)
    for engine in (cpu, gpu):
        engine.set_weights(weights)
        engine.adaptive_kernel(10)
    assert_graphs_match(cpu, gpu)
