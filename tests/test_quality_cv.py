"""The cross-validation protocol of python/bench/bench_quality.py --cv (quality_cv.py): folds
partition the images, each fold is scored with the candidate chosen without it, and one choice
per fold serves every run (training step and seed), as one default does."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python" / "bench"))
quality_cv = pytest.importorskip("quality_cv")


def table(auto, persistent):
    """A score table whose label-free columns hold these per-image Dice values."""
    scores = np.zeros((len(auto), len(quality_cv.COLUMNS)))
    scores[:, quality_cv.COLUMNS.index("auto_dice")] = auto
    scores[:, quality_cv.COLUMNS.index("persistent_dice")] = persistent
    return scores


def test_folds_partition_the_images():
    parts = quality_cv.folds(40, 5)
    assert len(parts) == 5 and all(len(part) == 8 for part in parts)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(40))
    assert np.array_equal(np.concatenate(quality_cv.folds(40, 5)), np.concatenate(parts))
    with pytest.raises(ValueError, match="--cv"):
        quality_cv.folds(4, 5)


def test_each_fold_is_scored_with_the_choice_made_without_it():
    n = 10
    steady = table(np.full(n, 0.6), np.full(n, 0.6))
    # Excellent on image 3 alone, poor elsewhere: chosen only if image 3 had a say.
    lucky = table(np.where(np.arange(n) == 3, 1.0, 0.5), np.where(np.arange(n) == 3, 1.0, 0.5))
    tables = {"steady": steady, "lucky": lucky}
    held_out, chosen = quality_cv.cross_validate({"run": tables}, 10)  # leave one out
    assert chosen == ["steady"] * n
    assert np.array_equal(held_out["run"], steady)
    # With every image, the lucky candidate's mean (0.55) still loses to 0.6.
    assert quality_cv.best_candidate([tables], np.arange(n)) == "steady"


def test_the_choice_follows_the_training_folds():
    n = 6
    good_early = table([0.9, 0.9, 0.9, 0.1, 0.1, 0.1], [0.9, 0.9, 0.9, 0.1, 0.1, 0.1])
    good_late = table([0.1, 0.1, 0.1, 0.8, 0.8, 0.8], [0.1, 0.1, 0.1, 0.8, 0.8, 0.8])
    tables = {"early": good_early, "late": good_late}
    held_out, chosen = quality_cv.cross_validate({"run": tables}, n)
    held_out = held_out["run"]
    # Leaving out an early image leaves two early and three late ones: "early" scores
    # (2 * 0.9 + 3 * 0.1) / 5 = 0.42, "late" (2 * 0.1 + 3 * 0.8) / 5 = 0.52, so the early
    # image is scored with "late"; symmetrically a late image with "early".
    assert sorted(chosen) == ["early"] * 3 + ["late"] * 3
    assert np.array_equal(held_out[:3], good_late[:3])
    assert np.array_equal(held_out[3:], good_early[3:])


def test_one_choice_per_fold_serves_every_run():
    n = 4
    # "x" wins run a by a little and loses run b by a lot: pooled, "y" is chosen for every
    # fold, and both runs' held-out scores are y's (a choice per run would take x for a).
    def constant(value):
        return table(np.full(n, value), np.full(n, value))

    a = {"x": constant(0.62), "y": constant(0.6)}
    b = {"x": constant(0.2), "y": constant(0.7)}
    held_out, chosen = quality_cv.cross_validate({("full", 0): a, ("windows", 0): b}, 2)
    assert chosen == ["y", "y"]
    assert np.array_equal(held_out[("full", 0)], a["y"])
    assert np.array_equal(held_out[("windows", 0)], b["y"])


def test_the_default_is_the_best_on_average_over_runs():
    a = {"x": table([0.7, 0.7], [0.7, 0.7]), "y": table([0.9, 0.9], [0.9, 0.9])}
    b = {"x": table([0.7, 0.7], [0.7, 0.7]), "y": table([0.4, 0.4], [0.4, 0.4])}
    assert quality_cv.choose_default([a, b]) == "x"


def test_explicit_settings_are_parsed_and_bad_ones_refused():
    import argparse
    import re

    bench_quality = pytest.importorskip("bench_quality")
    from quality_runs import CondensationSetting

    assert bench_quality.parse_setting("0.5:4096:2") == CondensationSetting(0.5, 4096, 2.0)
    assert bench_quality.parse_setting("0:all:0") == CondensationSetting(0.0, None, 0.0)
    pca = bench_quality.parse_setting("0.5:4096:1:20")
    assert pca == CondensationSetting(0.5, 4096, 1.0, 20) and pca.key() == "w0.5-c1-p4096-pca20"
    assert CondensationSetting(0.5, 4096, 1.0).key() == "w0.5-c1-p4096"  # earlier caches' keys
    for bad in ("0.5:4096", "0.5:many:1", "x:all:1", "0.5:4096:1:x", "0.5:4096:1:20:3"):
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(repr(bad))):
            bench_quality.parse_setting(bad)
