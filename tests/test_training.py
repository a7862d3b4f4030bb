"""train: losses fall on the retina images, resume equals an uninterrupted run, determinism,
random crops of volumes, datasets, the schedule, and bad inputs."""

import math

import numpy as np
import pytest
import torch

import cuts_ext
from support.devices import ACCELERATORS
from support.images import smooth_images
from cuts_ext.encoder import training
from cuts_ext.encoder.training import lr_factor
from support.retina import retina_images

TINY = dict(batch_size=2, num_kernels=2, progress=False)


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_short_retina_run_lowers_both_losses():
    # The reference lambda (1e-3) gives the contrastive term too little weight to move in a few
    # epochs; an even mix shows that both losses are being optimised.
    result = cuts_ext.train(retina_images(), epochs=12, batch_size=8, num_kernels=4, crop=48,
                            lambda_contrastive=0.5, seed=0, progress=False)
    history = result.history
    assert len(history) == 12 and [h["epoch"] for h in history] == list(range(12))
    for key in ("reconstruction", "contrastive", "val"):
        first = np.mean([h[key] for h in history[:3]])
        last = np.mean([h[key] for h in history[-3:]])
        assert last < 0.95 * first, (key, first, last)
    assert result.best_loss == min(h["val"] for h in history)
    assert history[result.best_epoch]["val"] == result.best_loss


def test_windows_step_lowers_the_reconstruction_loss():
    images = retina_images(16)
    result = cuts_ext.train(images, epochs=6, batch_size=8, num_kernels=4, step="windows",
                            seed=0, progress=False)
    reconstruction = [h["reconstruction"] for h in result.history]
    assert reconstruction[-1] < 0.8 * reconstruction[0], reconstruction
    assert cuts_ext.embed(result.model, images[:1]).z.shape == (1, 32, 128, 128)


def test_resume_after_a_crash_equals_an_uninterrupted_run(rng, tmp_path, monkeypatch):
    images = smooth_images(rng, (6, 3, 16, 16))
    settings = dict(TINY, epochs=4, seed=5)
    straight = cuts_ext.train(images, **settings)

    path = tmp_path / "run.pt"
    saves = []
    real_save = training.save_checkpoint

    def crash_after_two_epochs(file, state):
        if len(saves) == 2:
            raise KeyboardInterrupt("killed")
        saves.append(state["epoch"])
        real_save(file, state)

    monkeypatch.setattr(training, "save_checkpoint", crash_after_two_epochs)
    with pytest.raises(KeyboardInterrupt):
        cuts_ext.train(images, checkpoint=path, **settings)
    monkeypatch.setattr(training, "save_checkpoint", real_save)
    assert cuts_ext.encoder.checkpoint.load_checkpoint(path)["epoch"] == 2

    resumed = cuts_ext.train(images, checkpoint=path, resume=True, **settings)
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2, 3]
    assert resumed.history == straight.history
    assert resumed.best_epoch == straight.best_epoch
    assert states_equal(resumed.model.state_dict(), straight.model.state_dict())
    # Resuming a finished run trains nothing more and returns the same best weights.
    again = cuts_ext.train(images, checkpoint=path, resume=True, **settings)
    assert states_equal(again.model.state_dict(), straight.model.state_dict())


def test_resume_refuses_other_images_or_settings(rng, tmp_path):
    images = smooth_images(rng, (4, 3, 16, 16))
    path = tmp_path / "run.pt"
    cuts_ext.train(images, epochs=1, checkpoint=path, **TINY)
    with pytest.raises(ValueError, match="1 channels but checkpoint .* in_channels=3"):
        cuts_ext.train(images[:, :1], epochs=2, checkpoint=path, resume=True, **TINY)
    with pytest.raises(ValueError, match="seed"):
        cuts_ext.train(images, epochs=2, checkpoint=path, resume=True, seed=9, **TINY)
    # A run of the full step does not silently continue with the windowed one.
    with pytest.raises(ValueError, match=r"training settings differ: step \('full' -> 'windows'\)"):
        cuts_ext.train(images, epochs=2, checkpoint=path, resume=True, step="windows", **TINY)
    # A checkpoint written before the step was recorded resumes under either step.
    state = torch.load(path, weights_only=True)
    del state["settings"]["step"]
    torch.save(state, path)
    assert cuts_ext.train(images, epochs=2, checkpoint=path, resume=True, step="windows",
                          **TINY).history[-1]["epoch"] == 1


def test_same_seed_same_weights_and_embeddings(rng):
    images = smooth_images(rng, (5, 3, 16, 16))
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    first = cuts_ext.train(images, epochs=2, seed=3, **TINY)
    assert torch.equal(torch.random.get_rng_state(), torch_state), "global torch RNG was used"
    assert np.array_equal(np.random.get_state()[1], numpy_state), "global numpy RNG was used"
    assert not torch.are_deterministic_algorithms_enabled(), "settings not restored"
    torch.manual_seed(123)  # global state must not matter
    second = cuts_ext.train(images, epochs=2, seed=3, **TINY)
    other = cuts_ext.train(images, epochs=2, seed=4, **TINY)
    assert states_equal(first.model.state_dict(), second.model.state_dict())
    assert not states_equal(first.model.state_dict(), other.model.state_dict())
    np.testing.assert_array_equal(cuts_ext.embed(first.model, images).z,
                                  cuts_ext.embed(second.model, images).z)


def test_volumes_train_on_random_crops_from_a_dataset(rng):
    volumes = [smooth_images(rng, (1, 1, 20, 22, 18))[0] for _ in range(3)]
    dataset = [(volume, "a label the loader ignores") for volume in volumes]
    result = cuts_ext.train(dataset, epochs=1, crop=10, val_fraction=0.0, **TINY)
    assert result.model.dims == 3 and result.history[0]["val"] is None
    assert cuts_ext.embed(result.model, volumes[0][None]).z.shape == (1, 16, 20, 22, 18)


def test_images_of_different_sizes_train_together_on_the_batch_s_smallest_extent(rng):
    # A folder of photographs of different sizes: before, "different shapes after cropping".
    images = [smooth_images(rng, (1, 1) + shape)[0] for shape in ((20, 24), (16, 30), (18, 18))]
    source = training._ImageSource(images, min_extent=5)
    generator = torch.Generator().manual_seed(0)
    assert source.batch([0, 1], (256, 256), generator, torch.device("cpu")).shape == \
        (2, 1, 16, 24)
    assert source.batch([1, 2], (12, 40), generator, torch.device("cpu")).shape == (2, 1, 12, 18)
    result = cuts_ext.train(images, epochs=2, val_fraction=0.0, **TINY)
    assert all(math.isfinite(epoch["reconstruction"]) for epoch in result.history)


def test_warm_up_then_cosine():
    assert [lr_factor(e, epochs=200, warmup=10) for e in (0, 9)] == [1 / 11, 10 / 11]
    assert lr_factor(10, epochs=200, warmup=10) == 1.0
    assert lr_factor(105, epochs=200, warmup=10) == pytest.approx(0.5 * (1 + math.cos(math.pi / 2)))
    assert lr_factor(199, epochs=200, warmup=10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 189 / 190)))
    assert lr_factor(0, epochs=3, warmup=0) == 1.0


def test_learning_rates_follow_the_schedule(rng):
    result = cuts_ext.train(smooth_images(rng, (3, 3, 16, 16)), epochs=20, lr=2e-3,
                            val_fraction=0.0, batch_size=3, num_kernels=1, progress=False,
                            crop=8)
    lrs = [h["lr"] for h in result.history]
    expected = [2e-3 * lr_factor(e, epochs=20, warmup=1) for e in range(20)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


@pytest.mark.parametrize("images,kwargs,words", [
    (np.zeros((3, 16, 16), np.float32), {}, ["images", "rank 4 or 5"]),
    (np.full((2, 3, 16, 16), np.nan, np.float32), {}, ["images", "non-finite"]),
    (np.zeros((2, 3, 16, 16), np.uint8), {}, ["images", "floating point"]),
    ([np.zeros((3, 16, 16), np.float32), np.zeros((3, 16, 16), np.float32) + np.inf], {},
     ["images[1]", "non-finite"]),
    ([np.zeros((3, 16, 16), np.float32), np.zeros((2, 16, 16), np.float32)], {}, ["images[1]"]),
    (np.zeros((2, 3, 16, 16), np.float32), dict(epochs=0), ["epochs"]),
    (np.zeros((2, 3, 16, 16), np.float32), dict(val_fraction=1.0), ["val_fraction"]),
    (np.zeros((2, 3, 16, 16), np.float32), dict(lambda_contrastive=2.0), ["lambda_contrastive"]),
    (np.zeros((2, 3, 16, 16), np.float32), dict(lr=float("nan")), ["lr"]),
    (np.zeros((2, 3, 16, 16), np.float32), dict(crop=3), ["crop"]),
    (np.zeros((2, 3, 16, 16), np.float32), dict(step="sparse"), ["step"]),
    (np.zeros((2, 1, 4, 16), np.float32), {}, ["images", "patch_size = 5", "[4, 16]"]),
    (np.zeros((2, 1, 6, 6), np.float32), dict(patch_size=7), ["patch_size = 7", "[6, 6]"]),
    ([np.zeros((1, 16, 16), np.float32), np.zeros((1, 16, 3), np.float32)], {},
     ["images[1]", "patch_size = 5", "[16, 3]"]),
])
def test_bad_inputs_raise_naming_the_problem(images, kwargs, words):
    with pytest.raises(ValueError) as raised:
        cuts_ext.train(images, **{**TINY, "epochs": 1, **kwargs})
    for word in words:
        assert word in str(raised.value)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_accelerator_training_is_repeatable_and_stays_on_device(device, rng):
    images = torch.from_numpy(smooth_images(rng, (4, 3, 32, 32)))
    first = cuts_ext.train(images, epochs=2, device=device, seed=1, **TINY)
    second = cuts_ext.train(images.to(device), epochs=2, device=device, seed=1, **TINY)
    assert next(first.model.parameters()).device.type == torch.device(device).type
    assert states_equal(first.model.state_dict(), second.model.state_dict())


def test_a_diverging_run_stops_naming_the_epoch_and_writes_nothing(tmp_path):
    path = tmp_path / "encoder.pt"
    images = smooth_images(np.random.default_rng(2), (4, 1, 16, 16))
    for kwargs in (dict(lr=1e12), dict(lr=1e-3, images=images * 1e30)):
        data = kwargs.pop("images", images)
        with pytest.raises(RuntimeError, match=r"diverged in epoch 0 .*Lower lr"):
            cuts_ext.train(data, epochs=2, checkpoint=path, **{**TINY, **kwargs})
        assert not path.exists()


def test_divergence_after_good_epochs_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    epoch_of = training._Run.epoch

    def poisoned(self, trainer, model, optimizer, epoch):
        record = epoch_of(self, trainer, model, optimizer, epoch)
        if epoch == 2:
            with torch.no_grad():
                next(model.parameters()).fill_(float("nan"))
        return record

    monkeypatch.setattr(training._Run, "epoch", poisoned)
    path = tmp_path / "encoder.pt"
    with pytest.raises(RuntimeError, match="diverged in epoch 2 .*weights not finite"):
        cuts_ext.train(smooth_images(np.random.default_rng(2), (4, 1, 16, 16)), epochs=4,
                       checkpoint=path, **TINY)
    state = torch.load(path, weights_only=True)
    assert state["epoch"] == 2 and 0 <= state["best"]["epoch"] <= 1
    model = cuts_ext.load_encoder(path)
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
