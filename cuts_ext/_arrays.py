"""The array boundary between Python and the compiled core.

Public functions accept numpy arrays, torch tensors (CPU or CUDA), cupy arrays, and any object
exposing ``__dlpack__`` or ``__cuda_array_interface__``. Each argument becomes an `Operand`: the
data in its own library (numpy, torch or cupy), C-contiguous and of an accepted dtype, with no
copy when it already was. The compiled core receives only a descriptor (data pointer, shape,
dtype, device) and writes into outputs that `Operand.empty` allocates with the same library on
the same device, so output lives where input lives.
"""

from __future__ import annotations

import functools
import numbers
import sys
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from . import _C

FLOAT_DTYPES = ("float32", "float64")
INDEX_DTYPES = ("int32", "int64")


@dataclass(frozen=True)
class Operand:
    """One array argument, ready for the compiled core.

    Attributes:
        value: the C-contiguous array in its library (numpy.ndarray, torch.Tensor, cupy.ndarray).
        library: "numpy", "torch" or "cupy".
        device: "cpu" or "cuda".
        device_index: the CUDA device ordinal (0 on the CPU).
    """

    value: Any
    library: str
    device: str
    device_index: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.value.shape)

    @property
    def dtype(self) -> str:
        return _dtype_name(self.value)

    @functools.cached_property
    def descriptor(self) -> tuple:
        """(data_pointer, shape, dtype, device, device_index), as csrc/bindings expects.

        The descriptor does not own the memory: keep this operand alive until the call returns.
        """
        return (_data_pointer(self.value, self.library), list(self.value.shape), self.dtype,
                self.device, self.device_index)

    def stream(self) -> int:
        """The caller's current CUDA stream (0 on the CPU): kernels are ordered on it."""
        if self.device != "cuda":
            return 0
        if self.library == "torch":
            import torch
            return int(torch.cuda.current_stream(self.device_index).cuda_stream)
        import cupy
        with cupy.cuda.Device(self.device_index):
            return int(cupy.cuda.get_current_stream().ptr)

    def empty(self, shape: Sequence[int], dtype: str) -> "Operand":
        """A new uninitialised array of `shape` and `dtype` with this operand's library and device.

        Raises:
            MemoryError: the device cannot hold it (torch's and cupy's own out-of-memory errors
                are re-raised as MemoryError with the size that was asked for).
        """
        shape = tuple(int(s) for s in shape)
        try:
            value = self._allocate(shape, dtype)
        except MemoryError:
            raise
        except Exception as error:
            if "OutOfMemory" not in type(error).__name__:
                raise
            size = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
            raise MemoryError(f"out of memory on {self.device}:{self.device_index}: could not "
                              f"allocate {size:,} bytes for an output of shape {list(shape)}"
                              ) from error
        return Operand(value, self.library, self.device, self.device_index)

    def _allocate(self, shape: tuple[int, ...], dtype: str) -> Any:
        if self.library == "numpy":
            return np.empty(shape, dtype=dtype)
        if self.library == "torch":
            import torch
            device = torch.device(self.device, self.device_index) if self.device == "cuda" else "cpu"
            return torch.empty(shape, dtype=getattr(torch, dtype), device=device)
        import cupy
        with cupy.cuda.Device(self.device_index):
            return cupy.empty(shape, dtype=dtype)

    def astype(self, dtype: str) -> "Operand":
        """This operand converted to `dtype` (itself when it already has it)."""
        if self.dtype == dtype:
            return self
        if self.library == "torch":
            import torch
            value = self.value.to(getattr(torch, dtype))
        else:
            value = self.value.astype(dtype)
        return Operand(value, self.library, self.device, self.device_index)


def as_operand(x: Any, name: str, dtypes: Optional[Sequence[str]]) -> Operand:
    """Wraps `x` as an `Operand`, copying only to make it C-contiguous or native-endian.

    Raises:
        TypeError: `x` is not an array (None, a string, ...) or holds no numbers.
        ValueError: the dtype is not one of `dtypes` (None accepts any; the message names
            `name`), or `x` is a ragged nested sequence.
        RuntimeError: `x` lives on a CUDA device but no CUDA GPU can run cuts_ext kernels here.
    """
    operand = _wrap(x, name)
    if dtypes is not None and operand.dtype not in dtypes:
        raise ValueError(f"{name} must be {' or '.join(dtypes)}, got {operand.dtype}")
    return operand


def host_array(x: Any, name: str) -> np.ndarray:
    """A host numpy array of a numpy array, torch tensor or cupy array (copied to the host),
    nested sequence, scalar or ``__array__`` / ``__dlpack__`` object: native-endian and
    C-contiguous (strided or reversed views are copied), so that torch and the kernels can take
    it as it is.

    Raises:
        TypeError: `x` is not array-like, holds no numbers (strings, objects), is sparse (scipy
            or torch), or is a numpy masked array with masked entries (converting would
            silently keep the values under the mask).
        ValueError: `x` is a ragged nested sequence.
    """
    _refuse_sparse_or_masked(x, name)
    if hasattr(x, "detach") or (hasattr(x, "get") and hasattr(x, "__cuda_array_interface__")):
        x = to_numpy(x)
    if isinstance(x, np.ndarray):
        array = x
    elif hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__") \
            and not hasattr(x, "__array__"):
        array = np.from_dlpack(x)
    else:
        if x is None or isinstance(x, (str, bytes, dict, set)) or not (
                hasattr(x, "__array__") or hasattr(x, "__array_interface__")
                or isinstance(x, (list, tuple, numbers.Number))):
            raise TypeError(f"{name} must be an array (numpy, torch, cupy, or a nested list of "
                            f"numbers), got {type(x).__name__}")
        try:
            array = np.asarray(x)
        except ValueError as error:
            raise ValueError(f"{name} is ragged (its nested sequences differ in length): "
                             f"{error}") from None
    if array.dtype.kind not in "biufc":
        raise TypeError(f"{name} must hold numbers, got an array of dtype {array.dtype}")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def real_host_array(x: Any, name: str) -> np.ndarray:
    """float64 C-contiguous host copy of `x` (any input of `host_array`): ValueError unless it
    holds real numbers (booleans count as 0 and 1, as in X; complex numbers do not)."""
    array = host_array(x, name)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be real numbers, got {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.float64)


def _refuse_sparse_or_masked(x: Any, name: str) -> None:
    """TypeError for inputs whose conversion to a dense array would be wrong or useless:
    sparse matrices and tensors (numpy turns a scipy matrix into a 0-d object array) and masked
    arrays with masked entries."""
    layout = getattr(x, "layout", None)
    if (hasattr(x, "toarray") and hasattr(x, "nnz")) or (layout is not None and
                                                         "sparse" in str(layout)):
        raise TypeError(f"{name} is a sparse {type(x).__name__}; pass a dense array "
                        "(.toarray() for scipy, .to_dense() for torch)")
    if isinstance(x, np.ma.MaskedArray) and np.ma.getmaskarray(x).any():
        raise TypeError(f"{name} is a masked array with masked entries; fill them "
                        "(x.filled(value)) or drop them before passing it")


def to_numpy(x: Any) -> np.ndarray:
    """A host numpy view or copy of a numpy / torch / cupy array or a sequence."""
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    if hasattr(x, "get") and not isinstance(x, np.ndarray):
        return x.get()
    return np.asarray(x)


def like_operand(array: np.ndarray, operand: Operand) -> Any:
    """A host result `array` in the library and on the device of the input `operand` (numpy in,
    numpy out; torch or cupy on a GPU in, the same out)."""
    if operand.library == "torch":
        import torch
        return torch.from_numpy(array).to(operand.value.device)
    if operand.library == "cupy":
        import cupy
        return cupy.asarray(array)
    return array


def _wrap(x: Any, name: str) -> Operand:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return _from_torch(x, name)
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(x, cupy.ndarray):
        return _from_cupy(x, name)
    if hasattr(x, "__cuda_array_interface__"):
        return _from_cuda_object(x, name)
    if hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__"):
        device_type, _ = x.__dlpack_device__()
        if int(device_type) in (2, 3, 13):  # kDLCUDA, kDLCUDAHost, kDLCUDAManaged
            return _from_cuda_object(x, name)
    return Operand(host_array(x, name), "numpy", "cpu", 0)


def _from_torch(t: Any, name: str) -> Operand:
    _refuse_sparse_or_masked(t, name)  # the other inputs meet it in host_array
    t = t.detach()
    if t.device.type == "cuda":
        _C.require_cuda(name)
        return Operand(t.contiguous(), "torch", "cuda", t.device.index or 0)
    if t.device.type != "cpu":
        raise ValueError(f"{name} is on torch device {t.device}; cuts_ext runs on cpu and cuda")
    return Operand(t.contiguous(), "torch", "cpu", 0)


def _from_cupy(a: Any, name: str) -> Operand:
    import cupy
    _C.require_cuda(name)
    return Operand(cupy.ascontiguousarray(a), "cupy", "cuda", a.device.id)


def _from_cuda_object(x: Any, name: str) -> Operand:
    """A foreign CUDA array: viewed through torch (or cupy) without a copy."""
    _C.require_cuda(name)
    torch = _import_optional("torch")
    if torch is not None and torch.cuda.is_available():
        t = torch.from_dlpack(x) if hasattr(x, "__dlpack__") else torch.as_tensor(x, device="cuda")
        return _from_torch(t, name)
    cupy = _import_optional("cupy")
    if cupy is not None:
        return _from_cupy(cupy.from_dlpack(x) if hasattr(x, "__dlpack__") else cupy.asarray(x), name)
    raise RuntimeError(f"{name} is a CUDA array of type {type(x).__name__}; cuts_ext needs a "
                       "CUDA build of torch or cupy installed to hold its CUDA results")


def _import_optional(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        return None


_DTYPE_NAMES: dict = {}  # numpy / torch / cupy dtype -> "float32", ...; dtype.name is slow


def _dtype_name(value: Any) -> str:
    dtype = value.dtype
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = dtype.name if isinstance(dtype, np.dtype) else str(dtype).rsplit(".", 1)[-1]
        _DTYPE_NAMES[dtype] = name
    return name


def _data_pointer(value: Any, library: str) -> int:
    if library == "torch":
        return int(value.data_ptr())
    if library == "cupy":
        return int(value.data.ptr)
    return int(value.ctypes.data)
