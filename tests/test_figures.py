"""The overview figure, drawn headless for 2-D and 3-D inputs."""

import warnings

import numpy as np
from PIL import Image
from support.tiny_segmentations import block_result

from cuts_ext.io.figures import anatomical_views, choose_levels, colorize_labels, save_figure
from cuts_ext.segmentation.multiscale import MultiscaleSegmentation


def test_choose_levels_spreads_coarse_to_fine():
    assert choose_levels(3) == [2, 1, 0]
    assert choose_levels(11, max_panels=6) == [10, 8, 6, 4, 2, 0]
    assert choose_levels(0) == []


def test_colorize_labels_draws_the_background_black():
    colours = colorize_labels(np.array([[0, 1], [2, 21]]), background=0)
    assert colours.shape == (2, 2, 3) and colours.dtype == np.uint8
    assert not colours[0, 0].any() and colours[0, 1].any()
    np.testing.assert_array_equal(colours[1, 1], colours[0, 1])  # 21 = 1 modulo 20


def _figure(tmp_path, shape, channels):
    seg = MultiscaleSegmentation.from_condensation(block_result(shape), shape)
    image = np.linspace(-1, 1, channels * int(np.prod(shape)), dtype=np.float32).reshape(
        (channels,) + shape)
    path = tmp_path / "figure.png"
    save_figure(path, image, seg.label_maps, persistent=seg.persistent, reconstruction=image,
                cluster_counts=[seg.cluster_counts[i] for i in seg.levels], title="case")
    return np.asarray(Image.open(path))


def test_a_title_in_a_script_the_font_lacks_draws_without_warnings(tmp_path):
    # A file named in Chinese: matplotlib warned once per missing glyph on the command's stderr.
    seg = MultiscaleSegmentation.from_condensation(block_result((8, 6)), (8, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_figure(tmp_path / "figure.png", np.zeros((1, 8, 6), np.float32), seg.label_maps,
                    title="sujet_\u00e9_\u8111")
    assert (tmp_path / "figure.png").stat().st_size > 0


def test_2d_figure_has_one_row_of_panels(tmp_path):
    picture = _figure(tmp_path, (8, 6), channels=3)
    height, width = picture.shape[:2]
    assert width > 3 * height  # image, reconstruction, 3 levels, persistent side by side
    assert picture.std() > 0


def test_3d_figure_has_a_row_per_axis(tmp_path):
    picture = _figure(tmp_path, (4, 6, 4), channels=1)
    height, width = picture.shape[:2]
    assert width < 3 * height


def _marked_ras_volume():
    """[1, X, Y, Z] zeros with one marker each near the subject's left (low x), anterior
    (high y) and superior (high z) ends of the middle lines."""
    volume = np.zeros((1, 9, 11, 13), np.float32)
    volume[0, 1, 5, 6] = 1.0   # left
    volume[0, 4, 9, 6] = 0.5   # anterior
    volume[0, 4, 5, 11] = -0.5  # superior
    return volume


def test_anatomical_views_put_left_anterior_and_superior_where_viewers_do():
    sagittal, coronal, axial = anatomical_views(_marked_ras_volume(), np.eye(4), True)
    view, aspect = sagittal                       # [1, z, y]: superior up, anterior right
    assert view.shape == (1, 13, 11) and aspect == 1.0
    assert view[0, 13 - 1 - 11, 5] == -0.5 and view[0, 13 - 1 - 6, 9] == 0.5
    view, _ = coronal                             # [1, z, x]: superior up, left on the left
    assert view.shape == (1, 13, 9) and view[0, 13 - 1 - 11, 4] == -0.5
    view, _ = axial                               # [1, y, x]: anterior up, left on the left
    assert view.shape == (1, 11, 9)
    assert view[0, 11 - 1 - 5, 1] == 1.0 and view[0, 11 - 1 - 9, 4] == 0.5


def test_anatomical_views_do_not_depend_on_how_the_file_stores_the_axes():
    ras = _marked_ras_volume()
    # The same head stored as (z, y, x) with x running right to left (an "SPL"-like file),
    # its affine mapping each stored axis back to the world's.
    stored = np.flip(np.transpose(ras, (0, 3, 2, 1)), axis=3).copy()
    affine = np.zeros((4, 4))
    affine[2, 0], affine[1, 1], affine[0, 2], affine[3, 3] = 1.0, 1.0, -1.0, 1.0
    affine[0, 3] = 8.0
    for (expected, _), (found, _) in zip(anatomical_views(ras, np.eye(4), True),
                                          anatomical_views(stored, affine, True)):
        np.testing.assert_array_equal(found, expected)
    colours = np.moveaxis(np.repeat(stored, 3, axis=0), 0, -1)  # label panels: [D, H, W, 3]
    for (expected, _), (found, _) in zip(anatomical_views(ras, np.eye(4), True),
                                          anatomical_views(colours, affine, False)):
        np.testing.assert_array_equal(found[..., 0], expected[0])


def test_anatomical_views_draw_voxels_at_their_spacing():
    affine = np.diag([1.0, 1.0, 3.0, 1.0])  # 1 x 1 x 3 mm voxels: thick axial slices
    aspects = [aspect for _, aspect in anatomical_views(_marked_ras_volume(), affine, True)]
    assert aspects == [3.0, 3.0, 1.0]  # sagittal and coronal rows are 3 mm apart


def test_a_nifti_volume_figure_is_drawn_with_its_planes(tmp_path):
    shape = (4, 6, 4)
    seg = MultiscaleSegmentation.from_condensation(block_result(shape), shape)
    image = np.linspace(-1, 1, int(np.prod(shape)), dtype=np.float32).reshape((1,) + shape)
    path = tmp_path / "figure.png"
    save_figure(path, image, seg.label_maps, persistent=seg.persistent,
                affine=np.diag([2.0, 2.0, 2.0, 1.0]), title="case")
    picture = np.asarray(Image.open(path))
    assert picture.shape[1] < 3 * picture.shape[0] and picture.std() > 0
