"""Segmentation quality on the retina data (../shared/data/retina): CUTS against its baselines.

For each seed: train the encoder on all images (labels unused), then segment each image with
every pixel condensed (the exact path: its 128-d pixel embeddings with the positional encoding
of --position-weight, default segment's for 2-D images; 0 is the reference method), and score
the label-hint mask (docs/method.md, "Label hint and scores") against the image's lesion mask.
With --max-points, each image is also segmented through super-voxels (segment's default path
for 2-D images, with 4,096) with the same encoder: its rows carry the suffix, and the time line
gives both paths' seconds per image (embedding included) and their ratio. With --cv K, the
cross-validated choice of segment's 2-D settings instead (quality_cv.py). Rows:
- best level: the level with the best Dice and, separately, the best Hausdorff distance (the
  paper's oracle choice);
- persistent map: the persistent-structures map;
- automatic level: the label-free choice of `cuts_ext.auto_level`;
- spectral k-means: 10 clusters of the same embeddings (scikit-learn's SpectralClustering on a
  30-nearest-neighbour graph), the paper's baseline;
- raw patches: condensation (same position weight) of the pixel-centred 5 x 5 patches without
  the encoder (best level).
Each cell is the mean +- std over images (pooled over seeds); the seed line gives the spread of
the per-seed means, the statistic the paper quotes (0.741 +- 0.007 over 3 seeds).

    python python/bench/bench_quality.py                         # 3 seeds, 200 epochs, 40 images
    python python/bench/bench_quality.py --seeds 0 --limit 10    # a quicker look
    python python/bench/bench_quality.py --position-weight 0     # the reference method
    python python/bench/bench_quality.py --max-points 4096       # exact beside coarsened
    python python/bench/bench_quality.py --cv 5 --cache DIR      # the defaults' protocol
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "retina"
LEVEL_ROWS = ("best level", "persistent map", "automatic level")
BASELINE_ROWS = ("spectral k-means", "raw patches")


def coarsened_suffix(max_points: int) -> str:
    """The row-name suffix of the coarsened path's rows."""
    return f", {max_points:,} super-voxels"


def load(data: Path, limit: int | None) -> tuple:
    """(images float32 [B, 3, H, W] in [-1, 1], masks bool [B, H, W], names)."""
    from cuts_ext.io import match_masks, read_image, read_mask, resolve_inputs

    paths = resolve_inputs(data / "images")[:limit]
    matched = match_masks(paths, data / "masks")
    images = [read_image(path) for path in paths]
    masks = [read_mask(matched[path], image.spatial_shape) for path, image in zip(paths, images)]
    return np.stack([i.data for i in images]), np.stack(masks), [i.name for i in images]


def spectral_kmeans(points: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.cluster import SpectralClustering
    model = SpectralClustering(n_clusters=10, affinity="nearest_neighbors", n_neighbors=30,
                               assign_labels="kmeans", random_state=seed)
    return model.fit_predict(points)


def score_map(label_map: np.ndarray, mask: np.ndarray) -> tuple:
    from cuts_ext.metrics import dice, hausdorff_distance, label_hint_mask
    hint = label_hint_mask(label_map, mask)
    return dice(hint, mask), hausdorff_distance(hint, mask)


def trained_encoder(images: np.ndarray, seed: int, step: str, args):
    """The encoder trained on all `images` (labels unused) with this seed and step.

    With --cache DIR, each is kept there as `{step}-{epochs}-seed{seed}-n{images}.pt` and
    loaded on later runs instead of trained again (encoder_cache.py).
    """
    from encoder_cache import cached_encoder
    path = None if args.cache is None else encoder_path(images, seed, step, args)
    return cached_encoder(path, images, device=args.device, epochs=args.epochs, seed=seed,
                          step=step)


def encoder_path(images: np.ndarray, seed: int, step: str, args) -> Path:
    """Where --cache keeps the encoder of this seed and step."""
    return args.cache / f"{step}-{args.epochs}-seed{seed}-n{len(images)}.pt"


def run_seed(images, masks, seed: int, args) -> dict:
    import cuts_ext
    from cuts_ext.segmentation.evaluation import evaluate_segmentation
    from cuts_ext.segmentation.multiscale import MultiscaleSegmentation
    from cuts_ext.io.readers import LoadedImage
    from cuts_ext.segmentation.pipeline import segment_image

    started = time.perf_counter()
    model = trained_encoder(images, seed, args.step, args)
    trained = time.perf_counter() - started
    latent = np.asarray(cuts_ext.embed(model, images).z)  # [B, 128, H, W]
    # The exact path (every pixel a point) and, with --max-points, the coarsened one, each timed
    # through segment_image from the image (its own embedding included), as users run them.
    paths = {"": None}
    if args.max_points is not None:
        paths[coarsened_suffix(args.max_points)] = args.max_points
    scores = {row + suffix: [] for suffix in paths for row in LEVEL_ROWS}
    scores.update({row: [] for row in BASELINE_ROWS})
    shape = images.shape[2:]
    position = {"position_weight": args.position_weight, "spatial_shape": shape}
    segment_seconds = {suffix: [] for suffix in paths}
    for number, (z, image, mask) in enumerate(zip(latent, images, masks)):
        points = z.reshape(z.shape[0], -1).T
        loaded = LoadedImage(data=image, path=None, name=str(number),
                             source_dtype=np.dtype(np.float32))
        for suffix, limit in paths.items():
            began = time.perf_counter()
            # device: condensation runs there too (the model alone would put only the
            # encoder on it).
            seg = segment_image(model, loaded, device=args.device, seed=seed,
                                position_weight=args.position_weight, foreground=None,
                                max_points=limit).segmentation
            segment_seconds[suffix].append(time.perf_counter() - began)
            row = evaluate_segmentation(str(number), seg, mask)
            scores["best level" + suffix].append((row["best_dice"], row["best_hausdorff"]))
            scores["persistent map" + suffix].append((row["persistent_dice"],
                                                      row["persistent_hausdorff"]))
            scores["automatic level" + suffix].append((row["auto_dice"], row["auto_hausdorff"]))
        if not args.no_baselines:
            kmeans = spectral_kmeans(points, seed).reshape(shape)
            scores["spectral k-means"].append(score_map(kmeans, mask))
            patches = cuts_ext.extract_patches(image[None], size=5).reshape(points.shape[0], -1)
            raw = MultiscaleSegmentation.from_condensation(
                cuts_ext.condense(patches.astype(np.float64), seed=seed, **position), shape)
            raw_row = evaluate_segmentation(str(number), raw, mask)
            scores["raw patches"].append((raw_row["best_dice"], raw_row["best_hausdorff"]))
        if not args.quiet:
            print(f"seed {seed} image {number + 1}/{len(images)}: best Dice "
                  f"{row['best_dice']:.3f}, auto {row['auto_dice']:.3f}", flush=True)
    return {"scores": scores, "train_seconds": trained,
            "total_seconds": time.perf_counter() - started,
            "segment_seconds": {suffix: float(np.mean(seconds))
                                for suffix, seconds in segment_seconds.items()}}


def parse_points(text: str):
    """--cv-points values: "all" (every pixel, exact) or a super-voxel count."""
    return None if text == "all" else int(text)


def parse_setting(text: str):
    """A --cv-settings value, WEIGHT:POINTS:CHANNELS[:PCA] (POINTS as in --cv-points; PCA the
    condensation's n_pca, 50 by default)."""
    from quality_runs import REFERENCE_PCA, CondensationSetting

    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise argparse.ArgumentTypeError(f"expected WEIGHT:POINTS:CHANNELS[:PCA], got {text!r}")
    try:
        pca = int(parts[3]) if len(parts) == 4 else REFERENCE_PCA
        return CondensationSetting(float(parts[0]), parse_points(parts[1]), float(parts[2]), pca)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None


def run_cross_validation(images, masks, names, args) -> int:
    """--cv K: the protocol of quality_cv.py over every step and seed, its tables printed
    (and with --report / --figure, the per-image table and figure written)."""
    import quality_cv as cv
    import quality_report as report
    from quality_runs import CondensationSetting, cached_segmentations

    settings = args.cv_settings or [
        CondensationSetting(weight, points, channels) for weight in args.cv_weights
        for points in args.cv_points for channels in args.cv_channel_weights]
    rules = cv.all_rules()
    runs, seconds = {}, {s: [] for s in settings}
    for step in args.cv_steps:
        for seed in args.seeds:
            if args.cached_only and not encoder_path(images, seed, step, args).exists():
                print(f"{step} step, seed {seed}: no encoder in {args.cache}, left out")
                continue
            models = {}  # trained (or loaded) only if some setting is not cached
            tables = {}
            for setting in settings:
                segmented = cached_segmentations(
                    args.cache, f"{step}-{args.epochs}-seed{seed}-n{len(images)}",
                    lambda: models.setdefault("model", trained_encoder(images, seed, step, args)),
                    images, seed, setting)
                seconds[setting].extend(s.seconds for s in segmented)
                for rule, table in cv.score_setting(segmented, masks, rules).items():
                    tables[(setting, rule)] = table
            runs[(step, seed)] = tables
            if not args.quiet:
                print(f"{step} step, seed {seed}: done", flush=True)
    if not runs:
        raise SystemExit(f"--cv: no run to cross-validate (--cached-only found no encoder in "
                         f"{args.cache})")
    held_out, chosen = cv.cross_validate(runs, args.cv)
    by_step = {step: {seed: held_out[(step, seed)] for seed in args.seeds
                      if (step, seed) in held_out} for step in args.cv_steps}
    used = ", ".join(f"{step} seeds {list(seeds)}" for step, seeds in by_step.items())
    print(f"\n{len(names)} retina images, {args.cv}-fold cross-validation, runs: {used}; "
          f"{args.epochs} epochs, {len(settings)} condensation settings x {len(rules)} "
          f"label-free rules; selection: mean Dice of the automatic level and the persistent "
          f"map on the training folds of all runs")
    for setting in settings:
        timed = [s for s in seconds[setting] if s > 0]  # 0: cached by a run that did not time
        print(f"- {setting}: " + (f"{np.mean(timed):.2f} s per image (embedding included; "
                                   "as timed when computed, under that run's machine load)"
                                   if timed else "not timed (cached untimed)"))
    for step, by_seed in by_step.items():
        print(f"\nHeld-out folds, {step} training step (mean of the per-seed means +- their "
              "spread):\n")
        print("\n".join(report.summary_table(by_seed)))
    print("\nChosen on the training folds (one choice per fold, for every run):\n")
    print("\n".join(report.choices_table(chosen)))
    default = cv.choose_default(list(runs.values()))
    print(f"\nThe protocol's choice on all images of all runs: {default[0]}; {default[1]}")
    for step in args.cv_steps:
        print(f"\nAt that choice, all images, {step} training step (not held out):\n")
        print("\n".join(report.summary_table({seed: runs[(step, seed)][default]
                                               for seed in by_step[step]})))
    if args.report is not None:
        lines = []
        for step, by_seed in by_step.items():
            lines += [f"Held-out Dice per image, {step} training step, mean of seeds "
                      f"{list(by_step[step])}:", ""] + report.per_image_table(names, by_seed) + [""]
        args.report.write_text("\n".join(lines))
    if args.figure is not None:
        report.per_image_figure(names, by_step, args.figure)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"default {DATA}")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--limit", type=int, default=None, help="use the first N images only")
    parser.add_argument("--device", default=None)
    parser.add_argument("--step", choices=["full", "windows"], default="full",
                        help="training step (train's `step`; windows is ~30x faster on a CPU)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="skip spectral k-means and raw patches")
    parser.add_argument("--position-weight", type=float, default=None,
                        help="weight of the positional encoding (default: segment's, "
                             "cuts_ext.segmentation.defaults.IMAGE_DEFAULTS; 0: the reference method)")
    parser.add_argument("--max-points", type=int, default=None,
                        help="also segment each image through at most this many "
                             "super-voxels, beside the exact path")
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep trained encoders (and with --cv, segmentations) in this "
                             "folder and reuse them")
    parser.add_argument("--cv", type=int, default=None, metavar="K",
                        help="choose the tuned settings by K-fold cross-validation "
                             "(quality_cv.py) and report the held-out folds")
    parser.add_argument("--cv-steps", nargs="+", choices=["full", "windows"],
                        default=["full", "windows"], help="with --cv: the training steps")
    parser.add_argument("--cv-weights", type=float, nargs="+", default=[0.0, 0.5],
                        help="with --cv: the position weights to choose from")
    parser.add_argument("--cv-channel-weights", type=float, nargs="+", default=[0.0],
                        help="with --cv: the channel weights (segment's channel_weight) to "
                             "choose from")
    parser.add_argument("--cv-points", type=parse_points, nargs="+", default=[None, 4096],
                        help="with --cv: every pixel ('all') and/or super-voxel counts")
    parser.add_argument("--cv-settings", type=parse_setting, nargs="+", default=None,
                        metavar="WEIGHT:POINTS:CHANNELS[:PCA]",
                        help="with --cv: these condensation settings (position weight, 'all' or "
                             "a super-voxel count, channel weight, optionally the PCA dimension; "
                             "e.g. 0.5:4096:1:20) instead of the product of --cv-weights, "
                             "--cv-points and --cv-channel-weights")
    parser.add_argument("--cached-only", action="store_true",
                        help="with --cv and --cache: leave out the runs whose encoder is not "
                             "in the cache instead of training it")
    parser.add_argument("--report", type=Path, default=None,
                        help="with --cv: write the per-image table (markdown) here")
    parser.add_argument("--figure", type=Path, default=None,
                        help="with --cv: write the per-image figure (PNG) here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if args.position_weight is None:
        from cuts_ext.segmentation.defaults import IMAGE_DEFAULTS
        args.position_weight = IMAGE_DEFAULTS.position_weight
    if not (args.data / "images").is_dir():
        raise SystemExit(f"no retina data at {args.data} (pass --data)")
    images, masks, names = load(args.data, args.limit)
    if args.cv is not None:
        return run_cross_validation(images, masks, names, args)
    started = time.perf_counter()
    runs = [run_seed(images, masks, seed, args) for seed in args.seeds]
    print(f"\n{len(names)} retina images, seeds {args.seeds}, {args.epochs} epochs ({args.step} "
          f"steps), position weight {args.position_weight}, "
          f"total {time.perf_counter() - started:.0f} s (training "
          f"{sum(r['train_seconds'] for r in runs):.0f} s)")
    exact = np.mean([r["segment_seconds"][""] for r in runs])
    print(f"segmentation per image (embedding included): every pixel {exact:.2f} s", end="")
    if args.max_points is not None:
        coarse = np.mean([r["segment_seconds"][coarsened_suffix(args.max_points)] for r in runs])
        print(f"; {args.max_points:,} super-voxels {coarse:.2f} s ({exact / coarse:.1f}x faster)",
              end="")
    print("\n")
    print("| method | Dice (mean +- std over images) | Hausdorff px | Dice: spread of seed means |")
    print("| --- | ---: | ---: | ---: |")
    for row in runs[0]["scores"]:
        per_seed = [np.asarray(run["scores"][row]) for run in runs if run["scores"][row]]
        if not per_seed:
            continue
        pooled = np.concatenate(per_seed)
        means = [s[:, 0].mean() for s in per_seed]
        print(f"| {row} | {pooled[:, 0].mean():.3f} +- {pooled[:, 0].std():.3f} | "
              f"{pooled[:, 1].mean():.2f} +- {pooled[:, 1].std():.2f} | "
              f"{np.mean(means):.3f} +- {np.std(means):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
