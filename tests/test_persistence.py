"""The persistent-structures map on hand-made hierarchies, and the automatic level."""

import numpy as np
import pytest

from cuts_ext.condensation.driver import levels_from_counts
from cuts_ext.segmentation.level_choice import (auto_level, clusters_level, consensus_level,
                                                level_lifetimes, lifetime_level)
from cuts_ext.segmentation.persistence import persistent_map

# The authors' rule at the thresholds these hand-made cases were written for (2 %, 2 levels).
REFERENCE = {"min_area_fraction": 0.02, "min_persistence": 2, "method": "reference"}


def test_persistent_map_paints_larger_structures_first_and_breaks_area_ties_by_persistence():
    # Ten pixels (2 x 5), three levels; ids numbered by first pixel, as condensation numbers them.
    maps = np.array([[0, 1, 1, 1, 1, 1, 2, 2, 2, 2],
                     [0, 1, 1, 1, 2, 2, 2, 2, 2, 3],
                     [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]]).reshape(3, 2, 5)
    # id 0: areas 1, 1, 6 -> persistence 3, largest 6 at level 2 (pixels 0-5)
    # id 1: areas 5, 3, 4 -> persistence 3, largest 5 at level 0 (pixels 1-5)
    # id 2: areas 4, 5, 0 -> persistence 2, largest 5 at level 1 (pixels 4-8)
    # id 3: areas 0, 1, 0 -> persistence 1: dropped
    # Painted: id 0 (area 6), then id 1 (area 5, persistence 3), then id 2 (area 5,
    # persistence 2) on top; pixel 9 stays unpainted. Painted values are id + 1.
    expected = np.array([1, 2, 2, 2, 3, 3, 3, 3, 3, 0]).reshape(2, 5)
    result = persistent_map(maps, **REFERENCE)
    assert result.dtype == np.int32
    np.testing.assert_array_equal(result, expected)


def test_persistent_map_drops_small_structures():
    maps = np.array([[0, 0, 1, 1, 2, 2, 3, 3, 4, 4],
                     [0, 0, 0, 1, 1, 1, 2, 2, 2, 2],
                     [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]])
    # ids 0 and 1: largest area 5 at level 2; id 2: largest 4 at level 1; ids 3, 4: one level.
    np.testing.assert_array_equal(persistent_map(maps, **REFERENCE),
                                  [1, 1, 1, 1, 1, 2, 3, 3, 3, 3])
    np.testing.assert_array_equal(persistent_map(maps, **{**REFERENCE, "min_area_fraction": 0.45}),
                                  [1, 1, 1, 1, 1, 2, 2, 2, 2, 2])


def test_reference_map_keeps_a_structure_of_two_percent_at_that_threshold():
    maps = np.zeros((2, 10, 10), dtype=np.int64)
    maps[:, 0, 1:] = 1       # id 1: 9 pixels at both levels
    maps[:, 9, 8:] = 2       # id 2: 2 pixels = 2% of the image: kept
    expected = np.ones((10, 10), dtype=np.int32)
    expected[0, 1:] = 2
    expected[9, 8:] = 3
    np.testing.assert_array_equal(persistent_map(maps, **REFERENCE), expected)
    small = maps.copy()
    small[:, 9, 8] = 0       # id 2 now 1 pixel (1%, the authors' threshold): dropped
    assert persistent_map(small, **REFERENCE)[9, 9] == 0  # id 0 does not cover it: unpainted
    assert persistent_map(small, **{**REFERENCE, "min_area_fraction": 0.01})[9, 9] == 3


def test_persistent_map_of_volumes_and_empty_stacks():
    maps = np.zeros((3, 2, 3, 4), dtype=np.int32)
    maps[:2, 1] = 1
    expected = np.ones((2, 3, 4), dtype=np.int32)
    expected[1] = 2
    np.testing.assert_array_equal(persistent_map(maps, **REFERENCE), expected)
    assert persistent_map(np.zeros((0, 3, 4), np.int32)).shape == (3, 4)
    with pytest.raises(ValueError, match="integer"):
        persistent_map(np.zeros((2, 3, 4)))


def test_lifetimes_and_the_lifetime_level():
    counts = [10, 8, 8, 6, 6, 6, 6, 3, 3, 3, 3, 3, 3, 2, 2, 2, 1]
    levels = levels_from_counts(counts, 12)
    assert levels == [1, 3, 7, 13]  # counts 8, 6, 3, 2
    assert level_lifetimes(counts, levels) == [2, 4, 6, 3]
    assert lifetime_level(counts, levels, min_clusters=3) == 2
    assert lifetime_level(counts, levels, min_clusters=7) == 0   # only the 8-cluster level
    assert lifetime_level(counts, levels, min_clusters=20) == 2  # none qualifies: all compete
    assert lifetime_level(counts, [], min_clusters=3) is None


def test_clusters_level_is_the_nearest_count_in_ratio():
    counts = [50, 50, 30, 30, 12, 12, 5, 5, 1]
    levels = levels_from_counts(counts, 64)
    assert [counts[i] for i in levels] == [50, 30, 12, 5]
    assert clusters_level(counts, levels, 40) == 0   # 50 / 40 = 1.25 < 40 / 30 = 1.33
    assert clusters_level(counts, levels, 35) == 1   # 35 / 30 = 1.17 < 50 / 35 = 1.43
    assert clusters_level(counts, levels, 1000) == 0
    assert clusters_level(counts, levels, 1) == 3
    assert clusters_level(counts, [], 40) is None


def test_consensus_level_is_the_level_closest_to_the_persistent_map(rng):
    maps = rng.integers(0, 4, size=(4, 6, 6))
    assert consensus_level(maps, persistent=maps[2] + 7) == 2
    assert consensus_level(np.zeros((0, 6, 6), np.int64)) is None


def test_auto_level_dispatches_on_the_method():
    class Segmentation:
        label_maps = np.array([[[0, 0, 1, 1]], [[0, 0, 0, 0]]])  # [L, 1, 4]: a 2-D image
        persistent = np.array([[5, 5, 6, 6]])
        levels = [1, 3]
        cluster_counts = [3, 2, 2, 1, 1, 1]

    assert auto_level(Segmentation()) == 0  # consensus: level 0 is the persistent map
    assert auto_level(Segmentation(), method="lifetime") == 1  # no level of 8 clusters: 3 > 2
    assert auto_level(Segmentation(), method="clusters", clusters=2) == 0  # counts 2 and 1
    assert auto_level(Segmentation(), method="clusters", clusters=1) == 1
    with pytest.raises(ValueError, match="method must be one of consensus, lifetime, clusters"):
        auto_level(Segmentation(), method="best")
    with pytest.raises(ValueError, match="clusters"):
        auto_level(Segmentation(), method="clusters", clusters=0)


def test_the_label_free_defaults_follow_the_kind_of_input():
    # 200 pixels, nested levels: R1 (7 pixels, 3.5 %) and R2 (93) live two levels, then merge
    # for one level; R3 (100) lives three. The 2-D map (3 %, 2 levels) keeps R1 and R2: their
    # union lives one level, too short. The volume's (4 %, 1 level) drops R1 (too small), so
    # the union's stability (ln 2) beats R2's alone (ln 3 - ln 2) and the union is kept.
    first = np.repeat([0, 1, 2], [7, 93, 100])
    maps = np.stack([first, first, first.clip(1) - 1, np.zeros(200, int)]).reshape(4, 10, 20)
    image_map = persistent_map(maps)
    np.testing.assert_array_equal(image_map, persistent_map(maps, 0.03, 2))
    assert len(np.unique(image_map)) == 3
    volume_map = persistent_map(maps[:, None])
    np.testing.assert_array_equal(volume_map, persistent_map(maps[:, None], 0.04, 1))
    assert len(np.unique(volume_map)) == 2

    class Segmentation:  # the persistent map is level 2 exactly: consensus picks that level
        label_maps = maps
        persistent = maps[2]
        levels = [0, 1, 2, 3]
        cluster_counts = [3, 3, 2, 1]

    assert auto_level(Segmentation()) == 2  # 2-D: consensus
    Segmentation.label_maps, Segmentation.persistent = maps[:, None], maps[2][None]
    assert auto_level(Segmentation()) == 0  # volumes: the level nearest 32 clusters (3)

    class WithoutPersistentMap:  # the kind follows the maps; consensus computes the map
        label_maps = maps
        levels = [0, 1, 2, 3]
        cluster_counts = [3, 3, 2, 1]

    assert auto_level(WithoutPersistentMap()) == consensus_level(maps)
    # Maps of neither kind (points [L, N], 4-D) have no default: the thresholds must be given.
    for other in (maps.reshape(4, 200), maps[:, None, None]):
        with pytest.raises(ValueError, match="min_area_fraction.*2-D images and 3-D volumes"):
            persistent_map(other)
        assert persistent_map(other, 0.03, 2).shape == other.shape[1:]


def test_persistent_map_of_a_masked_volume_leaves_the_background_alone():
    """Outside the foreground every level holds 0; it is never painted, and the minimum area
    is a fraction of the foreground, not of the whole image."""
    foreground = np.zeros((10, 10), bool)
    foreground[:, :3] = True  # 30 voxels inside
    inside = np.array([[1] * 15 + [2] * 15, [1] * 15 + [2] * 14 + [3]])  # id 3: 1 voxel
    maps = np.zeros((2, 10, 10), np.int64)
    for level in range(2):
        maps[level][foreground] = inside[level]
    painted = persistent_map(maps, **{**REFERENCE, "min_area_fraction": 0.3}, background=0)
    assert (painted[~foreground] == 0).all()
    # 15 of 30 foreground voxels pass 30 % of the foreground (not of the 100 pixels).
    assert set(np.unique(painted[foreground])) == {2, 3}
    without = persistent_map(maps, **{**REFERENCE, "min_area_fraction": 0.3})
    assert (without[~foreground] == 1).all()  # the background as a structure: what is avoided


# The "stable" map follows regions, not ids: hand-made nested hierarchies, fine to coarse.
NESTED = np.array([[0, 0, 1, 1, 2, 2, 3, 3, 4, 4],   # 5 clusters
                   [0, 0, 0, 0, 2, 2, 3, 3, 4, 4],   # 4
                   [0, 0, 0, 0, 2, 2, 2, 2, 2, 2],   # 2
                   [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])  # 1


def test_stable_map_keeps_a_region_that_outlasts_its_children():
    # Stabilities (ln of the cluster counts it spans): pixels 0-1 and 2-3 live 5 -> 4 (ln 5/4
    # each); 4-5, 6-7, 8-9 live 5 -> 2 (ln 5/2 each); 0-3 lives 4 -> 1 (ln 4) and beats its
    # children (2 ln 5/4); 4-9 lives 2 -> 1 (ln 2) and loses to its children (3 ln 5/2). The
    # whole image is never kept. Painted by decreasing area, first kept first on ties.
    result = persistent_map(NESTED, 0.0, 1, method="stable")
    assert result.dtype == np.int32
    np.testing.assert_array_equal(result, [1, 1, 1, 1, 2, 2, 3, 3, 4, 4])


def test_stable_map_gives_small_or_short_lived_regions_no_stability():
    # Under 30 % of the image, 4-5, 6-7 and 8-9 weigh nothing: 4-9 is kept instead.
    np.testing.assert_array_equal(persistent_map(NESTED, 0.3, 1, method="stable"),
                                  [2, 2, 2, 2, 1, 1, 1, 1, 1, 1])
    # Regions in fewer than 2 levels weigh nothing: 0-1 and 2-3 (one level each) lose to 0-3,
    # and 4-9 (one level) to its children (two levels each).
    np.testing.assert_array_equal(persistent_map(NESTED, 0.0, 2, method="stable"),
                                  [1, 1, 1, 1, 2, 2, 3, 3, 4, 4])


def test_stable_map_on_a_masked_volume_leaves_the_background_and_never_keeps_all_of_it():
    maps = np.zeros((3, 2, 2, 4), np.int32)  # the foreground: [:, :, 2:], 8 voxels
    maps[0, :, :, 2:] = [[[1, 1], [2, 2]], [[3, 3], [4, 4]]]  # 4 clusters (background apart)
    maps[1, :, :, 2:] = [[[1, 1], [1, 1]], [[2, 2], [2, 2]]]  # 2
    maps[2, :, :, 2:] = 1                                     # 1: the whole foreground
    # Quarters live 4 -> 2 (ln 2 each), halves 2 -> 1 (ln 2 each, less than their two
    # quarters); the whole foreground is never kept, the background never painted.
    result = persistent_map(maps, 0.0, 1, background=0, method="stable")
    assert (result[:, :, :2] == 0).all()
    np.testing.assert_array_equal(result[:, :, 2:], maps[0, :, :, 2:])


def test_stable_map_refuses_maps_that_are_not_nested_and_unknown_methods():
    # [L, 1, 4]: level 0's region 0-1 is split at level 1.
    split = np.array([[[0, 0, 1, 1]], [[0, 1, 1, 1]]])
    with pytest.raises(ValueError, match="not nested"):
        persistent_map(split, method="stable")
    with pytest.raises(ValueError, match="method must be one of"):
        persistent_map(split, method="largest")


def test_stable_map_of_a_real_hierarchy_is_a_partition_of_its_regions(rng):
    from cuts_ext import MultiscaleSegmentation, condense
    image = rng.standard_normal((16, 16, 3))
    image[4:12, 4:12] += 4.0
    result = condense(image.reshape(-1, 3), seed=0)
    maps = MultiscaleSegmentation.from_condensation(result, (16, 16)).label_maps
    painted = persistent_map(maps, 0.02, 1, method="stable")
    assert (painted > 0).all()  # a partition: every pixel in one kept region
    # Every kept region is a whole region of some level.
    for value in np.unique(painted):
        region = painted == value
        assert any(np.array_equal(region, level == level[region][0]) for level in maps)
