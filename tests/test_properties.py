"""Property-based tests (hypothesis) over the public functions: for any array (shape, dtype,
strides, byte order, magnitudes from subnormal to 1.8e308, NaN / Inf anywhere) and parameter,
each call returns a valid result or raises one of the documented exceptions with a message
(issue #14, family 5). Examples are few and small so the module runs in well under a minute."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cuts_ext
from cuts_ext import ops
from cuts_ext.condensation.coarsen import coarsen
from cuts_ext.segmentation.persistence import persistent_map

DOCUMENTED = (ValueError, TypeError, RuntimeError, MemoryError)
FAST = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(FAST, max_examples=6)

DTYPES = st.sampled_from([np.float64, np.float32, np.float16, np.int32, np.int64, np.uint8,
                          np.bool_, np.complex128, ">f8", "<f4"])
# Every float64 regime: zero, subnormal, tiny, ordinary, huge, the largest finite, NaN and Inf.
SPECIAL = st.sampled_from([0.0, -0.0, 5e-324, 1e-310, 1e-200, 1.0, -3.5, 1e155, 1e300,
                           1.7976931348623157e308, -1.7976931348623157e308, float("nan"),
                           float("inf"), float("-inf")])


def outcome(call):
    """The call's result, or None when it raised a documented exception (with a message)."""
    try:
        result = call()
    except DOCUMENTED as error:
        assert str(error), f"{type(error).__name__} without a message"
        event(f"refused: {type(error).__name__}")
        return None
    event("valid result")
    return result


# Base magnitudes of generated arrays, from subnormal to the largest finite float64.
MAGNITUDES = st.sampled_from([1.0, 1.0, 1.0, 1.0, 1e-310, 1e-200, 1e-20, 1e20, 1e155, 1e300,
                              1.7976931348623157e308])


@st.composite
def arrays(draw, shapes, dtypes=DTYPES):
    """An array of a drawn shape and dtype: uniform values of a drawn magnitude (cast as numpy
    casts), often with up to three special values (NaN, Inf, extremes) at drawn places, as a
    plain, reversed, strided or transposed view."""
    dtype = np.dtype(draw(dtypes))
    shape = draw(shapes)
    values = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).uniform(-1, 1, shape)
    values = values * draw(MAGNITUDES)
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 1, 3])) if values.size else 0):
        values.flat[draw(st.integers(0, values.size - 1))] = draw(SPECIAL)
    with np.errstate(all="ignore"):
        array = values.astype(dtype)
    view = draw(st.sampled_from(["plain", "reversed", "strided", "transposed"]))
    if view == "reversed" and array.ndim:
        array = array[..., ::-1]
    elif view == "strided" and array.ndim:
        array = np.repeat(array, 2, axis=-1)[..., ::2]
    elif view == "transposed" and array.ndim >= 2:
        array = np.ascontiguousarray(np.swapaxes(array, -1, -2)).swapaxes(-1, -2)
    return array


def any_shape(min_dims=0, max_dims=5, max_side=6):
    """Any shape of at most 400 elements (empty axes included)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0,
                            max_side=max_side).filter(lambda shape: np.prod(shape) <= 400)


def mostly(valid, wild):
    """`valid` three times in four, else `wild`."""
    return st.one_of(valid, valid, valid, wild)


def settings_with_one_fault(valid: dict, wild: dict):
    """Keyword arguments: all drawn from `valid` three times in four, else with one of them
    (drawn) replaced by a value from `wild` (out of range or of the wrong kind)."""
    good = st.fixed_dictionaries(valid)
    faulty = good.flatmap(lambda kwargs: st.sampled_from(sorted(wild)).flatmap(
        lambda name: wild[name].map(lambda value: {**kwargs, name: value})))
    return mostly(good, faulty)


WILD_COUNTS = st.sampled_from([0, -1, 2**31, 2**40 + 1, 2.5, True, "3", None])
WILD_REALS = st.sampled_from([float("nan"), float("inf"), -1.0, 1e300, "1.0", 1j, None])


def points():
    """Point sets: mostly [N, C] float, else any rank and dtype."""
    rows = st.tuples(st.integers(0, 12), st.integers(1, 4))
    return mostly(arrays(rows, st.sampled_from([np.float64, np.float32, ">f8", np.int32])),
                  arrays(any_shape(1, 3, 12), st.sampled_from([np.float64, np.int64,
                                                               np.complex128, np.bool_])))


def images(max_side=7):
    """Image batches: mostly [B, C, H, W] / [B, C, D, H, W] float, else any rank and dtype."""
    sides = st.integers(3, max_side)
    batches = st.one_of(st.tuples(st.integers(1, 2), st.integers(1, 2), sides, sides),
                        st.tuples(st.just(1), st.just(1), sides, sides, sides))
    return mostly(arrays(batches, st.sampled_from([np.float32, np.float64, ">f4"])),
                  arrays(any_shape(), DTYPES))


COUNTS = mostly(st.integers(1, 5), st.one_of(st.integers(-3, 0), st.sampled_from(
    [2**31, 2**40 + 1, 2.5, True, "3", None])))
REALS = mostly(st.floats(1e-3, 1e3), st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                               st.sampled_from(["1.0", 1j, None, -1])))


@FAST
@given(images(), mostly(st.sampled_from([1, 3, 5]), COUNTS))
def test_extract_patches(x, size):
    out = outcome(lambda: cuts_ext.extract_patches(x, size=size))
    if out is None:
        return
    B, C, *spatial = x.shape
    assert out.dtype == x.dtype and out.shape == (B, *spatial, C) + (size,) * len(spatial)
    if out.size:
        centre = out[(slice(None),) * (len(spatial) + 2) + (size // 2,) * len(spatial)]
        np.testing.assert_array_equal(np.moveaxis(centre, -1, 1), x)


@FAST
@given(images(), settings_with_one_fault(
    {"n_anchors": st.integers(1, 5), "radius": st.integers(1, 6), "attempts": st.integers(0, 4),
     "ssim_min": st.floats(-1, 1), "seed": st.integers(-2**70, 2**70)},
    {"n_anchors": WILD_COUNTS, "radius": WILD_COUNTS, "attempts": WILD_COUNTS,
     "ssim_min": WILD_REALS, "seed": st.sampled_from([1.5, "0", None])}))
def test_sample_pairs(x, kwargs):
    result = outcome(lambda: cuts_ext.sample_pairs(x, size=3, **kwargs))
    if result is None:
        return
    assert np.isfinite(x).all()
    anchors, positives = result
    spatial = np.array(x.shape[2:])
    for pairs in (anchors, positives):
        assert pairs.shape == (x.shape[0], kwargs["n_anchors"], len(spatial))
        assert pairs.dtype == np.int64 and ((pairs >= 0) & (pairs < spatial)).all()


@FAST
@given(points(), settings_with_one_fault(
    {"knn": st.integers(1, 12), "t": st.sampled_from(["auto", 1, 3]),
     "scale": st.floats(1.01, 2.0), "granularity": st.floats(0.1, 10.0),
     "n_pca": st.sampled_from([None, 1, 3])},
    {"knn": WILD_COUNTS, "t": st.sampled_from([0, 2.0, "fast", 10**6]),
     "scale": st.sampled_from([1.0, 1 + 1e-9, "x", float("nan")]), "granularity": WILD_REALS,
     "n_pca": WILD_COUNTS}))
def test_condense(X, kwargs):
    result = outcome(lambda: cuts_ext.condense(X, **kwargs))
    if result is None:
        return
    n = X.shape[0]
    assert result.hierarchy.shape == (result.n_iterations, n)
    if n:
        assert result.cluster_counts[-1] == 1
        assert all(0 <= level < result.n_iterations for level in result.levels)
        for row, count in zip(result.hierarchy, result.cluster_counts):
            assert sorted(set(row.tolist())) == list(range(count))


@FAST
@given(points(), mostly(st.integers(1, 12), COUNTS), REALS, st.integers(-1, 4))
def test_diffusion_step(X, knn, eps, t):
    use_knn = isinstance(knn, int) and not isinstance(knn, bool) and knn % 2 == 0
    kernel = {"knn": knn} if use_knn else {"eps": eps}
    out = outcome(lambda: ops.diffusion_step(X, t=t, **kernel))
    if out is None:
        return
    assert out.shape == X.shape and out.dtype == np.float64 and np.isfinite(out).all()
    if X.size:
        # P^t X is a convex combination of the rows: within each column's range.
        low, high = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
        margin = 1e-9 * np.maximum(np.abs(low), np.abs(high))
        assert ((out >= low - margin) & (out <= high + margin)).all()


@FAST
@given(points(), REALS, st.one_of(st.none(), arrays(st.tuples(st.integers(0, 12)),
                                                     st.sampled_from([np.float64, np.int32])),
                                  arrays(any_shape(1, 2, 10))))
def test_merge(X, threshold, weights):
    result = outcome(lambda: ops.merge(X, threshold, weights=weights))
    if result is None:
        return
    merged, group, summed = result
    assert np.isfinite(merged).all() and merged.shape[1:] == X.shape[1:]
    assert group.shape == (X.shape[0],) and set(group.tolist()) == set(range(merged.shape[0]))
    total = X.shape[0] if weights is None else np.asarray(weights, np.float64).sum()
    np.testing.assert_allclose(summed.sum(), total, rtol=1e-9)


@FAST
@given(mostly(arrays(st.tuples(st.just(16), st.integers(1, 3)),
                     st.sampled_from([np.float32, np.float64])),
              arrays(any_shape(1, 3, 8), DTYPES)),
       st.sampled_from([(4, 4), (4, 4), (2, 8), (16,), (2, 2, 4)]), COUNTS)
def test_coarsen(features, spatial_shape, max_points):
    result = outcome(lambda: coarsen(features, spatial_shape, max_points))
    if result is None:
        return
    assert result.labels.shape == tuple(spatial_shape)
    assert 1 <= result.count <= max_points and result.counts.sum() == np.prod(spatial_shape)


@FAST
@given(mostly(arrays(st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 6)),
                     st.sampled_from([np.int32, np.int64])).map(lambda a: np.abs(a) % 4),
              arrays(any_shape(1, 4, 6), st.sampled_from([np.int32, np.float64, np.uint8]))))
def test_persistent_map(label_maps):
    out = outcome(lambda: persistent_map(label_maps))
    if out is not None:
        assert out.shape == label_maps.shape[1:]


@pytest.fixture(scope="module")
def encoder():
    return cuts_ext.CUTSEncoder(1, num_kernels=1)


@SLOW
@given(images(max_side=12), st.one_of(st.none(), COUNTS))
def test_embed(encoder, x, tile):
    out = outcome(lambda: cuts_ext.embed(encoder, x, tile=tile))
    if out is None:
        return
    assert np.isfinite(x).all()
    assert out.z.shape == (x.shape[0], 8) + x.shape[2:] and np.isfinite(out.z).all()


@SLOW
@given(arrays(st.tuples(st.integers(1, 3), st.just(1), st.integers(5, 8), st.integers(5, 8)),
              st.sampled_from([np.float32, np.float64])),
       st.sampled_from([1e-3, 1e-3, 1e12, 0.0, float("nan"), "1"]))
def test_train(x, lr):
    result = outcome(lambda: cuts_ext.train(x, epochs=1, batch_size=2, num_kernels=1, lr=lr,
                                            progress=False, crop=5))
    if result is None:
        return
    assert all(bool(torch.isfinite(p).all()) for p in result.model.parameters())


@SLOW
@given(st.binary(max_size=64))
def test_load_encoder(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("checkpoints") / "encoder.pt"
    path.write_bytes(content)
    assert outcome(lambda: cuts_ext.load_encoder(path)) is None


@FAST
@given(st.data())
def test_metrics(data):
    shape = data.draw(any_shape(1, 3, 6))
    prediction = data.draw(arrays(st.just(shape), st.sampled_from([np.bool_, np.uint8,
                                                                   np.float64])))
    reference = data.draw(mostly(arrays(st.just(shape), st.sampled_from([np.bool_, np.int32])),
                                 arrays(any_shape(1, 3, 6), st.just(np.bool_))))
    score = outcome(lambda: cuts_ext.metrics.dice(prediction, reference))
    distance = outcome(lambda: cuts_ext.metrics.hausdorff_distance(prediction, reference))
    if score is not None:
        assert 0.0 <= score <= 1.0
    if distance is not None:
        assert distance >= 0.0 and np.isfinite(distance)
