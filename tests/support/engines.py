"""Engines on the CPU and on an accelerator over the same points, and the comparisons the
engine tests make between them.

The neighbour queries, k-th neighbour distances, pair distances and merges use only +, -, *, /
and sqrt with no FMA contraction, so on the same points a GPU engine gives the CPU's results bit
for bit. The alpha-decay affinities use the device's exp / pow, which can differ from the host
libm's in the last bit; the kernel graph's structure is then equal and its values equal to a few
ulps, and everything downstream of a diffusion agrees to ~1e-15.
"""

import numpy as np

import cuts_ext
from cuts_ext import _C
from cuts_ext._arrays import FLOAT_DTYPES, as_operand
from support.images import smooth_images

DECAY, THRESH = 40.0, 1e-4
VALUES_RTOL = 1e-13  # device exp / pow versus the host's: a few ulps at most
POINTS_ATOL = 1e-12


def blobs(rng, n=240, c=5, centres=6, spread=0.15):
    centre = rng.standard_normal((centres, c)) * 2.0
    return centre[rng.integers(centres, size=n)] + spread * rng.standard_normal((n, c))


def image_patches(rng, shape=(1, 1, 20, 22), size=3):
    """The pixel patches of a smooth random image, as the CUTS pipeline condenses them."""
    images = smooth_images(rng, shape, np.float64)
    return np.asarray(cuts_ext.extract_patches(images, size)).reshape(shape[2] * shape[3], -1)


def cpu_and_accelerator_engines(x, device, dtype=np.float64, stream=None):
    """(CPU engine, engine on `device`) on the same points; the second on `stream` if given."""
    import torch
    host = np.ascontiguousarray(x, dtype)
    cpu = _C.Condenser(as_operand(host, "X", FLOAT_DTYPES).descriptor, DECAY, THRESH, 0)
    on_device = torch.from_numpy(host).to(device)
    if stream is not None:
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            operand = as_operand(on_device, "X", FLOAT_DTYPES)
            gpu = _C.Condenser(operand.descriptor, DECAY, THRESH, operand.stream())
    else:
        operand = as_operand(on_device, "X", FLOAT_DTYPES)
        gpu = _C.Condenser(operand.descriptor, DECAY, THRESH, operand.stream())
    return cpu, gpu


def assert_graphs_match(cpu, gpu, exact=False):
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


def assert_state_matches(cpu, gpu, atol=POINTS_ATOL):
    assert gpu.size() == cpu.size()
    assert gpu.dims() == cpu.dims()
    np.testing.assert_array_equal(gpu.labels(), cpu.labels())
    np.testing.assert_array_equal(gpu.weights(), cpu.weights())
    if atol == 0:
        np.testing.assert_array_equal(gpu.points(), cpu.points())
    else:
        np.testing.assert_allclose(gpu.points(), cpu.points(), rtol=0, atol=atol)


def merge_distance(engine, fraction=0.05):
    """A merge distance that joins a few pairs: just above the smallest few pair distances."""
    m = engine.size()
    count = max(1, min(m * (m - 1) // 2, int(fraction * m)))
    distances = engine.smallest_pair_distances(count)
    return float(distances[-1]) + 1e-12 if len(distances) else float("nan")
