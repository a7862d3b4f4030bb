"""Writing one input's outputs: label images, the .npz, the figure, all or nothing.

Layout, for an input named NAME (see `write_outputs`):

    OUT/NAME/NAME.npz               MultiscaleSegmentation.save (hierarchy, levels, maps, ...)
    OUT/NAME/NAME_level00.png       label map of each level, fine (00) to coarse
    OUT/NAME/NAME_auto.png          label map of the automatic level
    OUT/NAME/NAME_persistent.png    persistent-structures map (0 = no structure)
    OUT/NAME/NAME_auto_color.png, NAME_persistent_color.png   colour renderings (2-D only)
    OUT/NAME/NAME_figure.png        overview figure

Label images are PNG for 2-D inputs and NIfTI (.nii.gz) for 3-D inputs and for every NIfTI
input, which keeps the input's affine and header so the labels overlay it in ITK-SNAP, Slicer
or napari.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from ..profiling import stage
from .errors import InputError, OutputExistsError
from .figures import colorize_labels, save_figure
from .paths import PathSpec
from .readers import LoadedImage

# NIfTI intent code of a label volume (nifti1.h NIFTI_INTENT_LABEL): viewers colour it by id.
_NIFTI_INTENT_LABEL = "label"


@contextlib.contextmanager
def atomic_directory(destination: PathSpec, overwrite: bool = False) -> Iterator[Path]:
    """A staging folder that becomes `destination` only if the block completes.

    The staging folder is a hidden sibling of `destination` (same file system, so the final
    rename is atomic). If the block raises, the staging folder is removed and `destination` is
    untouched. An existing `destination` is replaced only with `overwrite=True`: it is renamed
    aside, the new folder renamed in, then the old one removed.

    Yields:
        Path of the staging folder to write into.
    Raises:
        OutputExistsError: `destination` exists and `overwrite` is False (checked before
            anything is written, and again before the rename).
    """
    destination = Path(destination)
    refuse_existing(destination, overwrite)
    destination.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    staging = destination.with_name(f".{destination.name}.partial-{token}")
    staging.mkdir()
    try:
        yield staging
        refuse_existing(destination, overwrite)
        if os.path.lexists(destination):
            retired = destination.with_name(f".{destination.name}.old-{token}")
            os.rename(destination, retired)
            os.rename(staging, destination)
            _remove(retired)
        else:
            os.rename(staging, destination)
    except BaseException:
        _remove(staging)
        raise


def writable_folder(folder: PathSpec, option: str) -> Path:
    """`folder`, created with its parents if missing and checked writable, before any work.

    Raises:
        InputError: it exists and is not a folder, cannot be created or is not writable; the
            message names `option` (the command-line option or argument) and the path given.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{option} {folder}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # A real write, not os.access: it also catches read-only mounts and full quotas.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise InputError(f"{option} {folder}: cannot write there ({error.strerror or error})") \
            from None
    return folder


def writable_file(path: PathSpec, option: str, overwrite: bool = True,
                  remedy: str = "overwrite=True (--overwrite) to replace it") -> Path:
    """`path` as a file to be written later: its folder writable (`writable_folder`), the path
    not a folder, and (unless `overwrite`) not existing; checked before any work.

    Raises:
        InputError: the path is a folder or its folder cannot be written.
        OutputExistsError: it exists and `overwrite` is False (the message offers `remedy`).
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder, not a file")
    writable_folder(path.parent, option)
    refuse_existing(path, overwrite, remedy)
    return path


def refuse_existing(destination: PathSpec, overwrite: bool,
                    remedy: str = "overwrite=True (--overwrite) to replace it") -> None:
    """OutputExistsError when something exists at `destination` and `overwrite` is False; the
    message says what to pass instead (`remedy`)."""
    if os.path.lexists(destination) and not overwrite:
        raise OutputExistsError(f"{destination}: already exists; pass {remedy}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()


def write_label_image(stem: PathSpec, labels: np.ndarray, like: LoadedImage,
                      color: bool = False, background: Optional[int] = None) -> Path:
    """Writes a label map as PNG (2-D) or NIfTI (3-D, or any NIfTI input).

    Args:
        stem: the output path without suffix; ".png" or ".nii.gz" is appended.
        labels: integer [H, W] or [D, H, W], ids >= 0, the spatial shape of `like`.
        like: the input the labels belong to: its affine and header go into a NIfTI output
            (identity affine when it has none); only data type, shape, scaling and intent
            change (intent "label").
        color: also write STEM_color.png, a colour rendering (2-D PNG outputs only).
        background: the id drawn black in the colour rendering (None: none).
    Returns:
        the path written (the label image).
    Raises:
        ValueError: negative ids, a shape not matching `like`, or over 65,535 ids in a PNG.
    """
    labels = np.asarray(labels)
    if labels.shape != like.spatial_shape:
        raise ValueError(f"labels of shape {list(labels.shape)} do not fit {like.path} of shape "
                         f"{list(like.spatial_shape)}")
    if labels.size and labels.min() < 0:
        raise ValueError("label ids must be >= 0")
    if like.affine is not None or labels.ndim == 3:
        return _write_nifti_labels(Path(f"{stem}.nii.gz"), labels, like)
    path = Path(f"{stem}.png")
    _write_png_labels(path, labels)
    if color:
        _write_png(Path(f"{stem}_color.png"), colorize_labels(labels, background))
    return path


def _write_png_labels(path: Path, labels: np.ndarray) -> None:
    """uint8 when the ids fit, else 16-bit."""
    largest = int(labels.max()) if labels.size else 0
    if largest > np.iinfo(np.uint16).max:
        raise ValueError(f"{path}: {largest + 1} label ids do not fit a 16-bit PNG")
    _write_png(path, labels.astype(np.uint8 if largest <= 255 else np.uint16))


def _write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(array).save(path, format="PNG")


def _write_nifti_labels(path: Path, labels: np.ndarray, like: LoadedImage) -> Path:
    import nibabel

    largest = int(labels.max()) if labels.size else 0
    dtype = np.int16 if largest <= np.iinfo(np.int16).max else np.int32
    header_class = type(like.header) if like.header is not None else nibabel.Nifti1Header
    image_class = nibabel.Nifti2Image if issubclass(header_class, nibabel.Nifti2Header) \
        else nibabel.Nifti1Image
    header = like.header.copy() if like.header is not None else None
    affine = like.affine if like.affine is not None else np.eye(4)
    image = image_class(labels.astype(dtype), affine, header=header)
    image.header.set_data_dtype(dtype)
    image.header.set_intent(_NIFTI_INTENT_LABEL)
    image.header.set_slope_inter(1.0, 0.0)  # ids are stored as they are, never rescaled
    image.header["cal_min"], image.header["cal_max"] = 0, largest
    nibabel.save(image, str(path))
    return path


def write_outputs(out_dir: PathSpec, image: LoadedImage, segmentation: Any, *,
                  overwrite: bool = False, figure: bool = True) -> Path:
    """Writes every output of one input into OUT_DIR/NAME/, all or nothing.

    Args:
        out_dir: the output folder (created if needed).
        image: the input, as `read_image` returned it.
        segmentation: its `MultiscaleSegmentation`.
        overwrite: replace an existing OUT_DIR/NAME.
        figure: also draw NAME_figure.png.
    Returns:
        the folder OUT_DIR/NAME.
    Raises:
        OutputExistsError: OUT_DIR/NAME exists and `overwrite` is False.
        Anything a writer raises; nothing of this input is then left in `out_dir`.
    """
    destination = Path(out_dir) / image.name
    with stage("cuts_ext.write"), atomic_directory(destination, overwrite=overwrite) as staging:
        stem = staging / image.name
        writes = [(segmentation.save, (f"{stem}.npz",), {})]
        writes += [(write_label_image, (f"{stem}_level{position:02d}", label_map, image), {})
                   for position, label_map in enumerate(segmentation.label_maps)]
        if segmentation.auto_level is not None:
            writes.append((write_label_image, (f"{stem}_auto", segmentation.label_maps[
                segmentation.auto_level], image), {"color": True}))
        writes.append((write_label_image, (f"{stem}_persistent", segmentation.persistent,
                                           image), {"color": True, "background": 0}))
        if figure:
            counts = [segmentation.cluster_counts[i] for i in segmentation.levels]
            background = None if getattr(segmentation, "foreground", None) is None else 0
            writes.append((save_figure, (f"{stem}_figure.png", image.data,
                                         segmentation.label_maps), dict(
                persistent=segmentation.persistent, reconstruction=segmentation.reconstruction,
                cluster_counts=counts, title=image.name, affine=image.affine,
                background=background)))
        _run_all(writes)
    return destination


# Writers at once: each holds a copy of one level in its file's dtype (17 MB for a 1 mm brain),
# and past 4 the .npz, written by one of them, takes longer than all the rest.
_MAX_WRITERS = 4


def _run_all(calls: list) -> None:
    """Runs every (function, args, kwargs) of `calls` on a few threads, then raises the first
    failure, if any, once all have ended. The writers spend their time in zlib and numpy,
    which release the GIL: a volume's 20-odd gzip streams are compressed side by side (on the
    2-core machine the 1 mm template's files take about a quarter as long)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with ThreadPoolExecutor(max_workers=max(1, min(len(calls), cores or 1,
                                                   _MAX_WRITERS))) as pool:
        futures = [pool.submit(function, *args, **kwargs) for function, args, kwargs in calls]
    for future in futures:
        future.result()  # re-raises a writer's exception


def written_segmentations(out_dir: PathSpec) -> list:
    """The .npz files `write_outputs` left in `out_dir`: OUT_DIR/NAME/NAME.npz, sorted by NAME
    (staging and retired folders, hidden, are not listed)."""
    out_dir = Path(out_dir)
    return sorted(path for path in out_dir.glob("*/*.npz")
                  if not path.parent.name.startswith(".") and path.stem == path.parent.name)
