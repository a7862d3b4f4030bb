"""Reading every input format from real files, resolving inputs and masks, and their errors."""

import os
import struct
import warnings
import zlib

import nibabel
import numpy as np
import pytest
from PIL import Image

from cuts_ext.io import (InputError, input_name, match_masks, read_image, read_mask,
                         resolve_inputs)

RETINA = "/work/shared/data/retina"


def _gradient(shape, dtype, high):
    """A deterministic array spanning 0..high, so min and max are known."""
    values = np.linspace(0, high, int(np.prod(shape))).reshape(shape)
    return np.round(values).astype(dtype) if np.dtype(dtype).kind in "iu" else values.astype(dtype)


def _min_max(array):
    array = np.asarray(array, dtype=np.float64)
    return (array - array.min()) / (array.max() - array.min()) * 2 - 1


@pytest.mark.parametrize("mode, shape, channels", [
    ("L", (6, 7), 1), ("RGB", (6, 7, 3), 3), ("RGBA", (6, 7, 4), 3), ("LA", (6, 7, 2), 1)])
def test_png_8_bit_is_scaled_by_the_dtype_range_and_alpha_is_dropped(tmp_path, mode, shape,
                                                                      channels):
    pixels = _gradient(shape, np.uint8, 200)
    Image.fromarray(pixels, mode=mode).save(tmp_path / "a.png")
    image = read_image(tmp_path / "a.png")
    colour = pixels if pixels.ndim == 2 else pixels[..., :channels]
    expected = np.moveaxis(colour.reshape(6, 7, channels), -1, 0) / 127.5 - 1
    assert image.data.shape == (channels, 6, 7) and image.data.dtype == np.float32
    np.testing.assert_allclose(image.data, expected, atol=1e-6)  # 200 stays below 1: no min-max
    assert image.name == "a" and image.source_dtype == np.uint8 and image.affine is None


def test_png_16_bit_and_float_tiff_are_scaled_min_max(tmp_path):
    deep = _gradient((5, 8), np.uint16, 4000) + 100
    flat = _gradient((5, 8), np.float32, 3.5) - 7
    Image.fromarray(deep).save(tmp_path / "deep.png")
    Image.fromarray(flat).save(tmp_path / "float.tif")
    for name, stored in (("deep.png", deep), ("float.tif", flat)):
        data = read_image(tmp_path / name).data
        assert data.shape == (1, 5, 8)
        np.testing.assert_allclose(data[0], _min_max(stored), atol=1e-6)


def test_16_bit_colour_tiff_keeps_its_16_bits(tmp_path):
    # Pillow reads 16-bit RGB as 8-bit: before, 6 values became 2 without a word.
    tifffile = pytest.importorskip("tifffile", reason="scikit-image's TIFF reader")
    colour = np.stack([_gradient((5, 8), np.uint16, 60000) + shift for shift in (0, 7, 300)],
                      axis=-1)
    tifffile.imwrite(tmp_path / "one.tif", colour, photometric="rgb")
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(colour, -1, 0), photometric="rgb",
                     planarconfig="separate")
    tifffile.imwrite(tmp_path / "pages.tif", np.stack([colour, colour[::-1]]), photometric="rgb")
    expected = _min_max(np.moveaxis(colour, -1, 0))
    for name in ("one.tif", "planar.tif"):
        image = read_image(tmp_path / name)
        assert image.data.shape == (3, 5, 8) and image.source_dtype == np.uint16
        np.testing.assert_allclose(image.data, expected, atol=1e-6)
    volume = read_image(tmp_path / "pages.tif").data
    assert volume.shape == (3, 2, 5, 8)
    np.testing.assert_allclose(volume[:, 0], expected, atol=1e-6)


def test_16_bit_colour_png_is_refused_not_cut_to_8_bits(tmp_path):
    rows = (np.arange(4 * 5 * 3, dtype=">u2") * 1000).reshape(4, 5, 3)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter 0 on every row

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    (tmp_path / "deep.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 5, 4, 16, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    with Image.open(tmp_path / "deep.png") as pillow:
        assert pillow.mode == "RGB"  # what Pillow would have given
    with pytest.raises(InputError, match="deep.png: a 16-bit PNG with colour"):
        read_image(tmp_path / "deep.png")


def test_a_palette_image_of_grays_is_gray_and_one_of_colours_rgb(tmp_path):
    indices = (np.arange(6 * 7) % 4).astype(np.uint8).reshape(6, 7)
    grays = [0, 0, 0, 80, 80, 80, 160, 160, 160, 240, 240, 240]
    colours = [0, 0, 0, 80, 10, 10, 10, 160, 10, 10, 10, 240]
    for name, palette in (("gray.png", grays), ("colour.png", colours)):
        image = Image.fromarray(indices, mode="P")
        image.putpalette(palette + [255, 0, 0] * 252)  # unused entries are not gray
        image.save(tmp_path / name)
    gray = read_image(tmp_path / "gray.png").data
    assert gray.shape == (1, 6, 7)
    np.testing.assert_allclose(gray[0], indices * 80 / 127.5 - 1, atol=1e-6)
    assert read_image(tmp_path / "colour.png").data.shape == (3, 6, 7)


def test_jpeg_is_read_as_rgb(tmp_path):
    pixels = np.full((8, 9, 3), (10, 128, 250), dtype=np.uint8)
    pixels[:, 8] = (250, 128, 10)  # another 8 x 8 block (4:4:4, so no colour bleeds across)
    Image.fromarray(pixels).save(tmp_path / "photo.JPG", quality=100, subsampling=0)
    image = read_image(tmp_path / "photo.JPG")
    assert image.data.shape == (3, 8, 9) and image.name == "photo"
    np.testing.assert_allclose(image.data[:, 4, 4], np.array([10, 128, 250]) / 127.5 - 1,
                               atol=0.05)  # lossy


def test_bmp_is_read_as_the_same_image_as_png(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "scan.bmp")
    Image.fromarray(pixels).save(tmp_path / "scan.png")
    image = read_image(tmp_path / "scan.bmp")
    assert image.name == "scan" and image.data.shape == (3, 7, 9)
    np.testing.assert_array_equal(image.data, read_image(tmp_path / "scan.png").data)


def test_multipage_tiff_is_a_volume(tmp_path):
    pages = [Image.fromarray(np.full((4, 5), 10 * k, dtype=np.uint8)) for k in range(3)]
    pages[0].save(tmp_path / "stack.tiff", save_all=True, append_images=pages[1:])
    data = read_image(tmp_path / "stack.tiff").data
    assert data.shape == (1, 3, 4, 5)
    np.testing.assert_allclose(data[0, :, 0, 0], np.array([0, 10, 20]) / 127.5 - 1, atol=1e-6)


@pytest.mark.parametrize("stored, expected_shape", [
    ((6, 7), (1, 6, 7)),            # [H, W]
    ((6, 7, 3), (3, 6, 7)),         # [H, W, 3], channels last
    ((6, 7, 4), (3, 6, 7)),         # [H, W, 4]: alpha dropped
    ((5, 6, 7), (1, 5, 6, 7)),      # [D, H, W]
    ((2, 5, 6, 7), (2, 5, 6, 7)),   # [C, D, H, W]
])
def test_numpy_layouts(tmp_path, stored, expected_shape):
    array = _gradient(stored, np.float64, 9.0)
    np.save(tmp_path / "a.npy", array)
    np.savez(tmp_path / "b.npz", whatever=array)
    for name in ("a.npy", "b.npz"):
        data = read_image(tmp_path / name).data
        assert data.shape == expected_shape
        assert data.min() == -1 and data.max() == 1


def test_a_channels_first_colour_array_is_read_as_a_volume_with_a_warning(tmp_path):
    np.save(tmp_path / "rgb.npy", _gradient((3, 8, 9), np.float64, 9.0))
    with pytest.warns(UserWarning, match=r"rgb\.npy: array \[3, 8, 9\] read as a gray volume "
                                         r"of 3 slices.*channels-last, \[H, W, 3\]"):
        assert read_image(tmp_path / "rgb.npy").data.shape == (1, 3, 8, 9)
    # The same slices saved as the docstring says, a deeper stack, or the mask of a volume of
    # 3 slices (masks have no colour): no warning.
    np.save(tmp_path / "thin.npy", _gradient((1, 3, 8, 9), np.float64, 9.0))
    np.save(tmp_path / "deep.npy", _gradient((5, 8, 9), np.float64, 9.0))
    np.save(tmp_path / "thin_mask.npy", np.ones((3, 8, 9), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(tmp_path / "thin.npy").data.shape == (1, 3, 8, 9)
        assert read_image(tmp_path / "deep.npy").data.shape == (1, 5, 8, 9)
        assert read_mask(tmp_path / "thin_mask.npy", (3, 8, 9)).all()


def test_npz_prefers_the_array_named_image_and_refuses_ambiguity(tmp_path):
    np.savez(tmp_path / "named.npz", image=np.eye(4), other=np.zeros((2, 2)))
    assert read_image(tmp_path / "named.npz").data.shape == (1, 4, 4)
    np.savez(tmp_path / "two.npz", a=np.eye(4), b=np.eye(4))
    with pytest.raises(InputError, match=r"two\.npz: holds 2 arrays"):
        read_image(tmp_path / "two.npz")


def _nifti(path, shape, dtype=np.int16):
    affine = np.array([[0.0, 0, 1.5, -40], [0, 2.0, 0, 10], [-0.75, 0, 0, 5], [0, 0, 0, 1]])
    image = nibabel.Nifti1Image(_gradient(shape, dtype, 900), affine)
    image.header["descrip"] = b"test volume"
    image.header.set_xyzt_units("mm", "sec")
    nibabel.save(image, str(path))
    return affine


@pytest.mark.parametrize("filename", ["brain.nii", "brain.nii.gz"])
def test_nifti_keeps_axis_order_affine_and_header(tmp_path, filename):
    affine = _nifti(tmp_path / filename, (4, 5, 6))
    image = read_image(tmp_path / filename)
    assert image.name == "brain" and image.data.shape == (1, 4, 5, 6)
    np.testing.assert_allclose(image.data[0], _min_max(_gradient((4, 5, 6), np.int16, 900)),
                               atol=1e-6)
    np.testing.assert_array_equal(image.affine, affine)
    assert image.header["descrip"].tobytes().startswith(b"test volume")


def test_nifti_fourth_axis_holds_channels(tmp_path):
    _nifti(tmp_path / "multi.nii.gz", (4, 5, 6, 2))
    assert read_image(tmp_path / "multi.nii.gz").data.shape == (2, 4, 5, 6)


def test_a_single_slice_nifti_is_an_image_and_its_mask_matches(tmp_path):
    """X x Y x 1 (a slice saved as a volume) reads as a 2-D image: no 3-D patch fits in it.
    Its mask, stored the same way, has the image's shape; a volume of one plane along another
    axis stays a volume."""
    affine = _nifti(tmp_path / "slice.nii.gz", (4, 5, 1))
    image = read_image(tmp_path / "slice.nii.gz")
    assert image.data.shape == (1, 4, 5) and image.spatial_shape == (4, 5)
    expected = _min_max(_gradient((4, 5, 1), np.int16, 900))[..., 0]
    np.testing.assert_allclose(image.data[0], expected, atol=1e-6)
    np.testing.assert_array_equal(image.affine, affine)
    _nifti(tmp_path / "slice_mask.nii.gz", (4, 5, 1))
    assert read_mask(tmp_path / "slice_mask.nii.gz", image.spatial_shape).shape == (4, 5)
    _nifti(tmp_path / "plane.nii.gz", (1, 5, 6))
    assert read_image(tmp_path / "plane.nii.gz").data.shape == (1, 1, 5, 6)
    _nifti(tmp_path / "slices.nii.gz", (4, 5, 1, 2))  # channels on the 4th axis, one slice
    assert read_image(tmp_path / "slices.nii.gz").data.shape == (2, 4, 5)


@pytest.mark.parametrize("name, content", [
    ("bad.png", b"\x89PNG\r\n\x1a\nnot really a png"),
    ("bad.jpg", b"\xff\xd8\xff garbage"),
    ("bad.tif", b"II*\x00 garbage"),
    ("bad.npy", b"\x93NUMPY garbage"),
    ("bad.npz", b"PK\x03\x04 garbage"),
    ("bad.nii", b"\x00" * 10),
    ("bad.nii.gz", b"\x1f\x8b garbage"),
])
def test_corrupt_files_raise_input_error_naming_the_file(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=rf"{name}: cannot be read"):
        read_image(tmp_path / name)


def test_truncated_png_raises_input_error(tmp_path):
    Image.fromarray(_gradient((64, 64, 3), np.uint8, 255)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.png: cannot be read"):
        read_image(tmp_path / "cut.png")


def test_unreadable_paths(tmp_path):
    with pytest.raises(InputError, match=r"missing\.png: no such file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(InputError, match=r"folder\.png: not a regular file"):
        read_image(tmp_path / "folder.png")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match=r"notes\.txt: unsupported format"):
        read_image(tmp_path / "notes.txt")


def test_non_finite_and_empty_images_are_refused(tmp_path):
    np.save(tmp_path / "nan.npy", np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(InputError, match="NaN"):
        read_image(tmp_path / "nan.npy")
    np.save(tmp_path / "empty.npy", np.zeros((0, 4)))
    with pytest.raises(InputError, match="no pixels"):
        read_image(tmp_path / "empty.npy")


def test_constant_image_becomes_zero_with_a_warning(tmp_path):
    np.save(tmp_path / "flat.npy", np.full((3, 3), 7.0))
    with pytest.warns(UserWarning, match=r"flat\.npy: every pixel holds the same value \(7\)"):
        assert not read_image(tmp_path / "flat.npy").data.any()
    # A solid colour is as empty: each channel constant, though the channels differ.
    Image.fromarray(np.full((6, 7, 3), (200, 0, 40), np.uint8)).save(tmp_path / "red.png")
    with pytest.warns(UserWarning, match=r"red\.png: every pixel holds the same colour"):
        read_image(tmp_path / "red.png")
    # Empty masks are common and never warned about.
    Image.fromarray(np.zeros((6, 7), np.uint8)).save(tmp_path / "red_mask.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not read_mask(tmp_path / "red_mask.png", (6, 7)).any()


def test_resolve_folder_glob_file_and_list(tmp_path):
    for name in ("b.png", "a.nii.gz", "c.npy"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "readme.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.png").write_bytes(b"x")
    assert [p.name for p in resolve_inputs(tmp_path)] == ["a.nii.gz", "b.png", "c.npy"]
    assert [p.name for p in resolve_inputs(str(tmp_path / "**" / "*.png"))] == ["b.png", "d.png"]
    assert [p.name for p in resolve_inputs(tmp_path / "c.npy")] == ["c.npy"]
    assert [p.name for p in resolve_inputs([tmp_path / "c.npy", tmp_path / "b.png",
                                            tmp_path / "c.npy"])] == ["b.png", "c.npy"]


def test_resolve_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: no supported file in this folder"):
        resolve_inputs(tmp_path / "empty")
    with pytest.raises(InputError, match=r"no supported file matches this pattern"):
        resolve_inputs(str(tmp_path / "*.png"))
    with pytest.raises(InputError, match=r"nowhere: no such file or folder"):
        resolve_inputs(tmp_path / "nowhere")
    (tmp_path / "x.png").write_bytes(b"x")
    (tmp_path / "x.npy").write_bytes(b"x")
    with pytest.raises(InputError, match=r"same name 'x'"):
        resolve_inputs(tmp_path)


def test_input_names_strip_the_whole_suffix():
    assert input_name("/d/brain.T1.nii.gz") == "brain.T1"
    assert input_name("IMG.TIFF") == "IMG"


def test_masks_match_by_name_with_optional_suffix(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir(), masks.mkdir()
    for name in ("a.png", "b.png", "c.nii.gz"):
        (images / name).write_bytes(b"x")
    for name in ("a.npy", "c_mask.nii.gz", "z.png"):
        (masks / name).write_bytes(b"x")
    matches = match_masks(resolve_inputs(images), masks)
    assert {k.name: (v.name if v else None) for k, v in matches.items()} == {
        "a.png": "a.npy", "b.png": None, "c.nii.gz": "c_mask.nii.gz"}
    (masks / "a_seg.png").write_bytes(b"x")
    with pytest.raises(InputError, match=r"a\.png: several masks match"):
        match_masks(resolve_inputs(images), masks)


def test_masks_are_binarised_and_shape_checked(tmp_path):
    mask = np.zeros((6, 7, 3), dtype=np.uint8)
    mask[1:3, 2:4, 1] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    binary = read_mask(tmp_path / "m.png", (6, 7))
    assert binary.dtype == bool and binary.sum() == 4 and binary[1:3, 2:4].all()
    with pytest.raises(InputError, match=r"m\.png: mask shape \[6, 7\] differs from the shape "
                                         r"\[6, 8\] of .*img\.png"):
        read_mask(tmp_path / "m.png", (6, 8), image_path=tmp_path / "img.png")


def test_an_image_is_never_its_own_mask(tmp_path):
    # Masks kept beside the images: before, "plain" matched both itself and plain_mask.
    for name in ("plain.nii.gz", "plain_mask.nii.gz", "other.png"):
        (tmp_path / name).write_bytes(b"x")
    matches = match_masks([tmp_path / "plain.nii.gz", tmp_path / "other.png"], tmp_path)
    assert matches == {tmp_path / "plain.nii.gz": tmp_path / "plain_mask.nii.gz",
                       tmp_path / "other.png": None}


def _world_mask(path, affine, shape=(6, 7, 8)):
    """A mask whose foreground is a fixed box in world space, stored on the grid of `affine`
    (shape in voxels); returns the stored array."""
    coords = np.stack(np.meshgrid(*map(np.arange, shape), indexing="ij"), -1)
    world = coords @ affine[:3, :3].T + affine[:3, 3]
    inside = ((world[..., 0] > 1.5) & (world[..., 0] < 4.5) & (world[..., 1] > 2.5)
              & (world[..., 2] < 5.5)).astype(np.uint8)
    nibabel.save(nibabel.Nifti1Image(inside, affine), str(path))
    return inside.astype(bool)


def test_a_nifti_mask_is_placed_by_its_affine(tmp_path):
    """The same world-space mask stored LAS (first axis flipped) reads as the RAS one; a mask
    shifted by a voxel, or on another grid, is refused rather than used mirrored or offset."""
    ras = np.diag([1.0, 1.0, 1.0, 1.0])
    expected = _world_mask(tmp_path / "ras.nii.gz", ras)
    las = ras.copy()
    las[0, 0], las[0, 3] = -1.0, 5.0  # voxel i -> x = 5 - i: the same 6 planes, reversed
    stored = _world_mask(tmp_path / "las.nii.gz", las)
    assert not np.array_equal(stored, expected)  # a shape-only match would mirror it
    for name in ("ras.nii.gz", "las.nii.gz"):
        mask = read_mask(tmp_path / name, expected.shape, affine=ras)
        np.testing.assert_array_equal(mask, expected)
    shifted = ras.copy()
    shifted[2, 3] = 1.0
    _world_mask(tmp_path / "shifted.nii.gz", shifted)
    with pytest.raises(InputError, match=r"shifted\.nii\.gz: its affine .* elsewhere than the "
                                         r"image of .*img\.nii"):
        read_mask(tmp_path / "shifted.nii.gz", expected.shape, image_path=tmp_path / "img.nii",
                  affine=ras)
    # Without an affine on either side (other formats, arrays), masks match by shape.
    np.save(tmp_path / "plain.npy", stored)
    np.testing.assert_array_equal(read_mask(tmp_path / "plain.npy", expected.shape,
                                            affine=ras), stored)
    np.testing.assert_array_equal(read_mask(tmp_path / "las.nii.gz", expected.shape), stored)


def test_a_single_slice_nifti_mask_is_placed_by_its_affine_too(tmp_path):
    # X x Y x 1 reads as 2-D; stored flipped (LAS) it is still the same grid.
    ras = np.eye(4)
    expected = _world_mask(tmp_path / "ras.nii.gz", ras, shape=(6, 7, 1))[..., 0]
    las = ras.copy()
    las[0, 0], las[0, 3] = -1.0, 5.0
    stored = _world_mask(tmp_path / "las.nii.gz", las, shape=(6, 7, 1))[..., 0]
    assert not np.array_equal(stored, expected)
    np.testing.assert_array_equal(read_mask(tmp_path / "las.nii.gz", (6, 7), affine=ras),
                                  expected)


@pytest.mark.skipif(not os.path.isdir(RETINA), reason=f"the retina data is not at {RETINA}")
def test_real_retina_image_and_mask_pair():
    images = resolve_inputs(f"{RETINA}/images")
    pairs = match_masks(images, f"{RETINA}/masks")
    assert len(images) == 40 and all(mask is not None for mask in pairs.values())
    image = read_image(images[0])
    mask = read_mask(pairs[images[0]], image.spatial_shape, image_path=images[0])
    assert image.data.shape == (3, 128, 128) and -1 <= image.data.min() < image.data.max() <= 1
    assert 0 < mask.sum() < mask.size
