"""CUTSEncoder: shapes in 2-D and 3-D, the training forward's gathers against plain loops."""

import numpy as np
import pytest
import torch

import cuts_ext
from support.devices import ACCELERATORS
from support.images import smooth_images
from support.reference import reference_patches_at


@pytest.mark.parametrize("shape,dims", [((2, 3, 16, 20), 2), ((1, 2, 10, 12, 11), 3)])
def test_output_shapes(rng, shape, dims):
    model = cuts_ext.CUTSEncoder(shape[1], num_kernels=2, patch_size=5, dims=dims, seed=0)
    x = torch.from_numpy(smooth_images(rng, shape))
    z = model(x)
    assert z.shape == (shape[0], 16) + shape[2:] and z.dtype == torch.float32
    assert model.latent_channels == 16
    anchors, positives = cuts_ext.sample_pairs(x, n_anchors=6, size=5, seed=1)
    out = model(x, anchors, positives)
    patch = (shape[0], 6, shape[1]) + (5,) * dims
    assert out.patch_real.shape == out.patch_recon.shape == patch
    assert out.z_anchors.shape == out.z_positives.shape == (shape[0], 6, 16)
    torch.testing.assert_close(out.z, z)


def test_default_latent_is_128(rng):
    model = cuts_ext.CUTSEncoder(3)
    assert model.latent_channels == 128 and model.recon.out_features == 3 * 5 * 5
    assert model.config == dict(in_channels=3, num_kernels=16, patch_size=5, dims=2)


@pytest.mark.parametrize("shape", [(3, 3, 24, 20), (2, 1, 12, 13, 11)])
def test_training_forward_gathers_equal_plain_loops(rng, shape):
    dims = len(shape) - 2
    model = cuts_ext.CUTSEncoder(shape[1], num_kernels=2, patch_size=3, dims=dims, seed=4)
    x = torch.from_numpy(smooth_images(rng, shape))
    anchors, positives = cuts_ext.sample_pairs(x, n_anchors=5, size=3, seed=2)
    out = model(x, anchors, positives)
    for b in range(shape[0]):
        for s in range(5):
            a, p = tuple(anchors[b, s].tolist()), tuple(positives[b, s].tolist())
            torch.testing.assert_close(out.z_anchors[b, s], out.z[(b, slice(None)) + a])
            torch.testing.assert_close(out.z_positives[b, s], out.z[(b, slice(None)) + p])
            recon = model.recon(out.z[(b, slice(None)) + a]).view(out.patch_recon.shape[2:])
            torch.testing.assert_close(out.patch_recon[b, s], recon)
    expected = reference_patches_at(x.numpy(), 3, anchors.numpy())
    np.testing.assert_array_equal(out.patch_real.numpy(), expected)
    assert not out.patch_real.requires_grad and out.patch_recon.requires_grad


def test_reconstruct_centres_is_the_centre_of_the_full_patch(rng):
    model = cuts_ext.CUTSEncoder(2, num_kernels=2, patch_size=5, seed=3)
    z = torch.randn(2, 16, 6, 7, generator=torch.Generator().manual_seed(0))
    full = model.recon(z.movedim(1, -1)).view(2, 6, 7, 2, 5, 5)[..., 2, 2].movedim(-1, 1)
    torch.testing.assert_close(model.reconstruct_centres(z), full)


def test_seeded_initialisation_is_private_and_repeatable():
    state = torch.random.get_rng_state()
    first = cuts_ext.CUTSEncoder(3, num_kernels=2, seed=7).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state), "global generator was used"
    second = cuts_ext.CUTSEncoder(3, num_kernels=2, seed=7).state_dict()
    other = cuts_ext.CUTSEncoder(3, num_kernels=2, seed=8).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not torch.equal(first["layers.0.weight"], other["layers.0.weight"])


@pytest.mark.parametrize("shape,words", [((3, 16, 16), ["images", "rank 4"]),
                                         ((1, 3, 8, 16, 16), ["images", "rank 4"]),
                                         ((1, 4, 16, 16), ["4 channels", "in_channels=3"])])
def test_bad_images_raise(shape, words):
    model = cuts_ext.CUTSEncoder(3, num_kernels=2)
    with pytest.raises(ValueError) as raised:
        model(torch.zeros(shape))
    for word in words:
        assert word in str(raised.value)


@pytest.mark.parametrize("kwargs,word", [(dict(patch_size=4), "patch_size"),
                                         (dict(patch_size=1), "patch_size"),
                                         (dict(dims=1), "dims"), (dict(num_kernels=0), "num_kernels")])
def test_bad_settings_raise(kwargs, word):
    with pytest.raises(ValueError, match=word):
        cuts_ext.CUTSEncoder(3, **kwargs)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_accelerator_training_forward_equals_cpu(device, rng):
    model = cuts_ext.CUTSEncoder(3, num_kernels=4, seed=0)
    x = torch.from_numpy(smooth_images(rng, (4, 3, 32, 32)))
    anchors, positives = cuts_ext.sample_pairs(x, seed=3)
    on_cpu = model(x, anchors, positives)
    on_gpu = model.to(device)(x.to(device), anchors.to(device), positives.to(device))
    assert on_gpu.z.device.type == on_gpu.patch_real.device.type == torch.device(device).type
    for g, c in zip(on_gpu, on_cpu):
        torch.testing.assert_close(g.cpu(), c, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(2, 3, 30, 27), (1, 2, 19, 20, 18), (2, 1, 9, 24),
                                   (1, 1, 6, 16, 20)])
def test_latent_at_equals_the_full_map_in_eval_mode(rng, shape):
    dims = len(shape) - 2
    model = cuts_ext.CUTSEncoder(shape[1], num_kernels=2, dims=dims, seed=1)
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():  # non-trivial running statistics, as after training
        if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            module.running_mean.normal_(0, 0.3, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
    model.eval()
    x = torch.from_numpy(smooth_images(rng, shape))
    extent = np.array(shape[2:])
    coords = np.stack([rng.integers(0, n, (shape[0], 30)) for n in extent], -1)
    coords[0, :3] = [np.zeros_like(extent), extent - 1, extent // 2]  # corners, the middle
    coords = torch.from_numpy(coords)
    with torch.no_grad():
        z = model(x).movedim(1, -1)
        expected = z[(torch.arange(shape[0]).unsqueeze(1),) + tuple(coords.unbind(-1))]
        torch.testing.assert_close(model.latent_at(x, coords), expected, rtol=1e-5, atol=1e-6)
        anchors, positives = cuts_ext.sample_pairs(x, n_anchors=4, size=5, seed=3)
        full, windows = model(x, anchors, positives), model(x, anchors, positives, windows=True)
    assert windows.z is None
    for name in ("patch_real", "patch_recon", "z_anchors", "z_positives"):
        torch.testing.assert_close(getattr(windows, name), getattr(full, name),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("arguments,error,word", [
    ({"num_kernels": 2.5}, TypeError, "num_kernels"),
    ({"patch_size": "5"}, TypeError, "patch_size"),
    ({"dims": True}, TypeError, "dims"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"num_kernels": 0}, ValueError, "num_kernels"),
    ({"patch_size": 4}, ValueError, "odd"),
    ({"dims": 4}, ValueError, "dims")])
def test_encoder_arguments_of_the_wrong_kind_or_range_are_refused_by_name(arguments, error,
                                                                          word):
    with pytest.raises(error, match=word):
        cuts_ext.CUTSEncoder(3, **arguments)


def test_numpy_integers_are_integers_for_the_encoder():
    model = cuts_ext.CUTSEncoder(np.int64(3), num_kernels=np.int32(2), dims=np.int64(2))
    assert (model.in_channels, model.num_kernels, model.dims) == (3, 2, 2)
    assert all(type(value) is int for value in (model.in_channels, model.num_kernels))
