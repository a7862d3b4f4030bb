"""Numerics at the extremes of float64 and bounded run times (issue #14, family 2): results that
do not depend on the input's scale, no overflow to inf or NaN for finite inputs, and no run that
cannot end."""

import time

import numpy as np
import pytest

import cuts_ext
from cuts_ext import ops
from cuts_ext.condensation.bounds import MAX_ITERATIONS, iteration_limit
from cuts_ext.condensation.preparation import normalise_rows
from cuts_ext.condensation.spectrum import entropy_curve
from cuts_ext.io import read_image

rng = np.random.default_rng(11)
X = np.concatenate([rng.normal(centre, 0.3, (20, 5)) for centre in (0.0, 3.0, 6.0)])


@pytest.fixture(scope="module")
def reference():
    return cuts_ext.condense(X)


@pytest.mark.parametrize("factor", [2.0**900, 2.0**-1000])
def test_condense_is_bit_identical_under_power_of_two_scaling(reference, factor):
    np.testing.assert_array_equal(cuts_ext.condense(X * factor).hierarchy, reference.hierarchy)


@pytest.mark.parametrize("factor", [1e300, 1e155, 1e100, 1e-100, 1e-200, 1e-300, 1e-310])
def test_condense_gives_the_same_hierarchy_at_any_magnitude(reference, factor):
    assert len(reference.cluster_counts) > 3
    np.testing.assert_array_equal(cuts_ext.condense(X * factor).hierarchy, reference.hierarchy)


def test_rows_of_mixed_magnitudes_normalise_each_on_its_own():
    rows = np.array([[3.0, 4.0], [3e300, 4e300], [3e-300, 4e-300], [0.0, 0.0], [-1e308, 1e308]])
    expected = np.array([[0.6, 0.8]] * 3 + [[0.0, 0.0], [-2**-0.5, 2**-0.5]])
    np.testing.assert_allclose(normalise_rows(rows), expected, rtol=1e-15)
    plain = rng.standard_normal((50, 7))
    np.testing.assert_array_equal(normalise_rows(plain),
                                  plain / np.linalg.norm(plain, axis=1, keepdims=True))


@pytest.mark.parametrize("factor", [1e300, 1e-300, 1e307])
@pytest.mark.parametrize("kernel", [{"knn": 5}, {"eps": 2.0}])
def test_diffusion_step_is_equivariant_to_scale(factor, kernel):
    scaled = dict(kernel)
    if "eps" in scaled:
        scaled["eps"] *= factor
    out = ops.diffusion_step(X * factor, **scaled)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out / factor, ops.diffusion_step(X, **kernel), rtol=1e-9,
                               atol=1e-12)


def test_diffusion_step_is_bit_identical_for_power_of_two_scaling():
    for kernel, scaled in (({"knn": 5}, {"knn": 5}), ({"eps": 2.0}, {"eps": 2.0 * 2.0**600})):
        np.testing.assert_array_equal(ops.diffusion_step(X * 2.0**600, **scaled) / 2.0**600,
                                      ops.diffusion_step(X, **kernel))


@pytest.mark.parametrize("values", [[1.7e308, 1.7e308], [-1.7e308, -1.7e308], [1.7e308, 1.6e308],
                                    [5e-324, 1e-323]])
def test_merge_means_stay_finite_and_exact(values):
    points = np.array(values)[:, None]
    merged, group, weights = ops.merge(points, max(abs(v) for v in values))
    assert merged.shape == (1, 1) and np.isfinite(merged).all()
    assert min(values) <= merged[0, 0] <= max(values)
    assert group.tolist() == [0, 0] and weights.tolist() == [2.0]


def test_merge_threshold_is_scaled_with_the_points():
    merged, group, _ = ops.merge(np.array([[0.0], [1e300], [3e300]]), 1.5e300)
    assert group.tolist() == [0, 0, 1]
    np.testing.assert_allclose(merged[:, 0], [5e299, 3e300], rtol=1e-15)


def test_entropy_curve_is_finite_for_large_singular_values():
    values = np.array([3.0, 1.0, 0.5])
    with np.errstate(over="raise", invalid="raise"):
        curve = entropy_curve(values, 1000)
    assert np.isfinite(curve).all()
    np.testing.assert_allclose(curve[:50], entropy_curve(values / 3.0, 50), rtol=1e-12)


def test_a_long_entropy_curve_finishes_quickly():
    started = time.perf_counter()
    result = cuts_ext.condense(X, t_max=1000)
    assert time.perf_counter() - started < 30
    assert result.cluster_counts[-1] == 1


@pytest.mark.parametrize("kwargs,words", [
    (dict(scale=1 + 1e-9), ["scale=1.000000001", "use scale >="]),
    (dict(scale=1 + 1e-6), ["iterations", "use scale >="]),
    (dict(granularity=1e-300), ["granularity"]),
    (dict(decay=1e-3), ["decay=0.001"]),
])
def test_settings_that_cannot_finish_are_refused_quickly(kwargs, words):
    started = time.perf_counter()
    with pytest.raises(ValueError) as raised:
        cuts_ext.condense(X, **kwargs)
    assert time.perf_counter() - started < 10
    assert all(word in str(raised.value) for word in words), str(raised.value)


def test_max_iterations_lifts_the_refusal():
    result = cuts_ext.condense(X, scale=1 + 1e-9, max_iterations=4)
    assert result.n_iterations == 4


def test_a_slow_but_finite_schedule_still_ends_in_one_cluster():
    result = cuts_ext.condense(X, scale=1.002)
    assert result.cluster_counts[-1] == 1
    assert result.n_iterations < MAX_ITERATIONS


def test_iteration_limit():
    assert iteration_limit(0.1, 1.025, 1.0, 40.0, 1e-4, 7) == 7
    bound = iteration_limit(0.1, 1.025, 1.0, 40.0, 1e-4, None)
    assert 100 < bound < 400
    assert iteration_limit(10.0, 1.025, 1.0, 40.0, 1e-4, None) == 6  # already wide enough
    with pytest.raises(ValueError, match="cannot finish"):
        iteration_limit(0.0, 1.025, 1.0, 40.0, 1e-4, None)


@pytest.mark.parametrize("low,high", [(-1.7e308, 1.7e308), (1e307, 1.79e308), (-1e-320, 1e-320),
                                      (0.0, 1.0)])
def test_reader_rescales_the_full_float64_range(tmp_path, low, high):
    t = np.linspace(0, 1, 12).reshape(3, 4)
    values = (1 - t) * low + t * high
    path = tmp_path / "extreme.npy"
    np.save(path, values)
    data = read_image(path).data
    assert np.isfinite(data).all()
    assert data.min() == -1.0 and data.max() == 1.0
    if high < 1e300:
        np.testing.assert_allclose(data[0], (values - low) / (high - low) * 2 - 1, atol=1e-6)
