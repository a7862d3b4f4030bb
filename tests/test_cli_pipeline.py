"""`cuts train` and `cuts segment` through real subprocesses on tiny files of every format:
outputs, exit codes, one-line errors, and the other inputs finishing when one fails."""

import csv
import os
import shutil
import subprocess
import sys

import nibabel
import numpy as np
import pytest
import tifffile
from support.images import smooth_images
from PIL import Image

SIDE = 16


def _cuts(*args, timeout=300):
    cuts = shutil.which("cuts", path=os.path.dirname(sys.executable)) or shutil.which("cuts")
    return subprocess.run([cuts, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def _uint8(image):
    return np.round((image + 1) * 127.5).astype(np.uint8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Inputs of every 2-D format (one corrupt), their masks (one of the wrong shape) and a
    checkpoint trained on them by `cuts train`."""
    root = tmp_path_factory.mktemp("pipeline")
    images, masks = root / "images", root / "masks"
    images.mkdir(), masks.mkdir()
    pictures = smooth_images(np.random.default_rng(7), (5, 3, SIDE, SIDE))
    rgb = [_uint8(p.transpose(1, 2, 0)) for p in pictures]
    Image.fromarray(rgb[0]).save(images / "a_png.png")
    Image.fromarray(rgb[1]).save(images / "b_jpeg.jpg", quality=95)
    tifffile.imwrite(images / "c_tiff.tif", rgb[2])
    np.save(images / "d_npy.npy", pictures[3].transpose(1, 2, 0))
    np.savez(images / "e_npz.npz", image=pictures[4].transpose(1, 2, 0))
    (images / "f_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    for name, picture in zip(["a_png", "b_jpeg", "c_tiff", "d_npy"], pictures):
        Image.fromarray(((picture[0] > 0) * 255).astype(np.uint8)).save(masks / f"{name}.png")
    Image.fromarray(np.zeros((SIDE, SIDE + 1), np.uint8)).save(masks / "e_npz_mask.png")
    trained = _cuts("train", images, "-o", root / "model.pt", "--epochs", 1, "--batch-size", 2,
                    "--quiet")
    return root, trained


def test_train_writes_a_checkpoint_and_reports_the_corrupt_file(folder):
    root, trained = folder
    assert trained.returncode == 1  # the corrupt file failed; the others trained the model
    assert (root / "model.pt").is_file()
    assert trained.stderr.strip().splitlines() == [
        line for line in trained.stderr.strip().splitlines() if "f_corrupt.png" in line]


def test_segment_with_masks_finishes_the_good_inputs(folder):
    root, _ = folder
    out = root / "out"
    result = _cuts("segment", root / "images", "-o", out, "--model", root / "model.pt",
                   "--masks", root / "masks")
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert any("f_corrupt.png" in line for line in errors)
    assert any("e_npz" in line and "differs from the shape" in line for line in errors)
    assert errors[-1] == "cuts segment: error: 2 input(s) failed"
    for name in ["a_png", "b_jpeg", "c_tiff", "d_npy"]:
        files = {path.name for path in (out / name).iterdir()}
        assert {f"{name}.npz", f"{name}_figure.png", f"{name}_level00.png"} <= files
    assert not (out / "e_npz").exists() and not (out / "f_corrupt").exists()
    assert not [path for path in out.iterdir() if path.name.startswith(".")]  # no partials
    with open(out / "metrics.csv") as file:
        assert sorted(row["name"] for row in csv.DictReader(file)) == [
            "a_png", "b_jpeg", "c_tiff", "d_npy"]
    assert "best level" in result.stdout and "automatic level" in result.stdout

    again = _cuts("segment", root / "images" / "a_png.png", "-o", out, "--model",
                  root / "model.pt", "--quiet")
    assert again.returncode == 1 and "--overwrite" in again.stderr


def test_segment_trains_on_a_nifti_volume_and_keeps_its_affine(tmp_path):
    volume = smooth_images(np.random.default_rng(3), (1, 1, 6, 8, 10))[0, 0]
    affine = np.array([[0, 0, 1.5, -3], [0, 2, 0, 4], [1, 0, 0, 5], [0, 0, 0, 1.0]])
    nibabel.save(nibabel.Nifti1Image(volume, affine), str(tmp_path / "brain.nii.gz"))
    result = _cuts("segment", tmp_path / "brain.nii.gz", "-o", tmp_path / "out", "--epochs", 1,
                   "--batch-size", 1, "--save-model", tmp_path / "brain.pt", "--quiet")
    assert result.returncode == 0, result.stderr
    labels = nibabel.load(str(tmp_path / "out" / "brain" / "brain_level00.nii.gz"))
    assert labels.shape == (6, 8, 10)
    np.testing.assert_allclose(labels.affine, affine)
    assert (tmp_path / "brain.pt").is_file()


def test_a_single_slice_nifti_is_segmented_as_an_image_and_overlays_it(tmp_path):
    """X x Y x 1 goes through the 2-D path; its label images are NIfTI with the input's affine
    (a 2-D NIfTI: the same voxels and world positions as X x Y x 1)."""
    image = smooth_images(np.random.default_rng(5), (1, 1, 12, 14))[0, 0][..., None]
    affine = np.array([[0, 0, 3, -3], [0, 0.8, 0, 4], [0.8, 0, 0, 5], [0, 0, 0, 1.0]])
    nibabel.save(nibabel.Nifti1Image(image, affine), str(tmp_path / "slice.nii.gz"))
    result = _cuts("segment", tmp_path / "slice.nii.gz", "-o", tmp_path / "out", "--epochs", 1,
                   "--quiet")
    assert result.returncode == 0, result.stderr
    labels = nibabel.load(str(tmp_path / "out" / "slice" / "slice_level00.nii.gz"))
    assert labels.shape == (12, 14)
    np.testing.assert_allclose(labels.affine, affine)
    assert np.load(tmp_path / "out" / "slice" / "slice.npz")["label_maps"].shape[1:] == (12, 14)


def test_an_image_smaller_than_the_patch_is_left_out_of_training_not_the_run(tmp_path):
    """Alone, cuts train / segment refuse it, naming the file, before any training; beside
    larger inputs it is left out of the training (named) and segmented by the encoder
    trained on them (embedding pads it), as with a model trained elsewhere."""
    Image.fromarray(np.arange(100, 127, dtype=np.uint8).reshape(3, 9)).save(tmp_path / "strip.png")
    for command in ("train", "segment"):
        result = _cuts(command, tmp_path / "strip.png", "-o", tmp_path / command, "--epochs", 1,
                       "--quiet")
        assert result.returncode == 1
        assert "every input is under the patch size (5)" in result.stderr
        assert "strip.png [3, 9]" in result.stderr
    assert not (tmp_path / "train").exists()
    smooth = smooth_images(np.random.default_rng(6), (1, 1, 16, 16))[0, 0]
    Image.fromarray(((smooth - smooth.min()) / np.ptp(smooth) * 255).astype(np.uint8)).save(
        tmp_path / "big.png")
    both = [tmp_path / "big.png", tmp_path / "strip.png"]
    trained = _cuts("train", *both, "-o", tmp_path / "m.pt", "--epochs", 1, "--quiet")
    assert trained.returncode == 1 and (tmp_path / "m.pt").is_file()  # strip.png: not in it
    assert trained.stderr.splitlines() == [
        f"cuts train: error: {tmp_path / 'strip.png'}: spatial shape [3, 9] is under the patch "
        "size (5) along an axis, too small to train on; left out (the trained encoder "
        "segments it)"]
    segmented = _cuts("segment", *both, "-o", tmp_path / "both", "--epochs", 1, "--quiet")
    assert segmented.returncode == 0, segmented.stderr
    warnings = segmented.stderr.splitlines()  # then, maybe, that the 27 pixels gave no level
    assert warnings[0] == ("cuts segment: warning: trained without 1 input(s) under the patch "
                           f"size: {tmp_path / 'strip.png'} [3, 9]")
    assert all(line.startswith("cuts segment: warning: strip: ") for line in warnings[1:])
    for name, shape in (("big", (16, 16)), ("strip", (3, 9))):
        assert np.load(tmp_path / "both" / name / f"{name}.npz")["label_maps"].shape[1:] == shape
    result = _cuts("segment", tmp_path / "strip.png", "-o", tmp_path / "out", "--model",
                   tmp_path / "m.pt", "--quiet")
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "out" / "strip" / "strip.npz")["label_maps"].shape[1:] == (3, 9)


def test_segment_a_volume_in_air_with_super_voxels_and_a_zero_background(tmp_path):
    """--foreground auto drops the air (label 0 in every written level) and --max-points groups
    the rest into super-voxels; a bad --max-points is a usage error before any work."""
    rng = np.random.default_rng(4)
    grid = np.meshgrid(*[np.linspace(-1, 1, n) for n in (14, 16, 15)], indexing="ij")
    head = sum(g ** 2 for g in grid) <= 0.6
    texture = smooth_images(rng, (1, 1, 14, 16, 15))[0, 0]
    volume = np.where(head, 500 + 300 * texture, 5 * rng.random(head.shape)).astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), str(tmp_path / "head.nii.gz"))
    result = _cuts("segment", tmp_path / "head.nii.gz", "-o", tmp_path / "out", "--epochs", 1,
                   "--batch-size", 1, "--foreground", "auto", "--max-points", 200,
                   "--position-weight", 2, "--quiet")
    assert result.returncode == 0, result.stderr
    written = np.load(tmp_path / "out" / "head" / "head.npz")
    assert written["hierarchy"].shape[1] <= 200  # super-voxels, not voxels
    np.testing.assert_array_equal(written["point_labels"] >= 0, head)
    levels = sorted((tmp_path / "out" / "head").glob("head_level*.nii.gz"))
    assert levels
    for level in levels:
        labels = np.asarray(nibabel.load(str(level)).dataobj)
        assert (labels[~head] == 0).all() and (labels[head] > 0).all()
    refused = _cuts("segment", tmp_path / "head.nii.gz", "-o", tmp_path / "other",
                    "--max-points", 0)
    assert refused.returncode == 2 and "--max-points" in refused.stderr
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("command,args,words", [
    ("segment", ["EMPTY", "-o", "OUT"], ["EMPTY", "no supported file"]),
    ("segment", ["MISSING/x.png", "-o", "OUT"], ["x.png"]),
    ("train", ["EMPTY", "-o", "OUT/m.pt"], ["EMPTY", "no supported file"]),
])
def test_no_readable_input_fails_with_one_line_reasons(tmp_path, command, args, words):
    (tmp_path / "EMPTY").mkdir()
    args = [str(tmp_path / a) if a.isupper() or "/" in a else a for a in args]
    result = _cuts(command, *args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"cuts {command}: error: no input could be read"
    assert all(word in lines[0] for word in words)


@pytest.mark.parametrize("value", ["-1", "nan", "abc"])
def test_a_bad_position_weight_is_a_usage_error(tmp_path, value):
    result = _cuts("segment", str(tmp_path), "-o", str(tmp_path / "out"), "--position-weight",
                   value)
    assert result.returncode == 2
    assert "--position-weight" in result.stderr and ">= 0" in result.stderr


@pytest.mark.parametrize("command", ["train", "segment", "evaluate", "demo", "info"])
def test_every_subcommand_has_help(command):
    result = _cuts(command, "--help")
    assert result.returncode == 0 and "usage: cuts " + command in result.stdout
