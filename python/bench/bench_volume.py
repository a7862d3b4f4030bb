"""Whole-volume segmentation: the MNI152 brain template at 2 mm and 1 mm, stage by stage.

For each resolution, in its own process (so each peak resident memory is its own): train a 3-D
CUTS encoder on random crops of the volume (timed apart), then segment it as `segment` does,
timing each stage and reading the process's peak RSS after it: foreground ("auto"), embed
(streamed tiles, foreground vectors only), coarsen (super-voxels), condense, label maps
(levels, persistent map, automatic level) and write (.npz, NIfTI label volumes, figure).
Quality: the best level's label-hint Dice against the template's white- and grey-matter maps
(probability > 127 of 255), and that of the label-free outputs (the automatic level, the
persistent map by each method), beside two baselines on the same voxels: k-means (k = 3) of the
intensities, and this package's exact path (no coarsening) on the largest central crop that
condenses in reasonable time, next to the coarsened path on that crop.

The template ships in nilearn's wheel (`pip install nilearn`); nothing is downloaded.

    python python/bench/bench_volume.py                      # 2 mm and 1 mm
    python python/bench/bench_volume.py --resolutions 2      # 2 mm only
    python python/bench/bench_volume.py --resolutions 1 --device cuda --cache DIR   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TEMPLATE = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"


def template_paths(resolution: int, folder: Path) -> dict:
    """{"t1", "wm", "gm"}: the template's files at `resolution` mm (resampled into `folder`
    for 2 mm, continuous interpolation)."""
    import nibabel
    import nilearn
    from nilearn.image import resample_img

    data = Path(nilearn.__file__).parent / "datasets" / "data"
    paths = {name: data / TEMPLATE.format(name) for name in ("t1", "wm", "gm")}
    if resolution == 1:
        return paths
    resampled = {}
    for name, path in paths.items():
        image = resample_img(nibabel.load(path), target_affine=np.diag([resolution] * 3),
                             interpolation="continuous", force_resample=True, copy_header=True)
        resampled[name] = folder / f"{name}_{resolution}mm.nii.gz"
        nibabel.save(image, resampled[name])
    return resampled


def peak_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def best_dice(label_maps: np.ndarray, reference: np.ndarray) -> float:
    """The best label-hint Dice over the levels."""
    from cuts_ext.segmentation.metrics import dice, label_hint_mask

    return max(dice(label_hint_mask(maps, reference), reference) for maps in label_maps)


def label_free_dice(segmentation, wm: np.ndarray, gm: np.ndarray) -> dict:
    """{output: (WM Dice, GM Dice)} of what a user without labels gets: the automatic level and
    the persistent map by each of its methods (the package's default among them)."""
    from cuts_ext.segmentation.persistence import PERSISTENT_METHOD, PERSISTENT_METHODS, \
        persistent_map

    def scores(label_map):
        return best_dice(label_map[None], wm), best_dice(label_map[None], gm)

    out = {}
    if segmentation.auto_level is not None:
        out["automatic level"] = scores(segmentation.label_maps[segmentation.auto_level])
    for method in PERSISTENT_METHODS:
        default = " (default)" if method == PERSISTENT_METHOD else ""
        out[f"persistent map, {method}{default}"] = scores(
            persistent_map(segmentation.label_maps, background=0, method=method))
    return out


def tissue(path: Path) -> np.ndarray:
    import nibabel

    return np.asarray(nibabel.load(path).dataobj) > 127


def run(resolution: int, args: argparse.Namespace) -> dict:
    """One resolution end to end; returns the row's numbers."""
    from cuts_ext.condensation.driver import condense
    from cuts_ext.io import read_image, write_outputs
    from cuts_ext.segmentation.foreground import foreground_mask
    from cuts_ext.segmentation.multiscale import MultiscaleSegmentation
    from cuts_ext.segmentation.points import foreground_features, super_voxel_points

    row = {"resolution": resolution}
    with tempfile.TemporaryDirectory() as folder:
        paths = template_paths(resolution, Path(folder))
        image = read_image(paths["t1"])
        wm, gm = tissue(paths["wm"]), tissue(paths["gm"])
        row["voxels"] = int(np.prod(image.spatial_shape))

        started = time.perf_counter()
        model = trained_encoder(image, resolution, args)
        row["train_s"] = time.perf_counter() - started
        synchronize = _synchronizer(args.device)

        stages = {}

        def stage(name, started_at):
            synchronize()  # a GPU stage ends when its work does
            stages[name] = (time.perf_counter() - started_at, peak_mib())

        t = time.perf_counter()
        mask = foreground_mask(image.data, "auto")
        stage("foreground", t)
        t = time.perf_counter()
        features, reconstruction = foreground_features(model, image.data, mask)
        stage("embed", t)
        t = time.perf_counter()
        points = super_voxel_points(features, image.data, mask, args.max_points,
                                    reconstruction)
        del features
        stage("coarsen", t)
        t = time.perf_counter()
        result = condense(points.features, weights=points.weights,
                          position_weight=args.position_weight, positions=points.positions,
                          channels=points.channels, channel_weight=args.channel_weight, seed=0,
                          device=args.device)
        stage("condense", t)
        t = time.perf_counter()
        segmentation = MultiscaleSegmentation.from_condensation(
            result, image.spatial_shape, reconstruction=points.reconstruction,
            point_labels=points.point_labels)
        stage("label maps", t)
        t = time.perf_counter()
        write_outputs(Path(folder) / "out", image, segmentation)
        stage("write", t)
        row["stages"] = stages
        row["foreground"] = int(mask.sum())
        row["points"] = int(points.features.shape[0])
        row["levels"] = len(segmentation.levels)
        row["cuts"] = (best_dice(segmentation.label_maps, wm),
                       best_dice(segmentation.label_maps, gm))
        row["label_free"] = label_free_dice(segmentation, wm, gm)
        row["kmeans"] = kmeans_dice(image.data[0], mask, wm, gm)
        row["crop"] = crop_comparison(model, image, wm, gm, args)
    return row


def trained_encoder(image, resolution: int, args: argparse.Namespace):
    """The 3-D encoder of this resolution, trained on random crops of the volume (training seed
    `args.seed`); with --cache, kept there (`{resolution}mm-{epochs}-{crop}x{crops_per_step}.pt`,
    `-seed{seed}` added for seeds other than 0) and loaded on later runs (train_s then times the
    loading; encoder_cache.py)."""
    from encoder_cache import cached_encoder

    seed = "" if args.seed == 0 else f"-seed{args.seed}"
    path = None if args.cache is None else Path(args.cache) / \
        f"{resolution}mm-{args.epochs}-{args.crop}x{args.crops_per_step}{seed}.pt"
    return cached_encoder(path, [image.data] * args.crops_per_step, device=args.device,
                          epochs=args.epochs, crop=args.crop, step="windows",
                          batch_size=args.crops_per_step, val_fraction=0.25, seed=args.seed)


def _synchronizer(device: str):
    """A callable that waits for the GPU's queued work (nothing on the CPU)."""
    if device != "cuda":
        return lambda: None
    import torch
    return torch.cuda.synchronize


def kmeans_dice(intensity: np.ndarray, mask: np.ndarray, wm: np.ndarray,
                gm: np.ndarray) -> tuple:
    """Best label-hint Dice of k-means (k = 3) of the foreground's intensities."""
    from sklearn.cluster import KMeans

    labels = KMeans(3, n_init=3, random_state=0).fit_predict(intensity[mask].reshape(-1, 1))
    label_map = np.zeros(mask.shape, np.int32)
    label_map[mask] = labels + 1
    return best_dice(label_map[None], wm), best_dice(label_map[None], gm)


def crop_comparison(model, image, wm, gm, args) -> dict:
    """The exact path (every voxel condensed) against the coarsened one on a central crop of
    `args.crop_voxels` voxels or fewer."""
    import cuts_ext
    from cuts_ext.io.readers import LoadedImage

    side = int(round(args.crop_voxels ** (1 / 3)))
    centre = [n // 2 for n in image.spatial_shape]
    box = tuple(slice(c - side // 2, c - side // 2 + side) for c in centre)
    crop = LoadedImage(data=np.ascontiguousarray(image.data[(slice(None),) + box]), path=None,
                       name="crop", source_dtype=image.source_dtype)
    out = {"voxels": side ** 3}
    for name, limit in (("exact", None), ("coarsened", args.max_points // 4)):
        started = time.perf_counter()
        (result,) = cuts_ext.segment([crop.data], model, device=args.device, max_points=limit,
                                     foreground="auto",
                                     position_weight=args.position_weight,
                                     channel_weight=args.channel_weight, progress=False)
        maps = result.segmentation.label_maps
        out[name] = {"seconds": time.perf_counter() - started,
                     "points": int(result.condensation.hierarchy.shape[1]),
                     "dice": (best_dice(maps, wm[box]), best_dice(maps, gm[box]))}
    return out


def print_tables(rows: list) -> None:
    print("\n| resolution | voxels | foreground | super-voxels | levels | train s | "
          "stage s (peak RSS MiB after it) | total s |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for row in rows:
        stages = ", ".join(f"{name} {s:.1f} ({mib:,})" for name, (s, mib) in
                           row["stages"].items())
        total = sum(s for s, _ in row["stages"].values())
        print(f"| {row['resolution']} mm | {row['voxels']:,} | {row['foreground']:,} | "
              f"{row['points']:,} | {row['levels']} | {row['train_s']:.0f} | {stages} | "
              f"{total:.0f} |")
    print("\n| resolution | method | voxels | WM Dice | GM Dice | seconds |")
    print("|---|---|---:|---:|---:|---:|")
    for row in rows:
        total = sum(s for s, _ in row["stages"].values())
        print(f"| {row['resolution']} mm | cuts_ext, coarsened to {row['points']:,}, best level "
              f"| whole | {row['cuts'][0]:.3f} | {row['cuts'][1]:.3f} | {total:.0f} |")
        for output, (wm_dice, gm_dice) in row["label_free"].items():
            print(f"| {row['resolution']} mm | cuts_ext, {output} | whole | {wm_dice:.3f} | "
                  f"{gm_dice:.3f} | |")
        print(f"| {row['resolution']} mm | k-means (k = 3) of intensities | whole | "
              f"{row['kmeans'][0]:.3f} | {row['kmeans'][1]:.3f} | |")
        crop = row["crop"]
        for name in ("exact", "coarsened"):
            print(f"| {row['resolution']} mm | cuts_ext {name}, {crop[name]['points']:,} points "
                  f"| crop {crop['voxels']:,} | {crop[name]['dice'][0]:.3f} | "
                  f"{crop[name]['dice'][1]:.3f} | {crop[name]['seconds']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--max-points", type=int, default=16384)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--crop", type=int, default=48, help="training crop side (voxels)")
    parser.add_argument("--crops-per-step", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0,
                        help="the encoder's training seed (crops, initial weights, pairs)")
    parser.add_argument("--crop-voxels", type=int, default=27000,
                        help="voxels of the central crop where the exact path runs")
    parser.add_argument("--position-weight", type=float, default=None,
                        help="condensation's position weight (default: segment's)")
    parser.add_argument("--channel-weight", type=float, default=None,
                        help="condensation's channel weight (default: segment's)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="where the encoder and condensation run (coarsening: the CPU)")
    parser.add_argument("--cache", default=None,
                        help="keep the trained encoders in this folder and reuse them")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from cuts_ext.segmentation.defaults import VOLUME_DEFAULTS
    if args.position_weight is None:
        args.position_weight = VOLUME_DEFAULTS.position_weight
    if args.channel_weight is None:
        args.channel_weight = VOLUME_DEFAULTS.channel_weight
    if args.worker is not None:
        print(json.dumps(run(args.worker, args)))
        return
    import cuts_ext
    print(f"cuts_ext {cuts_ext.__version__}; {os.cpu_count()} CPUs; device {args.device}; "
          f"encoder trained {args.epochs} epochs of {args.crops_per_step} random {args.crop}^3 "
          f"crops (windows step, seed {args.seed}); max_points {args.max_points}; position weight "
          f"{args.position_weight}; channel weight {args.channel_weight}")
    rows = []
    for resolution in args.resolutions:
        command = [sys.executable, __file__, "--worker", str(resolution)] + [
            f"--{key.replace('_', '-')}={value}" for key, value in vars(args).items()
            if key not in ("worker", "resolutions") and value is not None]
        # The worker's stderr goes straight to ours: a failure shows its whole traceback.
        output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
    print_tables(rows)


if __name__ == "__main__":
    main()
