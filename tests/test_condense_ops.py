"""cuts_ext.ops: the low-level condensation steps against the oracle's building blocks."""

import numpy as np
import pytest
import torch

import cuts_ext
import condense_oracle as oracle


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
