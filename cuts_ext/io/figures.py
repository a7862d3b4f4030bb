"""One overview figure per input: the image, its reconstruction, coarse-to-fine levels and the
persistent map. Headless: a matplotlib Figure drawn by the Agg canvas, no pyplot, no display.

3-D inputs show three orthogonal middle slices, one row each. With the voxel-to-world affine
of a NIfTI input they are the anatomical planes in the neurological convention: sagittal
(anterior right, superior up), coronal (superior up) and axial (anterior up), the subject's
left on the figure's left, each pixel as tall and wide as its voxel's spacing. Without an
affine (an array volume) the rows are the slices across the array's D, H and W axes as the
array holds them.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

# At most this many levels are drawn, evenly spread from the coarsest to the finest.
MAX_LEVEL_PANELS = 6

# 20 distinct colours (matplotlib's tab20), for label ids taken modulo 20; id 0 of the
# persistent map ("no structure") is drawn black by `colorize_labels(..., background=0)`.
_PALETTE = np.array([
    (31, 119, 180), (174, 199, 232), (255, 127, 14), (255, 187, 120), (44, 160, 44),
    (152, 223, 138), (214, 39, 40), (255, 152, 150), (148, 103, 189), (197, 176, 213),
    (140, 86, 75), (196, 156, 148), (227, 119, 194), (247, 182, 210), (127, 127, 127),
    (199, 199, 199), (188, 189, 34), (219, 219, 141), (23, 190, 207), (158, 218, 229)],
    dtype=np.uint8)


def colorize_labels(label_map: np.ndarray, background: Optional[int] = None) -> np.ndarray:
    """uint8 [..., 3] colour rendering of an integer label map (ids modulo 20 colours; the
    `background` id, if given, black)."""
    label_map = np.asarray(label_map)
    colours = _PALETTE[np.mod(label_map, len(_PALETTE))]
    if background is not None:
        colours[label_map == background] = 0
    return colours


def choose_levels(n_levels: int, max_panels: int = MAX_LEVEL_PANELS) -> List[int]:
    """Up to `max_panels` level positions evenly spread over 0..n_levels-1, coarse to fine
    (levels are stored fine to coarse, so the result is decreasing)."""
    if n_levels <= 0:
        return []
    picks = np.unique(np.round(np.linspace(0, n_levels - 1, min(n_levels, max_panels))))
    return [int(j) for j in picks[::-1]]


def save_figure(path: Any, image: np.ndarray, label_maps: np.ndarray, *,
                persistent: Optional[np.ndarray] = None,
                reconstruction: Optional[np.ndarray] = None,
                cluster_counts: Optional[Sequence[int]] = None,
                title: str = "", max_levels: int = MAX_LEVEL_PANELS,
                background: Optional[int] = None,
                affine: Optional[np.ndarray] = None) -> None:
    """Draws the overview figure and saves it as PNG.

    Args:
        path: the .png file to write.
        image: float [C, H, W] or [C, D, H, W] in [-1, 1]; 3 channels are drawn as RGB,
            otherwise the first channel in gray.
        label_maps: integer [L, H, W] or [L, D, H, W], fine to coarse.
        persistent: the persistent map [H, W] or [D, H, W] (0 = no structure), or None.
        reconstruction: like `image`, or None.
        cluster_counts: L ints, the clusters of each level, for the panel titles; or None.
        title: the figure's title (e.g. the input's name).
        max_levels: at most this many level panels.
        background: the label id outside the foreground in every level (0 for a masked
            volume), drawn black; None when every voxel was segmented.
        affine: float [4, 4], the voxel-to-world matrix of a 3-D NIfTI input (its rows are
            then the anatomical planes), or None.
    """
    from matplotlib.figure import Figure

    spatial_ndim = np.ndim(label_maps) - 1
    # (title, picture, whether it is an intensity image, the label id drawn black). Label
    # maps are coloured view by view: a volume's whole maps would cost seconds for 3 slices.
    panels: List[Tuple[str, np.ndarray, bool, Optional[int]]] = [
        ("image", np.asarray(image), True, None)]
    if reconstruction is not None:
        panels.append(("reconstruction", np.asarray(reconstruction), True, None))
    for j in choose_levels(len(label_maps), max_levels):
        counted = f", {cluster_counts[j]} clusters" if cluster_counts is not None else ""
        panels.append((f"level {j}{counted}", np.asarray(label_maps[j]), False, background))
    if persistent is not None:
        panels.append(("persistent", np.asarray(persistent), False, 0))
    anatomical = spatial_ndim == 3 and affine is not None
    rows = 3 if spatial_ndim == 3 else 1
    figure = Figure(figsize=(2.2 * len(panels), 2.4 * rows + 0.4), layout="constrained")
    axes = np.asarray(figure.subplots(rows, len(panels), squeeze=False))
    for column, (name, picture, is_intensity, black) in enumerate(panels):
        views = (anatomical_views(picture, affine, is_intensity) if anatomical else
                 [(_slice(picture, row, spatial_ndim, is_intensity), 1.0) for row in range(rows)])
        for row, (view, aspect) in enumerate(views):
            ax = axes[row, column]
            if is_intensity:  # gray applies to one channel; RGB draws as it is
                ax.imshow(_displayable(view), cmap="gray", vmin=0, vmax=1, aspect=aspect,
                          interpolation="nearest")
            else:
                ax.imshow(colorize_labels(view, black), aspect=aspect, interpolation="nearest")
            ax.set_axis_off()
            if row == 0:
                ax.set_title(name, fontsize=8)
            if anatomical and column == 0:
                ax.text(-0.06, 0.5, PLANES[row], rotation=90, fontsize=8, ha="right",
                        va="center", transform=ax.transAxes)
    if title:
        figure.suptitle(_drawable(title), fontsize=10)
    figure.savefig(path, format="png", dpi=100)


def _drawable(text: str) -> str:
    """`text` with the characters matplotlib's default font lacks (a name in Chinese, say)
    replaced by "?": matplotlib would draw boxes and warn once per missing glyph on the
    command's stderr. (Filtering the warnings instead is not thread-safe, and figures are
    drawn beside other writers.)"""
    from matplotlib import font_manager, ft2font

    font = ft2font.FT2Font(font_manager.findfont(font_manager.FontProperties()))
    drawn = font.get_charmap()
    return "".join(c if ord(c) in drawn or c.isspace() else "?" for c in text)


PLANES = ("sagittal", "coronal", "axial")


def anatomical_views(picture: np.ndarray, affine: np.ndarray,
                     is_intensity: bool) -> List[Tuple[np.ndarray, float]]:
    """The sagittal, coronal and axial middle slices of a volume panel, oriented for display.

    Args:
        picture: intensity [C, D, H, W], or labels [D, H, W] or colour [D, H, W, 3], voxel
            axes as in the file.
        affine: float [4, 4], the voxel-to-world (RAS+) matrix; voxel axes are matched to the
            nearest world axes (nibabel's io_orientation), so oblique volumes show the planes
            closest to the anatomical ones.
        is_intensity: whether `picture` leads with channels.
    Returns:
        three (view, aspect): view [C, rows, columns] or [rows, columns(, 3)], rows running
        superior to inferior (sagittal, coronal) or anterior to posterior (axial), columns
        posterior to anterior (sagittal) or the subject's left to right; aspect, the height
        over the width of one pixel (the voxel spacings along the rows and the columns).
    """
    from nibabel.orientations import apply_orientation, io_orientation

    affine = np.asarray(affine, dtype=np.float64)
    orientation = io_orientation(affine)  # per voxel axis: (world axis, +1 / -1)
    first = 1 if is_intensity else 0      # where the spatial axes start
    spatial = list(range(first, first + 3))
    ras = np.moveaxis(apply_orientation(np.moveaxis(picture, spatial, [0, 1, 2]), orientation),
                      [0, 1, 2], spatial)  # spatial axes now x (L->R), y (P->A), z (I->S)
    spacing = np.zeros(3)
    spacing[orientation[:, 0].astype(int)] = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    views = []
    for world_axis in range(3):  # sagittal slices x, coronal y, axial z
        plane = np.take(ras, ras.shape[first + world_axis] // 2, axis=first + world_axis)
        # The plane's axes are the two other world axes in order (columns, then rows once
        # transposed); rows are flipped so that superior (or anterior) is drawn on top.
        plane = np.flip(np.swapaxes(plane, first, first + 1), axis=first)
        across, up = [axis for axis in range(3) if axis != world_axis]
        views.append((np.ascontiguousarray(plane), float(spacing[up] / spacing[across])))
    return views


def _slice(picture: np.ndarray, axis: int, spatial_ndim: int, is_intensity: bool) -> np.ndarray:
    """The 2-D view of a panel: intensity [C, *spatial] or labels [*spatial]; for 3-D, the
    middle slice across spatial `axis`."""
    if spatial_ndim == 3:
        offset = 1 if is_intensity else 0  # intensity arrays lead with channels
        picture = np.take(picture, picture.shape[axis + offset] // 2, axis=axis + offset)
    return picture


def _displayable(intensity: np.ndarray) -> np.ndarray:
    """[C, H, W] in [-1, 1] -> [H, W, 3] (3 channels) or [H, W] (first channel), in [0, 1]."""
    picture = np.moveaxis(intensity[:3] if intensity.shape[0] == 3 else intensity[:1], 0, -1)
    if picture.shape[-1] == 1:
        picture = picture[..., 0]
    return np.clip((picture.astype(np.float32) + 1.0) / 2.0, 0.0, 1.0)
