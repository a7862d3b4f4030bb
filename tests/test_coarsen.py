"""coarsen: super-voxels before condensation, held to their properties and NumPy references."""

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

from cuts_ext.condensation.coarsen import coarsen
from support.devices import ACCELERATORS, FLOAT_DTYPES
from support.images import smooth_images


def smooth_features(rng, spatial, features, dtype=np.float32):
    """[N, F] features that vary smoothly over the grid (so super-voxels have something to
    follow), voxels in row-major order."""
    images = smooth_images(rng, (1, features) + tuple(spatial), np.float64)[0]
    return np.moveaxis(images, 0, -1).reshape(-1, features).astype(dtype)


def ball(spatial, radius_fraction=0.45):
    """A centred ball (disk in 2-D) as a bool mask of shape `spatial`."""
    grids = np.meshgrid(*[np.arange(s) - (s - 1) / 2 for s in spatial], indexing="ij")
    radius = radius_fraction * min(spatial)
    return sum(g ** 2 for g in grids) <= radius ** 2


def check_coarsening(result, features, spatial, foreground, max_points):
    """The properties every coarsening has, against NumPy and SciPy references."""
    labels = result.labels
    features = np.asarray(features, np.float64)
    foreground = np.ones(spatial, bool) if foreground is None else np.asarray(foreground, bool)
    assert labels.shape == tuple(spatial) and labels.dtype == np.int32
    assert (labels[~foreground] == -1).all() and (labels[foreground] >= 0).all()
    k = result.count
    assert 1 <= k <= max_points
    flat = labels.ravel()
    kept = flat[flat >= 0]
    # 0..K-1, each used, numbered in the order of each super-voxel's first voxel.
    _, first = np.unique(kept, return_index=True)
    assert np.array_equal(np.unique(kept), np.arange(k))
    assert np.all(np.diff(first) > 0)
    # Each super-voxel is face-connected.
    face = ndi.generate_binary_structure(len(spatial), 1)
    for index, box in enumerate(ndi.find_objects(labels + 1)):
        _, pieces = ndi.label(labels[box] == index, structure=face)
        assert pieces == 1, f"super-voxel {index} has {pieces} components"
    counts = np.bincount(kept, minlength=k)
    assert result.counts.dtype == np.int64 and np.array_equal(result.counts, counts)
    assert result.counts.sum() == foreground.sum()
    sums = np.zeros((k, features.shape[1]))
    np.add.at(sums, kept, features[flat >= 0])
    assert result.means.dtype == np.float64 and result.means.shape == sums.shape
    np.testing.assert_allclose(result.means, sums / counts[:, None], rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_2d_with_a_foreground(rng, dtype):
    spatial = (48, 64)
    features = smooth_features(rng, spatial, 4, dtype)
    foreground = ball(spatial)
    result = coarsen(features, spatial, 40, foreground=foreground, compactness=0.2)
    check_coarsening(result, features, spatial, foreground, 40)
    assert result.count >= 20  # the grid seeds about max_points, not a handful


def test_3d_volume(rng):
    spatial = (14, 18, 16)
    features = smooth_features(rng, spatial, 5)
    foreground = ball(spatial, 0.5)
    result = coarsen(features, spatial, 60, foreground=foreground.ravel(), iterations=3)
    check_coarsening(result, features, spatial, foreground, 60)


def test_no_foreground_means_every_voxel(rng):
    spatial = (20, 30)
    features = smooth_features(rng, spatial, 3)
    result = coarsen(features, spatial, 25)
    check_coarsening(result, features, spatial, None, 25)


def test_one_voxel_per_point_when_max_points_allows(rng):
    # Step 1: every voxel seeds its own centre, at its own features, and distinct features keep
    # every voxel with it; nothing is small, so the super-voxels are the voxels.
    spatial = (7, 9)
    features = rng.standard_normal((63, 3)).astype(np.float32)
    result = coarsen(features, spatial, 1000, compactness=0.5)
    check_coarsening(result, features, spatial, None, 1000)
    assert np.array_equal(result.labels.ravel(), np.arange(63))
    np.testing.assert_array_equal(result.means, features.astype(np.float64))


def test_one_point_takes_the_whole_connected_foreground(rng):
    spatial = (16, 16)
    features = smooth_features(rng, spatial, 2)
    result = coarsen(features, spatial, 1, foreground=ball(spatial))
    check_coarsening(result, features, spatial, ball(spatial), 1)
    assert result.count == 1


def test_super_voxels_respect_a_boundary(rng):
    # Two constant regions (with a little noise) meet at a straight edge: no super-voxel
    # straddles it.
    spatial = (40, 60)
    side = np.zeros(spatial, bool)
    side[:, 27:] = True
    features = np.where(side.reshape(-1, 1), 1.0, 0.0) * np.ones((1, 3))
    features = (features + 0.01 * rng.standard_normal(features.shape)).astype(np.float32)
    result = coarsen(features, spatial, 60, compactness=0.1)
    check_coarsening(result, features, spatial, None, 60)
    for index in range(result.count):
        sides = np.unique(side[result.labels == index])
        assert sides.size == 1, f"super-voxel {index} straddles the edge"


def test_the_result_does_not_depend_on_the_thread_count(tmp_path):
    # A fresh interpreter per thread count (OpenMP reads OMP_NUM_THREADS once), importing
    # neither torch nor this module, to stay fast.
    script = (
        "import hashlib, sys, numpy as np; sys.path.insert(0, %r)\n"
        "from cuts_ext.condensation.coarsen import coarsen\n"
        "from support.images import smooth_images\n"
        "spatial = (18, 22, 20)\n"
        "f = smooth_images(np.random.default_rng(5), (1, 6) + spatial)[0].reshape(6, -1).T\n"
        "mask = np.zeros(spatial, bool); mask[2:16, 3:20, 1:18] = True\n"
        "r = coarsen(f, spatial, 150, foreground=mask, compactness=0.3)\n"
        "h = hashlib.sha256()\n"
        "for a in (r.labels, r.counts, r.means): h.update(np.ascontiguousarray(a).tobytes())\n"
        "print(r.count, h.hexdigest())\n"
    ) % os.path.dirname(os.path.abspath(__file__))
    outputs = []
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads)
        done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]


def test_torch_in_torch_out(rng):
    spatial = (12, 20)
    features = smooth_features(rng, spatial, 3)
    mask = ball(spatial)
    result = coarsen(torch.from_numpy(features), spatial, 12, foreground=torch.from_numpy(mask))
    assert all(isinstance(a, torch.Tensor) for a in (result.labels, result.counts, result.means))
    assert result.labels.dtype == torch.int32 and result.means.dtype == torch.float64
    reference = coarsen(features, spatial, 12, foreground=mask)
    assert np.array_equal(result.labels.numpy(), reference.labels)
    assert np.array_equal(result.means.numpy(), reference.means)


def test_more_separate_pieces_than_max_points_is_refused(rng):
    spatial = (10, 10)
    mask = np.zeros(spatial, bool)
    mask[1:3, 1:3] = mask[6:8, 6:8] = mask[1:3, 6:8] = True
    features = smooth_features(rng, spatial, 2)
    with pytest.raises(ValueError, match="max_points"):
        coarsen(features, spatial, 2, foreground=mask)
    check_coarsening(coarsen(features, spatial, 3, foreground=mask), features, spatial, mask, 3)


GOOD = dict(features=np.zeros((12, 2), np.float32), spatial_shape=(3, 4), max_points=4)


@pytest.mark.parametrize("change, error, message", [
    (dict(max_points=0), ValueError, "max_points"),
    (dict(max_points=2.0), TypeError, "max_points"),
    (dict(iterations=0), ValueError, "iterations"),
    (dict(compactness=-1.0), ValueError, "compactness"),
    (dict(compactness=float("nan")), ValueError, "compactness"),
    (dict(spatial_shape=(12,)), ValueError, "spatial_shape"),
    (dict(spatial_shape=(3, 0)), ValueError, "spatial_shape"),
    (dict(spatial_shape=(3, 5)), ValueError, "features"),
    (dict(features=np.zeros((12, 0), np.float32)), ValueError, "features"),
    (dict(features=np.zeros(12, np.float32)), ValueError, "features"),
    (dict(features=np.zeros((12, 2), np.int32)), ValueError, "features"),
    (dict(features=np.full((12, 2), np.nan, np.float32)), ValueError, "finite"),
    (dict(foreground=np.ones((4, 3), bool)), ValueError, "foreground"),
    (dict(foreground=np.ones((3, 4), np.float32)), ValueError, "foreground"),
    (dict(foreground=np.zeros((3, 4), bool)), ValueError, "foreground"),
])
def test_bad_arguments_are_named(change, error, message):
    arguments = dict(GOOD, **change)
    with pytest.raises(error, match=message):
        coarsen(**arguments)


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("spatial", [(40, 52), (14, 18, 16)], ids=["2d", "3d"])
def test_accelerator_matches_the_cpu(device, dtype, spatial):
    rng = np.random.default_rng(7)
    features = smooth_features(rng, spatial, 5, dtype)
    mask = ball(spatial)
    cpu = coarsen(features, spatial, 50, foreground=mask, compactness=0.3)
    gpu = coarsen(torch.from_numpy(features).to(device), spatial, 50,
                  foreground=torch.from_numpy(mask).to(device), compactness=0.3)
    assert gpu.labels.device.type == gpu.means.device.type == device
    assert np.array_equal(gpu.labels.cpu().numpy(), cpu.labels)
    assert np.array_equal(gpu.counts.cpu().numpy(), cpu.counts)
    np.testing.assert_allclose(gpu.means.cpu().numpy(), cpu.means, rtol=0, atol=1e-12)
