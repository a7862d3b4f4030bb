"""cuts_ext.ops: the low-level condensation steps against the oracle's building blocks."""

import numpy as np
import pytest
import torch

import cuts_ext
from support import condense_oracle as oracle


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


@pytest.mark.parametrize("exact_limit", [1, 6, 10_000])
def test_spectrum_blocks_equal_scipy_components_of_the_kernel_graph(exact_limit):
    """The engine's blocks, degrees and small-block entries, against scipy on its own graph."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components
    from cuts_ext import _C
    from cuts_ext._arrays import Operand
    rng = np.random.default_rng(3)
    # Clumps of 1 to 9 points far apart: many blocks of different sizes.
    X = np.concatenate([rng.normal(10.0 * k, 0.01, size=(1 + k % 9, 3)) for k in range(40)])
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
    """The CPU graph holds each pair once (csrc/cpu/upper_graph.h); its products read a pair from
    both of its rows and compute blocks of output rows in parallel. Over several blocks (9,000
    points: 7 blocks in the 50-wide diffusion, 2 in the float32 products), diffusion must still
    be scipy's CSR product bit for bit (the same operations in the same order) and the Gram
    product equal to it within float32 rounding."""
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
