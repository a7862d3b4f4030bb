"""The overview figure, drawn headless for 2-D and 3-D inputs."""

import numpy as np
from PIL import Image
from support.tiny_segmentations import block_result

from cuts_ext.io.figures import choose_levels, colorize_labels, save_figure
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


def test_2d_figure_has_one_row_of_panels(tmp_path):
    picture = _figure(tmp_path, (8, 6), channels=3)
    height, width = picture.shape[:2]
    assert width > 3 * height  # image, reconstruction, 3 levels, persistent side by side
    assert picture.std() > 0


def test_3d_figure_has_a_row_per_axis(tmp_path):
    picture = _figure(tmp_path, (4, 6, 4), channels=1)
    height, width = picture.shape[:2]
    assert width < 3 * height
