"""The cross-validation's printed tables, its per-image table and its per-image figure."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from quality_cv import COLUMNS

OUTPUT_ROWS = (("best level (oracle)", "best_dice", "best_hausdorff"),
               ("automatic level", "auto_dice", "auto_hausdorff"),
               ("persistent map", "persistent_dice", "persistent_hausdorff"))


def _column(table: np.ndarray, name: str) -> np.ndarray:
    return table[:, COLUMNS.index(name)]


def summary_table(by_seed: Dict[int, np.ndarray]) -> List[str]:
    """Markdown rows: each output's Dice and Hausdorff distance, the mean over seeds of the
    per-seed means over images, +- the spread (std) of those per-seed means; and each
    label-free output's gap to the best level."""
    lines = ["| output | Dice | Hausdorff px | Dice - best level |", "| --- | ---: | ---: | ---: |"]
    best = np.array([_column(t, "best_dice").mean() for t in by_seed.values()])
    for label, dice_name, hausdorff_name in OUTPUT_ROWS:
        dice = np.array([_column(t, dice_name).mean() for t in by_seed.values()])
        hausdorff = np.array([_column(t, hausdorff_name).mean() for t in by_seed.values()])
        gap = "" if dice_name == "best_dice" else f"{np.mean(dice - best):+.3f}"
        lines.append(f"| {label} | {dice.mean():.3f} +- {dice.std():.3f} | "
                     f"{hausdorff.mean():.2f} +- {hausdorff.std():.2f} | {gap} |")
    return lines


def choices_table(chosen: Sequence) -> List[str]:
    """Markdown rows: how often each candidate was chosen, over the folds."""
    lines = ["| condensation | label-free rules | folds |", "| --- | --- | ---: |"]
    for (setting, rules), count in Counter(chosen).most_common():
        lines.append(f"| {setting} | {rules} | {count} |")
    return lines


def per_image_table(names: Sequence[str], by_seed: Dict[int, np.ndarray]) -> List[str]:
    """Markdown rows: per image, the Dice of each output (mean over seeds), worst best level
    first, so that failures stand out."""
    mean = np.mean(list(by_seed.values()), axis=0)
    lines = ["| image | best level | automatic level | persistent map |",
             "| --- | ---: | ---: | ---: |"]
    for number in np.argsort(_column(mean, "best_dice")):
        lines.append(f"| {names[number]} | {_column(mean, 'best_dice')[number]:.3f} | "
                     f"{_column(mean, 'auto_dice')[number]:.3f} | "
                     f"{_column(mean, 'persistent_dice')[number]:.3f} |")
    return lines


def per_image_figure(names: Sequence[str], by_step: Dict[str, Dict[int, np.ndarray]],
                     path: Path) -> None:
    """One panel per training step: each image's Dice of the three outputs (mean over seeds),
    images in the order of their best-level Dice."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(by_step), 1, figsize=(12, 3.2 * len(by_step)),
                                squeeze=False)
    for axis, (step, by_seed) in zip(axes[:, 0], by_step.items()):
        mean = np.mean(list(by_seed.values()), axis=0)
        order = np.argsort(_column(mean, "best_dice"))
        x = np.arange(len(order))
        for (label, dice_name, _), marker in zip(OUTPUT_ROWS, ("o", "s", "^")):
            axis.plot(x, _column(mean, dice_name)[order], marker, label=label, alpha=0.8)
        axis.set_xticks(x, [names[n] for n in order], rotation=90, fontsize=6)
        axis.set_ylim(0, 1)
        axis.set_ylabel("Dice")
        axis.set_title(f"held-out Dice per image, {step} training step (mean of "
                       f"{len(by_seed)} seeds)")
        axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
