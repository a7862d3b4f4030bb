"""Outputs are checked before the work (issue #14): an output folder or checkpoint that cannot be
written is refused, naming its option, before any input is read or model trained; masks that
match no input say so instead of silently scoring nothing; runs writing into one folder at once
keep each other's metrics rows."""

import csv
import subprocess
import sys

import numpy as np
import pytest

import cuts_ext
from cuts_ext.cli import segment as segment_command
from cuts_ext.cli import train as train_command
from cuts_ext.segmentation.evaluation import CSV_COLUMNS, merge_metrics_csv
from support.cli import npy_images, run_cuts


@pytest.fixture
def images(tmp_path):
    return npy_images(tmp_path / "images")


@pytest.fixture
def no_work(monkeypatch):
    """Makes reading the inputs (the first step of any work) fail the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("work started before the outputs were checked")
    monkeypatch.setattr(segment_command, "read_inputs", refuse)
    monkeypatch.setattr(segment_command, "resolve_sources", refuse)
    monkeypatch.setattr(train_command, "read_inputs", refuse)




def test_an_existing_file_as_the_output_folder_is_refused_first(capsys, images, tmp_path,
                                                                 no_work):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    status, lines = run_cuts(capsys, "segment", images, "-o", target)
    assert status == 1 and len(lines) == 1
    assert "-o" in lines[0] and str(target) in lines[0] and "not a folder" in lines[0]
    assert target.read_text() == "not a folder"


def test_an_output_folder_that_cannot_be_created_is_refused_first(capsys, images, tmp_path,
                                                                  no_work):
    blocker = tmp_path / "file"
    blocker.write_text("")
    status, lines = run_cuts(capsys, "segment", images, "-o", blocker / "out")
    assert status == 1 and len(lines) == 1
    assert "-o" in lines[0] and str(blocker / "out") in lines[0] and "cannot write" in lines[0]


@pytest.mark.parametrize("command, option", [("segment", "--save-model"), ("train", "-o")])
def test_an_existing_checkpoint_is_kept_unless_resumed_or_overwritten(capsys, images, tmp_path,
                                                                      no_work, command, option):
    # A repeated command must not replace a trained model; --resume or --overwrite says how
    # to treat it, and either one gets past this check to the work (no_work then stops it).
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"a trained model")
    args = ["-o", tmp_path / "out", "--save-model", checkpoint] if command == "segment" else \
        ["-o", checkpoint]
    status, lines = run_cuts(capsys, command, images, *args)
    assert status == 1 and len(lines) == 1
    assert str(checkpoint) in lines[0] and "already exists" in lines[0]
    assert "--resume" in lines[0] and "--overwrite" in lines[0]
    assert checkpoint.read_bytes() == b"a trained model"
    for flag in ("--resume", "--overwrite"):
        status, lines = run_cuts(capsys, command, images, *args, flag)
        assert status != 0 and "work started" in lines[-1]
    assert checkpoint.read_bytes() == b"a trained model"


def test_train_resume_with_overwrite_is_a_usage_error(capsys, images, tmp_path, no_work):
    status, lines = run_cuts(capsys, "train", images, "-o", tmp_path / "m.pt", "--resume",
                             "--overwrite")
    assert status == 2 and "--overwrite" in lines[-1] and "--resume" in lines[-1]


@pytest.mark.parametrize("command, option", [("segment", "--save-model"), ("train", "-o")])
def test_a_checkpoint_path_that_is_a_folder_is_refused_first(capsys, images, tmp_path, no_work,
                                                             command, option):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    args = ["-o", tmp_path / "out", "--save-model", folder] if command == "segment" else \
        ["-o", folder]
    status, lines = run_cuts(capsys, command, images, *args)
    assert status == 1 and len(lines) == 1
    assert option in lines[0] and str(folder) in lines[0] and "is a folder" in lines[0]


def test_a_checkpoint_in_an_unwritable_place_is_refused_first(capsys, images, tmp_path, no_work):
    blocker = tmp_path / "file"
    blocker.write_text("")
    status, lines = run_cuts(capsys, "train", images, "-o", blocker / "model.pt")
    assert status == 1 and len(lines) == 1
    assert "-o" in lines[0] and str(blocker) in lines[0] and "not a folder" in lines[0]


def test_masks_that_match_no_input_are_reported_not_silently_dropped(capsys, images, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    np.save(masks / "unrelated.npy", np.ones((16, 16)))
    out = tmp_path / "out"
    status, lines = run_cuts(capsys, "segment", images, "-o", out, "--masks", masks,
                             "--epochs", "1", "--quiet")
    assert status == 0
    assert any("warning" in line and "--masks" in line and "matched none" in line
               for line in lines)
    assert not (out / "metrics.csv").exists()
    assert sorted(p.name for p in out.iterdir()) == ["image0", "image1"]


def test_segment_warns_when_masks_match_no_image(images, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    np.save(masks / "unrelated.npy", np.ones((16, 16)))
    model = cuts_ext.train(np.stack([np.load(p) for p in sorted(images.iterdir())])[:, None],
                           epochs=1, progress=False, val_fraction=0).model
    with pytest.warns(UserWarning, match="masks matched none of the 2 image"):
        results = cuts_ext.segment(str(images), model, masks=str(masks), progress=False)
    assert [result.metrics for result in results] == [None, None]


_MERGER = """
import sys
from cuts_ext.segmentation.evaluation import CSV_COLUMNS, merge_metrics_csv
writer, count, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for number in range(count):
    row = dict.fromkeys(CSV_COLUMNS, 0.5)
    row["name"] = f"writer{writer}_image{number}"
    merge_metrics_csv([row], path)
"""


def test_runs_writing_metrics_into_one_folder_at_once_lose_no_row(tmp_path):
    # Four processes each add 25 rows one by one to the same file, all at once: without the
    # lock, read-modify-write races would drop rows.
    path = tmp_path / "metrics.csv"
    writers = [subprocess.Popen([sys.executable, "-c", _MERGER, str(w), "25", str(path)],
                                cwd=tmp_path)  # not the checkout: its cuts_ext has no _C
               for w in range(4)]
    assert [writer.wait(timeout=120) for writer in writers] == [0] * 4
    with open(path, newline="") as file:
        names = [row["name"] for row in csv.DictReader(file)]
    assert sorted(names) == sorted(f"writer{w}_image{n}" for w in range(4) for n in range(25))


def test_merging_replaces_rows_of_the_same_image_and_keeps_the_others(tmp_path):
    path = tmp_path / "metrics.csv"
    first = [dict(dict.fromkeys(CSV_COLUMNS, 0.25), name=name) for name in ("a", "b")]
    merge_metrics_csv(first, path)
    merge_metrics_csv([dict(dict.fromkeys(CSV_COLUMNS, 0.75), name="b")], path)
    with open(path, newline="") as file:
        rows = {row["name"]: row["best_dice"] for row in csv.DictReader(file)}
    assert rows == {"a": "0.250000", "b": "0.750000"}


def test_an_input_the_model_does_not_fit_fails_alone(capsys, tmp_path):
    # A 2-D model on a volume: that input fails with one line naming it, the image still
    # finishes (before, torch's RuntimeError ended the whole run).
    images = npy_images(tmp_path / "images", count=1)
    np.save(images / "volume.npy", np.random.default_rng(0).random((12, 12, 12), np.float32))
    model = tmp_path / "model.pt"
    cuts_ext.train(np.load(images / "image0.npy")[None, None], epochs=1, val_fraction=0.0,
                   checkpoint=model, progress=False)
    status, lines = run_cuts(capsys, "segment", images, "-o", tmp_path / "out", "--model",
                             model, "--max-points", 20, "--quiet")
    assert status == 1
    assert any("volume.npy" in line and "2-D encoder" in line for line in lines), lines
    assert (tmp_path / "out" / "image0" / "image0.npz").is_file()
    assert not (tmp_path / "out" / "volume").exists()


def test_inputs_without_a_foreground_mask_are_named_and_take_the_default(capsys, tmp_path):
    images = npy_images(tmp_path / "images")
    masks = tmp_path / "masks"
    masks.mkdir()
    np.save(masks / "image0_mask.npy", np.ones((16, 16)))
    model = tmp_path / "model.pt"
    cuts_ext.train(np.load(images / "image0.npy")[None, None], epochs=1, val_fraction=0.0,
                   checkpoint=model, progress=False)
    status, lines = run_cuts(capsys, "segment", images, "-o", tmp_path / "out", "--model",
                             model, "--foreground", masks, "--quiet")
    assert status == 0
    assert any("--foreground" in line and "1 of 2" in line and "image1.npy" in line
               and "default" in line for line in lines), lines


@pytest.mark.parametrize("command", ["train", "segment"])
def test_inputs_of_two_kinds_are_named_before_training(capsys, tmp_path, monkeypatch, command):
    # One encoder per kind: before, training failed on "images[1]" without naming a file.
    images = npy_images(tmp_path / "images", count=1)
    np.save(images / "volume.npy", np.random.default_rng(0).random((12, 12, 12), np.float32))

    def no_training(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr("cuts_ext.encoder.training.train", no_training)
    output = tmp_path / ("m.pt" if command == "train" else "out")
    status, lines = run_cuts(capsys, command, images, "-o", output, "--quiet")
    assert status == 1
    assert "volume.npy: a volume of 1 channel(s), unlike" in lines[-1], lines
    assert "image0.npy (a 2-D image of 1 channel(s))" in lines[-1], lines


def _model_for(images, path):
    cuts_ext.train(np.load(images / "image0.npy")[None, None], epochs=1, val_fraction=0.0,
                   checkpoint=path, progress=False)
    return path


def test_an_input_named_like_one_of_another_source_fails_alone(capsys, tmp_path):
    # Before, each source was checked on its own: with --overwrite the second image0 replaced
    # the first one's outputs, and without it failed as "already exists".
    images = npy_images(tmp_path / "images")
    other = tmp_path / "other"
    other.mkdir()
    np.save(other / "image0.npy", np.load(images / "image1.npy"))
    model = _model_for(images, tmp_path / "model.pt")
    out = tmp_path / "out"
    status, lines = run_cuts(capsys, "segment", images, other / "image0.npy",
                             images / "image1.npy", "-o", out, "--model", model, "--overwrite",
                             "--quiet")
    assert status == 1 and lines[-1] == "cuts segment: error: 1 input(s) failed", lines
    assert str(other / "image0.npy") in lines[0] and "same name 'image0'" in lines[0]
    written = cuts_ext.MultiscaleSegmentation.load(out / "image0" / "image0.npz")
    assert written.source == str(images / "image0.npy")
    assert sorted(p.name for p in out.iterdir()) == ["image0", "image1"]


def test_a_pattern_over_the_output_folder_leaves_its_files_out(capsys, tmp_path):
    # `cuts segment 'data/**' -o data/out` run twice took its own label images as inputs.
    images = npy_images(tmp_path / "data")
    model = _model_for(images, tmp_path / "model.pt")
    out = images / "out"
    command = ["segment", f"{images}/**", "-o", out, "--model", model, "--quiet"]
    assert run_cuts(capsys, *command)[0] == 0
    status, lines = run_cuts(capsys, *command, "--overwrite")
    assert status == 0 and len(lines) == 1, lines
    assert "left out" in lines[0] and str(out) in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["image0", "image1"]


def test_an_input_condensed_to_no_level_is_a_warning_not_a_silent_success(capsys, tmp_path):
    # A handful of points can merge without a cluster count holding for two iterations: the
    # outputs hold no label image, which the run printed as "0 levels" and nothing else.
    images = npy_images(tmp_path / "images", count=1)
    model = _model_for(images, tmp_path / "model.pt")
    status, lines = run_cuts(capsys, "segment", images, "-o", tmp_path / "out", "--model",
                             model, "--max-points", 3, "--quiet")
    written = cuts_ext.MultiscaleSegmentation.load(tmp_path / "out" / "image0" / "image0.npz")
    assert status == 0 and written.levels == []
    assert len(lines) == 1 and "image0: no level" in lines[0] and "warning" in lines[0]
