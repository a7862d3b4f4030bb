"""Checkpoints: one file that rebuilds the model, written atomically, foreign files refused."""

import os
import stat

import numpy as np
import pytest
import torch

import cuts_ext
from support.images import smooth_images
from cuts_ext.encoder import checkpoint as ckpt


@pytest.fixture
def trained(rng, tmp_path):
    images = smooth_images(rng, (4, 3, 16, 16))
    path = tmp_path / "encoder.pt"
    result = cuts_ext.train(images, epochs=2, batch_size=2, num_kernels=2, seed=1,
                            checkpoint=path, progress=False)
    return images, path, result


def test_checkpoint_rebuilds_the_best_model(trained):
    images, path, result = trained
    state = ckpt.load_checkpoint(path)
    assert state["format"] == ckpt.FORMAT and state["version"] == ckpt.VERSION
    assert state["config"] == dict(in_channels=3, num_kernels=2, patch_size=5, dims=2)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert state["best"]["epoch"] == result.best_epoch
    model = cuts_ext.load_encoder(path)
    assert not model.training
    for key, value in result.model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    np.testing.assert_array_equal(cuts_ext.embed(model, images).z,
                                  cuts_ext.embed(result.model, images).z)
    assert [p.name for p in path.parent.iterdir()] == [path.name], "temporary files left"


def test_truncated_checkpoint_is_refused(trained):
    _, path, _ = trained
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated, corrupt"):
        cuts_ext.load_encoder(path)


@pytest.mark.parametrize("content", [{"state_dict": {}}, [1, 2, 3],
                                     {"format": "something.else", "model": {}}])
def test_foreign_torch_file_is_refused(tmp_path, content):
    path = tmp_path / "other.pt"
    torch.save(content, path)
    with pytest.raises(ValueError, match="not a cuts_ext encoder checkpoint"):
        cuts_ext.load_encoder(path)


def test_non_torch_file_and_missing_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="cannot be read as a cuts_ext encoder checkpoint"):
        cuts_ext.load_encoder(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cuts_ext.load_encoder(tmp_path / "absent.pt")


def test_a_checkpoint_is_created_with_the_umask_s_permissions(trained):
    # Not mkstemp's 0600: others on a shared file system may read the model, as any file.
    _, path, _ = trained
    umask = os.umask(0o022)
    try:
        ckpt.save_checkpoint(path, ckpt.load_checkpoint(path))
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_another_format_is_refused_without_torch_s_unsafe_advice(tmp_path):
    # torch suggests weights_only=False, which would run the file's code: not passed on.
    import nibabel
    path = tmp_path / "volume.nii.gz"
    nibabel.save(nibabel.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)), str(path))
    with pytest.raises(ValueError, match="volume.nii.gz.* not a cuts_ext encoder checkpoint") \
            as raised:
        cuts_ext.load_encoder(path)
    assert "weights_only" not in str(raised.value)


def test_newer_version_is_refused(trained):
    _, path, _ = trained
    state = ckpt.load_checkpoint(path)
    state["version"] = ckpt.VERSION + 1
    torch.save(state, path)
    with pytest.raises(ValueError, match="upgrade cuts_ext"):
        ckpt.load_checkpoint(path)


def test_crash_while_saving_keeps_the_previous_checkpoint(trained, monkeypatch):
    _, path, _ = trained
    before = path.read_bytes()

    def crash(state, stream, *args, **kwargs):
        stream.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(path, {"config": {}, "model": {}, "epoch": 3})
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == [path.name], "temporary file left behind"
    ckpt.load_checkpoint(path)


def test_a_state_without_weights_is_never_written(tmp_path):
    path = tmp_path / "encoder.pt"
    with pytest.raises(ValueError, match="without weights"):
        ckpt.save_checkpoint(path, {"config": {}, "model": None, "epoch": 1})
    assert list(tmp_path.iterdir()) == []


def _altered(path, tmp_path, **changes):
    state = ckpt.load_checkpoint(path)
    state.update(changes)
    target = tmp_path / "altered.pt"
    torch.save(state, target)
    return target


@pytest.mark.parametrize("change,words", [
    (lambda s: {"model": None}, ["holds no weights", "NoneType"]),
    (lambda s: {"model": {k: v * float("nan") if v.is_floating_point() else v
                          for k, v in s["model"].items()}}, ["non-finite weights"]),
    (lambda s: {"model": {**s["model"], "layers.0.bias": torch.full_like(
        s["model"]["layers.0.bias"], float("inf"))}}, ["non-finite", "layers.0.bias"]),
    (lambda s: {"config": {**s["config"], "num_kernels": 3}}, ["do not fit", "num_kernels': 3",
                                                               "size mismatch"]),
    (lambda s: {"config": {**s["config"], "dims": 3}}, ["do not fit"]),
    (lambda s: {"config": {**s["config"], "colour": True}}, ["do not fit", "colour"]),
])
def test_load_encoder_refuses_weights_it_cannot_use(trained, tmp_path, change, words):
    _, path, _ = trained
    altered = _altered(path, tmp_path, **change(ckpt.load_checkpoint(path)))
    with pytest.raises(ValueError) as raised:
        cuts_ext.load_encoder(altered)
    assert all(word in str(raised.value) for word in words), str(raised.value)


def test_load_encoder_checks_the_device(trained):
    _, path, _ = trained
    with pytest.raises(ValueError, match="device must be"):
        cuts_ext.load_encoder(path, device="gpu")
    assert next(cuts_ext.load_encoder(path, device="cpu").parameters()).device.type == "cpu"
