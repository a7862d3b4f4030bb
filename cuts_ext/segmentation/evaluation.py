"""Per-image evaluation rows, their CSV table and the printed summary (the paper's three columns:
the oracle best level, the persistent-structures map, and here the automatic level)."""

from __future__ import annotations

import csv
import os
import uuid
from pathlib import Path
from typing import Any, Dict, Sequence

import numpy as np

from ..io import read_mask
from ..io.errors import OutputExistsError
from .metrics import dice, hausdorff_distance, label_hint_mask, score_levels
from .multiscale import MultiscaleSegmentation

CSV_COLUMNS = ("name", "n_levels",
               "best_dice", "best_dice_level", "best_hausdorff", "best_hausdorff_level",
               "persistent_dice", "persistent_hausdorff",
               "auto_level", "auto_dice", "auto_hausdorff")

# The summary's rows: label, Dice column, Hausdorff column.
_SUMMARY_ROWS = (("best level", "best_dice", "best_hausdorff"),
                 ("persistent map", "persistent_dice", "persistent_hausdorff"),
                 ("automatic level", "auto_dice", "auto_hausdorff"))


def evaluate_segmentation(name: str, segmentation: Any, reference: np.ndarray) -> Dict[str, Any]:
    """Label-hint scores of one multi-scale segmentation against its reference mask.

    "best": the highest Dice over levels and, chosen separately, the lowest Hausdorff distance
    (an oracle, as the paper reports it); "persistent": the label-hint mask of the persistent
    map; "auto": the level `segmentation.auto_level`. Levels are positions, 0 = finest.

    Args:
        name: the image's name (the CSV's first column).
        segmentation: a `MultiscaleSegmentation` (label_maps [L, *spatial] with L >= 1,
            persistent, auto_level).
        reference: mask [*spatial], nonzero = foreground.
    Returns:
        dict with the keys of CSV_COLUMNS (Hausdorff distances in pixels).
    Raises:
        ValueError: no level, or the mask's shape differs from the maps'.
    """
    if len(segmentation.label_maps) == 0 or segmentation.auto_level is None:
        raise ValueError("the segmentation has no level to evaluate")
    scores = score_levels(segmentation.label_maps, reference)
    persistent = label_hint_mask(segmentation.persistent, reference)
    auto = segmentation.auto_level
    return {
        "name": name, "n_levels": len(segmentation.label_maps),
        "best_dice": scores.dice[scores.best_dice_level],
        "best_dice_level": scores.best_dice_level,
        "best_hausdorff": scores.hausdorff[scores.best_hausdorff_level],
        "best_hausdorff_level": scores.best_hausdorff_level,
        "persistent_dice": dice(persistent, reference),
        "persistent_hausdorff": hausdorff_distance(persistent, reference),
        "auto_level": auto, "auto_dice": scores.dice[auto],
        "auto_hausdorff": scores.hausdorff[auto],
    }


def score_written(path: Any, mask_path: Any) -> Dict[str, Any]:
    """`evaluate_segmentation` of a written segmentation (OUT/NAME/NAME.npz, named NAME) against
    the mask file at `mask_path`.

    Raises:
        io.InputError: the mask cannot be read, its shape differs from the segmentation's, or
            its NIfTI affine places it elsewhere than the input's (kept in the .npz).
        ValueError, OSError: the .npz cannot be read, or holds no level.
    """
    segmentation = MultiscaleSegmentation.load(path)
    # Files written before the affine was kept have none: their masks match by shape.
    reference = read_mask(mask_path, segmentation.spatial_shape, image_path=path,
                          affine=segmentation.affine)
    return evaluate_segmentation(Path(path).stem, segmentation, reference)


def write_metrics_csv(rows: Sequence[Dict[str, Any]], path: Any, overwrite: bool = False) -> None:
    """Writes the rows as CSV (columns CSV_COLUMNS, floats with 6 decimals), atomically: a
    temporary file in the same folder renamed over `path`.

    Raises:
        OutputExistsError: `path` exists and `overwrite` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: already exists; pass --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        with open(staging, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({key: f"{value:.6f}" if isinstance(value, float) else value
                                 for key, value in row.items()})
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def merge_metrics_csv(rows: Sequence[Dict[str, Any]], path: Any) -> None:
    """Adds the rows to the CSV at `path` (created if missing): rows already there for other
    images stay, rows for the same image names are replaced. Runs that write into one folder
    at the same time lose none of each other's rows: the read and the atomic rewrite happen
    under an exclusive lock on the folder itself (POSIX `flock` on its descriptor, so no lock
    file is left behind).
    """
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)  # released when the descriptor closes
        existing = []
        if path.exists():
            with open(path, newline="") as file:
                existing = list(csv.DictReader(file))
        names = {str(row["name"]) for row in rows}
        kept = [row for row in existing if row.get("name") not in names]
        write_metrics_csv(kept + list(rows), path, overwrite=True)
    finally:
        os.close(folder)


def format_summary(rows: Sequence[Dict[str, Any]]) -> str:
    """The mean +- standard deviation (over images, population) of Dice and Hausdorff distance
    at the best level, the persistent map and the automatic level, as a small text table."""
    lines = [f"{len(rows)} image{'s' if len(rows) != 1 else ''}",
             f"{'':18s}{'Dice':>18s}{'Hausdorff (px)':>22s}"]
    for label, dice_key, hausdorff_key in _SUMMARY_ROWS:
        d = np.array([row[dice_key] for row in rows], dtype=np.float64)
        h = np.array([row[hausdorff_key] for row in rows], dtype=np.float64)
        lines.append(f"{label:18s}{_mean_std(d, 3):>18s}{_mean_std(h, 2):>22s}")
    return "\n".join(lines)


def _mean_std(values: np.ndarray, decimals: int) -> str:
    if values.size == 0:
        return "-"
    return f"{values.mean():.{decimals}f} +- {values.std():.{decimals}f}"


def format_row(row: Dict[str, Any]) -> str:
    """One line per image: best, persistent and automatic Dice, with the levels."""
    return (f"{row['name']}: best Dice {row['best_dice']:.3f} (level {row['best_dice_level']}), "
            f"persistent {row['persistent_dice']:.3f}, "
            f"automatic {row['auto_dice']:.3f} (level {row['auto_level']})")
