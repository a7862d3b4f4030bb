"""A condensation hierarchy turned into an image's segmentations, and its .npz file format."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from .._arrays import to_numpy
from .._checks import sizes
from ..io.errors import InputError
from .defaults import DEFAULT, defaults_for
from .level_choice import auto_level
from .persistence import PERSISTENT_METHOD, persistent_map, stable_structures

# The .npz keys that every file holds; "reconstruction" is optional.
_REQUIRED_KEYS = ("hierarchy", "levels", "cluster_counts", "spatial_shape", "label_maps",
                  "persistent", "auto_level", "source")


@dataclass
class MultiscaleSegmentation:
    """The multi-scale segmentation of one image or volume.

    Attributes:
        hierarchy: int32 [T, M], the cluster of every condensed point after each iteration:
            the pixels themselves in row-major order of `spatial_shape` (M = N), or, with
            `point_labels`, the points (super-voxels, or foreground voxels) they stand for.
        levels: L ints, the iterations chosen as levels, fine to coarse.
        cluster_counts: T ints, clusters after each iteration.
        spatial_shape: (H, W) or (D, H, W), with H * W (* D) = N.
        label_maps: int32 [L, H, W] or [L, D, H, W], the labels at each level, fine to coarse.
        persistent: int32 [H, W] or [D, H, W], the persistent-structures map (structures
            painted 1..K, 0 elsewhere; `persistence.persistent_map`).
        auto_level: the position in `levels` of the automatic granularity
            (`level_choice.auto_level`), None when there is no level.
        reconstruction: float32 [C, H, W] or [C, D, H, W] in [-1, 1], or None.
        source: the input's path, "" when unknown.
        point_labels: int32 [*spatial], the hierarchy column (point) of every voxel and -1
            outside the foreground; None when the hierarchy labels every voxel directly.
            Where some voxel is outside, the label maps hold 0 there and cluster id + 1
            inside, and the persistent map and automatic level consider the foreground only.
        affine: float64 [4, 4], the input's voxel-to-world matrix (a NIfTI input's), or None.
            Kept in the .npz, so that masks scored later (`cuts evaluate`, `--resume`) are
            placed by their own affine as at the first run.
    """

    hierarchy: np.ndarray
    levels: list
    cluster_counts: list
    spatial_shape: Tuple[int, ...]
    label_maps: np.ndarray
    persistent: np.ndarray
    auto_level: Optional[int]
    reconstruction: Optional[np.ndarray] = None
    source: str = ""
    point_labels: Optional[np.ndarray] = None
    affine: Optional[np.ndarray] = None

    @property
    def foreground(self) -> Optional[np.ndarray]:
        """bool [*spatial], the segmented voxels, or None when every voxel is."""
        if self.point_labels is None or (self.point_labels >= 0).all():
            return None
        return self.point_labels >= 0

    @classmethod
    def from_condensation(cls, result: Any, spatial_shape: Sequence[int],
                          reconstruction: Optional[Any] = None, source: str = "",
                          auto_method: str = DEFAULT,
                          point_labels: Optional[Any] = None,
                          affine: Optional[Any] = None) -> "MultiscaleSegmentation":
        """Label maps, persistent map and automatic level of a condensation of one image's pixels.

        Args:
            result: a `CondensationResult` of N = prod(spatial_shape) points in row-major pixel
                order, or of the M points of `point_labels` (its hierarchy on any device).
            spatial_shape: (H, W) or (D, H, W).
            reconstruction: [C, *spatial_shape] array (numpy or torch), or None.
            source: the input's path, recorded in the file.
            auto_method: the criterion of `level_choice.auto_level` ("default": the one for
                inputs of this dimension, as are the persistent map's thresholds).
            point_labels: int [*spatial_shape], each voxel's point (0..M-1) or -1 outside
                the foreground; None: the points are the voxels.
            affine: the input's voxel-to-world matrix [4, 4] (a NIfTI input's), or None.
        Raises:
            TypeError: result is not a condensation result; spatial_shape not integer sizes.
            ValueError: a shape that is neither 2-D nor 3-D; a hierarchy, reconstruction or
                point_labels that does not fit the shape.
        """
        shape = sizes(spatial_shape, "spatial_shape", minimum=0, lengths=(2, 3))
        if not all(hasattr(result, name) for name in ("hierarchy", "levels", "cluster_counts")):
            raise TypeError("result must be a CondensationResult (with hierarchy, levels and "
                            f"cluster_counts), got {type(result).__name__}")
        hierarchy = to_numpy(result.hierarchy).astype(np.int32, copy=False)
        levels = [int(i) for i in result.levels]
        if point_labels is None:
            if hierarchy.ndim != 2 or hierarchy.shape[1] != int(np.prod(shape)):
                raise ValueError(f"a hierarchy of shape {list(hierarchy.shape)} does not label "
                                 f"the {int(np.prod(shape))} pixels of shape {list(shape)}")
            label_maps = hierarchy[levels].reshape((len(levels),) + shape)
        else:
            point_labels = _check_point_labels(point_labels, shape, hierarchy)
            label_maps = _voxel_label_maps(hierarchy[levels], point_labels)
        if reconstruction is not None:
            reconstruction = to_numpy(reconstruction).astype(np.float32, copy=False)
            if reconstruction.shape[1:] != shape:
                raise ValueError(f"reconstruction of shape {list(reconstruction.shape)} is not "
                                 f"[C, {', '.join(map(str, shape))}]")
        segmentation = cls(hierarchy=hierarchy, levels=levels,
                           cluster_counts=[int(c) for c in result.cluster_counts],
                           spatial_shape=shape, label_maps=label_maps,
                           persistent=np.zeros(shape, np.int32), auto_level=None,
                           reconstruction=reconstruction, source=source,
                           point_labels=point_labels,
                           affine=None if affine is None else np.asarray(affine, np.float64))
        segmentation.persistent = _persistent(segmentation)
        segmentation.auto_level = auto_level(segmentation, auto_method)
        return segmentation

    def save(self, path: Any) -> None:
        """Writes the .npz file (compressed; keys and dtypes in README "Output files")."""
        arrays = {
            "hierarchy": self.hierarchy.astype(np.int32, copy=False),
            "levels": np.asarray(self.levels, dtype=np.int64),
            "cluster_counts": np.asarray(self.cluster_counts, dtype=np.int64),
            "spatial_shape": np.asarray(self.spatial_shape, dtype=np.int64),
            "label_maps": self.label_maps.astype(np.int32, copy=False),
            "persistent": self.persistent.astype(np.int32, copy=False),
            # -1: no level (npz has no None).
            "auto_level": np.int64(-1 if self.auto_level is None else self.auto_level),
            "source": np.str_(self.source),
        }
        if self.reconstruction is not None:
            arrays["reconstruction"] = self.reconstruction.astype(np.float32, copy=False)
        if self.point_labels is not None:
            arrays["point_labels"] = self.point_labels.astype(np.int32, copy=False)
        if self.affine is not None:
            arrays["affine"] = np.asarray(self.affine, dtype=np.float64)
        # np.savez_compressed's layout (one KEY.npy per array, zip64), at deflate level 1 rather
        # than its 6: a 1 mm volume's file (20 levels of 8.7 M voxels) is written in 1.9 s
        # instead of 4.3 s for 29 MiB instead of 21 (python/bench/RESULTS.md, session 12).
        # Entries carry zipfile's fixed date, so equal segmentations give equal bytes.
        with open(path, "wb") as file, zipfile.ZipFile(
                file, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for key, value in arrays.items():
                with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(value),
                                              allow_pickle=False)

    @classmethod
    def load(cls, path: Any) -> "MultiscaleSegmentation":
        """Reads a file written by `save`.

        Raises:
            InputError: not a readable .npz, or a key missing (the message names the file).
        """
        try:
            # An open file, not a path: np.load leaks the file it opens on a damaged archive.
            with open(path, "rb") as file, np.load(file, allow_pickle=False) as archive:
                missing = [key for key in _REQUIRED_KEYS if key not in archive]
                if missing:
                    raise InputError(f"{path}: not a cuts_ext segmentation file (missing "
                                     f"{', '.join(missing)})")
                data = {key: archive[key] for key in archive.keys()}
        except InputError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise InputError(f"{path}: cannot be read: {error}") from error
        chosen = int(data["auto_level"])
        return cls(hierarchy=data["hierarchy"], levels=data["levels"].tolist(),
                   cluster_counts=data["cluster_counts"].tolist(),
                   spatial_shape=tuple(data["spatial_shape"].tolist()),
                   label_maps=data["label_maps"], persistent=data["persistent"],
                   auto_level=None if chosen < 0 else chosen,
                   reconstruction=data.get("reconstruction"), source=str(data["source"]),
                   point_labels=data.get("point_labels"), affine=data.get("affine"))


def _check_point_labels(point_labels: Any, shape: tuple, hierarchy: np.ndarray) -> np.ndarray:
    """int32 [*shape] point labels, checked against the hierarchy's M points."""
    labels = to_numpy(point_labels)
    if labels.shape != shape or labels.dtype.kind not in "iu":
        raise ValueError(f"point_labels must be integer {list(shape)}, got {labels.dtype} "
                         f"{list(labels.shape)}")
    m = hierarchy.shape[1] if hierarchy.ndim == 2 else -1
    if labels.size and (labels.min() < -1 or labels.max() >= m):
        raise ValueError(f"point_labels must be -1 or a point of the hierarchy's {m}")
    return labels.astype(np.int32, copy=False)


def _persistent(segmentation: "MultiscaleSegmentation") -> np.ndarray:
    """The default persistent map of `segmentation`, at the thresholds of its kind of input.
    For points that stand for voxels, the "stable" map is found on the points' own maps,
    weighted by their voxel counts, and painted onto the voxels: the same map as from the voxel
    maps (the regions, their areas and their order are the same), in a fraction of the time
    (1 mm MNI brain: 9,771 points for 8.7 M voxels)."""
    point_labels = segmentation.point_labels
    if point_labels is not None and segmentation.levels and PERSISTENT_METHOD == "stable":
        # Voxels per point, in one pass: the -1 of the background counts in bin 0, dropped.
        counts = np.bincount(point_labels.ravel() + 1,
                             minlength=segmentation.hierarchy.shape[1] + 1)[1:]
        if counts.all():  # every point covers a voxel, as super-voxels do
            defaults = defaults_for(len(segmentation.spatial_shape))
            painted = stable_structures(segmentation.hierarchy[segmentation.levels],
                                        defaults.min_area_fraction, defaults.min_persistence,
                                        weights=counts)
            # One gather: the appended 0 is what index -1 (outside the foreground) reads.
            return np.append(painted, 0).astype(np.int32)[point_labels]
    background = None if segmentation.foreground is None else 0
    return persistent_map(segmentation.label_maps, background=background)


def _voxel_label_maps(point_maps: np.ndarray, point_labels: np.ndarray) -> np.ndarray:
    """int32 [L, *spatial] from the points' labels at each level [L, M]: each voxel takes its
    point's label, shifted by one (0 outside the foreground) when some voxel is outside."""
    inside = point_labels >= 0
    if inside.all():
        return point_maps[:, point_labels]
    maps = np.zeros((point_maps.shape[0],) + point_labels.shape, np.int32)
    for level, labels in enumerate(point_maps):
        maps[level][inside] = labels[point_labels[inside]] + 1
    return maps
