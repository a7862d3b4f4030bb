"""The validation layer: every public entry point refuses a bad argument before any work, with
a documented exception type whose message names the argument (issue #14, family 1)."""

import numpy as np
import pytest
import scipy.sparse
import torch

import cuts_ext
from cuts_ext import ops
from cuts_ext._checks import choice, integer, level_index, real
from cuts_ext.condensation.coarsen import coarsen

X = np.random.default_rng(3).standard_normal((40, 4))
IMAGES = np.random.default_rng(4).uniform(-1, 1, (2, 1, 16, 16)).astype(np.float32)


@pytest.mark.parametrize("value,kwargs,error,words", [
    (3, {}, None, []),
    (np.int64(3), {}, None, []),
    (True, {}, TypeError, ["n", "bool"]),
    (4.9, {}, TypeError, ["n", "float"]),
    (4.0, {}, TypeError, ["n", "float"]),
    ("4", {}, TypeError, ["n", "str"]),
    (None, {}, TypeError, ["n", "NoneType"]),
    (0, {"minimum": 1}, ValueError, ["n", ">= 1", "0"]),
    (11, {"minimum": 1, "maximum": 10}, ValueError, ["n", "[1, 10]", "11"]),
])
def test_integer(value, kwargs, error, words):
    if error is None:
        assert integer(value, "n", **kwargs) == 3
        return
    with pytest.raises(error) as raised:
        integer(value, "n", **kwargs)
    assert all(word in str(raised.value) for word in words)


@pytest.mark.parametrize("value,kwargs,error,words", [
    ("1.0", {}, TypeError, ["x", "real number", "str"]),
    (1j, {}, TypeError, ["x", "complex"]),
    (False, {}, TypeError, ["x", "bool"]),
    (None, {}, TypeError, ["x", "NoneType"]),
    (float("nan"), {}, ValueError, ["x", "finite"]),
    (float("-inf"), {}, ValueError, ["x", "finite"]),
    (0.0, {"minimum": 0, "above": True}, ValueError, ["x", "> 0"]),
    (1.0, {"minimum": 0, "maximum": 1, "below": True}, ValueError, ["x", "[0, 1)"]),
])
def test_real_refuses(value, kwargs, error, words):
    with pytest.raises(error) as raised:
        real(value, "x", **kwargs)
    assert all(word in str(raised.value) for word in words)


def test_real_choice_and_level_accept_what_is_valid():
    assert real(np.float32(0.5), "x", minimum=0, maximum=1) == 0.5
    assert real(2, "x") == 2.0 and isinstance(real(2, "x"), float)
    assert choice("full", "step", ("full", "windows")) == "full"
    with pytest.raises(ValueError, match="step must be one of 'full', 'windows'"):
        choice(1, "step", ("full", "windows"))
    assert level_index(-1, 3) == -1 and level_index(2, 3) == 2


@pytest.mark.parametrize("x,error,words", [
    (None, TypeError, ["X", "NoneType"]),
    ("abc", TypeError, ["X", "str"]),
    ({"a": 1}, TypeError, ["X", "dict"]),
    (object(), TypeError, ["X", "object"]),
    (np.float64(3), ValueError, ["X", "[N, C]", "[]"]),
    (3.0, ValueError, ["X", "[N, C]", "[]"]),
    ([[1.0, 2.0], [3.0]], ValueError, ["X", "ragged"]),
    (np.array([["a", "b"]]), TypeError, ["X", "numbers"]),
    (np.zeros((3, 2), object), TypeError, ["X", "numbers"]),
    (np.zeros(5), ValueError, ["X", "[N, C]", "[5]"]),
    # Dense conversion would give a 0-d object array (scipy), fail inside torch, or keep the
    # values under a mask: refused by name instead.
    (scipy.sparse.csr_matrix(X), TypeError, ["X", "sparse", "toarray"]),
    (torch.from_numpy(X).to_sparse(), TypeError, ["X", "sparse", "to_dense"]),
    (np.ma.masked_greater(X, 1.0), TypeError, ["X", "masked"]),
])
def test_condense_and_ops_refuse_what_is_not_a_point_array(x, error, words):
    for call in (cuts_ext.condense, lambda v: ops.diffusion_step(v, knn=3),
                 lambda v: ops.merge(v, 0.1)):
        with pytest.raises(error) as raised:
            call(x)
        assert all(word in str(raised.value) for word in words), str(raised.value)


def test_point_arrays_of_any_layout_are_taken():
    reference = cuts_ext.condense(X).hierarchy
    np.testing.assert_array_equal(cuts_ext.condense(X.tolist()).hierarchy, reference)
    np.testing.assert_array_equal(cuts_ext.condense(X.astype(">f8")).hierarchy, reference)
    np.testing.assert_array_equal(cuts_ext.condense(np.asfortranarray(X)).hierarchy, reference)
    np.testing.assert_array_equal(cuts_ext.condense(np.ma.masked_array(X)).hierarchy, reference)
    reversed_view = X[::-1]
    np.testing.assert_array_equal(cuts_ext.condense(reversed_view).hierarchy,
                                  cuts_ext.condense(reversed_view.copy()).hierarchy)


@pytest.mark.parametrize("kwargs,error,words", [
    (dict(knn=True), TypeError, ["knn", "bool"]),
    (dict(knn=4.9), TypeError, ["knn", "float"]),
    (dict(t=1.7), TypeError, ["t", "float"]),
    (dict(t=True), TypeError, ["t", "bool"]),
    (dict(t=1001), ValueError, ["t", "1000"]),
    (dict(t_max=10**6), ValueError, ["t_max", "1000"]),
    (dict(t_max=2.0), TypeError, ["t_max"]),
    (dict(n_pca=2.5), TypeError, ["n_pca"]),
    (dict(scale="1.1"), TypeError, ["scale", "str"]),
    (dict(scale=float("inf")), ValueError, ["scale", "finite"]),
    (dict(decay=1j), TypeError, ["decay"]),
    (dict(thresh=1.0), ValueError, ["thresh", "(0, 1)"]),
    (dict(granularity=None), TypeError, ["granularity"]),
    (dict(seed=1.5), TypeError, ["seed"]),
    (dict(max_iterations=2.0), TypeError, ["max_iterations"]),
    (dict(exact_spectrum_limit="10"), TypeError, ["exact_spectrum_limit"]),
    (dict(device="gpu"), ValueError, ["device", "'gpu'"]),
    (dict(weights=[[1.0] * 40]), ValueError, ["weights", "[40]"]),
    (dict(weights="heavy"), TypeError, ["weights", "str"]),
    (dict(position_weight="0.5", spatial_shape=(5, 8)), TypeError, ["position_weight", "str"]),
    (dict(channel_weight=None, channels=X[:, 0]), TypeError, ["channel_weight", "NoneType"]),
    (dict(position_weight=-1.0, spatial_shape=(5, 8)), ValueError, ["position_weight", ">= 0"]),
])
def test_condense_parameters(kwargs, error, words):
    with pytest.raises(error) as raised:
        cuts_ext.condense(X, **kwargs)
    assert all(word in str(raised.value) for word in words), str(raised.value)


@pytest.mark.parametrize("call,error,words", [
    (lambda: ops.diffusion_step(X, knn=True), TypeError, ["knn", "bool"]),
    (lambda: ops.diffusion_step(X, knn=4.9), TypeError, ["knn"]),
    (lambda: ops.diffusion_step(X, knn=0), ValueError, ["knn", ">= 1"]),
    (lambda: ops.diffusion_step(X, eps="1.0"), TypeError, ["eps", "str"]),
    (lambda: ops.diffusion_step(X, eps=float("nan")), ValueError, ["eps", "finite"]),
    (lambda: ops.diffusion_step(X, eps=1.0, t=1.7), TypeError, ["t", "float"]),
    (lambda: ops.diffusion_step(X, eps=1.0, t=10**6), ValueError, ["t", "1000"]),
    (lambda: ops.diffusion_step(X, eps=1.0, decay=0), ValueError, ["decay", "> 0"]),
    (lambda: ops.diffusion_step(X, eps=1.0, thresh="x"), TypeError, ["thresh"]),
    (lambda: ops.diffusion_step(X, eps=1.0, weights=np.ones((40, 1))), ValueError,
     ["weights", "[40]"]),
    (lambda: ops.merge(X, "0.1"), TypeError, ["threshold", "str"]),
    (lambda: ops.merge(X, float("inf")), ValueError, ["threshold", "finite"]),
    (lambda: ops.merge(X, 0.1, weights=np.ones((2, 20))), ValueError, ["weights", "[40]"]),
    (lambda: ops.merge(X, 0.1, weights=np.ones(40, np.complex128)), ValueError,
     ["weights", "real"]),
    (lambda: ops.merge(X, 0.1, weights=[1.0] * 39 + [np.nan]), ValueError, ["weights"]),
    (lambda: ops.merge(X.astype(np.complex128), 0.1), ValueError, ["X", "complex128"]),
])
def test_ops_parameters(call, error, words):
    with pytest.raises(error) as raised:
        call()
    assert all(word in str(raised.value) for word in words), str(raised.value)


@pytest.mark.parametrize("knn", [39, 40, 10**6])
def test_ops_clamp_knn_as_condense_does(knn):
    np.testing.assert_array_equal(ops.diffusion_step(X, knn=knn), ops.diffusion_step(X, knn=38))


def test_result_accessors_name_the_level():
    result = cuts_ext.condense(X)
    count = len(result.levels)
    assert count >= 1
    np.testing.assert_array_equal(result.labels(-count), result.labels(0))
    for level in (count, -count - 1, 99):
        for call in (result.labels, result.centroids,
                     lambda level: result.label_map((40,), level)):
            with pytest.raises(ValueError, match=f"level must be in -{count}..{count - 1}"):
                call(level)
    with pytest.raises(TypeError, match="level must be an integer"):
        result.labels(1.5)
    with pytest.raises(TypeError, match="shape"):
        result.label_map(40)
    with pytest.raises(ValueError, match="does not hold 40 points"):
        result.label_map((5, 7))
    with pytest.raises(ValueError, match="shape must be sizes >= 0"):  # numpy's -1 rule is not
        result.label_map((-20, -2))                                     # this API's


@pytest.mark.parametrize("kwargs,error,words", [
    (dict(min_area_fraction=2), ValueError, ["min_area_fraction", "[0.0, 1.0]"]),
    (dict(min_area_fraction=-0.1), ValueError, ["min_area_fraction"]),
    (dict(min_area_fraction="1%"), TypeError, ["min_area_fraction", "str"]),
    (dict(min_persistence=0), ValueError, ["min_persistence", ">= 1"]),
    (dict(min_persistence=1.5), TypeError, ["min_persistence", "float"]),
])
def test_persistent_map_parameters(kwargs, error, words):
    maps = np.zeros((2, 4, 4), np.int32)
    with pytest.raises(error) as raised:
        cuts_ext.persistent_map(maps, **kwargs)
    assert all(word in str(raised.value) for word in words), str(raised.value)


@pytest.mark.parametrize("label_maps", [None, "maps", [["a", "b"]]])
def test_persistent_map_refuses_what_is_not_an_array_of_numbers(label_maps):
    with pytest.raises(TypeError, match="label_maps must be an integer array"):
        cuts_ext.persistent_map(label_maps)


@pytest.mark.parametrize("prediction,reference,error", [
    (None, None, TypeError),
    ("abc", "abc", TypeError),
    (np.ones((2, 2)), 1, TypeError),
    (np.array([[0.0, np.nan]]), np.ones((1, 2)), ValueError),
])
def test_metrics_refuse_what_is_not_a_mask(prediction, reference, error):
    # Before, dice(None, None) was 1.0 and hausdorff_distance(None, None) 0.0: silent answers.
    for metric in (cuts_ext.metrics.dice, cuts_ext.metrics.hausdorff_distance):
        with pytest.raises(error, match="prediction|reference"):
            metric(prediction, reference)


def test_auto_level_names_what_it_needs():
    with pytest.raises(TypeError, match="MultiscaleSegmentation.*ndarray.*label_maps"):
        cuts_ext.auto_level(np.zeros((2, 4, 4), np.int32))


@pytest.mark.parametrize("kwargs,error,words", [
    (dict(size=2**40 + 1), ValueError, ["size", "2147483647"]),
    (dict(size=True), TypeError, ["size", "bool"]),
    (dict(size=np.float32(3)), TypeError, ["size"]),
    (dict(centers=[[[1, 2]], [[3]]]), ValueError, ["centers", "ragged"]),
    (dict(centers="corner"), TypeError, ["centers"]),
])
def test_extract_patches_parameters(kwargs, error, words):
    with pytest.raises(error) as raised:
        cuts_ext.extract_patches(IMAGES, **{"size": 3, **kwargs})
    assert all(word in str(raised.value) for word in words), str(raised.value)


def test_extract_patches_refuses_a_tensor_that_requires_grad():
    images = torch.from_numpy(IMAGES).requires_grad_()
    with pytest.raises(ValueError, match="requires grad.*detach"):
        cuts_ext.extract_patches(images, 3)
    detached = cuts_ext.extract_patches(images.detach(), 3)
    np.testing.assert_array_equal(detached.numpy(), cuts_ext.extract_patches(IMAGES, 3))


@pytest.mark.parametrize("kwargs,error,words", [
    (dict(size=2**40 + 1), ValueError, ["size"]),
    (dict(radius=2**31), ValueError, ["radius"]),
    (dict(attempts=2.0), TypeError, ["attempts"]),
    (dict(ssim_min="0.5"), TypeError, ["ssim_min"]),
    (dict(data_range=-1.0), ValueError, ["data_range", "> 0"]),
    (dict(n_anchors=True), TypeError, ["n_anchors"]),
])
def test_sample_pairs_parameters(kwargs, error, words):
    with pytest.raises(error) as raised:
        cuts_ext.sample_pairs(IMAGES, **kwargs)
    assert all(word in str(raised.value) for word in words), str(raised.value)


@pytest.mark.parametrize("images", [None, "image.png.not", [[1.0, 2.0], [3.0]]])
def test_kernels_refuse_what_is_not_an_image_array(images):
    for call in (lambda: cuts_ext.extract_patches(images, 3),
                 lambda: cuts_ext.sample_pairs(images)):
        with pytest.raises((TypeError, ValueError), match="images"):
            call()


TINY = dict(epochs=1, batch_size=2, num_kernels=1, progress=False, crop=16)


@pytest.mark.parametrize("kwargs,error,words", [
    (dict(epochs=2.0), TypeError, ["epochs", "float"]),
    (dict(batch_size=True), TypeError, ["batch_size", "bool"]),
    (dict(crop=2.5), TypeError, ["crop", "float"]),
    (dict(crop=(16, 2.5)), TypeError, ["crop"]),
    (dict(lr="1e-3"), TypeError, ["lr", "str"]),
    (dict(num_kernels=0), ValueError, ["num_kernels", ">= 1"]),
    (dict(warmup_epochs=-1), ValueError, ["warmup_epochs"]),
    (dict(step=1), ValueError, ["step"]),
    (dict(device="gpu"), ValueError, ["device", "'gpu'"]),
    (dict(device="meta"), ValueError, ["device", "meta"]),
])
def test_train_settings(kwargs, error, words):
    with pytest.raises(error) as raised:
        cuts_ext.train(IMAGES, **{**TINY, **kwargs})
    assert all(word in str(raised.value) for word in words), str(raised.value)


@pytest.mark.parametrize("images", [None, 42])
def test_train_and_segment_refuse_what_is_not_images(images):
    with pytest.raises(TypeError, match="images must be"):
        cuts_ext.train(images, **TINY)
    with pytest.raises(TypeError, match="images must be"):
        cuts_ext.segment(images, progress=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal where torch has no GPU")
def test_cuda_where_torch_has_no_gpu_is_a_runtime_error(tmp_path):
    with pytest.raises(RuntimeError, match="device='cuda' asks for CUDA"):
        cuts_ext.train(IMAGES, **TINY, device="cuda")
    with pytest.raises(RuntimeError, match="device='cuda:0' asks for CUDA"):
        cuts_ext.segment(IMAGES, device="cuda:0", progress=False)


def test_train_and_embed_take_reversed_and_strided_views():
    reversed_view = IMAGES[::-1, :, ::-1]
    result = cuts_ext.train(reversed_view, **TINY)
    np.testing.assert_array_equal(
        cuts_ext.embed(result.model, reversed_view).z,
        cuts_ext.embed(result.model, reversed_view.copy()).z)
    strided = np.repeat(IMAGES, 2, axis=3)[..., ::2]
    assert cuts_ext.embed(result.model, strided).z.shape == (2, 8, 16, 16)
    with pytest.raises(ValueError, match="images.*ragged"):
        cuts_ext.embed(result.model, [[[[1.0]]], [[[1.0, 2.0]]]])


@pytest.mark.parametrize("kwargs,error,words", [
    (dict(seed=0.5), TypeError, ["seed"]),
    (dict(max_points=1.5), TypeError, ["max_points"]),
    (dict(condense_options={"knn": 4.9}), TypeError, ["knn"]),
    (dict(condense_options={"scale": 0.5}), ValueError, ["scale", "> 1"]),
    (dict(condense_options={"neighbours": 4}), TypeError, ["condense_options", "neighbours"]),
    (dict(condense_options=[("knn", 4)]), TypeError, ["condense_options", "dict"]),
    (dict(device="gpu"), ValueError, ["device", "'gpu'"]),
])
def test_segment_checks_everything_before_training(kwargs, error, words, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("segment started training before checking its arguments")
    monkeypatch.setattr("cuts_ext.encoder.training.train", no_training)
    with pytest.raises(error) as raised:
        cuts_ext.segment(IMAGES, progress=False, **kwargs)
    assert all(word in str(raised.value) for word in words), str(raised.value)


def test_segment_refuses_train_options_beside_a_model():
    # With a model nothing is trained: the options would be silently ignored.
    model = cuts_ext.CUTSEncoder(1, dims=2, seed=0)
    with pytest.raises(ValueError, match=r"train_options \(epochs\).*model gives one"):
        cuts_ext.segment(IMAGES, model, train_options={"epochs": 3}, progress=False)
    (result,) = cuts_ext.segment(IMAGES[:1], model, train_options={}, progress=False)
    assert result.segmentation.label_maps.shape[1:] == (16, 16)


@pytest.mark.parametrize("shape, train_options, words", [
    ((1, 1, 4, 12), None, ["image000", "[4, 12]", "patch size (5)"]),
    ((1, 1, 6, 6), {"patch_size": 7}, ["image000", "[6, 6]", "patch size (7)"]),
])
def test_segment_refuses_to_train_on_an_image_under_the_patch(shape, train_options, words,
                                                              monkeypatch):
    """Named before any training starts (training samples whole patches inside the image)."""
    def no_training(*args, **kwargs):
        raise AssertionError("segment started training on an image under the patch size")
    monkeypatch.setattr("cuts_ext.encoder.training.train", no_training)
    with pytest.raises(cuts_ext.io.InputError) as raised:
        cuts_ext.segment(np.zeros(shape, np.float32), train_options=train_options,
                         progress=False)
    assert all(word in str(raised.value) for word in words), str(raised.value)


def test_multiscale_segmentation_checks_its_shape():
    result = cuts_ext.condense(X)
    for shape, error in (((5, 8.0), TypeError), (40, TypeError), ((5, 7), ValueError),
                         ((4, -10), ValueError), ((40,), ValueError), ((1, 5, 8, 1), ValueError)):
        with pytest.raises(error, match="spatial_shape|does not label"):
            cuts_ext.MultiscaleSegmentation.from_condensation(result, shape)
    segmentation = cuts_ext.MultiscaleSegmentation.from_condensation(result, (5, 8))
    assert segmentation.label_maps.shape == (len(result.levels), 5, 8)
    with pytest.raises(TypeError, match="CondensationResult.*NoneType"):
        cuts_ext.MultiscaleSegmentation.from_condensation(None, (5, 8))


@pytest.mark.parametrize("bad,error", [([2.5, "x"], TypeError), ("34", TypeError), (12, TypeError),
                                       ([], ValueError), ([3, -4], ValueError)])
def test_every_entry_point_reads_a_shape_by_one_rule(bad, error):
    # condense, coarsen, label_map and from_condensation once parsed shapes in four ways.
    X = _two_blobs(12)
    result = cuts_ext.condense(X, n_pca=None)
    assert result.levels
    calls = [lambda: cuts_ext.condense(X, position_weight=1.0, spatial_shape=bad),
             lambda: coarsen(X, bad, max_points=4),
             lambda: result.label_map(bad),
             lambda: cuts_ext.MultiscaleSegmentation.from_condensation(result, bad)]
    for call in calls:
        with pytest.raises(error, match="shape"):
            call()


@pytest.mark.parametrize("name", ["channels", "weights", "positions"])
def test_per_point_arrays_take_booleans_as_numbers_and_refuse_complex_ones(name):
    X = _two_blobs(12)
    extra = {"channels": dict(channel_weight=1.0), "positions": dict(position_weight=1.0),
             "weights": {}}[name]
    shape = (12, 2) if name == "positions" else (12,)
    # weights must be > 0, so theirs are all True
    flags = np.random.default_rng(1).random(shape) > (0.5 if name != "weights" else -1)
    reference = cuts_ext.condense(X, n_pca=None, **{name: flags.astype(np.float64)}, **extra)
    result = cuts_ext.condense(X, n_pca=None, **{name: flags}, **extra)
    np.testing.assert_array_equal(result.hierarchy, reference.hierarchy)
    with pytest.raises(ValueError, match=f"{name} must be real numbers"):
        cuts_ext.condense(X, n_pca=None, **{name: flags.astype(np.complex128)}, **extra)


def _two_blobs(n):
    """float64 [n, 2]: two tight groups of points far apart (condensation merges each)."""
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(0, 0.05, (n // 2, 2)), rng.normal(3, 0.05, (n - n // 2, 2))])
