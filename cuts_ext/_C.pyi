"""Type stub of cuts_ext._C, the compiled core (csrc/bindings/module.cpp): C++/OpenMP and CUDA
kernels. Generated with pybind11-stubgen, then given argument names (the bindings leave them
positional) and the array descriptor type.

Arrays cross as descriptors that cuts_ext/_arrays.py builds, (data pointer, shape, dtype name,
"cpu" or "cuda", device index); outputs are allocated by the Python layer and passed in.
`stream` is a CUDA stream handle as an integer (0: the default stream).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy
import numpy.typing

#: (data pointer, shape, dtype: "float32" | "float64" | "int32" | "int64" | "uint8",
#: device: "cpu" | "cuda", device index)
ArrayDescriptor = tuple[int, Sequence[int], str, str, int]

class Condenser:
    """The condensation engine over M points [M, C] (csrc/condense/engine.h), CPU or CUDA."""

    def __init__(self, points: ArrayDescriptor, decay: float, thresh: float, stream: int,
                 /) -> None: ...
    def size(self) -> int: ...
    def dims(self) -> int: ...
    def set_weights(self, weights: Sequence[float], /) -> None: ...
    def adaptive_kernel(self, k: int, /) -> None: ...
    def fixed_kernel(self, eps: float, /) -> None: ...
    def diffuse(self, t: int, /) -> None: ...
    def merge(self, threshold: float, /) -> int: ...
    def smallest_pair_distances(self, count: int, /) -> numpy.typing.NDArray[numpy.float64]: ...
    def kernel_graph(self) -> tuple[numpy.typing.NDArray[numpy.int64],
                                    numpy.typing.NDArray[numpy.int64],
                                    numpy.typing.NDArray[numpy.float64]]: ...
    def spectrum_blocks(self, exact_limit: int) -> dict[str, Any]: ...
    def gram_product(self, v: numpy.typing.ArrayLike, /) -> numpy.typing.NDArray[numpy.float64]: ...
    def lanczos(self, probes: numpy.typing.ArrayLike, steps: int) -> tuple[
        numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]: ...
    def transfers(self) -> dict[str, int]: ...
    def labels(self) -> numpy.typing.NDArray[numpy.int32]: ...
    def points(self) -> numpy.typing.NDArray[numpy.float64]: ...
    def weights(self) -> numpy.typing.NDArray[numpy.float64]: ...

__version__: str

def build_info() -> dict[str, Any]:
    """What was compiled in and what is usable now (see cuts_ext.build_info)."""

def require_cuda(argument: str, /) -> None:
    """Raises RuntimeError naming `argument` unless a CUDA GPU can run kernels now."""

def extract_patches_shape(images: ArrayDescriptor, size: int,
                          centers: Optional[ArrayDescriptor], /) -> list[int]: ...
def extract_patches(images: ArrayDescriptor, size: int, centers: Optional[ArrayDescriptor],
                    out: ArrayDescriptor, stream: int, /) -> None: ...
def sample_pairs_shape(images: ArrayDescriptor, n_anchors: int, size: int, radius: int,
                       attempts: int, ssim_min: float, data_range: float, seed: int,
                       /) -> list[int]: ...
def sample_pairs(images: ArrayDescriptor, n_anchors: int, size: int, radius: int, attempts: int,
                 ssim_min: float, data_range: float, seed: int, anchors: ArrayDescriptor,
                 positives: ArrayDescriptor, stream: int, /) -> None: ...
def coarsen(features: ArrayDescriptor, spatial_shape: Sequence[int],
            foreground: Optional[ArrayDescriptor], max_points: int, compactness: float,
            iterations: int, labels: ArrayDescriptor, stream: int,
            /) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float64]]: ...

# Test and profiling hooks.
def _patch_ssim(images: ArrayDescriptor, size: int, data_range: float,
                pairs: ArrayDescriptor, /) -> list[float]:
    """Test hook: the sampler's SSIM of listed patch pairs (CPU only)."""

def _nvtx_push(name: str, /) -> None:
    """Opens an NVTX range (a no-op without CUDA); close it with _nvtx_pop."""

def _nvtx_pop() -> None: ...
