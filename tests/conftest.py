"""Shared fixtures and the CUDA skip rule. CUDA tests carry the `cuda` marker and are skipped, with the reason, where
no GPU can run them; with CUTS_EXPECT_GPU=1 (python/gpu_check.sh sets it) a missing GPU is a
failure instead, so a GPU run can never pass by skipping."""

import os

import numpy as np
import pytest

import cuts_ext


def _cuda_skip_reason():
    info = cuts_ext.build_info()
    if not info["cuda_usable"]:
        return f"no usable CUDA GPU: {info['cuda_unavailable_reason']}"
    try:
        import torch
    except ImportError:
        return "the CUDA tests need torch"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} cannot use the GPU"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _cuda_skip_reason()
    if reason is None:
        return
    if os.environ.get("CUTS_EXPECT_GPU") == "1":
        raise pytest.UsageError(f"CUTS_EXPECT_GPU=1 but {reason}")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def ieee_float32_on_gpus(request):
    """In `cuda` tests, float32 convolutions and matrix products on the GPU in IEEE float32.

    cuDNN's default on Ampere and later is TF32 (10 mantissa bits), whose outputs differ from
    the CPU's by about 1e-3 after the encoder's four convolutions: a precision choice, not a
    bug, which would fail the CPU-against-GPU comparisons at 1e-4. Restored afterwards.
    """
    if request.node.get_closest_marker("cuda") is None:
        yield
        return
    import torch
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
