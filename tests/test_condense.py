"""cuts_ext.condense against the dense oracle (tests/support/condense_oracle.py), iteration by
iteration, and on each accelerator against the CPU."""

import importlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from skimage.data import retina as skimage_retina
from skimage.transform import resize

import cuts_ext
from support.condense_oracle import condense_oracle
from support.devices import ACCELERATORS
from support.engines import blobs, image_patches
from cuts_ext.condensation.spectrum import diffusion_time


def _blobs(rng, n_per, centres, spread):
    return np.concatenate([c + spread * rng.standard_normal((n_per, len(c))) for c in centres])


def _rings(rng, n):
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(np.arange(n) % 2 == 0, 1.0, 2.5) + 0.05 * rng.standard_normal(n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def retina_patches(side, offset=(110, 130)):
    """Pixel-centred 5 x 5 x 3 patches (C = 75) of a side x side crop of scikit-image's
    fundus photograph, downsampled to 256 x 256 and scaled to [-1, 1]."""
    image = resize(skimage_retina(), (256, 256), anti_aliasing=True).astype(np.float32) * 2 - 1
    y, x = offset
    crop = np.ascontiguousarray(image[y:y + side, x:x + side].transpose(2, 0, 1)[None])
    return cuts_ext.extract_patches(crop, size=5).reshape(side * side, -1).astype(np.float64)


def _inputs():
    rng = np.random.default_rng(7)
    # Rows are L2-normalised first, so the blobs differ in direction.
    blobs = _blobs(rng, 100, list(5.0 * np.eye(5)[:3]), 0.5)
    duplicated = np.concatenate([blobs[:150], blobs[:60], blobs[200:260]])
    return {
        "blobs": blobs,                                   # N = 300, C = 5
        "rings, C = 2": _rings(rng, 400),                 # N = 400, C = 2
        "retina 24 x 24": retina_patches(24),             # N = 576, C = 75
        "retina 38 x 38": retina_patches(38, (120, 90)),  # N = 1,444, C = 75
        "duplicated points": duplicated,                  # N = 270, 60 exact duplicates
    }


INPUTS = _inputs()


def assert_same_hierarchy(ours, reference):
    assert ours.n_iterations == reference.n_iterations
    assert ours.cluster_counts == reference.cluster_counts
    assert ours.t == reference.t
    np.testing.assert_array_equal(ours.hierarchy, reference.labels)  # so ARI 1.0 everywhere
    assert ours.levels == reference.levels
    np.testing.assert_allclose(ours.eps, reference.eps, rtol=1e-12)
    assert ours.merge_threshold == pytest.approx(reference.merge_threshold, rel=1e-12)


@pytest.mark.parametrize("name", list(INPUTS))
def test_reproduces_the_oracle_exactly_without_pca(name):
    X = INPUTS[name]
    assert_same_hierarchy(cuts_ext.condense(X, n_pca=None), condense_oracle(X, n_pca=None))


def test_reproduces_the_oracle_exactly_with_exact_pca():
    X = retina_patches(30, (60, 150))  # N = 900, C = 75 -> 50
    assert_same_hierarchy(cuts_ext.condense(X), condense_oracle(X))


def test_unit_weights_change_nothing():
    X = INPUTS["retina 24 x 24"]
    plain = cuts_ext.condense(X)
    weighted = cuts_ext.condense(X, weights=np.ones(X.shape[0], np.int32))
    np.testing.assert_array_equal(weighted.hierarchy, plain.hierarchy)
    assert (weighted.eps, weighted.t, weighted.merge_threshold) == \
        (plain.eps, plain.t, plain.merge_threshold)


@pytest.mark.parametrize("name", ["blobs", "retina 24 x 24", "duplicated points"])
def test_weighted_points_reproduce_the_oracle_exactly(name):
    """Points that stand for several (super-voxels) weight every kernel's columns, iteration 0's
    adaptive one included (docs/method.md, "Weighted points")."""
    X = INPUTS[name]
    weights = np.random.default_rng(3).integers(1, 40, size=X.shape[0])
    ours = cuts_ext.condense(X, n_pca=None, weights=weights)
    assert_same_hierarchy(ours, condense_oracle(X, n_pca=None, weights=weights))
    # The weights take part: iteration 0's diffusion, hence the merge threshold, changes.
    assert ours.merge_threshold != cuts_ext.condense(X, n_pca=None).merge_threshold


def test_float32_agrees_at_every_level():
    from sklearn.metrics import adjusted_rand_score
    X = INPUTS["retina 24 x 24"]
    reference = condense_oracle(X, n_pca=None)
    ours = cuts_ext.condense(X.astype(np.float32), n_pca=None)
    for level in reference.levels:
        assert level < ours.n_iterations
        assert adjusted_rand_score(reference.labels[level], ours.hierarchy[level]) >= 0.99


def test_hierarchy_is_consistent_and_coarsens(rng):
    result = cuts_ext.condense(INPUTS["blobs"], n_pca=None)
    H = result.hierarchy
    assert H.dtype == np.int32 and H.shape == (result.n_iterations, 300)
    assert result.cluster_counts[-1] == 1
    for labels, count in zip(H, result.cluster_counts):
        assert np.array_equal(np.unique(labels), np.arange(count))  # consecutive ids
    # Every cluster of iteration i lies inside one cluster of iteration i + 1.
    for fine, coarse in zip(H[:-1], H[1:]):
        pairs = np.unique(np.stack([fine, coarse]), axis=1)
        assert pairs.shape[1] == len(np.unique(fine))


def test_three_blob_level_and_helpers():
    X = INPUTS["blobs"]
    result = cuts_ext.condense(X, knn=10, n_pca=None)
    truth = np.repeat(np.arange(3), 100)
    three = [i for i, level in enumerate(result.levels) if result.cluster_counts[level] == 3]
    assert three, f"no 3-cluster level in {[result.cluster_counts[l] for l in result.levels]}"
    labels = result.labels(three[0])
    assert len(set(zip(labels, truth))) == 3  # the level is exactly the blob partition
    centroids = result.centroids(three[0])
    assert centroids.shape == (3, 5)
    np.testing.assert_allclose(centroids[labels[0]], X[labels == labels[0]].mean(axis=0))
    assert result.label_map((20, 15), three[0]).shape == (20, 15)
    with pytest.raises(ValueError, match="does not hold"):
        result.label_map((7, 7))


def test_knn_above_n_minus_2_is_clamped():
    X = INPUTS["blobs"][:40]
    big = cuts_ext.condense(X, knn=1000, n_pca=None)
    np.testing.assert_array_equal(big.hierarchy, cuts_ext.condense(X, knn=38, n_pca=None).hierarchy)


def test_trivial_inputs():
    empty = cuts_ext.condense(np.zeros((0, 4)))
    assert empty.n_iterations == 0 and empty.hierarchy.shape == (0, 0) and empty.levels == []
    one = cuts_ext.condense(np.ones((1, 3)))
    assert one.cluster_counts == [1] and one.hierarchy.tolist() == [[0]]
    two = cuts_ext.condense(np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert two.cluster_counts == [1]
    same = cuts_ext.condense(np.tile([0.3, -1.0, 2.0], (50, 1)))
    assert same.cluster_counts == [1] and not same.hierarchy.any()
    for X in (np.zeros((1, 3)), np.array([[0.0, 1.0], [1.0, 0.0]]), np.tile([1.0, 2.0], (9, 1))):
        reference = condense_oracle(X)
        assert cuts_ext.condense(X).cluster_counts == reference.cluster_counts


def test_torch_input_gives_torch_hierarchy():
    X = INPUTS["rings, C = 2"]
    result = cuts_ext.condense(torch.from_numpy(X), n_pca=None)
    assert isinstance(result.hierarchy, torch.Tensor) and result.hierarchy.dtype == torch.int32
    np.testing.assert_array_equal(result.hierarchy.numpy(),
                                  cuts_ext.condense(X, n_pca=None).hierarchy)


def test_integer_input_that_converts_exactly():
    X = np.random.default_rng(0).integers(0, 5, size=(60, 3)).astype(np.int32)
    np.testing.assert_array_equal(cuts_ext.condense(X).hierarchy,
                                  cuts_ext.condense(X.astype(np.float64)).hierarchy)


@pytest.mark.parametrize("X,kwargs,error,words", [
    (np.full((5, 3), np.nan), {}, ValueError, ["X", "finite"]),
    (np.array([[0.0, np.inf], [1.0, 2.0]]), {}, ValueError, ["X", "finite"]),
    (np.zeros(5), {}, ValueError, ["X", "[N, C]"]),
    (np.zeros((2, 3, 4)), {}, ValueError, ["X", "[N, C]"]),
    (np.zeros((5, 0)), {}, ValueError, ["X", "feature column"]),
    (np.zeros((5, 2), np.complex128), {}, ValueError, ["X", "complex128"]),
    (np.full((5, 2), 2**60, np.int64), {}, ValueError, ["X", "int64", "2^53"]),
    (np.zeros((5, 2)), dict(knn=0), ValueError, ["knn"]),
    (np.zeros((5, 2)), dict(n_pca=0), ValueError, ["n_pca"]),
    (np.zeros((5, 2)), dict(t=0), ValueError, ["t must"]),
    (np.zeros((5, 2)), dict(t="fast"), ValueError, ["t must"]),
    (np.zeros((5, 2)), dict(t_max=0), ValueError, ["t_max"]),
    (np.zeros((5, 2)), dict(scale=1.0), ValueError, ["scale"]),
    (np.zeros((5, 2)), dict(decay=-1), ValueError, ["decay"]),
    (np.zeros((5, 2)), dict(thresh=0.0), ValueError, ["thresh"]),
    (np.zeros((5, 2)), dict(granularity=0), ValueError, ["granularity"]),
    (np.zeros((5, 2)), dict(granularity=float("nan")), ValueError, ["granularity"]),
    (np.zeros((5, 2)), dict(exact_spectrum_limit=0), ValueError, ["exact_spectrum_limit"]),
    (np.zeros((5, 2)), dict(max_iterations=0), ValueError, ["max_iterations"]),
    (np.zeros((5, 2)), dict(knn=2.5), TypeError, ["knn"]),
    (np.zeros((6, 2)), dict(position_weight=1.0, spatial_shape=(2, 2)), ValueError,
     ["spatial_shape", "6"]),
    (np.zeros((6, 2)), dict(position_weight=-1.0, spatial_shape=(2, 3)), ValueError,
     ["position_weight", ">= 0"]),
    (np.zeros((6, 2)), dict(position_weight=1.0), ValueError, ["needs spatial_shape"]),
    (np.zeros((6, 2)), dict(position_weight=1.0, spatial_shape=(2, 3), positions=np.zeros((6, 2))),
     ValueError, ["not both"]),
    (np.zeros((6, 2)), dict(position_weight=1.0, positions=np.full((6, 2), 1.5)), ValueError,
     ["positions", "[0, 1]"]),
    (np.zeros((6, 2)), dict(position_weight=1.0, positions=np.zeros((5, 2))), ValueError,
     ["positions", "[6, 1 to 3]"]),
    (np.zeros((6, 2)), dict(weights=np.ones(5)), ValueError, ["weights", "[6]"]),
    (np.zeros((6, 2)), dict(weights=np.r_[np.ones(5), 0.0]), ValueError, ["weights", "> 0"]),
    (np.zeros((6, 2)), dict(weights=np.r_[np.ones(5), np.nan]), ValueError, ["weights"]),
    (np.zeros((6, 2)), dict(weights=np.ones(6, np.complex128)), ValueError, ["weights", "real"]),
])
def test_bad_input_raises_naming_the_argument(X, kwargs, error, words):
    with pytest.raises(error) as raised:
        cuts_ext.condense(X, **kwargs)
    for word in words:
        assert word in str(raised.value)


def test_positional_encoding_rows_are_unit_sinusoids():
    from cuts_ext.condensation.preparation import positional_encoding
    encoding = positional_encoding((3, 5))
    assert encoding.shape == (15, 16)
    np.testing.assert_allclose(np.linalg.norm(encoding, axis=1), 1.0, rtol=1e-12)
    # Pixel (1, 4): u = (0.5, 1.0); the first octave's sines come first for each axis.
    np.testing.assert_allclose(encoding[9, [0, 4]] * np.sqrt(8), [1.0, 0.0], atol=1e-12)


def test_positional_encoding_is_appended_to_the_normalised_rows_before_pca(rng):
    from cuts_ext.condensation.preparation import positional_encoding, prepare_points
    X = rng.normal(size=(6 * 7, 4))
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    expected = np.hstack([unit, 0.5 * positional_encoding((6, 7))])
    np.testing.assert_array_equal(prepare_points(X, None, 0.5, (6, 7)), expected)
    # With PCA the encoding's columns take part in the projection: 4 + 16 columns down to 8.
    assert prepare_points(X, 8, 0.5, (6, 7)).shape == (42, 8)
    result = cuts_ext.condense(X, position_weight=0.5, spatial_shape=(6, 7), n_pca=None)
    assert result.hierarchy.shape[1] == 42 and result.cluster_counts[-1] == 1
    # Points placed by coordinates (super-voxel centroids) encode the same way as grid pixels.
    axes = [np.linspace(0.0, 1.0, side) for side in (6, 7)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
    at_positions = cuts_ext.condense(X, position_weight=0.5, positions=grid, n_pca=None)
    np.testing.assert_array_equal(at_positions.hierarchy, result.hierarchy)
    # The name this replaced still works for one release, with a warning.
    with pytest.warns(DeprecationWarning, match="spatial_shape=shape, position_weight=weight"):
        deprecated = cuts_ext.condense(X, pos_encoding=((6, 7), 0.5), n_pca=None)
    np.testing.assert_array_equal(deprecated.hierarchy, result.hierarchy)


def test_approximate_spectrum_picks_the_exact_time_within_one():
    """Above exact_spectrum_limit the entropy curve comes from stochastic Lanczos quadrature;
    on iteration 0's kernel of 1,444 points its knee stays within 1 of the exact one."""
    from cuts_ext import _C
    from cuts_ext._arrays import Operand
    from cuts_ext.condensation.preparation import prepare_points
    # The descriptor does not own the points: they must outlive the constructor's copy (a
    # temporary here was freed first, and the engine read whatever reused the memory).
    points = prepare_points(INPUTS["retina 38 x 38"], 50)
    engine = _C.Condenser(Operand(points, "numpy", "cpu", 0).descriptor, 40.0, 1e-4, 0)
    engine.adaptive_kernel(30)
    exact = diffusion_time(engine, 50, 2048, np.random.default_rng(0))
    assert exact.exact and exact.largest_block == 1444
    for seed in range(3):
        estimate = diffusion_time(engine, 50, 100, np.random.default_rng(seed))
        assert not estimate.exact
        assert abs(estimate.t - exact.t) <= 1


def test_ctrl_c_interrupts_a_long_run(tmp_path):
    # The child installs Python's Ctrl-C handler itself: a suite started in the background (a
    # `cmd &` in a script) inherits SIGINT ignored, and Python then leaves it ignored.
    script = ("import signal\n"
              "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
              "import numpy as np, cuts_ext\n"
              "X = np.random.default_rng(0).standard_normal((6000, 40))\n"
              "print('started', flush=True)\n"
              "while True:\n"
              "    cuts_ext.condense(X)\n")
    # Run outside the checkout so that the installed package is imported.
    with subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout.readline().strip() == "started", process.stderr.read()
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode != 0 and "KeyboardInterrupt" in stderr, stderr[-2000:]


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
@pytest.mark.parametrize("device", ACCELERATORS)
def test_condense_of_cuda_input_matches_the_cpu(device, rng, data, engine_devices):
    import torch
    x = blobs(rng, n=300, c=6) if data == "blobs" else image_patches(rng, (1, 1, 24, 24))
    expected = cuts_ext.condense(x, n_pca=None)
    # exact: prepared on the host as the CPU's is (the default prepares it on the GPU:
    # tests/test_device_preparation.py).
    result = cuts_ext.condense(torch.from_numpy(x).to(device), n_pca=None, exact=True)
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


@pytest.mark.parametrize("device", ACCELERATORS)
def test_condense_of_float32_cuda_input(device, rng, engine_devices):
    import torch
    x = blobs(rng, n=200, c=4).astype(np.float32)
    expected = cuts_ext.condense(x, n_pca=None, t=3)
    result = cuts_ext.condense(torch.from_numpy(x).to(device), n_pca=None, t=3, exact=True)
    assert engine_devices == ["cpu", "cuda"]
    np.testing.assert_array_equal(result.hierarchy.cpu().numpy(), expected.hierarchy)
    assert result.cluster_counts == expected.cluster_counts
