"""Dice, Hausdorff (against scikit-image), label hints, per-level scores, adjusted Rand index."""

import numpy as np
import pytest
from skimage.metrics import hausdorff_distance as skimage_hausdorff
from sklearn.metrics import adjusted_rand_score

from cuts_ext.metrics import (adjusted_rand_index, dice, hausdorff_distance, label_hint_mask,
                              score_levels)


def _random_masks(rng, shape, count):
    """Pairs of sparse and dense random masks, so distances range widely."""
    for k in range(count):
        density = (0.02, 0.2, 0.6)[k % 3]
        yield rng.random(shape) < density, rng.random(shape) < density / 2


@pytest.mark.parametrize("shape", [(17, 23), (6, 9, 11)])
def test_hausdorff_equals_scikit_image_when_both_masks_have_foreground(rng, shape):
    for a, b in _random_masks(rng, shape, 12):
        assert a.any() and b.any()
        assert hausdorff_distance(a, b) == skimage_hausdorff(a, b)


def test_hausdorff_is_the_diagonal_when_a_mask_is_empty(rng):
    full = rng.random((12, 5)) < 0.3
    empty = np.zeros_like(full)
    diagonal = np.sqrt(12**2 + 5**2)
    assert hausdorff_distance(full, empty) == pytest.approx(diagonal)
    assert hausdorff_distance(empty, full) == pytest.approx(diagonal)
    assert hausdorff_distance(empty, empty) == pytest.approx(diagonal)
    assert hausdorff_distance(np.zeros((3, 4, 12)), np.ones((3, 4, 12))) == 13.0


def test_hausdorff_of_a_known_pair():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[1, 1] = b[1, 1] = True
    b[4, 5] = True  # 3-4-5 triangle from (1, 1)
    assert hausdorff_distance(a, b) == 5.0


def test_dice_against_a_direct_computation(rng):
    for a, b in _random_masks(rng, (9, 14, 3), 6):
        expected = 2 * np.sum(a & b) / (np.sum(a) + np.sum(b))
        assert dice(a, b) == pytest.approx(expected, abs=1e-15)
    empty = np.zeros((4, 4))
    assert dice(empty, empty) == 1.0
    assert dice(empty, np.ones((4, 4))) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        dice(np.zeros((2, 3)), np.zeros((3, 2)))


def test_label_hint_picks_the_label_holding_most_of_the_reference():
    labels = np.array([[0, 0, 1, 1],
                       [2, 2, 1, 1],
                       [2, 2, 2, 3]])
    reference = np.array([[1, 0, 1, 0],
                          [1, 1, 0, 0],
                          [0, 1, 1, 1]])
    # counts under the reference: label 0: 1, label 1: 1, label 2: 4, label 3: 1
    np.testing.assert_array_equal(label_hint_mask(labels, reference), labels == 2)
    assert not label_hint_mask(labels, np.zeros_like(reference)).any()


def test_score_levels_chooses_best_dice_and_best_hausdorff_separately():
    reference = np.zeros((1, 12), int)
    reference[0, 4:8] = 1
    maps = np.array([
        [[0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]],   # hint 4:12  Dice 0.667, HD 4
        [[0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0]],   # hint 3:8   Dice 0.889, HD 1
        [[0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0]],   # hint 5:8   Dice 0.857, HD 1
        [[0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2]],   # hint 4:11  Dice 0.727, HD 3
    ])
    scores = score_levels(maps, reference)
    np.testing.assert_allclose(scores.dice, [8 / 12, 8 / 9, 6 / 7, 8 / 11])
    np.testing.assert_allclose(scores.hausdorff, [4, 1, 1, 3])
    assert scores.best_dice_level == 1 and scores.best_hausdorff_level == 1
    scores.dice[1] = 0.0
    assert scores.best_dice_level == 2 and scores.best_hausdorff_level == 1


def test_adjusted_rand_index_matches_scikit_learn(rng):
    for k in (1, 2, 5, 40):
        a = rng.integers(0, k, size=300)
        b = np.where(rng.random(300) < 0.7, a, rng.integers(0, 7, size=300))
        assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    assert adjusted_rand_index(np.zeros(5), np.zeros(5)) == 1.0
    assert adjusted_rand_index(np.arange(5), np.arange(5) + 9) == 1.0
