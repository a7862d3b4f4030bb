"""`segment`'s defaults for each kind of input, 2-D images and 3-D volumes, and how each was
chosen.

Wherever `segment`, `segment_image` and `cuts segment` take `position_weight`,
`channel_weight`, `max_points` or `foreground`, the value DEFAULT ("default", their default)
stands for the value below for the input's dimension; so do `persistent_map`'s thresholds and
`auto_level`'s criterion, for the dimension of the maps they are given. The README's "How the
defaults were chosen" gives the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

DEFAULT = "default"


@dataclass(frozen=True)
class InputDefaults:
    """The settings that DEFAULT stands for, for one kind of input.

    Attributes:
        position_weight: condense's weight of the positional encoding (0: the reference).
        channel_weight: condense's weight of the image's own channels (0: the reference).
        max_points: the most points condensed (None: every voxel); above it, super-voxels.
        foreground: None (every voxel) or "auto" (`foreground.foreground_mask`'s rule).
        n_pca: condense's PCA dimension (50: the reference); `condense_options` override it.
        min_area_fraction, min_persistence: the persistent map's least area (fraction of the
            image or foreground) and number of levels of a structure (`persistent_map`).
        auto_method, auto_clusters: the automatic level's criterion and, for "clusters", the
            cluster count it aims at (`auto_level`).
    """

    position_weight: float
    channel_weight: float
    max_points: Optional[int]
    foreground: Optional[str]
    n_pca: int
    min_area_fraction: float
    min_persistence: int
    auto_method: str
    auto_clusters: int = 32


# 2-D images: every setting but the foreground (every pixel's own) chosen by 5-fold
# cross-validation on the 40 retina development images (python/bench/bench_quality.py --cv 5:
# both training steps, 3 seeds, one choice per fold for all of them, the held-out folds
# reported). Position and channel weights and the point budget in sessions 7-8; PCA to 20
# dimensions instead of the reference's 50, and with it the label-free rules (the "stable"
# persistent map at 3 % and 2 levels; the automatic level by consensus with that map) in
# sessions 13-14: PCA 20 and the stable map in all 5 folds, exactly these rules in 3 (README,
# "How the defaults were chosen"). A 3 % area suits structures the size of retinal lesions
# (1 to 18 % of the image).
IMAGE_DEFAULTS = InputDefaults(position_weight=0.5, channel_weight=1.0, max_points=4096,
                               foreground=None, n_pca=20, min_area_fraction=0.03,
                               min_persistence=2, auto_method="consensus")

# 3-D volumes: the head or brain without the air; up to 16,384 super-voxels (a sweep of 4,096
# to 32,768 on the MNI152 template, python/bench/bench_volume.py: the only budget with white and
# grey matter Dice >= 0.85 at both 2 mm and 1 mm, at about the same time); the intensities
# beside the embedding at equal weight and no positional encoding (the reference's): on that
# template, the only labelled volume the project has, they lift the white / grey matter Dice
# from 0.60 / 0.65 to 0.90 / 0.89 at 2 mm. Tried on the volume they are scored on: a guess
# until held-out volumes confirm it (python/bench/RESULTS.md). The reference's PCA 50. The
# label-free rules of session 8's 2-D cross-validation (persistent map 4 %, 1 level; the level
# nearest 32 clusters): the images' later choice, consensus, lowers the 2 mm template's
# automatic level from 0.897 / 0.722 to 0.767 / 0.462 white / grey matter Dice (session 13).
VOLUME_DEFAULTS = InputDefaults(position_weight=0.0, channel_weight=1.0, max_points=16384,
                                foreground="auto", n_pca=50, min_area_fraction=0.04,
                                min_persistence=1, auto_method="clusters")


def defaults_for(spatial_ndim: int) -> InputDefaults:
    """The defaults of an input with this many spatial axes.

    Raises:
        ValueError: `spatial_ndim` is neither 2 (images) nor 3 (volumes).
    """
    if spatial_ndim not in (2, 3):
        raise ValueError(f"there are defaults for 2-D images and 3-D volumes, not for "
                         f"{spatial_ndim}-D data: give the value instead of \"{DEFAULT}\"")
    return IMAGE_DEFAULTS if spatial_ndim == 2 else VOLUME_DEFAULTS


def is_default(value: Any) -> bool:
    """Whether `value` is DEFAULT (arrays, such as a foreground mask, never are)."""
    return isinstance(value, str) and value == DEFAULT


def resolve(value: Any, name: str, spatial_ndim: int) -> Any:
    """`value`, or the default `name` of an input with `spatial_ndim` axes when it is DEFAULT.

    Raises:
        ValueError: DEFAULT for data that is neither 2-D nor 3-D (the message names `name`).
    """
    if not is_default(value):
        return value
    try:
        return getattr(defaults_for(spatial_ndim), name)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
