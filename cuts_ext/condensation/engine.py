"""The boundary between condensation's Python layer and the compiled engine (`_C.Condenser`,
csrc/condense/condense.h): the input's float64 host copy, and an engine holding the points on
the device where it runs.

`condense` and the low-level `ops` both go through `new_engine`, so they check inputs and place
the points the same way.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import _C
from .._arrays import Operand, as_operand, real_host_array

# The kernel of the reference method (docs/method.md, "Kernels"): the alpha-decay affinity
# exp(-(d / b)^KERNEL_DECAY), with entries below KERNEL_THRESHOLD dropped.
KERNEL_DECAY = 40.0
KERNEL_THRESHOLD = 1e-4


def host_points(X: Any, operand: Optional[Operand] = None) -> tuple:
    """(operand, float64 [N, C] C-contiguous host copy of X), refusing what cannot become
    float64 exactly: ValueError for a rank other than 2, no feature column, a complex or unsafe
    integer dtype, or NaN / Inf. `operand`: X already wrapped by `as_operand`, if it was."""
    if operand is None:
        operand = as_operand(X, "X", None)  # convertibility is checked below
    value = operand.value
    if operand.library == "torch":
        import torch
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.float()
        value = value.cpu().numpy()
    elif operand.library == "cupy":
        value = value.get()
    if value.ndim != 2:
        raise ValueError(f"X must be [N, C], got shape {list(value.shape)}")
    if value.shape[0] > 0 and value.shape[1] == 0:
        raise ValueError("X must have at least one feature column, got shape "
                         f"{list(value.shape)}")
    if value.dtype.kind not in "fiub" or not np.can_cast(value.dtype, np.float64, "safe"):
        raise ValueError(f"X must hold real numbers that float64 represents exactly (float16, "
                         f"float32, float64, or integers), got {value.dtype}")
    if value.dtype.kind in "iu" and value.size and np.abs(value).max() > 2**53:
        raise ValueError(f"X holds {value.dtype} values beyond 2^53, which float64 cannot "
                         "represent exactly")
    points = np.ascontiguousarray(value, dtype=np.float64)
    if not np.isfinite(points).all():
        raise ValueError("X must be finite: found NaN or Inf")
    return operand, points


def check_weights(weights: Any, n: int) -> Optional[np.ndarray]:
    """float64 [N] copy of `weights`, or None; ValueError unless they are N finite real
    numbers > 0 (TypeError unless an array of numbers)."""
    if weights is None:
        return None
    values = real_host_array(weights, "weights")
    if values.shape != (n,):
        raise ValueError(f"weights must be [N] = [{n}], one value per point (row of X), got "
                         f"shape {list(values.shape)}")
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise ValueError("weights must be finite positive numbers (> 0)")
    return np.ascontiguousarray(values)


def adaptive_neighbours(knn: int, n: int) -> int:
    """The k of the adaptive kernel for `knn` asked and `n` points: min(knn, n - 2), at least 1,
    as the reference clamps it (so that a k-th other point exists)."""
    return max(1, min(knn, n - 2))


# Points whose largest magnitude lies outside [2^-_SAFE_EXPONENT, 2^_SAFE_EXPONENT] are scaled by
# a power of two before the engine sees them, so that squared distances neither overflow nor
# underflow; inside it they are left as they are.
_SAFE_EXPONENT = 200


def unit_exponent(points: np.ndarray) -> int:
    """0, or the exponent e of 2^e that brings the largest magnitude of `points` near 1 when it
    lies outside the safe range. Scaling by a power of two is exact, and every engine step is
    equivariant to it (distances and bandwidths scale together), so results for points
    divided by 2^e, times 2^e, equal the unscaled ones wherever those were finite."""
    largest = float(np.abs(points).max(initial=0.0))
    if largest == 0 or 2.0**-_SAFE_EXPONENT <= largest <= 2.0**_SAFE_EXPONENT:
        return 0
    return int(np.frexp(largest)[1])


def new_engine(points: Any, operand: Operand, on_cuda: bool, decay: float = KERNEL_DECAY,
               thresh: float = KERNEL_THRESHOLD) -> Any:
    """A `_C.Condenser` holding its own copy of `points` (float64 [M, C]: on the host, or a
    torch tensor prepared where X lives, device_preparation.py), on the CPU or, with `on_cuda`,
    on X's GPU (the current GPU for host input). RuntimeError where CUDA is asked for and no GPU
    can run."""
    source = _engine_points(points, operand, on_cuda)  # alive until the engine has copied it
    return _C.Condenser(source.descriptor, float(decay), float(thresh), source.stream())


def _engine_points(points: Any, operand: Operand, on_cuda: bool) -> Operand:
    """`points` where the engine runs: the host array, a tensor already there, or a copy on
    X's GPU."""
    if on_cuda:
        _C.require_cuda("X")
    if not isinstance(points, np.ndarray):
        return as_operand(points, "X", ("float64",))
    if not on_cuda:
        return Operand(points, "numpy", "cpu", 0)
    if operand.library == "cupy":
        import cupy
        with cupy.cuda.Device(operand.device_index):
            return Operand(cupy.asarray(points), "cupy", "cuda", operand.device_index)
    import torch
    index = operand.device_index if operand.device == "cuda" else torch.cuda.current_device()
    return Operand(torch.from_numpy(points).to(torch.device("cuda", index)), "torch", "cuda",
                   index)
