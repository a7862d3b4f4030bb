"""Preparation of a GPU input on its GPU (cuts_ext/condensation/device_preparation.py): the
torch steps against the host's numpy ones, and condense's contract for it (same levels, ARI
>= 0.99 at every level against the CPU). torch runs the same code on the CPU, so the CPU suite
routes CPU tensors through it; the `cuda` tests run it where it is meant to run."""

import numpy as np
import pytest
import torch

import cuts_ext
from cuts_ext.condensation import driver
from cuts_ext.condensation.device_preparation import device_points, prepare_points_on_device
from cuts_ext.condensation.preparation import prepare_points
from cuts_ext.segmentation.metrics import adjusted_rand_index
from support.devices import ACCELERATORS
from support.engines import blobs, image_patches


def as_host_components(a, b):
    """b's columns signed like a's (PCA fixes signs by a rule that rounding can flip only for
    a near-tie, which these inputs do not have; this keeps the comparison honest if it did)."""
    return b * np.sign((a * b).sum(axis=0))


@pytest.mark.parametrize("settings", [
    dict(n_pca=None),
    dict(n_pca=8),
    dict(n_pca=8, position_weight=0.5, spatial_shape=(20, 22)),
    dict(n_pca=8, channel_weight=1.0, with_channels=True),
])
def test_device_preparation_equals_the_host_one(rng, settings):
    settings = dict(settings)
    x = image_patches(rng) * 1e3  # not unit rows: the normalisation matters
    n = x.shape[0]
    channels = rng.standard_normal((n, 3)) if settings.pop("with_channels", False) else None
    weights = rng.integers(1, 5, n).astype(np.float64)
    host = prepare_points(x, channels=channels, weights=weights, **settings)
    device = prepare_points_on_device(torch.from_numpy(x), channels=channels, weights=weights,
                                      **settings)
    assert device.dtype == torch.float64 and device.is_contiguous()
    assert tuple(device.shape) == host.shape
    np.testing.assert_allclose(as_host_components(host, device.numpy()), host, rtol=0,
                               atol=1e-11)


def test_device_normalisation_keeps_zero_rows_and_extreme_magnitudes():
    x = np.array([[0.0, 0.0], [3e200, 4e200], [3e-200, -4e-200], [1.0, 0.0]])
    host = prepare_points(x, None)
    device = prepare_points_on_device(torch.from_numpy(x), None).numpy()
    np.testing.assert_array_equal(device[0], [0.0, 0.0])
    np.testing.assert_allclose(device, host, rtol=1e-15, atol=0)


@pytest.mark.parametrize("X,words", [
    (torch.zeros((3, 4, 2)), "[N, C]"),
    (torch.zeros((3, 0)), "at least one feature column"),
    (torch.zeros((3, 2), dtype=torch.complex64), "real"),
    (torch.tensor([[2**60, 1]], dtype=torch.int64), "2^53"),
    (torch.tensor([[float("nan"), 1.0]]), "finite"),
])
def test_device_points_refuses_what_cannot_become_float64(X, words):
    with pytest.raises(ValueError, match=words.replace("^", r"\^").replace("[", r"\[")):
        device_points(X)


def test_exact_must_be_a_bool():
    with pytest.raises(TypeError, match="exact"):
        cuts_ext.condense(np.zeros((4, 2)), exact="yes")


def assert_contract(expected, result):
    """docs/method.md, "Numerical contract": the same levels, ARI >= 0.99 at every level."""
    assert len(result.levels) == len(expected.levels)
    for level in range(len(expected.levels)):
        labels = result.labels(level)
        labels = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else labels
        ari = adjusted_rand_index(expected.labels(level), labels)
        assert ari >= 0.99, (level, ari)


@pytest.mark.parametrize("data", ["blobs", "patches"])
def test_condense_prepared_by_the_device_path_keeps_the_contract(rng, data, monkeypatch):
    """condense through the device preparation, on the CPU (the routing forced), against the
    host's exact preparation."""
    x = blobs(rng, n=400, c=60) if data == "blobs" else image_patches(rng, (1, 1, 30, 30), 5)
    expected = cuts_ext.condense(x, n_pca=20, position_weight=0.5,
                                 spatial_shape=(20, 20) if data == "blobs" else (30, 30))
    monkeypatch.setattr(driver, "_prepare_on_device", lambda gpu_input, exact: not exact)
    result = cuts_ext.condense(torch.from_numpy(x), n_pca=20, position_weight=0.5,
                               spatial_shape=(20, 20) if data == "blobs" else (30, 30))
    assert isinstance(result._points, torch.Tensor)  # X was not copied to the host
    assert_contract(expected, result)
    np.testing.assert_allclose(result.centroids(0), expected.centroids(0), rtol=1e-12)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_cuda_input_is_prepared_on_its_gpu_and_keeps_the_contract(device, rng):
    x = image_patches(rng, (1, 1, 30, 30), 5)
    expected = cuts_ext.condense(x, n_pca=20)
    on_gpu = torch.from_numpy(x).to(device)
    result = cuts_ext.condense(on_gpu, n_pca=20)
    assert result._points.device.type == "cuda"
    assert_contract(expected, result)
    exact = cuts_ext.condense(on_gpu, n_pca=20, exact=True)
    np.testing.assert_array_equal(exact.hierarchy.cpu().numpy(), expected.hierarchy)
