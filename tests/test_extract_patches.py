"""extract_patches against the plain NumPy reference (and torch unfold), on CPU and CUDA."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cuts_ext
from support.devices import ACCELERATORS, FLOAT_DTYPES
from support.images import smooth_images
from support.reference import reference_patches, reference_patches_at



@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape,size", [((2, 3, 9, 7), 5), ((1, 1, 5, 5), 5), ((3, 2, 6, 11), 3),
                                        ((1, 4, 8, 8), 1), ((2, 3, 12, 10), 7)])
def test_2d_equals_reference_everywhere(rng, shape, size, dtype):
    images = smooth_images(rng, shape, dtype)
    out = cuts_ext.extract_patches(images, size=size)
    assert out.dtype == dtype and out.shape == shape[:1] + shape[2:] + shape[1:2] + (size, size)
    np.testing.assert_array_equal(out, reference_patches(images, size))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape,size", [((2, 2, 5, 6, 7), 3), ((1, 1, 5, 5, 5), 5),
                                        ((1, 3, 7, 6, 9), 5)])
def test_3d_equals_reference_everywhere(rng, shape, size, dtype):
    images = smooth_images(rng, shape, dtype)
    out = cuts_ext.extract_patches(images, size=size)
    assert out.shape == shape[:1] + shape[2:] + shape[1:2] + (size,) * 3
    np.testing.assert_array_equal(out, reference_patches(images, size))


def test_2d_equals_torch_unfold_of_replicate_padding(rng):
    x = torch.from_numpy(smooth_images(rng, (4, 3, 16, 13)))
    out = cuts_ext.extract_patches(x, size=5)
    assert isinstance(out, torch.Tensor)
    unfolded = F.unfold(F.pad(x, (2, 2, 2, 2), mode="replicate"), kernel_size=5)
    torch.testing.assert_close(out.reshape(4, 16 * 13, 75), unfolded.transpose(1, 2),
                               rtol=0, atol=0)


def test_corner_and_border_patches_replicate_the_edge():
    image = np.arange(20, dtype=np.float32).reshape(1, 1, 4, 5)
    out = cuts_ext.extract_patches(image, size=3)
    # Top-left corner: rows -1, 0, 1 and columns -1, 0, 1 read rows/columns 0, 0, 1.
    np.testing.assert_array_equal(out[0, 0, 0, 0], [[0, 0, 1], [0, 0, 1], [5, 5, 6]])
    # Bottom-right corner.
    np.testing.assert_array_equal(out[0, 3, 4, 0], [[13, 14, 14], [18, 19, 19], [18, 19, 19]])
    # Middle of the right border.
    np.testing.assert_array_equal(out[0, 1, 4, 0], [[3, 4, 4], [8, 9, 9], [13, 14, 14]])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
def test_given_centres_equal_reference(rng, ndim, dtype, index_dtype):
    spatial = (9, 8) if ndim == 2 else (6, 7, 5)
    images = smooth_images(rng, (3, 2) + spatial, dtype)
    centers = np.stack([rng.integers(0, n, size=(3, 6)) for n in spatial], axis=-1)
    centers[0, 0] = 0  # a corner
    centers[1, 0] = np.array(spatial) - 1  # the opposite corner
    out = cuts_ext.extract_patches(images, size=5, centers=centers.astype(index_dtype))
    assert out.shape == (3, 6, 2) + (5,) * ndim
    np.testing.assert_array_equal(out, reference_patches_at(images, 5, centers))


def test_centres_agree_with_the_patch_of_every_pixel(rng):
    images = smooth_images(rng, (2, 3, 10, 10))
    everywhere = cuts_ext.extract_patches(images, size=5)
    centers = np.array([[[0, 9], [4, 4]], [[9, 0], [7, 2]]])
    at = cuts_ext.extract_patches(images, size=5, centers=centers)
    for b in range(2):
        for s in range(2):
            np.testing.assert_array_equal(at[b, s], everywhere[b, centers[b, s, 0], centers[b, s, 1]])


def test_non_contiguous_numpy_input(rng):
    base = smooth_images(rng, (2, 3, 20, 18))
    for view in (base[:, :, ::2, ::3], base[:, ::-1], np.swapaxes(base, 2, 3)):
        assert not view.flags.c_contiguous
        np.testing.assert_array_equal(cuts_ext.extract_patches(view, size=3),
                                      reference_patches(np.ascontiguousarray(view), 3))


def test_channels_last_torch_input(rng):
    x = torch.from_numpy(smooth_images(rng, (2, 3, 11, 9)))
    channels_last = x.to(memory_format=torch.channels_last)
    assert not channels_last.is_contiguous()
    np.testing.assert_array_equal(cuts_ext.extract_patches(channels_last, size=5).numpy(),
                                  reference_patches(x.numpy(), 5))


def test_batch_of_zero():
    out = cuts_ext.extract_patches(np.zeros((0, 3, 8, 8), np.float32), size=5)
    assert out.shape == (0, 8, 8, 3, 5, 5)
    empty_centres = np.zeros((2, 0, 2), np.int64)
    out = cuts_ext.extract_patches(np.zeros((2, 3, 8, 8)), size=3, centers=empty_centres)
    assert out.shape == (2, 0, 3, 3, 3)


@pytest.mark.parametrize("images,size,centers,error,words", [
    (np.zeros((3, 8, 8), np.float32), 5, None, ValueError, ["images", "rank 4 or 5"]),
    (np.zeros((1, 1, 1, 3, 8, 8), np.float32), 5, None, ValueError, ["images", "rank"]),
    (np.zeros((1, 3, 8, 8), np.float32), 4, None, ValueError, ["size", "odd"]),
    (np.zeros((1, 3, 8, 8), np.float32), 0, None, ValueError, ["size"]),
    (np.zeros((1, 3, 8, 8), np.float32), -3, None, ValueError, ["size"]),
    (np.zeros((1, 3, 8, 4), np.float32), 5, None, ValueError, ["size", "larger than the image"]),
    (np.zeros((1, 1, 3, 8, 8), np.float32), 5, None, ValueError, ["larger than the image"]),
    (np.zeros((1, 3, 8, 8), np.int64), 5, None, ValueError, ["images", "float32 or float64"]),
    (np.zeros((1, 3, 8, 8), np.uint8), 5, None, ValueError, ["images", "float32 or float64"]),
    (np.zeros((1, 3, 8, 8), np.float16), 5, None, ValueError, ["images", "float32 or float64"]),
    (np.zeros((1, 3, 8, 8), np.float32), 5.0, None, TypeError, ["size", "integer"]),
    (np.zeros((1, 3, 8, 8), np.float32), 5, np.zeros((1, 2), np.int64), ValueError, ["centers", "rank 3"]),
    (np.zeros((1, 3, 8, 8), np.float32), 5, np.zeros((2, 4, 2), np.int64), ValueError, ["centers", "B = 1"]),
    (np.zeros((1, 3, 8, 8), np.float32), 5, np.zeros((1, 4, 3), np.int64), ValueError, ["centers", "[B, S, 2]"]),
    (np.zeros((1, 3, 8, 8), np.float32), 5, np.zeros((1, 4, 2), np.float32), ValueError, ["centers", "int32 or int64"]),
    (np.zeros((1, 3, 8, 8), np.float32), 5, np.array([[[3, 8]]]), ValueError, ["centers[0, 0]", "outside"]),
    (np.zeros((1, 3, 8, 8), np.float32), 5, np.array([[[-1, 2]]]), ValueError, ["centers[0, 0]", "outside"]),
])
def test_bad_input_raises_naming_the_argument(images, size, centers, error, words):
    with pytest.raises(error) as raised:
        cuts_ext.extract_patches(images, size=size, centers=centers)
    for word in words:
        assert word in str(raised.value)


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("shape,size", [((3, 3, 33, 29), 5), ((1, 2, 9, 10, 11), 3)])
def test_accelerator_equals_cpu(device, rng, shape, size, dtype):
    x = torch.from_numpy(smooth_images(rng, shape, dtype))
    gpu = cuts_ext.extract_patches(x.to(device), size=size)
    assert gpu.device.type == torch.device(device).type and gpu.dtype == x.dtype
    torch.testing.assert_close(gpu.cpu(), cuts_ext.extract_patches(x, size=size), rtol=0, atol=0)
    nd = len(shape) - 2
    centers = torch.stack([torch.randint(0, n, (shape[0], 7)) for n in shape[2:]], dim=-1)
    at_gpu = cuts_ext.extract_patches(x.to(device), size=size, centers=centers.to(device))
    torch.testing.assert_close(at_gpu.cpu(), cuts_ext.extract_patches(x, size=size, centers=centers),
                               rtol=0, atol=0)
    assert at_gpu.shape == (shape[0], 7, shape[1]) + (size,) * nd


@pytest.mark.parametrize("device", ACCELERATORS)
def test_accelerator_errors_are_exceptions_and_leave_the_gpu_usable(device):
    x = torch.zeros((1, 3, 16, 16), device=device)
    with pytest.raises(ValueError, match="outside"):
        cuts_ext.extract_patches(x, size=3, centers=torch.tensor([[[0, 99]]], device=device))
    with pytest.raises(ValueError, match="same device"):
        cuts_ext.extract_patches(x, size=3, centers=np.zeros((1, 1, 2), np.int64))
    huge = torch.zeros((1, 3, 8192, 8192), device=device)
    with pytest.raises(MemoryError, match="out"):
        cuts_ext.extract_patches(huge, size=41)  # 3 * 41^2 * 8192^2 * 4 bytes: about 1.3 TB
    del huge
    assert cuts_ext.extract_patches(x, size=3).shape == (1, 16, 16, 3, 3, 3)
