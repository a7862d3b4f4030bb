"""Tests of the dense diffusion-condensation oracle (tests/condense_oracle.py).

Each building block is checked against a small computation done independently (by hand, or
with a different numerical route), so that the oracle can serve as the definition the
package's kernels are compared with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from support.condense_oracle import (
    adaptive_kernel,
    condense_oracle,
    diffusion_operator,
    fixed_kernel,
    knee,
    levels_from_counts,
    merge,
    merge_threshold,
    prepare,
    singular_values,
    von_neumann_entropy,
    von_neumann_entropy_t,
)

RETINA_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "retina" / "images"


# --- knee ----------------------------------------------------------------------------------


def test_knee_of_hand_computed_curve():
    # Flat, then slope 1 from x = 2. Errors of each break, worked out by hand:
    # b=1: 1.857143, b=2: 0.952381, b=3: 1.0, b=4: 1.6, b=5: 2.114286.
    y = np.array([0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0])
    assert knee(y) == 2


def _knee_by_polyfit(y):
    """The knee rule of docs/method.md, with numpy.polyfit for the two lines."""
    x = np.arange(len(y), dtype=np.float64)
    errors = []
    for b in range(1, len(y) - 1):
        left = np.polyval(np.polyfit(x[: b + 1], y[: b + 1], 1), x[: b + 1]) - y[: b + 1]
        right = np.polyval(np.polyfit(x[b - 1:], y[b - 1:], 1), x[b:]) - y[b:]
        errors.append(np.abs(left).sum() + np.abs(right).sum())
    return 1 + int(np.argmin(errors))


@pytest.mark.parametrize("seed", range(5))
def test_knee_matches_an_independent_fit(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 50))
    # A decaying curve with noise, like an entropy curve.
    y = np.exp(-np.arange(n) / rng.uniform(1, 10)) + 0.01 * rng.normal(size=n)
    assert knee(y) == _knee_by_polyfit(y)


def test_knee_of_flat_curve_is_first_break():
    # Every break fits a flat curve exactly: all errors tie and the first break wins.
    assert knee(np.full(50, 0.1)) == 1
    assert knee(np.full(3, -2.7)) == 1


def test_knee_needs_three_points():
    with pytest.raises(ValueError, match="at least 3"):
        knee(np.array([1.0, 0.0]))


# --- entropy and t -------------------------------------------------------------------------


def test_entropy_curve_starts_at_first_power():
    # Singular values of [[3/4, 1/4], [1/4, 3/4]] are 1 and 1/2; entry k uses s^(k+1).
    P = np.array([[0.75, 0.25], [0.25, 0.75]])
    H = von_neumann_entropy(P, 4)
    for k in range(4):
        p = np.array([1.0, 0.5 ** (k + 1)])
        p = p / p.sum() + np.finfo(np.float64).eps
        assert H[k] == pytest.approx(-np.sum(p * np.log(p)), rel=1e-12)
    assert H[0] == pytest.approx(np.log(3) - 2 / 3 * np.log(2), rel=1e-12)


def test_singular_values_blockwise_equal_full_svd():
    rng = np.random.default_rng(3)
    # Three blocks (sizes 3, 1, 4) scattered by a permutation.
    K = np.zeros((8, 8))
    for block in ([0, 3, 6], [5], [1, 2, 4, 7]):
        A = rng.uniform(0.1, 1.0, size=(len(block), len(block)))
        K[np.ix_(block, block)] = A + A.T
    P = diffusion_operator(K)
    np.testing.assert_allclose(np.sort(singular_values(P)),
                               np.sort(np.linalg.svd(P, compute_uv=False)), atol=1e-14)


def test_t_of_identity_operator_is_one():
    # No point has a neighbour: P = I, a flat entropy curve, t = 1.
    assert von_neumann_entropy_t(np.eye(7), 50) == 1


def test_t_with_too_short_curve_is_one():
    P = diffusion_operator(np.ones((3, 3)))
    assert von_neumann_entropy_t(P, 1) == 1
    assert von_neumann_entropy_t(P, 2) == 1


# --- kernels -------------------------------------------------------------------------------


def test_adaptive_kernel_by_hand():
    # Points 0, 1, 3, 7 on a line; N = 4 so k = min(30, N - 2) = 2. The 2nd nearest neighbour
    # (the point itself not counted) gives bandwidths 3, 2, 3, 6. With decay 2 and thresh 0.1,
    # e^(-49/9) and e^(-9) are dropped before symmetrising.
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    e = np.exp
    K_rows = np.array([
        [1.0, e(-1 / 9), e(-1.0), 0.0],
        [e(-1 / 4), 1.0, e(-1.0), 0.0],
        [e(-1.0), e(-4 / 9), 1.0, e(-16 / 9)],
        [e(-49 / 36), e(-1.0), e(-4 / 9), 1.0],
    ])
    K = adaptive_kernel(X, knn=30, decay=2, thresh=0.1)
    np.testing.assert_allclose(K, (K_rows + K_rows.T) / 2, rtol=1e-14)


def test_adaptive_kernel_reference_decay():
    # Same points with decay 40: the k-th neighbour has affinity e^-1, nearer points ~1,
    # farther than ~1.26 bandwidths 0.
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    K = adaptive_kernel(X)
    K_rows = np.array([
        [1.0, np.exp(-(1 / 3) ** 40), np.exp(-1.0), 0.0],
        [np.exp(-(1 / 2) ** 40), 1.0, np.exp(-1.0), 0.0],
        [np.exp(-1.0), np.exp(-(2 / 3) ** 40), 1.0, 0.0],
        [0.0, np.exp(-1.0), np.exp(-(2 / 3) ** 40), 1.0],
    ])
    np.testing.assert_allclose(K, (K_rows + K_rows.T) / 2, rtol=1e-14)


def test_adaptive_kernel_with_duplicates_has_no_zero_division():
    # Points 0-2 coincide: their 2nd neighbour is at distance 0, the bandwidth is raised to
    # machine epsilon, so they keep affinity 1 to each other and 0 to point 3.
    X = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [4.0, 6.0]])
    K = adaptive_kernel(X)
    half = np.exp(-1.0) / 2
    expected = np.array([
        [1.0, 1.0, 1.0, half],
        [1.0, 1.0, 1.0, half],
        [1.0, 1.0, 1.0, half],
        [half, half, half, 1.0],
    ])
    np.testing.assert_allclose(K, expected, rtol=1e-14)


def test_fixed_kernel_weights_by_hand():
    # d01 = 1, d12 = 1.5, d02 = 2.5 with eps 1, decay 2, thresh 0.1: e^-6.25 is dropped.
    # Column weighting then symmetrising gives K_ij (w_i + w_j) / 2.
    X = np.array([[0.0], [1.0], [2.5]])
    w = np.array([1, 2, 3])
    K = fixed_kernel(X, 1.0, w, decay=2, thresh=0.1)
    a, b = np.exp(-1.0), np.exp(-2.25)
    expected = np.array([
        [1.0, a * 1.5, 0.0],
        [a * 1.5, 2.0, b * 2.5],
        [0.0, b * 2.5, 3.0],
    ])
    np.testing.assert_allclose(K, expected, rtol=1e-14)
    P = diffusion_operator(K)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(P[1], expected[1] / expected[1].sum(), rtol=1e-15)


# --- merging -------------------------------------------------------------------------------


def test_merge_threshold_by_hand():
    # Distances 3, 4, 5: the 1e-6 quantile interpolates 2e-6 of the way from 3 to 4.
    X = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert merge_threshold(X) == pytest.approx(3.0 + 2e-6 + 1e-7, rel=1e-12)
    assert np.isnan(merge_threshold(X[:1]))


def test_merge_components_means_and_order():
    # 0-2 and 2-5 are closer than 0.06 (0-5 is not, but joins through 2); 1-3 is 0.08 apart.
    X = np.array([[0.0, 0.0], [5.0, 0.0], [0.05, 0.0], [5.08, 0.0], [10.0, 0.0],
                  [0.1, 0.0]])
    labels = np.array([0, 1, 2, 3, 4, 5, 0, 1, 5])
    weights = np.array([2, 2, 1, 1, 1, 2])
    merged_X, merged_labels, merged_weights = merge(X, labels, weights, 0.06)
    np.testing.assert_allclose(merged_X, [[0.05, 0.0], [5.0, 0.0], [5.08, 0.0], [10.0, 0.0]],
                               rtol=1e-15)
    np.testing.assert_array_equal(merged_labels, [0, 1, 0, 2, 3, 0, 0, 1, 0])
    np.testing.assert_array_equal(merged_weights, [5, 2, 1, 1])


def test_merge_is_strict_and_mean_is_unweighted():
    X = np.array([[0.0, 0.0], [0.5, 0.0]])
    labels = np.array([0, 1, 1, 1])
    weights = np.array([1, 3])
    same_X, same_labels, _ = merge(X, labels, weights, 0.5)
    np.testing.assert_array_equal(same_X, X)
    np.testing.assert_array_equal(same_labels, labels)
    merged_X, merged_labels, merged_weights = merge(X, labels, weights, 0.5 + 1e-9)
    np.testing.assert_array_equal(merged_X, [[0.25, 0.0]])
    np.testing.assert_array_equal(merged_labels, [0, 0, 0, 0])
    np.testing.assert_array_equal(merged_weights, [4])


# --- levels --------------------------------------------------------------------------------


def test_levels_by_hand():
    # c(-2..8) = 10 10 8 8 5 5 5 3 2 2 1. Plateaus at i = -2, 0, 2, 3, 6 with counts
    # 10, 8, 5, 5, 2; the levels are where the count changes from the previous plateau.
    assert levels_from_counts([8, 8, 5, 5, 5, 3, 2, 2, 1], 10) == [0, 2, 6]
    # Nothing merged at first: the plateaus at -1 and 0 repeat the count N.
    assert levels_from_counts([10, 10, 7, 7, 1], 10) == [2]
    assert levels_from_counts([1], 1) == []
    assert levels_from_counts([], 5) == []


def _levels_by_log_gradient(counts, n_points):
    """The reference's formulation: zeros of the gradient of log counts, with N prepended twice."""
    c = np.array([n_points, n_points] + list(counts))
    locs = np.where(np.diff(np.log(c)) == 0)[0]
    return [int(locs[j]) - 2 for j in range(1, len(locs)) if c[locs[j]] != c[locs[j - 1]]]


def test_levels_match_log_gradient_formulation():
    rng = np.random.default_rng(7)
    for _ in range(50):
        n_points = int(rng.integers(2, 40))
        steps = rng.integers(0, 3, size=int(rng.integers(1, 30)))
        counts = list(np.maximum(n_points - np.cumsum(steps), 1))
        assert levels_from_counts(counts, n_points) == _levels_by_log_gradient(counts, n_points)


# --- preparation ---------------------------------------------------------------------------


def test_prepare_normalises_rows_and_keeps_zero_rows():
    X = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
    np.testing.assert_allclose(prepare(X, 50), [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]],
                               rtol=1e-15)


def test_prepare_pca():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(80, 60))
    Y = prepare(X, 50)
    assert Y.shape == (80, 50)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    centred = Xn - Xn.mean(axis=0)
    np.testing.assert_allclose(Y.mean(axis=0), 0.0, atol=1e-14)
    # The projection carries the top 50 eigenvalues of the scatter matrix, uncorrelated.
    top = np.sort(np.linalg.eigvalsh(centred.T @ centred))[::-1][:50]
    np.testing.assert_allclose(Y.T @ Y, np.diag(top), atol=1e-10)
    # Recover the components and check the sign rule.
    components = np.linalg.lstsq(centred, Y, rcond=None)[0]
    largest = components[np.argmax(np.abs(components), axis=0), np.arange(50)]
    assert np.all(largest > 0)
    # PCA applies only when N > n_pca and C > n_pca.
    assert prepare(X[:, :50], 50).shape == (80, 50)
    np.testing.assert_allclose(prepare(X[:, :50], 50),
                               X[:, :50] / np.linalg.norm(X[:, :50], axis=1, keepdims=True))
    assert prepare(X[:50], 50).shape == (50, 60)
    assert prepare(X, None).shape == (80, 60)


# --- the whole method ----------------------------------------------------------------------


def _check_hierarchy(result, n_points, scale=1.025):
    """Invariants every hierarchy must satisfy."""
    labels = result.labels
    assert labels.dtype == np.int32 and labels.shape == (result.n_iterations, n_points)
    assert result.cluster_counts[-1] == 1
    for i in range(result.n_iterations):
        ids, first = np.unique(labels[i], return_index=True)
        np.testing.assert_array_equal(ids, np.arange(result.cluster_counts[i]))
        assert np.all(np.diff(first) > 0), "ids must follow each cluster's smallest member"
        if i > 0:
            # Nested: every cluster of iteration i-1 lies inside one cluster of iteration i.
            pairs = np.unique(np.stack([labels[i - 1], labels[i]]), axis=1)
            assert pairs.shape[1] == result.cluster_counts[i - 1]
            assert result.eps[i] == pytest.approx(result.eps[i - 1] * scale, rel=1e-15)
    assert all(t >= 1 for t in result.t)
    assert result.levels == levels_from_counts(result.cluster_counts, n_points)


def _three_blobs(seed=0, per_blob=20):
    rng = np.random.default_rng(seed)
    centres = 5.0 * np.eye(10)[:3]
    X = np.concatenate([c + 0.3 * rng.normal(size=(per_blob, 10)) for c in centres])
    return X, np.repeat(np.arange(3), per_blob)


def test_three_blobs_end_to_end():
    X, truth = _three_blobs()
    # knn = 10 keeps each adaptive bandwidth inside its blob of 20; the reference 30 would
    # reach into the other blobs and collapse everything at iteration 0.
    result = condense_oracle(X, knn=10)
    _check_hierarchy(result, 60)
    three = [i for i in result.levels if result.cluster_counts[i] == 3]
    assert len(three) == 1
    # The 3-cluster level is exactly the blob partition (blob order = smallest member order).
    np.testing.assert_array_equal(result.labels[three[0]], truth)
    assert result.merge_threshold > 1e-7


def test_fixed_t_and_max_iterations():
    X, _ = _three_blobs(seed=1)
    result = condense_oracle(X, knn=10, t=2)
    _check_hierarchy(result, 60)
    assert result.n_iterations > 5
    assert set(result.t) == {2}
    capped = condense_oracle(X, knn=10, t=2, max_iterations=5)
    assert capped.n_iterations == 5
    np.testing.assert_array_equal(capped.labels, result.labels[:5])


def test_empty_input():
    result = condense_oracle(np.zeros((0, 4)))
    assert result.n_iterations == 0 and result.labels.shape == (0, 0)
    assert result.cluster_counts == [] and result.levels == [] and result.t == []
    assert np.isnan(result.merge_threshold)


def test_single_point():
    result = condense_oracle(np.array([[1.0, 2.0, 2.0]]))
    np.testing.assert_array_equal(result.labels, [[0]])
    assert result.cluster_counts == [1] and result.t == [1] and result.levels == []
    # eps of the one normalised point [1, 2, 2] / 3.
    assert result.eps == [pytest.approx(0.1 * np.std([1 / 3, 2 / 3, 2 / 3]), rel=1e-12)]
    assert np.isnan(result.merge_threshold)


def test_two_points_merge_at_once():
    # With one pair, the threshold is its distance plus 1e-7, so the pair merges.
    result = condense_oracle(np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_array_equal(result.labels, [[0, 0]])
    assert result.cluster_counts == [1] and result.levels == []


def test_identical_points_merge_at_once():
    result = condense_oracle(np.tile([0.5, -1.0, 2.0], (6, 1)))
    np.testing.assert_array_equal(result.labels, np.zeros((1, 6)))
    assert result.cluster_counts == [1]
    assert result.merge_threshold == pytest.approx(1e-7, abs=1e-15)


def test_duplicates_among_distinct_points():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    result = condense_oracle(X)
    _check_hierarchy(result, 5)
    assert result.labels[0][0] == result.labels[0][1] == result.labels[0][2]


@pytest.mark.parametrize("bad, message", [
    (dict(X=np.zeros(3)), "must be \\[N, C\\]"),
    (dict(X=np.array([[np.nan, 1.0]])), "finite"),
    (dict(X=np.ones((4, 2)), t=0), "t must be"),
    (dict(X=np.ones((4, 2)), scale=1.0), "scale"),
])
def test_invalid_arguments(bad, message):
    X = bad.pop("X")
    with pytest.raises(ValueError, match=message):
        condense_oracle(X, **bad)


# --- a retina crop -------------------------------------------------------------------------


def _retina_patches(name, size=24, patch=5):
    """Pixel-centred patch x patch x 3 patches of the centred size x size crop of a retina
    image, intensities in [-1, 1], edges replicated: float64 [size^2, 3 * patch^2], laid out
    (channel, row, column) like cuts_ext.extract_patches."""
    Image = pytest.importorskip("PIL.Image")
    image = np.asarray(Image.open(RETINA_IMAGES / name).convert("RGB"), dtype=np.float64)
    image = image / 255.0 * 2.0 - 1.0
    y0, x0 = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    crop = image[y0:y0 + size, x0:x0 + size]
    r = patch // 2
    padded = np.pad(crop, ((r, r), (r, r), (0, 0)), mode="edge")
    patches = np.empty((size, size, 3, patch, patch))
    for dy in range(patch):
        for dx in range(patch):
            patches[:, :, :, dy, dx] = padded[dy:dy + size, dx:dx + size]
    return patches.reshape(size * size, -1)


# Hierarchies of these crops were checked against a transcription of the authors' code
# (CATCH on graphtools 1.5.3): same iteration count, cluster counts, levels, ARI 1.0.
@pytest.mark.parametrize("name, n_iterations, levels", [
    ("10.png", 70, [10, 43]),
    ("1002.png", 117, [7, 13, 15, 17, 21, 25, 32, 46, 49, 60, 70, 76, 88]),
])
def test_retina_crop_hierarchy(name, n_iterations, levels):
    if not (RETINA_IMAGES / name).is_file():
        pytest.skip(f"retina data not found at {RETINA_IMAGES}")
    X = _retina_patches(name)
    result = condense_oracle(X, n_pca=None)
    _check_hierarchy(result, 576)
    assert result.n_iterations == n_iterations
    assert result.levels == levels
