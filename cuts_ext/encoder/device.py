"""The torch device of the encoder's entry points (train, load_encoder, segment), checked before
any work: a name torch does not know, a device type cuts_ext does not run on, and CUDA where
torch or the build cannot use a GPU are refused here, naming the argument."""

from __future__ import annotations

from typing import Any, Optional

import torch

from ..info import build_info


def torch_device(device: Any, name: str = "device") -> Optional[torch.device]:
    """`device` as a torch.device, or None for None (the caller's default).

    Raises:
        ValueError: not a device torch knows, or not a CPU or CUDA one (e.g. "gpu").
        RuntimeError: a CUDA device where torch has no usable GPU (a CPU-only build of torch,
            no driver) or the index is beyond the GPUs present.
    """
    if device is None:
        return None
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{name} must be 'cpu', 'cuda', 'cuda:N' or a torch.device, got "
                         f"{device!r}") from None
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"{name} must be a CPU or CUDA device, got {device!r} (type "
                         f"{resolved.type!r}); cuts_ext runs on cpu and cuda")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"{name}={device!r} asks for CUDA, but torch {torch.__version__} "
                               "cannot use a GPU here (a CPU-only torch build, or no GPU / "
                               "driver); use cpu instead")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise RuntimeError(f"{name}={device!r}: there are only {torch.cuda.device_count()} "
                               "CUDA devices")
    return resolved


def default_device() -> torch.device:
    """CUDA when both cuts_ext's kernels and torch can use it, else the CPU."""
    if torch.cuda.is_available() and build_info()["cuda_usable"]:
        return torch.device("cuda")
    return torch.device("cpu")
