"""`cuts evaluate OUTPUTS_DIR --masks MASKS`: the outputs of `cuts segment` scored against masks.

Exit status: 0 when every output that has a mask was scored; 1 when an output failed (the
others are still scored and written) or nothing could be scored; 2 for a usage error (argparse).
Every failure is one line on stderr: "cuts evaluate: error: PATH: reason".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io import InputError, match_masks, written_segmentations
from ..io.errors import OutputExistsError
from ..segmentation.evaluation import (format_row, format_summary, score_written,
                                       write_metrics_csv)
from .options import FORMATS

DEFAULT_CSV_NAME = "metrics.csv"


def add_parser(sub: "argparse._SubParsersAction") -> None:
    parser = sub.add_parser(
        "evaluate", help="score segmentations against reference masks (CSV and summary)",
        description="Score the outputs of `cuts segment` (OUTPUTS_DIR/NAME/NAME.npz) against "
                    "reference masks matched by name (NAME.*, or NAME_mask.*, NAME_seg.*, ...). "
                    "Per image: label-hint Dice and Hausdorff distance (pixels) at the best "
                    "level, the persistent map and the automatic level, written as CSV, with "
                    "the mean +- std printed.")
    parser.add_argument("outputs", metavar="OUTPUTS_DIR", help="the folder `cuts segment` wrote")
    parser.add_argument("--masks", required=True, metavar="MASKS",
                        help=f"mask file, folder or glob ({FORMATS})")
    parser.add_argument("--csv", metavar="FILE",
                        help=f"where to write the table (default OUTPUTS_DIR/{DEFAULT_CSV_NAME})")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing CSV")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing but errors and warnings")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    outputs = Path(args.outputs)
    csv_path = Path(args.csv) if args.csv else outputs / DEFAULT_CSV_NAME
    if not outputs.is_dir():
        raise InputError(f"{outputs}: no such folder")
    if csv_path.exists() and not args.overwrite:
        raise OutputExistsError(f"{csv_path}: already exists; pass --overwrite to replace it")
    files = written_segmentations(outputs)
    if not files:
        raise InputError(f"{outputs}: no segmentation (NAME/NAME.npz) in this folder")
    masks = match_masks(files, args.masks)
    rows, failures = [], 0
    for number, (path, mask_path) in enumerate(masks.items(), start=1):
        if mask_path is None:
            print(f"cuts evaluate: warning: {path}: no mask named {path.stem} in {args.masks}; "
                  "skipped", file=sys.stderr)
            continue
        try:
            row = score_written(path, mask_path)
        except (InputError, ValueError, OSError) as error:
            failures += 1
            # InputError messages start with the file at fault; the others get the output's.
            message = str(error) if isinstance(error, InputError) else f"{path}: {error}"
            print(f"cuts evaluate: error: {message}", file=sys.stderr)
            continue
        rows.append(row)
        if not args.quiet:
            print(f"[{number}/{len(masks)}] {format_row(row)}")
    if not rows:
        print("cuts evaluate: error: no output could be scored", file=sys.stderr)
        return 1
    write_metrics_csv(rows, csv_path, overwrite=args.overwrite)
    if not args.quiet:
        print(format_summary(rows))
        print(f"wrote {csv_path}")
    if failures:
        print(f"cuts evaluate: error: {failures} of {len(masks)} outputs failed",
              file=sys.stderr)
        return 1
    return 0
