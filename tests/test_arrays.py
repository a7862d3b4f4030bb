"""The array boundary: which inputs are accepted, when data is copied, where output lives."""

import numpy as np
import pytest
import torch

import cuts_ext
from cuts_ext._arrays import as_operand
from support.reference import reference_patches


def test_contiguous_numpy_and_torch_inputs_are_not_copied():
    a = np.zeros((2, 3, 8, 8), np.float32)
    assert as_operand(a, "images", ("float32",)).descriptor[0] == a.ctypes.data
    t = torch.zeros((2, 3, 8, 8), dtype=torch.float64)
    assert as_operand(t, "images", ("float64",)).descriptor[0] == t.data_ptr()
    g = torch.zeros((2, 3, 8, 8), requires_grad=True)
    assert as_operand(g, "images", ("float32",)).descriptor[0] == g.data_ptr()


def test_output_lives_where_input_lives(rng):
    a = rng.random((1, 2, 6, 6)).astype(np.float32)
    assert isinstance(cuts_ext.extract_patches(a, size=3), np.ndarray)
    assert isinstance(cuts_ext.extract_patches(torch.from_numpy(a), size=3), torch.Tensor)
    assert isinstance(cuts_ext.extract_patches(a.tolist(), size=3), np.ndarray)  # float64 lists


class DLPackOnly:
    """An array that offers only the DLPack protocol (as jax or a C library might)."""

    def __init__(self, array):
        self._array = array

    def __dlpack__(self, **kwargs):
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


def test_dlpack_object_is_read_without_copy(rng):
    a = rng.random((2, 1, 7, 7))
    out = cuts_ext.extract_patches(DLPackOnly(a), size=3)
    np.testing.assert_array_equal(out, reference_patches(a, 3))
    assert as_operand(DLPackOnly(a), "images", ("float64",)).descriptor[0] == a.ctypes.data


def test_big_endian_and_readonly_inputs(rng):
    a = rng.random((1, 2, 6, 5))
    big = a.astype(">f8")
    big.setflags(write=False)
    np.testing.assert_array_equal(cuts_ext.extract_patches(big, size=3), reference_patches(a, 3))


class FakeCudaArray:
    """Advertises CUDA memory through __cuda_array_interface__, as a cupy or numba array does."""

    __cuda_array_interface__ = {"shape": (1, 3, 8, 8), "typestr": "<f4", "data": (0, False),
                                "version": 3, "strides": None}


@pytest.mark.skipif(cuts_ext.build_info()["cuda_usable"], reason="needs a machine with no usable GPU")
@pytest.mark.parametrize("call", [lambda x: cuts_ext.extract_patches(x), lambda x: cuts_ext.sample_pairs(x)])
def test_cuda_input_without_a_usable_gpu_is_a_clear_runtime_error(call):
    with pytest.raises(RuntimeError) as raised:
        call(FakeCudaArray())
    message = str(raised.value)
    assert "images" in message and "CUDA" in message
    assert cuts_ext.build_info()["cuda_unavailable_reason"] in message


def test_unsupported_torch_device_is_refused():
    with pytest.raises(ValueError, match="images is on torch device meta"):
        cuts_ext.extract_patches(torch.zeros((1, 1, 5, 5), device="meta"))
