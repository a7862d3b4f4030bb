"""The CUDA condensation engine (csrc/cuda/condense_cuda.cu) against the CPU engine.

The neighbour queries, k-th neighbour distances, pair distances and merges use only +, -, *, /
and sqrt with no FMA contraction, so on the same points they are the CPU's bit for bit. The
alpha-decay affinities use the device's exp / pow, which can differ from the host libm's in
the last bit; the kernel graph's structure is then equal and its values equal to a few ulps,
and everything downstream of a diffusion agrees to ~1e-15.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import cuts_ext
from cuts_ext import _C
from cuts_ext._arrays import FLOAT_DTYPES, as_operand
from support.images import smooth_images

pytestmark = pytest.mark.cuda

DECAY, THRESH = 40.0, 1e-4
VALUES_RTOL = 1e-13  # device exp / pow versus the host's: a few ulps at most
POINTS_ATOL = 1e-12


def _blobs(rng, n=240, c=5, centres=6, spread=0.15):
    centre = rng.standard_normal((centres, c)) * 2.0
    return centre[rng.integers(centres, size=n)] + spread * rng.standard_normal((n, c))


def _patches(rng, shape=(1, 1, 20, 22), size=3):
    """The pixel patches of a smooth random image, as the CUTS pipeline condenses them."""
    images = smooth_images(rng, shape, np.float64)
    return np.asarray(cuts_ext.extract_patches(images, size)).reshape(shape[2] * shape[3], -1)


def _engines(x, dtype=np.float64, stream=None):
    """(CPU engine, CUDA engine) on the same points; the CUDA one on `stream` if given."""
    import torch
    host = np.ascontiguousarray(x, dtype)
    cpu = _C.Condenser(as_operand(host, "X", FLOAT_DTYPES).descriptor, DECAY, THRESH, 0)
    device = torch.from_numpy(host).to("cuda")
    if stream is not None:
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            operand = as_operand(device, "X", FLOAT_DTYPES)
            gpu = _C.Condenser(operand.descriptor, DECAY, THRESH, operand.stream())
    else:
        operand = as_operand(device, "X", FLOAT_DTYPES)
        gpu = _C.Condenser(operand.descriptor, DECAY, THRESH, operand.stream())
    return cpu, gpu


def _assert_graphs_match(cpu, gpu, exact=False):
    row_ptr, cols, values = cpu.kernel_graph()
    g_row_ptr, g_cols, g_values = gpu.kernel_graph()
    assert g_row_ptr.dtype == np.int64 and g_cols.dtype == np.int64
    assert g_values.dtype == np.float64
    np.testing.assert_array_equal(g_row_ptr, row_ptr)
    np.testing.assert_array_equal(g_cols, cols)
    if exact:
        np.testing.assert_array_equal(g_values, values)
    else:
        np.testing.assert_allclose(g_values, values, rtol=VALUES_RTOL, atol=0)


def _assert_state_matches(cpu, gpu, atol=POINTS_ATOL):
    assert gpu.size() == cpu.size()
    assert gpu.dims() == cpu.dims()
    np.testing.assert_array_equal(gpu.labels(), cpu.labels())
    np.testing.assert_array_equal(gpu.weights(), cpu.weights())
    if atol == 0:
        np.testing.assert_array_equal(gpu.points(), cpu.points())
    else:
        np.testing.assert_allclose(gpu.points(), cpu.points(), rtol=0, atol=atol)


def _threshold(engine, fraction=0.05):
    """A merge distance that joins a few pairs: just above the smallest few pair distances."""
    m = engine.size()
    count = max(1, min(m * (m - 1) // 2, int(fraction * m)))
    distances = engine.smallest_pair_distances(count)
    return float(distances[-1]) + 1e-12 if len(distances) else float("nan")


# --- the engine step by step ----------------------------------------------------------------


@pytest.mark.parametrize("data", ["blobs", "patches"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_engine_steps_match_the_cpu(rng, data, dtype):
    x = _blobs(rng) if data == "blobs" else _patches(rng)
    cpu, gpu = _engines(x, dtype)
    _assert_state_matches(cpu, gpu, atol=0)

    cpu.adaptive_kernel(10)
    gpu.adaptive_kernel(10)
    _assert_graphs_match(cpu, gpu)
    block = rng.standard_normal((cpu.size(), 3))
    # The CPU computes this product in float32 (csrc/cpu/upper_graph.h), the GPU in float64.
    np.testing.assert_allclose(gpu.gram_product(block), cpu.gram_product(block), rtol=1e-5,
                               atol=1e-6)
    cpu.diffuse(4)
    gpu.diffuse(4)
    np.testing.assert_allclose(gpu.points(), cpu.points(), rtol=0, atol=POINTS_ATOL)

    m = cpu.size()
    count = min(m * (m - 1) // 2, 7)
    np.testing.assert_allclose(gpu.smallest_pair_distances(count),
                               cpu.smallest_pair_distances(count), rtol=0, atol=POINTS_ATOL)
    threshold = _threshold(cpu)
    assert gpu.merge(threshold) == cpu.merge(threshold)
    _assert_state_matches(cpu, gpu)
    with pytest.raises(ValueError, match="no kernel"):
        gpu.kernel_graph()

    points = cpu.points()
    eps = 0.1 * float(np.std(points)) * cpu.size() ** 0.2
    for _ in range(15):
        if cpu.size() == 1:
            break
        eps *= 1.3
        cpu.fixed_kernel(eps)
        gpu.fixed_kernel(eps)
        _assert_graphs_match(cpu, gpu)
        cpu.diffuse(3)
        gpu.diffuse(3)
        np.testing.assert_allclose(gpu.points(), cpu.points(), rtol=0, atol=POINTS_ATOL)
        assert gpu.merge(threshold) == cpu.merge(threshold)
        _assert_state_matches(cpu, gpu)
    assert cpu.size() < m


def test_queries_and_merges_are_bit_identical_before_diffusion(rng):
    # No exp / pow involved: k-th neighbours, pair distances, merged means are the CPU's exactly.
    x = _blobs(rng, n=300, c=4, spread=0.05)
    x[10] = x[3]  # a duplicate: distance 0
    cpu, gpu = _engines(x)
    for count in (1, 5, 150, 151, 1000, 300 * 299 // 2, 10**9):
        np.testing.assert_array_equal(gpu.smallest_pair_distances(count),
                                      cpu.smallest_pair_distances(count))
    threshold = float(cpu.smallest_pair_distances(40)[-1])  # strict: the 40th pair stays apart
    assert gpu.merge(threshold) == cpu.merge(threshold) < 300
    _assert_state_matches(cpu, gpu, atol=0)
    # The adaptive kernel's structure and bandwidths: the graph's columns are exact.
    cpu.adaptive_kernel(30)
    gpu.adaptive_kernel(30)
    _assert_graphs_match(cpu, gpu)


@pytest.mark.parametrize("c", [1, 2, 97, 7000])  # 7000 features: too wide for a shared tile
def test_feature_counts(rng, c):
    x = rng.standard_normal((150 if c < 7000 else 40, c))
    cpu, gpu = _engines(x)
    k = 5
    cpu.adaptive_kernel(k)
    gpu.adaptive_kernel(k)
    _assert_graphs_match(cpu, gpu)
    cpu.diffuse(2)
    gpu.diffuse(2)
    np.testing.assert_allclose(gpu.points(), cpu.points(), rtol=0, atol=POINTS_ATOL)


def test_runs_on_the_given_stream(rng):
    import torch
    x = _blobs(rng, n=200)
    stream = torch.cuda.Stream()
    cpu, gpu = _engines(x, stream=stream)
    with torch.cuda.stream(stream):
        for engine in (cpu, gpu):
            engine.adaptive_kernel(8)
            engine.diffuse(3)
    _assert_graphs_match(cpu, gpu)
    np.testing.assert_allclose(gpu.points(), cpu.points(), rtol=0, atol=POINTS_ATOL)


# --- edge cases -----------------------------------------------------------------------------


def test_single_point():
    cpu, gpu = _engines(np.array([[0.5, -1.0, 2.0]]))
    for engine in (cpu, gpu):
        engine.adaptive_kernel(1)  # no neighbour: infinite bandwidth, the self-loop only
    _assert_graphs_match(cpu, gpu, exact=True)
    row_ptr, cols, values = gpu.kernel_graph()
    assert row_ptr.tolist() == [0, 1] and cols.tolist() == [0] and values.tolist() == [1.0]
    gpu.diffuse(5)
    np.testing.assert_array_equal(gpu.points(), [[0.5, -1.0, 2.0]])
    assert gpu.smallest_pair_distances(3).shape == (0,)
    assert gpu.merge(float("nan")) == 1
    gpu.fixed_kernel(0.1)
    assert gpu.kernel_graph()[0].tolist() == [0, 1]
    assert gpu.labels().tolist() == [0]


def test_nan_threshold_merges_nothing(rng):
    cpu, gpu = _engines(_blobs(rng, n=50))
    assert gpu.merge(float("nan")) == cpu.merge(float("nan")) == 50
    assert gpu.merge(-1.0) == 50
    _assert_state_matches(cpu, gpu, atol=0)


def test_everything_merges_into_one(rng):
    cpu, gpu = _engines(_blobs(rng, n=80))
    assert gpu.merge(1e6) == cpu.merge(1e6) == 1
    _assert_state_matches(cpu, gpu, atol=0)
    assert gpu.weights().tolist() == [80.0]


def test_k_beyond_the_points_gives_infinite_bandwidths(rng):
    cpu, gpu = _engines(rng.standard_normal((6, 3)))
    for engine in (cpu, gpu):
        engine.adaptive_kernel(10)  # fewer than k others: every pair at affinity 1
    _assert_graphs_match(cpu, gpu, exact=True)
    assert gpu.kernel_graph()[1].size == 36
    block = rng.standard_normal((6, 4))
    # float32 on the CPU (csrc/cpu/upper_graph.h), float64 on the GPU.
    np.testing.assert_allclose(gpu.gram_product(block), cpu.gram_product(block), rtol=1e-5,
                               atol=1e-6)


def test_large_k_is_refused_on_cuda(rng):
    _, gpu = _engines(rng.standard_normal((300, 2)))
    with pytest.raises(ValueError, match="at most 256 neighbours"):
        gpu.adaptive_kernel(257)
    gpu.adaptive_kernel(256)
    assert gpu.kernel_graph()[0].size == 301


def test_steps_need_a_kernel(rng):
    _, gpu = _engines(rng.standard_normal((10, 2)))
    with pytest.raises(ValueError, match="no kernel"):
        gpu.kernel_graph()
    with pytest.raises(ValueError, match="needs a kernel"):
        gpu.diffuse(1)
    with pytest.raises(ValueError, match="needs a kernel"):
        gpu.gram_product(np.zeros((10, 2)))
    gpu.adaptive_kernel(3)
    with pytest.raises(ValueError, match="block"):
        gpu.gram_product(np.zeros((9, 2)))


# --- condense end to end --------------------------------------------------------------------


@pytest.fixture
def engine_devices(monkeypatch):
    """The device of every engine condense creates (descriptor field 3)."""
    module = importlib.import_module("cuts_ext.condensation.engine")
    real = module._C
    devices = []

    class Recorder:
        def __getattr__(self, name):
            return getattr(real, name)

        def Condenser(self, descriptor, *args):  # noqa: N802 (the binding's name)
            devices.append(descriptor[3])
            return real.Condenser(descriptor, *args)

    monkeypatch.setattr(module, "_C", Recorder())
    return devices


@pytest.mark.parametrize("data", ["blobs", "patches"])
def test_condense_of_cuda_input_matches_the_cpu(rng, data, engine_devices):
    import torch
    x = _blobs(rng, n=300, c=6) if data == "blobs" else _patches(rng, (1, 1, 24, 24))
    expected = cuts_ext.condense(x, n_pca=None)
    result = cuts_ext.condense(torch.from_numpy(x).to("cuda"), n_pca=None)
    assert engine_devices == ["cpu", "cuda"]  # the second run condensed on the GPU
    assert isinstance(result.hierarchy, torch.Tensor)
    assert result.hierarchy.device.type == "cuda"
    assert result.hierarchy.dtype == torch.int32
    np.testing.assert_array_equal(result.hierarchy.cpu().numpy(), expected.hierarchy)
    assert result.cluster_counts == expected.cluster_counts
    assert result.t == expected.t
    assert result.levels == expected.levels
    np.testing.assert_allclose(result.eps, expected.eps, rtol=1e-12)
    assert result.merge_threshold == pytest.approx(expected.merge_threshold, rel=1e-12)


def test_condense_of_float32_cuda_input(rng, engine_devices):
    import torch
    x = _blobs(rng, n=200, c=4).astype(np.float32)
    expected = cuts_ext.condense(x, n_pca=None, t=3)
    result = cuts_ext.condense(torch.from_numpy(x).to("cuda"), n_pca=None, t=3)
    assert engine_devices == ["cpu", "cuda"]
    np.testing.assert_array_equal(result.hierarchy.cpu().numpy(), expected.hierarchy)
    assert result.cluster_counts == expected.cluster_counts
