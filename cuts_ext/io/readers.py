"""Reading images, volumes and masks into channels-first arrays.

Layout: every reader returns [C, H, W] (2-D) or [C, D, H, W] (3-D), channels first as the
encoder takes them.

- PNG, JPEG, TIFF, BMP (Pillow): grayscale, 16-bit and float images give C = 1, RGB gives C = 3;
  alpha is dropped (LA -> 1 channel, RGBA -> 3): transparency is not image content. Palette
  images are gray (1 channel) when every colour they use is a gray, else RGB; other colour
  modes (CMYK, YCbCr, ...) are converted to RGB. A multi-page TIFF is a
  volume, one page per slice (D = pages). Pillow reads 16-bit colour only as 8-bit: such TIFFs
  are read with tifffile instead, and such PNGs are refused rather than cut to 8 bits.
- .npy, and .npz holding one array (or an array named "image"): [H, W] is a grayscale image;
  [H, W, 3] or [H, W, 4] is a colour image saved channels-last (as numpy arrays of Pillow
  images are; alpha dropped); any other 3-D array is a grayscale volume [D, H, W] (so a volume
  of 3 or 4 slices of more than 4 rows must be saved as [1, D, H, W]); a 4-D array is
  [C, D, H, W].
- NIfTI (.nii, .nii.gz, nibabel): the voxel array in its stored axis order (i, j, k) = (D, H, W),
  so label maps written back with the same affine overlay the input exactly; a 4th axis holds
  channels (e.g. co-registered contrasts); a 2-D NIfTI is an image, and so is a single slice
  stored as a volume of one plane along its last spatial axis (X x Y x 1: no 3-D patch fits in
  it; dropping a trailing axis of size 1 leaves the affine's meaning and the overlay unchanged).
  The affine and header are kept for writing outputs.

Intensities (`read_image`) are scaled to [-1, 1] as float32:
- 8-bit data (uint8, and 1-bit), whatever the format (a uint8 NIfTI too, such as nilearn's
  MNI152 template), by the dtype's range, x / 127.5 - 1: photographs are stored in the full
  8-bit range, and a fixed map keeps intensities comparable between the images one encoder is
  trained on (a dark image stays dark).
- everything else (16-bit, other integers, floats, a NIfTI with scaling: nibabel applies it
  and gives floats) by the image's own min and max over all channels: 16-bit files rarely use
  their full range (12-bit sensors), and MRI / CT values have no fixed range. A constant image
  becomes 0 (with a warning: only position can then shape its segmentation).
NaN or infinite values are refused rather than guessed at.
"""

from __future__ import annotations

import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Tuple

import numpy as np

from .errors import InputError
from .paths import PathSpec, input_name

# What a damaged, truncated or mislabelled file raises inside Pillow, numpy and nibabel (OSError
# covers Pillow's UnidentifiedImageError and gzip errors; ImageFileError is added on import).
# Pillow raises SyntaxError for some broken PNG chunks.
_DECODE_ERRORS: Tuple[type, ...] = (OSError, ValueError, EOFError, SyntaxError,
                                     zipfile.BadZipFile, zlib.error)


@dataclass
class LoadedImage:
    """One input, ready for the encoder, with what writing its outputs needs.

    Attributes:
        data: float32 [C, H, W] or [C, D, H, W], in [-1, 1].
        path: the file it came from.
        name: the file name without its format suffix; outputs are named after it.
        source_dtype: the dtype stored in the file.
        affine: float64 [4, 4] voxel-to-world matrix of a NIfTI input, else None.
        header: the nibabel header of a NIfTI input, else None.
    """

    data: np.ndarray
    path: Path
    name: str
    source_dtype: np.dtype
    affine: Optional[np.ndarray] = None
    header: Optional[Any] = None

    @property
    def spatial_shape(self) -> Tuple[int, ...]:
        """(H, W) or (D, H, W)."""
        return tuple(self.data.shape[1:])


def read_image(path: PathSpec) -> LoadedImage:
    """Reads one image or volume and scales it to [-1, 1] (see the module docstring).

    Returns:
        A `LoadedImage`.
    Raises:
        InputError: unreadable, corrupt or unsupported file, an array of no usable shape, no
            pixels, or NaN / Inf values; the message starts with the path.
    """
    path = Path(path)
    array, affine, header = _read_channels_first(path)
    if array.dtype.kind not in "biuf":
        raise InputError(f"{path}: values of dtype {array.dtype} are not intensities")
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise InputError(f"{path}: contains NaN or infinite values")
    per_channel = values.reshape(len(values), -1)
    if (per_channel.min(axis=1) == per_channel.max(axis=1)).all():  # one value or one colour
        same = f"value ({values.flat[0]:g})" if len(values) == 1 else "colour"
        warnings.warn(f"{path}: every pixel holds the same {same}; its segmentation can follow "
                      "position only, not content", stacklevel=2)
    if array.dtype in (np.uint8, np.bool_):
        scaled = values / (1.0 if array.dtype == np.bool_ else 255.0) * 2.0 - 1.0
    else:
        scaled = rescale(values)
    return LoadedImage(data=scaled.astype(np.float32), path=path, name=input_name(path),
                       source_dtype=array.dtype, affine=affine, header=header)


def rescale(values: np.ndarray) -> np.ndarray:
    """float64 `values` mapped linearly from [min, max] to [-1, 1] (all 0 when constant).

    The differences are taken of halved values, which cannot overflow for any finite input
    (values near +-1.8e308 included); halving is exact, so elsewhere the result is bit for bit
    (v - min) / (max - min) * 2 - 1.
    """
    low, high = values.min(), values.max()
    if not high > low:
        return values * 0.0
    return (values / 2 - low / 2) / (high / 2 - low / 2) * 2.0 - 1.0


def read_mask(path: PathSpec, spatial_shape: Optional[Tuple[int, ...]] = None,
              image_path: Optional[PathSpec] = None,
              affine: Optional[np.ndarray] = None) -> np.ndarray:
    """Reads a reference mask, binarised: a pixel is foreground when any channel is > 0.

    Args:
        path: any format `read_image` reads (colour masks need a black background).
        spatial_shape: when given, the shape the mask must have: (H, W) or (D, H, W).
        image_path: the image the mask belongs to, named in the errors.
        affine: the image's voxel-to-world affine (a NIfTI image's), or None. A NIfTI mask is
            then placed by its own affine: the same grid stored in another axis order or
            direction (LAS against RAS, say) is reoriented onto the image's, and a mask on
            another grid is refused. Masks without an affine (other formats) match by shape.
    Returns:
        bool [H, W] or [D, H, W].
    Raises:
        InputError: as `read_image`, or the mask's shape differs from `spatial_shape`, or its
            affine places it elsewhere than the image (the messages name both files).
    """
    path = Path(path)
    array, mask_affine, _ = _read_channels_first(path, is_mask=True)
    if array.dtype.kind not in "biuf":
        raise InputError(f"{path}: values of dtype {array.dtype} do not form a mask")
    mask = (array > 0).any(axis=0)
    owner = f" of {image_path}" if image_path is not None else ""
    if affine is not None and mask_affine is not None:
        mask = _onto_image_grid(mask, mask_affine, np.asarray(affine, np.float64), path, owner)
    if spatial_shape is not None and mask.shape != tuple(spatial_shape):
        raise InputError(f"{path}: mask shape {list(mask.shape)} differs from the shape "
                         f"{list(spatial_shape)}{owner}")
    return mask


def _onto_image_grid(mask: np.ndarray, mask_affine: np.ndarray, affine: np.ndarray,
                     path: Path, owner: str) -> np.ndarray:
    """`mask` (spatial, as stored) in the image's voxel order: as it is when both affines
    agree, reoriented when they are the same grid in another axis order or direction."""
    # A thousandth of the smallest voxel: what float32 storage and qform quaternions round.
    tolerance = 1e-3 * float(np.linalg.norm(affine[:3, :3], axis=0).min())
    if _same_affine(mask_affine, affine, tolerance):
        return mask
    from nibabel import orientations

    # A single slice was read as 2-D (X x Y x 1): its third voxel axis is put back for this.
    stored = mask[..., None] if mask.ndim == 2 else mask
    transform = orientations.ornt_transform(orientations.io_orientation(mask_affine),
                                            orientations.io_orientation(affine))
    moved_affine = mask_affine @ orientations.inv_ornt_aff(transform, stored.shape)
    if _same_affine(moved_affine, affine, tolerance):
        moved = orientations.apply_orientation(stored, transform).astype(bool)
        return moved[..., 0] if mask.ndim == 2 and moved.shape[-1] == 1 else moved
    raise InputError(f"{path}: its affine (voxel to world) places it elsewhere than the image"
                     f"{owner} (another space or grid): resample it onto the image, or save it "
                     "with the image's affine")


def _same_affine(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0.0, atol=tolerance))


def _read_channels_first(path: Path, is_mask: bool = False
                         ) -> Tuple[np.ndarray, Optional[np.ndarray], Optional[Any]]:
    """(array [C, *spatial] in the file's dtype, NIfTI affine or None, NIfTI header or None);
    `is_mask`: a mask has no colour, so no warning about a colour layout."""
    input_name(path)  # refuses an unsupported suffix
    if not path.is_file():
        raise InputError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    suffix = path.name.lower()
    try:
        if suffix.endswith((".nii", ".nii.gz")):
            array, affine, header = _read_nifti(path)
        elif suffix.endswith((".npy", ".npz")):
            array, affine, header = _numpy_layout(_read_numpy(path), path, is_mask), None, None
        else:  # the remaining supported suffixes are Pillow's
            array, affine, header = _read_pillow(path), None, None
    except InputError:
        raise
    except _decode_errors() as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise InputError(f"{path}: cannot be read: {reason or type(error).__name__}") from error
    if array.size == 0:
        raise InputError(f"{path}: holds no pixels (shape {list(array.shape)})")
    return array, affine, header


def _decode_errors() -> Tuple[type, ...]:
    from nibabel.filebasedimages import ImageFileError
    return _DECODE_ERRORS + (ImageFileError,)


def _read_pillow(path: Path) -> np.ndarray:
    from PIL import Image

    # Pillow warns about damaged metadata (EXIF, ICC) it then skips; only the pixels matter
    # here, and damaged pixel data raises.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with Image.open(path) as image:
            if _deeper_than_pillow_reads(image, path):
                if image.format == "TIFF":
                    return _read_tiff_samples(path)
                raise InputError(f"{path}: a 16-bit PNG with colour or alpha, which Pillow can "
                                 "only read as 8-bit; save it as a TIFF or .npy to keep its "
                                 "16 bits, or as an 8-bit PNG")
            frames = []
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                frames.append(_pillow_frame(image))
    if len({frame.shape for frame in frames}) > 1:
        raise InputError(f"{path}: pages of different sizes or modes cannot form a volume")
    # [C, H, W] for one page; pages become the depth axis of [C, D, H, W].
    return frames[0] if len(frames) == 1 else np.stack(frames, axis=1)


def _deeper_than_pillow_reads(image: Any, path: Path) -> bool:
    """Whether Pillow would silently cut this image's samples to 8 bits: it has 16-bit modes
    for one gray channel only, and reads 16-bit colour (and gray + alpha) as 8-bit."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        return False
    if image.format == "PNG":  # IHDR: bit depth at byte 24, colour type at 25
        with open(path, "rb") as file:
            header = file.read(26)
        return len(header) == 26 and header[24] == 16 and header[25] in (2, 4, 6)
    if image.format == "TIFF":
        return max(image.tag_v2.get(258, (1,))) > 8  # BitsPerSample
    return False


def _read_tiff_samples(path: Path) -> np.ndarray:
    """[C, H, W] or [C, D, H, W] of a TIFF whose colour samples are deeper than 8 bits, read
    with tifffile (a dependency of scikit-image): RGB -> 3 channels, gray + alpha -> 1, alpha
    dropped as for every format; several pages are a volume."""
    import tifffile

    with tifffile.TiffFile(path) as tiff:
        series = tiff.series[0]
        array, axes = series.asarray(), series.axes
    if "S" not in axes or len(axes) > 4 or not axes.endswith(("YX", "YXS")):
        raise InputError(f"{path}: a TIFF of axes {axes!r}, not pages of colour images")
    array = np.moveaxis(array, axes.index("S"), 0)  # samples first: [S, (pages,) H, W]
    return array[:3] if array.shape[0] >= 3 else array[:1]


def _pillow_frame(image: Any) -> np.ndarray:
    """[C, H, W] of one Pillow image: gray / 16-bit / float -> 1 channel, colour -> 3, no alpha."""
    mode = image.mode
    if mode == "1":
        return np.asarray(image, dtype=np.uint8)[None] * np.uint8(255)
    if mode == "LA" or (mode in ("P", "PA") and _gray_palette(image)):
        image = image.convert("L")
    elif mode in ("P", "PA", "RGBA"):
        image = image.convert("RGBA")  # a palette may carry transparency; dropped below
    elif mode not in ("L", "RGB", "I", "F") and not mode.startswith("I;16"):
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV
    array = np.asarray(image)
    return array[None] if array.ndim == 2 else np.moveaxis(array[..., :3], -1, 0)


def _gray_palette(image: Any) -> bool:
    """Whether every palette colour the image uses is a gray (R = G = B): such an image is a
    grayscale one stored with a palette, and has one channel, not three equal ones."""
    palette = np.asarray(image.getpalette("RGB") or [], dtype=np.int64).reshape(-1, 3)
    used = np.unique(np.asarray(image))
    return bool(used.size) and used.max() < len(palette) and \
        bool((palette[used] == palette[used, :1]).all())


def _read_numpy(path: Path) -> np.ndarray:
    # np.load is given an open file: on a damaged archive it would leak the one it opens.
    with open(path, "rb") as file:
        if path.name.lower().endswith(".npy"):
            return np.load(file, allow_pickle=False)
        with np.load(file, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "image" in keys:
                return archive["image"]
            if len(keys) != 1:
                raise InputError(f"{path}: holds {len(keys)} arrays ({', '.join(keys) or 'none'});"
                                 " expected one, or one named 'image'")
            return archive[keys[0]]


def _numpy_layout(array: np.ndarray, path: Path, is_mask: bool) -> np.ndarray:
    """[C, *spatial] of a .npy / .npz array (layout rules in the module docstring)."""
    if array.ndim == 2:
        return array[None]
    if array.ndim == 3 and array.shape[-1] in (3, 4) and array.shape[0] > 4:
        return np.moveaxis(array[..., :3], -1, 0)
    if array.ndim == 3:
        if array.shape[0] in (3, 4) and min(array.shape[1:]) > 4 and not is_mask:
            # Most likely a colour image saved channels-first (torch's layout), not 3 slices.
            warnings.warn(f"{path}: array [{', '.join(map(str, array.shape))}] read as a gray "
                          f"volume of {array.shape[0]} slices; a colour image must be saved "
                          "channels-last, [H, W, 3] (numpy.moveaxis(array, 0, -1)); a volume "
                          "this thin is read without this warning from [1, D, H, W]",
                          stacklevel=2)
        return array[None]
    if array.ndim == 4:
        return array
    raise InputError(f"{path}: array of shape {list(array.shape)}; expected [H, W], [H, W, 3|4], "
                     "[D, H, W] or [C, D, H, W]")


def _read_nifti(path: Path) -> Tuple[np.ndarray, np.ndarray, Any]:
    import nibabel

    image = nibabel.load(str(path))
    array = np.asanyarray(image.dataobj)  # the stored dtype, scaled only if the header says so
    if array.ndim > 4 or array.ndim < 2:
        raise InputError(f"{path}: NIfTI of shape {list(array.shape)}; expected 2-D, 3-D, or "
                         "3-D with channels on a 4th axis")
    layout = np.moveaxis(array, -1, 0) if array.ndim == 4 else array[None]
    if layout.ndim == 4 and layout.shape[-1] == 1:  # one slice: an image (module docstring)
        layout = layout[..., 0]
    return layout, np.asarray(image.affine, dtype=np.float64), image.header
