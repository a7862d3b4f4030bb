"""`cuts evaluate` through a real subprocess on tiny written outputs: tables, summaries, exit
codes and one-line errors."""

import csv
import os
import shutil
import subprocess
import sys

import nibabel
import numpy as np
import pytest
from PIL import Image
from support.tiny_segmentations import block_result

from cuts_ext.io import read_image, write_outputs
from cuts_ext.segmentation.multiscale import MultiscaleSegmentation


def _cuts(*args):
    cuts = shutil.which("cuts", path=os.path.dirname(sys.executable)) or shutil.which("cuts")
    return subprocess.run([cuts, *map(str, args)], capture_output=True, text=True, timeout=120)


def _write_case(folder, name, shape):
    """One input (PNG for 2-D, NIfTI for 3-D), its outputs under folder/out, and a mask equal to
    the first block of 4 pixels (level 1 of `block_result` holds it exactly)."""
    inputs, masks = folder / "inputs", folder / "masks"
    inputs.mkdir(exist_ok=True), masks.mkdir(exist_ok=True)
    mask = (np.arange(int(np.prod(shape))) < 4).reshape(shape).astype(np.uint8)
    ramp = (np.arange(int(np.prod(shape))) % 256).reshape(shape)  # any content will do
    if len(shape) == 2:
        Image.fromarray(ramp.astype(np.uint8)).save(inputs / f"{name}.png")
        image = read_image(inputs / f"{name}.png")
        Image.fromarray(mask * 255).save(masks / f"{name}_mask.png")
    else:
        nibabel.save(nibabel.Nifti1Image(ramp.astype(np.float32), np.eye(4)),
                     str(inputs / f"{name}.nii.gz"))
        image = read_image(inputs / f"{name}.nii.gz")
        nibabel.save(nibabel.Nifti1Image(mask, np.eye(4)), str(masks / f"{name}.nii.gz"))
    seg = MultiscaleSegmentation.from_condensation(block_result(shape), shape)
    write_outputs(folder / "out", image, seg, figure=False)


@pytest.fixture
def outputs(tmp_path):
    _write_case(tmp_path, "a", (4, 6))
    _write_case(tmp_path, "b", (6, 4))
    _write_case(tmp_path, "v", (2, 3, 4))
    return tmp_path


def test_evaluate_writes_the_table_and_prints_the_summary(outputs):
    result = _cuts("evaluate", outputs / "out", "--masks", outputs / "masks")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for label in ("best level", "persistent map", "automatic level", "3 images"):
        assert label in result.stdout
    assert "1.000 +- 0.000" in result.stdout  # every best level holds the mask exactly
    with open(outputs / "out" / "metrics.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["name"] for row in rows] == ["a", "b", "v"]
    for row in rows:
        assert float(row["best_dice"]) == 1.0 and float(row["best_hausdorff"]) == 0.0
        assert row["best_dice_level"] == "1" and 0 <= float(row["persistent_dice"]) <= 1


def test_quiet_csv_path_and_overwrite(outputs):
    table = outputs / "table.csv"
    result = _cuts("evaluate", outputs / "out", "--masks", outputs / "masks", "--csv", table,
                   "--quiet")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert table.exists() and not (outputs / "out" / "metrics.csv").exists()
    again = _cuts("evaluate", outputs / "out", "--masks", outputs / "masks", "--csv", table)
    assert again.returncode == 1
    assert again.stderr.strip() == (f"cuts evaluate: error: {table}: already exists; pass "
                                    "--overwrite to replace it")
    assert _cuts("evaluate", outputs / "out", "--masks", outputs / "masks", "--csv", table,
                 "--overwrite", "--quiet").returncode == 0


def test_a_bad_output_is_reported_and_the_others_still_complete(outputs):
    # b's mask gets the wrong shape; a's .npz is damaged; v has no mask at all.
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(outputs / "masks" / "b_mask.png")
    (outputs / "out" / "a" / "a.npz").write_bytes(b"PK\x03\x04 damaged")
    os.remove(outputs / "masks" / "v.nii.gz")
    _write_case(outputs, "c", (4, 4))
    result = _cuts("evaluate", outputs / "out", "--masks", outputs / "masks")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4, result.stderr
    assert lines[0].startswith("cuts evaluate: error: ") and "a.npz: cannot be read" in lines[0]
    assert "b_mask.png: mask shape [5, 5] differs from the shape [6, 4] of " in lines[1]
    assert lines[1].endswith("b.npz")
    assert lines[2].startswith("cuts evaluate: warning: ") and "v.npz: no mask named v" in lines[2]
    assert lines[3] == "cuts evaluate: error: 2 of 4 outputs failed"
    with open(outputs / "out" / "metrics.csv") as file:
        assert [row["name"] for row in csv.DictReader(file)] == ["c"]


def test_usage_and_input_errors_have_their_exit_codes(tmp_path):
    help_text = _cuts("evaluate", "--help")
    assert help_text.returncode == 0 and "--masks" in help_text.stdout
    missing_flag = _cuts("evaluate", tmp_path)
    assert missing_flag.returncode == 2 and "--masks" in missing_flag.stderr
    nowhere = _cuts("evaluate", tmp_path / "nowhere", "--masks", tmp_path)
    assert nowhere.returncode == 1
    assert nowhere.stderr.strip() == f"cuts evaluate: error: {tmp_path / 'nowhere'}: no such folder"
    empty = _cuts("evaluate", tmp_path, "--masks", tmp_path)
    assert empty.returncode == 1 and "no segmentation (NAME/NAME.npz)" in empty.stderr
    assert len(empty.stderr.strip().splitlines()) == 1
