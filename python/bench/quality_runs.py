"""The retina development images segmented for the quality benchmarks, kept on disk.

A run is one trained encoder (training step, epochs, seed; `bench_quality.trained_encoder`)
and one condensation setting (position weight; channel weight; every pixel, or at most
`max_points` super-voxels). Each run's segmentations of all images (label maps, levels, cluster counts,
seconds per image) go to one compressed .npz in the cache folder, so that the cross-validation
(quality_cv.py) can score many label-free rules on them without condensing again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np


#: condense's n_pca default, the reference's.
REFERENCE_PCA = 50


@dataclass(frozen=True)
class CondensationSetting:
    """What `segment` condenses: `position_weight`, `max_points` (None: every pixel),
    `channel_weight` and condensation's PCA dimension `n_pca` (the reference's 0 and 50 leave
    the cache keys of earlier runs as they were)."""

    position_weight: float
    max_points: Optional[int]
    channel_weight: float = 0.0
    n_pca: int = REFERENCE_PCA

    def __str__(self) -> str:
        points = "every pixel" if self.max_points is None else f"{self.max_points:,} super-voxels"
        channels = f", channel weight {self.channel_weight:g}" if self.channel_weight else ""
        pca = f", PCA {self.n_pca}" if self.n_pca != REFERENCE_PCA else ""
        return f"weight {self.position_weight:g}{channels}{pca}, {points}"

    def key(self) -> str:
        points = "all" if self.max_points is None else str(self.max_points)
        channels = f"-c{self.channel_weight:g}" if self.channel_weight else ""
        pca = f"-pca{self.n_pca}" if self.n_pca != REFERENCE_PCA else ""
        return f"w{self.position_weight:g}{channels}-p{points}{pca}"


@dataclass
class ImageSegmentation:
    """One image's levels: label_maps int32 [L, H, W] fine to coarse, the level iterations,
    the cluster count after every iteration, and the seconds `segment_image` took."""

    label_maps: np.ndarray
    levels: List[int]
    cluster_counts: List[int]
    seconds: float


def segment_images(model, images: np.ndarray, seed: int,
                   setting: CondensationSetting) -> List[ImageSegmentation]:
    """Segments each image [C, H, W] of `images` as `segment` does (every pixel foreground),
    timing each call from the image (its embedding included)."""
    from cuts_ext.io.readers import LoadedImage
    from cuts_ext.segmentation.pipeline import segment_image

    segmented = []
    for number, image in enumerate(images):
        loaded = LoadedImage(data=image, path=None, name=str(number),
                             source_dtype=np.dtype(np.float32))
        began = time.perf_counter()
        seg = segment_image(model, loaded, seed=seed, position_weight=setting.position_weight,
                            channel_weight=setting.channel_weight, foreground=None,
                            max_points=setting.max_points,
                            condense_options={"n_pca": setting.n_pca}).segmentation
        segmented.append(ImageSegmentation(seg.label_maps, list(seg.levels),
                                           list(seg.cluster_counts),
                                           time.perf_counter() - began))
    return segmented


def cached_segmentations(cache: Optional[Path], run_name: str, model_of, images: np.ndarray,
                         seed: int, setting: CondensationSetting) -> List[ImageSegmentation]:
    """`segment_images`, read from `cache`/`run_name`-`setting.key()`.npz when a previous run
    wrote it (else computed and written there; `cache` None: always computed).

    Args:
        run_name: names the encoder and the images (step, epochs, seed, image count).
        model_of: a callable returning the encoder, called only when something is computed.
    """
    path = None if cache is None else cache / f"{run_name}-{setting.key()}.npz"
    if path is not None and path.exists():
        return _read(path)
    segmented = segment_images(model_of(), images, seed, setting)
    if path is not None:
        _write(path, segmented)
    return segmented


def _write(path: Path, segmented: List[ImageSegmentation]) -> None:
    arrays = {"seconds": np.array([s.seconds for s in segmented])}
    for number, s in enumerate(segmented):
        arrays[f"maps{number}"] = s.label_maps.astype(np.int32, copy=False)
        arrays[f"levels{number}"] = np.asarray(s.levels, np.int64)
        arrays[f"counts{number}"] = np.asarray(s.cluster_counts, np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".partial.npz")
    np.savez_compressed(staging, **arrays)
    staging.replace(path)  # a run stopped half-way leaves no file that looks complete


def _read(path: Path) -> List[ImageSegmentation]:
    with np.load(path) as archive:
        seconds = archive["seconds"]
        return [ImageSegmentation(archive[f"maps{n}"], archive[f"levels{n}"].tolist(),
                                  archive[f"counts{n}"].tolist(), float(seconds[n]))
                for n in range(len(seconds))]
