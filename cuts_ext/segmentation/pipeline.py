"""CUTS end to end: images in, multi-scale segmentations out (`segment`).

Each image is embedded by the stage-1 encoder (trained here on the given images when no model
is passed: the masks are never used for training), its pixels' latent vectors are condensed
(stage 2), and the hierarchy becomes label maps at every level, the persistent-structures map
and the automatic level (`MultiscaleSegmentation`). With a reference mask, every level's
label-hint mask is scored (Dice, Hausdorff distance).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .._arrays import to_numpy
from .._checks import describe, integer
from .._progress import progress_bar
from ..condensation.driver import CondensationResult, check_condense_options, condense
from ..condensation.preparation import check_weight
from ..io import InputError, LoadedImage, match_masks, read_image, read_mask, resolve_inputs
from ..profiling import stage
from .evaluation import evaluate_segmentation
from .defaults import DEFAULT, defaults_for, is_default, resolve
from .foreground import foreground_mask
from .metrics import label_hint_mask
from .multiscale import MultiscaleSegmentation
from .points import condensation_points


@dataclass
class SegmentedImage:
    """The segmentation of one image or volume.

    Attributes:
        image: the input (float32 data [C, *spatial] in [-1, 1], name, NIfTI metadata).
        segmentation: label maps [L, *spatial] fine to coarse, persistent map, automatic level,
            reconstruction [C, *spatial], hierarchy.
        condensation: the full condensation result (per-iteration eps, t, times).
        hint_masks: bool [L, *spatial], each level's label-hint mask, when a mask was given.
        metrics: the scores against the mask (keys of `evaluation.CSV_COLUMNS`: best-level
            Dice / Hausdorff, persistent map, automatic level), when a mask was given.
    """

    image: LoadedImage
    segmentation: MultiscaleSegmentation
    condensation: CondensationResult
    hint_masks: Optional[np.ndarray] = None
    metrics: Optional[dict] = None


def segment(images: Any, model: Any = None, *, masks: Any = None, device: Any = None,
            seed: int = 0, position_weight: Any = DEFAULT, channel_weight: Any = DEFAULT,
            train_options: Optional[dict] = None, condense_options: Optional[dict] = None,
            progress: bool = True, foreground: Any = DEFAULT, max_points: Any = DEFAULT,
            client: Any = None) -> list:
    """Multi-scale segmentations of images or volumes, with CUTS.

    Args:
        images: a file, folder or glob (or a list of them) of PNG / JPEG / TIFF / BMP / .npy /
            .npz / NIfTI files (read and scaled by `io.read_image`); or an array [B, C, H, W] /
            [B, C, D, H, W], or a list of [C, *spatial] arrays, scaled to [-1, 1].
        model: a `CUTSEncoder`, the path of a `train` checkpoint, or None to train one on
            `images` first (`train_options` are passed to `train`).
        masks: optional reference masks: for file inputs, a file, folder or glob matched to the
            images by name (`io.match_masks`); for arrays, a list with one mask (or None) per
            image, or an array [B, *spatial]. Nonzero is foreground. Only used for scoring.
        device: where the encoder and condensation run ("cpu", "cuda", a torch device); None:
            CUDA when usable, else the CPU.
        seed: seeds training (when a model is trained here) and condensation.
        position_weight: weight (>= 0) of the positional encoding appended to every pixel's
            embedding before condensation; 0 condenses the embeddings alone, as the reference
            method does. "default": the input kind's (`defaults.IMAGE_DEFAULTS`,
            `VOLUME_DEFAULTS`), as for channel_weight, foreground and max_points.
        channel_weight: weight (>= 0) of the image's own channels (a pixel's values; a
            super-voxel's mean), standardised, appended beside each point's embedding before
            condensation (condense's `channel_weight`); 0: the embedding alone, as the
            reference method.
        train_options: keyword arguments of `train` (epochs, batch_size, crop, ...), only
            without a model (ValueError otherwise: nothing is trained then).
        condense_options: keyword arguments of `condense` (knn, n_pca, t, granularity, ...);
            the position and channel keywords and `weights` are set by this function, and
            n_pca defaults to the input kind's (`defaults.IMAGE_DEFAULTS.n_pca`, ...).
        progress: progress bars for training and for the images.
        foreground: which voxels to segment (the others get label 0 in every level map):
            None (all), "auto" (`foreground.foreground_mask`'s rule: the head or brain
            without the air), masks matched like `masks` (files, or one array per image; a
            NIfTI mask placed by its affine, an image no file matches takes the default, with
            a UserWarning), or "default".
        max_points: the most points condensed per image (>= 1, None for no limit, or
            "default"): above it the foreground is grouped into at most this many
            super-voxels (`points`); at or below it every voxel is condensed, exactly.
        client: a `dask.distributed.Client` (`pip install 'cuts_ext[dask]'`): each image is
            then segmented by one task on its workers (`cohort.segment_on_cluster`; the
            encoder, trained or loaded here, travels once as checkpoint bytes and is loaded
            once per worker), with the same results as without. None: here, one by one.

    Returns:
        One `SegmentedImage` per image, in input order.

    Raises:
        io.InputError: a file that cannot be read, a mask of the wrong shape.
        ValueError: images or masks of the wrong rank, count or shape; bad options (checked
            before any training, condense_options included).
        TypeError: images that are not paths or arrays (None, a number); a non-integer seed or
            max_points; a weight that is not a real number; a name condense does not take in
            condense_options, or a value of the wrong kind; `client` is not a
            `dask.distributed.Client`.
        RuntimeError: device asks for CUDA where torch cannot use a GPU.
    """
    # Arguments are checked here, before minutes of training.
    if model is not None and train_options:
        raise ValueError(f"train_options ({', '.join(sorted(train_options))}) set how an "
                         "encoder is trained, but model gives one: nothing is trained; drop "
                         "one of them")
    if client is not None:
        from .cohort import check_client
        check_client(client)
    check_settings(position_weight, channel_weight, max_points)
    integer(seed, "seed")
    check_condense_options(condense_options)
    loaded = load_images(images)
    references = _load_masks(masks, loaded)
    if masks is not None and all(reference is None for reference in references):
        warnings.warn(f"masks matched none of the {len(loaded)} image(s): no image is scored "
                      "(metrics and hint_masks are None)", UserWarning, stacklevel=2)
    foregrounds = _foregrounds(foreground, loaded)
    from ..encoder.device import torch_device  # torch loads with the encoder, on first use
    device = torch_device(device)
    encoder = prepare_model(model, loaded, device=device, seed=seed,
                            train_options=train_options, progress=progress)
    settings = dict(device=device, seed=seed, position_weight=position_weight,
                    channel_weight=channel_weight, condense_options=condense_options,
                    max_points=max_points)
    work = list(zip(loaded, references, foregrounds))
    if client is not None:
        from .cohort import segment_on_cluster
        return segment_on_cluster(client, encoder, work, settings, progress)
    return [segment_image(encoder, image, reference, foreground=inside, **settings)
            for image, reference, inside in _progress(work, progress, "segmenting")]


def segment_image(model: Any, image: LoadedImage, mask: Optional[np.ndarray] = None, *,
                  device: Any = None, seed: int = 0, position_weight: Any = DEFAULT,
                  channel_weight: Any = DEFAULT, condense_options: Optional[dict] = None,
                  foreground: Any = DEFAULT, max_points: Any = DEFAULT) -> SegmentedImage:
    """Embeds one image with `model`, condenses its pixels (or its foreground's, or their
    super-voxels) and builds its segmentation.

    Args:
        model: a trained `CUTSEncoder` (2-D for [C, H, W] images, 3-D for volumes).
        image: the input as `io.read_image` returns it (or `load_images` builds it).
        mask: bool [*spatial] reference, or None.
        device: where condensation runs (the encoder runs on its own device).
        seed, position_weight, channel_weight, condense_options, max_points: as `segment`
            takes them ("default" resolved for the image's dimension).
        foreground: None, "auto", "default" or a mask array of the image's spatial shape.
    """
    check_settings(position_weight, channel_weight, max_points)
    check_model_fits(model, image)
    ndim = len(image.spatial_shape)
    position_weight, channel_weight, foreground, max_points = (
        resolve(value, name, ndim) for value, name in (
            (position_weight, "position_weight"), (channel_weight, "channel_weight"),
            (foreground, "foreground"), (max_points, "max_points")))
    with stage("cuts_ext.segment"):
        with stage("foreground"):
            inside = foreground_mask(image.data, foreground)
        points = condensation_points(model, image.data, inside, max_points)
        options = {"seed": seed, "n_pca": defaults_for(ndim).n_pca,
                   **_position_options(image.spatial_shape, position_weight, points.positions,
                                       condense_options or {}),
                   **(condense_options or {})}
        if points.weights is not None:
            options["weights"] = points.weights
        if channel_weight > 0:
            options.update(channels=points.channels, channel_weight=channel_weight)
        if device is not None:
            from ..encoder.device import torch_device  # the model has loaded torch already
            if torch_device(device).type == "cuda":  # "cuda:0" and torch.device alike
                options.setdefault("device", "cuda")
        result = condense(points.features, **options)
        with stage("maps"):
            segmentation = MultiscaleSegmentation.from_condensation(
                result, image.spatial_shape, reconstruction=points.reconstruction,
                source=str(image.path) if image.path is not None else image.name,
                point_labels=points.point_labels, affine=image.affine)
    if mask is None or not segmentation.levels:
        return SegmentedImage(image, segmentation, result)
    hints = np.stack([label_hint_mask(level, mask) for level in segmentation.label_maps])
    metrics = evaluate_segmentation(image.name, segmentation, mask)
    return SegmentedImage(image, segmentation, result, hints, metrics)


def _position_options(spatial_shape: Sequence[int], weight: float,
                      positions: Optional[np.ndarray], condense_options: dict) -> dict:
    """condense's position keywords: the points' coordinates when they are not the grid's
    pixels, else the grid's shape; none when condense_options give the deprecated
    pos_encoding, which then replaces them."""
    if "pos_encoding" in condense_options:
        return {}
    if positions is not None:
        return {"position_weight": weight, "positions": positions}
    return {"position_weight": weight, "spatial_shape": tuple(spatial_shape)}


def check_model_fits(model: Any, image: LoadedImage) -> None:
    """ValueError unless `model` embeds inputs like `image`: a 2-D encoder for images, a 3-D
    one for volumes, trained on as many channels (checked before any work on the input)."""
    if (model.dims, model.in_channels) == (len(image.spatial_shape), image.data.shape[0]):
        return
    raise ValueError(f"the model is a {model.dims}-D encoder (for "
                     f"{'volumes' if model.dims == 3 else '2-D images'}) of inputs of "
                     f"{model.in_channels} channel(s) and this input has "
                     f"{image.data.shape[0]}: it is {_kind(image)}, of shape "
                     f"{list(image.spatial_shape)}; segment it with a model trained on such "
                     "inputs")


def check_settings(position_weight: Any, channel_weight: Any, max_points: Any) -> None:
    """ValueError unless each is "default" or valid: the weights finite numbers >= 0,
    max_points None or an integer >= 1 (TypeError for a non-integer)."""
    for value, name in ((position_weight, "position_weight"),
                        (channel_weight, "channel_weight")):
        if not is_default(value):
            check_weight(value, name)
    if max_points is not None and not is_default(max_points):
        integer(max_points, "max_points", minimum=1)


def _foregrounds(foreground: Any, images: Sequence[LoadedImage]) -> list:
    """segment's `foreground` per image: the same keyword for all, or masks matched like
    `masks` (an image that no mask file matches is segmented whole)."""
    if foreground is None or (isinstance(foreground, str)
                              and foreground in ("auto", DEFAULT)):
        return [foreground] * len(images)
    masks = _load_masks(foreground, images, "foreground")
    if isinstance(foreground, (str, Path)):
        # Masks matched by name: a missing one must not silently mean "every voxel".
        unmatched = [image.name for image, mask in zip(images, masks) if mask is None]
        if unmatched:
            warnings.warn(f"foreground {foreground}: no mask for {', '.join(unmatched)}; "
                          "the default foreground is used there (auto for volumes, every "
                          "pixel of 2-D images)", UserWarning, stacklevel=3)
            masks = [DEFAULT if mask is None else mask for mask in masks]
    return masks


def prepare_model(model: Any, images: Sequence[LoadedImage], *, device: Any, seed: int,
                  train_options: Optional[dict], progress: bool) -> Any:
    """The encoder to segment `images` with: `model` itself, the encoder of a checkpoint path,
    or (model None) one trained on the images' data (all of one shape, or cropped by `train`)."""
    from ..encoder.checkpoint import load_encoder
    from ..encoder.model import PATCH_SIZE, CUTSEncoder
    from ..encoder.training import train

    if isinstance(model, CUTSEncoder):
        return model.to(device) if device is not None else model
    if isinstance(model, (str, Path)):
        return load_encoder(model, device=device)
    if model is not None:
        raise ValueError(f"model must be a CUTSEncoder, a checkpoint path or None, "
                         f"got {type(model).__name__}")
    options = {"seed": seed, "progress": progress, **(train_options or {})}
    if device is not None:
        options.setdefault("device", device)
    trainable, too_small = split_trainable(images, options.get("patch_size", PATCH_SIZE))
    if too_small:
        warnings.warn(f"trained without {_small_note(too_small)}", UserWarning, stacklevel=3)
    return train([image.data for image in trainable], **options).model


def split_trainable(images: Sequence[LoadedImage], patch_size: Any) -> tuple:
    """(the images to train one encoder on, those left out): inputs under `patch_size` pixels
    along a spatial axis are left out (training samples whole patches inside each image), and
    the encoder trained on the others segments them too (embedding pads them).

    Raises:
        InputError: naming the first input of another kind (2-D image beside volumes) or
            channel count than the first, or when every input is under the patch size.
    """
    patch_size = integer(patch_size, "patch_size", minimum=1)
    first = _kind(images[0]) if images else None
    for image in images:
        kind = _kind(image)
        if kind != first:
            raise InputError(f"{_where(image)}: {kind}, unlike {_where(images[0])} "
                             f"({first}): one encoder is trained on inputs of one kind and "
                             "channel count; train one per kind (cuts train) and segment each "
                             "with its own")
    small = [min(image.spatial_shape) < patch_size for image in images]
    too_small = [image for image, is_small in zip(images, small) if is_small]
    if images and len(too_small) == len(images):
        raise InputError(f"every input is under the patch size ({patch_size}) along an axis "
                         f"({_small_note(too_small)}), too small to train the encoder on; "
                         "segment them with a model trained on larger images (model= / --model)")
    return [image for image, is_small in zip(images, small) if not is_small], too_small


def _small_note(images: Sequence[LoadedImage]) -> str:
    """"2 input(s) under the patch size: a.png [3, 4], ...", for messages."""
    shown = ", ".join(f"{_where(image)} {list(image.spatial_shape)}" for image in images[:3])
    more = f" and {len(images) - 3} more" if len(images) > 3 else ""
    return f"{len(images)} input(s) under the patch size: {shown}{more}"


def _kind(image: LoadedImage) -> str:
    """"a volume of 1 channel(s)", say: what an encoder must match."""
    shape = "a volume" if len(image.spatial_shape) == 3 else "a 2-D image"
    return f"{shape} of {image.data.shape[0]} channel(s)"


def _where(image: LoadedImage) -> Any:
    return image.path if image.path is not None else image.name


def load_images(images: Any) -> list:
    """`segment`'s `images` as a list of `LoadedImage` (arrays get names image000, ...)."""
    if isinstance(images, (str, Path)) or (
            isinstance(images, (list, tuple)) and images
            and all(isinstance(item, (str, Path)) for item in images)):
        return [read_image(path) for path in resolve_inputs(images)]
    if isinstance(images, (list, tuple)):
        arrays = [to_numpy(item) for item in images]
    else:
        batch = to_numpy(images)
        if batch.dtype == object or batch.ndim == 0:  # None, a number, a dict, ...
            raise TypeError("images must be paths, an array [B, C, *spatial] or a list of "
                            f"[C, *spatial] arrays, got {describe(images)}")
        if batch.ndim not in (4, 5):
            raise ValueError(f"images must be [B, C, H, W] or [B, C, D, H, W], got shape "
                             f"{list(batch.shape)}")
        arrays = list(batch)
    if not arrays:
        raise ValueError("images is empty")
    loaded = []
    for number, array in enumerate(arrays):
        if array.ndim not in (3, 4):
            raise ValueError(f"image {number} must be [C, H, W] or [C, D, H, W], got shape "
                             f"{list(array.shape)}")
        if array.dtype.kind != "f" or not np.isfinite(array).all():
            raise ValueError(f"image {number} must hold finite floats scaled to [-1, 1]")
        loaded.append(LoadedImage(data=np.ascontiguousarray(array, dtype=np.float32), path=None,
                                  name=f"image{number:03d}", source_dtype=array.dtype))
    return loaded


def _load_masks(masks: Any, images: Sequence[LoadedImage], name: str = "masks") -> list:
    """One bool mask (or None) per image, checked against the image's spatial shape; `name`
    is the argument the messages name."""
    if masks is None:
        return [None] * len(images)
    if isinstance(masks, (str, Path)):
        if any(image.path is None for image in images):
            raise ValueError(f"{name} given as files need images given as files (matched by "
                             "name)")
        matched = match_masks([image.path for image in images], masks)
        return [None if matched[image.path] is None else
                read_mask(matched[image.path], image.spatial_shape, image_path=image.path,
                          affine=image.affine)
                for image in images]
    masks = list(masks) if isinstance(masks, (list, tuple)) else list(to_numpy(masks))
    if len(masks) != len(images):
        raise ValueError(f"{name} holds {len(masks)} masks for {len(images)} images")
    checked = []
    for image, mask in zip(images, masks):
        if mask is not None:
            mask = to_numpy(mask) != 0
            if mask.shape != image.spatial_shape:
                raise ValueError(f"{name}: the mask of {image.name} has shape "
                                 f"{list(mask.shape)}, the image {list(image.spatial_shape)}")
        checked.append(mask)
    return checked


def _progress(items: list, enabled: bool, description: str) -> Any:
    if not enabled or len(items) < 2:
        return items
    return progress_bar(items, enabled=True, desc=description, unit="image")
