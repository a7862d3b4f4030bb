"""What this installation of cuts_ext can do."""

from __future__ import annotations

from typing import Any

from . import _C


def build_info() -> dict[str, Any]:
    """What was compiled in, and what is usable on this machine now.

    Returns:
        A dict with
        ``version`` (str); ``cuda_compiled`` (bool: CUDA kernels are in this build);
        ``cuda_version`` (str or None: the nvcc that built them); ``cuda_architectures``
        (list of str, e.g. ["80-real", "90"]: SASS for sm_80 and sm_90 plus compute_90 PTX);
        ``cuda_usable`` (bool: a GPU can run them now); ``cuda_device_count`` (int);
        ``cuda_unavailable_reason`` (str, empty when usable); ``openmp`` (bool);
        ``openmp_max_threads`` (int: threads the CPU kernels use).
    """
    info = dict(_C.build_info())
    archs = info["cuda_architectures"]
    info["cuda_architectures"] = archs.split(",") if archs else []
    info["cuda_usable"] = info["cuda_device_count"] > 0
    return info
