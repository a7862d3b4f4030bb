"""embed: tiled equals untiled, shapes and libraries, the reconstruction, bad inputs."""

import numpy as np
import pytest
import torch

import cuts_ext
from support.devices import ACCELERATORS
from support.images import smooth_images
from cuts_ext.encoder import embedding
from support.retina import retina_images


def trained_like(in_channels, dims, seed=0):
    """An encoder in eval mode with non-trivial batch-norm statistics, as after training."""
    model = cuts_ext.CUTSEncoder(in_channels, num_kernels=2, dims=dims, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            module.running_mean.normal_(0, 0.3, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
    return model.eval()


@pytest.mark.parametrize("shape,tile", [((2, 3, 40, 37), 7), ((2, 3, 40, 37), (16, 5)),
                                        ((1, 2, 20, 18, 21), 6), ((1, 2, 20, 18, 21), 100)])
def test_tiled_equals_untiled(rng, shape, tile):
    model = trained_like(shape[1], len(shape) - 2)
    images = smooth_images(rng, shape)
    whole = cuts_ext.embed(model, images)
    tiled = cuts_ext.embed(model, images, tile=tile)
    np.testing.assert_allclose(tiled.z, whole.z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tiled.reconstruction, whole.reconstruction, rtol=1e-5, atol=1e-5)


def test_streamed_pieces_cover_the_image_and_skip_what_is_asked(rng):
    """embed_tiles hands out each tile's core as it is computed (what streamed pipelines reduce
    at once); a skipped tile is never computed."""
    model = trained_like(2, 3)
    images = smooth_images(rng, (1, 2, 20, 18, 21))
    whole = cuts_ext.embed(model, images).z
    seen = np.zeros(images.shape[2:], bool)
    skipped = []

    def skip(where):
        if where[2].start == 0:  # the first slab of tiles along the first spatial axis
            skipped.append(where)
            return True
        return False

    for where, latent, _ in embedding.embed_tiles(model, torch.from_numpy(images), tile=6,
                                                  skip=skip):
        np.testing.assert_allclose(latent.numpy(), whole[where], rtol=1e-5, atol=1e-5)
        assert not seen[where[2:]].any()
        seen[where[2:]] = True
    assert skipped and all(not seen[where[2:]].any() for where in skipped)
    assert seen[6:].all()


def test_automatic_tiling_and_chunking_under_a_small_budget(rng, monkeypatch):
    model = trained_like(3, 2)
    images = smooth_images(rng, (3, 3, 48, 48))
    whole = cuts_ext.embed(model, images)
    per_voxel = 4 * (2 * 3 + 4 * model.latent_channels)
    for budget in (per_voxel * 48 * 48 * 2, per_voxel * 30 * 30):  # 2 images a pass; tiles
        monkeypatch.setattr(embedding, "WORK_BYTES", budget)
        np.testing.assert_allclose(cuts_ext.embed(model, images).z, whole.z, rtol=1e-5, atol=1e-5)


def test_embed_equals_the_eval_forward_and_keeps_the_mode(rng):
    model = trained_like(3, 2).train()
    x = torch.from_numpy(smooth_images(rng, (2, 3, 20, 24)))
    result = cuts_ext.embed(model, x)
    assert model.training, "embed must restore the model's mode"
    assert isinstance(result.z, torch.Tensor) and result.z.shape == (2, 16, 20, 24)
    assert result.reconstruction.shape == (2, 3, 20, 24)
    with torch.no_grad():
        z = model.eval()(x)
        torch.testing.assert_close(result.z, z)
        full = model.recon(z.movedim(1, -1)).view(2, 20, 24, 3, 5, 5)[..., 2, 2].movedim(-1, 1)
    torch.testing.assert_close(result.reconstruction, full)
    numpy_result = cuts_ext.embed(model, x.numpy())
    assert isinstance(numpy_result.z, np.ndarray) and numpy_result.z.dtype == np.float32


def test_retina_embeds_to_128_channels_per_pixel():
    images = retina_images(2)
    result = cuts_ext.embed(cuts_ext.CUTSEncoder(3, seed=0).eval(), images)
    assert result.z.shape == (2, 128, 128, 128) and result.reconstruction.shape == images.shape


@pytest.mark.parametrize("images,words", [
    (np.zeros((3, 16, 16), np.float32), ["images", "rank 4"]),
    (np.zeros((1, 4, 16, 16), np.float32), ["4 channels", "in_channels=3"]),
    (np.full((1, 3, 16, 16), np.nan, np.float32), ["images", "non-finite"]),
    (np.zeros((1, 3, 16, 16), np.uint8), ["floating point"]),
])
def test_bad_images_raise(images, words):
    with pytest.raises(ValueError) as raised:
        cuts_ext.embed(trained_like(3, 2), images)
    for word in words:
        assert word in str(raised.value)


def test_channels_must_match_the_checkpoint(rng, tmp_path):
    path = tmp_path / "encoder.pt"
    cuts_ext.train(smooth_images(rng, (2, 3, 16, 16)), epochs=1, batch_size=2, num_kernels=2,
                   checkpoint=path, progress=False)
    with pytest.raises(ValueError, match="1 channels but the encoder was trained on in_channels=3"):
        cuts_ext.embed(cuts_ext.load_encoder(path), smooth_images(rng, (1, 1, 16, 16)))


@pytest.mark.parametrize("tile,error", [(0, ValueError), ((4,), ValueError), (2.5, TypeError),
                                        ((4, True), TypeError)])
def test_bad_tile_raises(rng, tile, error):
    with pytest.raises(error, match="tile"):
        cuts_ext.embed(trained_like(3, 2), smooth_images(rng, (1, 3, 16, 16)), tile=tile)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_accelerator_embed_equals_cpu_and_stays_on_device(device, rng):
    model = trained_like(3, 2)
    x = torch.from_numpy(smooth_images(rng, (2, 3, 40, 40)))
    on_cpu = cuts_ext.embed(model, x)
    on_gpu = cuts_ext.embed(model.to(device), x.to(device), tile=16)
    assert on_gpu.z.device.type == torch.device(device).type
    torch.testing.assert_close(on_gpu.z.cpu(), on_cpu.z, rtol=1e-4, atol=1e-4)
