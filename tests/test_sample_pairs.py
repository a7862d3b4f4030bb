"""sample_pairs against a plain Python reference with scikit-image's SSIM, on CPU and CUDA."""

import random

import numpy as np
import pytest
import torch

import cuts_ext
from support.devices import ACCELERATORS, FLOAT_DTYPES
from support.images import smooth_images
from support.reference import reference_pairs, skimage_patch_ssim


def _ssim_hook(images, size, data_range, rows):
    """The kernels' own SSIM (csrc/pairs/ssim.h) of listed pairs, through the test hook."""
    from cuts_ext import _C
    from cuts_ext._arrays import as_operand
    # Descriptors do not own memory: keep both operands alive across the call.
    source = as_operand(images, "images", ("float32", "float64"))
    pairs = as_operand(np.asarray(rows, np.int64), "pairs", ("int64",))
    return np.array(_C._patch_ssim(source.descriptor, size, data_range, pairs.descriptor))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape,size", [((2, 3, 20, 24), 5), ((1, 1, 9, 10, 11), 3),
                                        ((1, 2, 12, 12, 12), 5), ((3, 3, 16, 16), 7)])
def test_ssim_equals_scikit_image(rng, shape, size, dtype):
    images = smooth_images(rng, shape, dtype)
    r = size // 2
    rows = []
    for _ in range(40):
        b = rng.integers(shape[0])
        a = [rng.integers(r, n - r) for n in shape[2:]]
        c = [rng.integers(r, n - r) for n in shape[2:]]
        rows.append([b] + a + c)
    rows.append(rows[0][:1] + rows[0][1:1 + len(shape) - 2] * 2)  # a patch against itself
    ours = _ssim_hook(images, size, 2.0, rows)
    nd = len(shape) - 2
    theirs = [skimage_patch_ssim(images[row[0]], row[1:1 + nd], row[1 + nd:], size, 2.0)
              for row in rows]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert ours[-1] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape,kwargs", [
    ((3, 3, 32, 28), dict(n_anchors=8, size=5, radius=5, attempts=10, ssim_min=0.5, seed=7)),
    ((2, 1, 12, 14, 13), dict(n_anchors=5, size=3, radius=3, attempts=6, ssim_min=0.3, seed=3)),
    ((2, 2, 24, 24), dict(n_anchors=6, size=5, radius=2, attempts=4, ssim_min=0.9, seed=11)),
])
def test_pairs_equal_the_plain_reference(rng, shape, kwargs, dtype):
    images = smooth_images(rng, shape, dtype)
    anchors, positives = cuts_ext.sample_pairs(images, **kwargs)
    expected_anchors, expected_positives = reference_pairs(images, **kwargs)
    np.testing.assert_array_equal(anchors, expected_anchors)
    np.testing.assert_array_equal(positives, expected_positives)


@pytest.mark.parametrize("shape", [(4, 3, 40, 36), (2, 1, 15, 16, 17)])
def test_coordinates_are_valid(rng, shape):
    images = smooth_images(rng, shape)
    size, radius = 5, 5
    anchors, positives = cuts_ext.sample_pairs(images, n_anchors=16, size=size, radius=radius, seed=5)
    nd = len(shape) - 2
    assert anchors.shape == positives.shape == (shape[0], 16, nd)
    assert anchors.dtype == positives.dtype == np.int64
    extents = np.array(shape[2:])
    for coords in (anchors, positives):  # the whole patch inside the image
        assert (coords >= size // 2).all() and (coords < extents - size // 2).all()
    offset = positives - anchors  # candidates in [a - radius, a + radius), fallback +-1
    assert (offset >= -radius).all() and (offset < radius).all()
    assert (np.abs(offset).sum(-1) > 0).any()


def test_no_candidate_above_threshold_takes_the_neighbour_toward_the_centre(rng):
    images = smooth_images(rng, (2, 3, 30, 31))
    anchors, positives = cuts_ext.sample_pairs(images, n_anchors=32, ssim_min=1.0, seed=2)
    expected = np.where(anchors > np.array([30, 31]) // 2, anchors - 1, anchors + 1)
    np.testing.assert_array_equal(positives, expected)
    no_attempts = cuts_ext.sample_pairs(images, n_anchors=32, attempts=0, seed=2)
    np.testing.assert_array_equal(no_attempts[1], expected)


def test_chosen_positive_beats_the_threshold(rng):
    images = smooth_images(rng, (2, 3, 30, 30))
    anchors, positives = cuts_ext.sample_pairs(images, n_anchors=32, ssim_min=0.5, seed=9)
    for b in range(2):
        for a, p in zip(anchors[b], positives[b]):
            neighbour = np.where(a > 15, a - 1, a + 1)
            if not np.array_equal(p, neighbour):
                assert skimage_patch_ssim(images[b], a, p, 5, 2.0) > 0.5


def test_same_seed_same_pairs_whatever_the_global_random_state(rng):
    images = smooth_images(rng, (4, 3, 32, 32))
    first = cuts_ext.sample_pairs(images, seed=42)
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    second = cuts_ext.sample_pairs(images, seed=42)
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    other = cuts_ext.sample_pairs(images, seed=43)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(cuts_ext.sample_pairs(images, seed=-1)[0], first[0])


def test_torch_input_gives_torch_output(rng):
    x = torch.from_numpy(smooth_images(rng, (2, 3, 16, 16)))
    anchors, positives = cuts_ext.sample_pairs(x, seed=1)
    assert isinstance(anchors, torch.Tensor) and anchors.dtype == torch.int64
    np.testing.assert_array_equal(anchors.numpy(), cuts_ext.sample_pairs(x.numpy(), seed=1)[0])


def test_batch_of_zero():
    anchors, positives = cuts_ext.sample_pairs(np.zeros((0, 3, 16, 16), np.float32), n_anchors=4)
    assert anchors.shape == positives.shape == (0, 4, 2)


def _image(shape=(1, 3, 16, 16), dtype=np.float32, fill=None):
    image = np.zeros(shape, dtype)
    if fill is not None:
        image[0, 0, 3, 4] = fill
    return image


@pytest.mark.parametrize("images,kwargs,error,words", [
    (_image(fill=np.nan), {}, ValueError, ["images", "finite"]),
    (_image(fill=np.inf), {}, ValueError, ["images", "finite"]),
    (_image(dtype=np.float64, fill=-np.inf), {}, ValueError, ["images", "finite"]),
    (_image((3, 16, 16)), {}, ValueError, ["images", "rank 4 or 5"]),
    (_image(dtype=np.int32), {}, ValueError, ["images", "float32 or float64"]),
    (_image((1, 0, 16, 16)), {}, ValueError, ["images", "at least one channel"]),
    (_image(), dict(size=4), ValueError, ["size", "odd"]),
    (_image(), dict(size=1), ValueError, ["size", ">= 3"]),
    (_image(), dict(size=-5), ValueError, ["size"]),
    (_image((1, 3, 16, 4)), dict(size=5), ValueError, ["size", "larger than the image"]),
    (_image(), dict(n_anchors=0), ValueError, ["n_anchors"]),
    (_image(), dict(radius=0), ValueError, ["radius"]),
    (_image(), dict(attempts=-1), ValueError, ["attempts"]),
    (_image(), dict(ssim_min=1.5), ValueError, ["ssim_min"]),
    (_image(), dict(ssim_min=float("nan")), ValueError, ["ssim_min"]),
    (_image(), dict(data_range=0.0), ValueError, ["data_range"]),
    (_image(), dict(n_anchors=2.5), TypeError, ["n_anchors", "integer"]),
    (_image(), dict(seed="x"), TypeError, ["seed", "integer"]),
])
def test_bad_input_raises_naming_the_argument(images, kwargs, error, words):
    with pytest.raises(error) as raised:
        cuts_ext.sample_pairs(images, **kwargs)
    for word in words:
        assert word in str(raised.value)


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape", [(16, 3, 128, 128), (2, 1, 24, 20, 22)])
def test_accelerator_equals_cpu(device, rng, shape, dtype):
    x = torch.from_numpy(smooth_images(rng, shape, dtype))
    on_gpu = cuts_ext.sample_pairs(x.to(device), n_anchors=8, seed=123)
    on_cpu = cuts_ext.sample_pairs(x, n_anchors=8, seed=123)
    for g, c in zip(on_gpu, on_cpu):
        assert g.device.type == torch.device(device).type
        torch.testing.assert_close(g.cpu(), c, rtol=0, atol=0)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_accelerator_non_finite_is_a_value_error(device):
    x = torch.zeros((2, 3, 16, 16), device=device)
    x[1, 2, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        cuts_ext.sample_pairs(x)
