"""Writing outputs: the .npz format, label images (PNG, NIfTI with the input's affine and
header), all-or-nothing folders and the overwrite rule."""

import os

import nibabel
import numpy as np
import pytest
from PIL import Image
from support.tiny_segmentations import block_result

import cuts_ext
from cuts_ext.io import (InputError, OutputExistsError, atomic_directory, read_image,
                         write_label_image, write_outputs, written_segmentations)
from cuts_ext.segmentation.multiscale import MultiscaleSegmentation


def _png_input(tmp_path, shape=(4, 6)):
    Image.fromarray(np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)).save(
        tmp_path / "img.png")
    return read_image(tmp_path / "img.png")


def _nifti_input(tmp_path, shape=(2, 4, 4)):
    affine = np.diag([0.5, 1.25, 3.0, 1.0])
    affine[:3, 3] = [-10, 20, 5]
    image = nibabel.Nifti1Image(np.arange(np.prod(shape), dtype=np.float32).reshape(shape), affine)
    image.header.set_qform(affine, code=1)
    image.header.set_sform(affine, code=2)
    image.header.set_xyzt_units("mm")
    image.header["descrip"] = b"volume under test"
    nibabel.save(image, str(tmp_path / "vol.nii.gz"))
    return read_image(tmp_path / "vol.nii.gz")


def test_segmentation_from_a_hierarchy_and_its_npz_round_trip(tmp_path):
    result = block_result((4, 6))
    reconstruction = np.full((1, 4, 6), 0.25, dtype=np.float32)
    seg = MultiscaleSegmentation.from_condensation(result, (4, 6), reconstruction, "img.png")
    assert result.levels == [1, 3, 5] and seg.levels == [1, 3, 5]  # blocks of 2, 4, 8
    assert seg.label_maps.shape == (3, 4, 6) and seg.label_maps.dtype == np.int32
    np.testing.assert_array_equal(seg.label_maps[1].ravel(), np.arange(24) // 4)
    assert seg.persistent.shape == (4, 6) and seg.auto_level in (0, 1, 2)
    seg.save(tmp_path / "s.npz")
    loaded = MultiscaleSegmentation.load(tmp_path / "s.npz")
    for key in ("hierarchy", "label_maps", "persistent", "reconstruction"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(seg, key))
    assert (loaded.levels, loaded.cluster_counts, loaded.spatial_shape, loaded.auto_level,
            loaded.source) == (seg.levels, seg.cluster_counts, (4, 6), seg.auto_level, "img.png")
    # A plain .npz (numpy reads it without cuts_ext), the same bytes for the same segmentation.
    with np.load(tmp_path / "s.npz", allow_pickle=False) as archive:
        assert archive["label_maps"].dtype == np.int32 and int(archive["auto_level"]) >= 0
        assert str(archive["source"]) == "img.png"
    seg.save(tmp_path / "again.npz")
    assert (tmp_path / "s.npz").read_bytes() == (tmp_path / "again.npz").read_bytes()
    with pytest.raises(ValueError, match="does not label the 20 pixels"):
        MultiscaleSegmentation.from_condensation(result, (4, 5))


def test_segmentation_of_points_that_stand_for_voxels(tmp_path):
    """Condensed points (super-voxels, or the foreground's voxels) map back to voxels through
    point_labels; outside the foreground every level holds 0 and clusters are id + 1."""
    result = block_result((8,), block_sizes=(1, 2, 2, 4, 4, 8, 8, 8))
    point_labels = np.array([[-1, 0, 0, 1, 2, 3], [4, 5, 6, 7, -1, -1]])
    seg = MultiscaleSegmentation.from_condensation(result, (2, 6), point_labels=point_labels)
    np.testing.assert_array_equal(seg.foreground, point_labels >= 0)
    for level, maps in zip(seg.levels, seg.label_maps):
        expected = np.where(point_labels >= 0, result.hierarchy[level][point_labels] + 1, 0)
        np.testing.assert_array_equal(maps, expected)
    assert (seg.persistent[point_labels < 0] == 0).all()
    seg.save(tmp_path / "s.npz")
    loaded = MultiscaleSegmentation.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(loaded.point_labels, point_labels)
    np.testing.assert_array_equal(loaded.foreground, seg.foreground)
    with pytest.raises(ValueError, match="point_labels"):
        MultiscaleSegmentation.from_condensation(result, (2, 6), point_labels=point_labels + 5)


@pytest.mark.parametrize("outside", [0, 410])
def test_the_persistent_map_of_points_equals_that_of_their_voxels(outside):
    # from_condensation finds the stable map on the weighted points and paints the voxels;
    # persistent_map on the voxels' maps is the reference it must equal (values included).
    rng = np.random.default_rng(7)
    points = np.concatenate([rng.normal(centre, 0.05, (30, 2)) for centre in
                             ((0, 0), (1, 0), (0, 1), (1, 1), (3, 3))])
    result = cuts_ext.condense(points)
    # The first 120 points (4 clusters) stand for 10 voxels each, the far cluster's 30 for one:
    # 2.4 % of the voxels, under the 2-D map's 3 %, though 20 % of the points.
    voxels = np.concatenate([np.repeat(np.arange(120), 10), np.arange(120, 150)])
    voxels = np.concatenate([voxels, np.full(outside, -1)]).astype(np.int32)
    voxels = rng.permutation(voxels).reshape(-1, 41)
    seg = MultiscaleSegmentation.from_condensation(result, voxels.shape, point_labels=voxels)
    reference = cuts_ext.persistent_map(seg.label_maps,
                                        background=None if outside == 0 else 0)
    assert reference.max() >= 2
    np.testing.assert_array_equal(seg.persistent, reference)


def test_written_segmentations_are_scored_against_masks_placed_by_the_input_s_affine(tmp_path):
    # cuts evaluate and --resume read the .npz, not the input: it keeps the input's affine, so
    # a LAS-stored mask of a RAS volume is scored as at the first run, not mirrored.
    from cuts_ext.segmentation.evaluation import score_written
    shape = (4, 3, 2)
    seg = MultiscaleSegmentation.from_condensation(block_result(shape), shape)
    seg.affine = np.eye(4)
    seg.save(tmp_path / "vol.npz")
    assert MultiscaleSegmentation.load(tmp_path / "vol.npz").affine.shape == (4, 4)
    mask = np.zeros(shape, np.uint8)
    mask[0], mask[1, 0, 0] = 1, 1  # the first plane and one voxel: scores differ mirrored
    nibabel.save(nibabel.Nifti1Image(mask, np.eye(4)), str(tmp_path / "ras.nii.gz"))
    las = np.eye(4)
    las[0, 0], las[0, 3] = -1.0, shape[0] - 1.0
    nibabel.save(nibabel.Nifti1Image(mask[::-1].copy(), las), str(tmp_path / "las.nii.gz"))
    first = score_written(tmp_path / "vol.npz", tmp_path / "ras.nii.gz")
    assert score_written(tmp_path / "vol.npz", tmp_path / "las.nii.gz") == first
    seg.affine = None  # a file written before the affine was kept: matched by shape
    seg.save(tmp_path / "old.npz")
    assert score_written(tmp_path / "old.npz", tmp_path / "las.nii.gz") != \
        score_written(tmp_path / "old.npz", tmp_path / "ras.nii.gz")


def test_segmentation_of_a_real_condensation():
    image = np.linspace(-1, 1, 64).reshape(1, 8, 8) ** 3
    result = cuts_ext.condense(image.reshape(64, 1) + 0.0)
    seg = MultiscaleSegmentation.from_condensation(result, (8, 8))
    assert seg.label_maps.shape == (len(result.levels), 8, 8)
    for position, label_map in enumerate(seg.label_maps):
        np.testing.assert_array_equal(label_map, result.label_map((8, 8), position))


def test_load_refuses_foreign_and_damaged_files(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(InputError, match=r"other\.npz: not a cuts_ext segmentation file"):
        MultiscaleSegmentation.load(tmp_path / "other.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(InputError, match=r"broken\.npz: cannot be read"):
        MultiscaleSegmentation.load(tmp_path / "broken.npz")


def test_png_label_images_use_8_or_16_bits(tmp_path):
    like = _png_input(tmp_path)
    small = np.arange(24).reshape(4, 6)
    path = write_label_image(tmp_path / "small", small, like, color=True)
    assert path.name == "small.png"
    np.testing.assert_array_equal(np.asarray(Image.open(path)), small)
    assert np.asarray(Image.open(path)).dtype == np.uint8
    assert np.asarray(Image.open(tmp_path / "small_color.png")).shape == (4, 6, 3)
    large = small * 1000
    np.testing.assert_array_equal(np.asarray(Image.open(
        write_label_image(tmp_path / "large", large, like))), large)
    with pytest.raises(ValueError, match="do not fit"):
        write_label_image(tmp_path / "wrong", small.T, like)


def test_nifti_label_images_keep_the_affine_and_header(tmp_path):
    like = _nifti_input(tmp_path)
    labels = np.arange(32).reshape(2, 4, 4) % 5
    path = write_label_image(tmp_path / "labels", labels, like)
    assert path.name == "labels.nii.gz"
    written, source = nibabel.load(str(path)), nibabel.load(str(like.path))
    np.testing.assert_array_equal(np.asanyarray(written.dataobj), labels)
    np.testing.assert_array_equal(written.affine, source.affine)
    for key in ("pixdim", "qform_code", "sform_code", "xyzt_units", "descrip", "quatern_b",
                "srow_x", "srow_y", "srow_z"):
        np.testing.assert_array_equal(written.header[key], source.header[key])
    assert written.header.get_intent()[0] == "label"
    assert np.issubdtype(written.get_data_dtype(), np.integer)


def test_volumes_without_nifti_metadata_get_an_identity_affine(tmp_path):
    np.save(tmp_path / "stack.npy", np.arange(60.0).reshape(3, 4, 5))
    labels = np.ones((3, 4, 5), dtype=np.int64)
    path = write_label_image(tmp_path / "stack_labels", labels, read_image(tmp_path / "stack.npy"))
    written = nibabel.load(str(path))
    np.testing.assert_array_equal(np.asanyarray(written.dataobj), labels)
    np.testing.assert_array_equal(written.affine, np.eye(4))


def test_write_outputs_layout_for_2d_and_3d(tmp_path):
    for like, shape, suffix in ((_png_input(tmp_path), (4, 6), ".png"),
                                (_nifti_input(tmp_path), (2, 4, 4), ".nii.gz")):
        seg = MultiscaleSegmentation.from_condensation(block_result(shape), shape)
        folder = write_outputs(tmp_path / "out", like, seg, figure=False)
        name = like.name
        assert folder == tmp_path / "out" / name
        expected = {f"{name}.npz", f"{name}_auto{suffix}", f"{name}_persistent{suffix}"}
        expected |= {f"{name}_level{j:02d}{suffix}" for j in range(len(seg.levels))}
        if suffix == ".png":
            expected |= {f"{name}_auto_color.png", f"{name}_persistent_color.png"}
        assert set(os.listdir(folder)) == expected
    assert [p.name for p in written_segmentations(tmp_path / "out")] == ["img.npz", "vol.npz"]


def test_a_failure_mid_write_leaves_nothing_behind(tmp_path):
    like = _png_input(tmp_path)
    seg = MultiscaleSegmentation.from_condensation(block_result((4, 6)), (4, 6))
    seg.label_maps = np.concatenate([seg.label_maps[:1], -seg.label_maps[1:]])  # level 1 < 0
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="label ids must be >= 0"):
        write_outputs(out, like, seg, figure=False)  # after the .npz and level 0 were written
    assert os.listdir(out) == []


def test_no_overwrite_without_the_flag_and_a_failed_overwrite_keeps_the_old(tmp_path):
    destination = tmp_path / "result"
    with atomic_directory(destination) as staging:
        (staging / "a.txt").write_text("first")
    with pytest.raises(OutputExistsError, match=r"result: already exists; pass overwrite=True"):
        with atomic_directory(destination) as staging:
            pass
    with pytest.raises(RuntimeError):
        with atomic_directory(destination, overwrite=True) as staging:
            (staging / "a.txt").write_text("second")
            raise RuntimeError("failed")
    assert (destination / "a.txt").read_text() == "first"
    with atomic_directory(destination, overwrite=True) as staging:
        (staging / "b.txt").write_text("second")
    assert os.listdir(destination) == ["b.txt"]
    assert sorted(os.listdir(tmp_path)) == ["result"]  # no staging or retired folder left
