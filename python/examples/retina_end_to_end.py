"""Retina fundus photographs end to end: train CUTS on a folder, segment, score against masks.

    python python/examples/retina_end_to_end.py IMAGES_DIR MASKS_DIR [OUT]

With the development data: IMAGES_DIR = ../shared/data/retina/images, MASKS_DIR =
../shared/data/retina/masks. The masks are only used for scoring, never for training.
"""

import sys

import cuts_ext
from cuts_ext.segmentation.evaluation import format_summary


def main(images: str, masks: str, out: str = "retina_out") -> None:
    results = cuts_ext.segment(images, masks=masks, train_options={"epochs": 200})
    for result in results:
        cuts_ext.io.write_outputs(out, result.image, result.segmentation, overwrite=True)
    scored = [r.metrics for r in results if r.metrics is not None]
    print(format_summary(scored))
    print(f"segmentations and figures in {out}/")


if __name__ == "__main__":
    main(*sys.argv[1:])
