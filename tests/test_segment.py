"""`cuts_ext.segment` end to end on tiny inputs: arrays and files, 2-D and 3-D, with and without
masks, a given model or one trained on the spot."""

import nibabel
import numpy as np
import pytest
from support.images import smooth_images

import cuts_ext
from cuts_ext.io import InputError

TINY_TRAINING = {"epochs": 1, "batch_size": 2, "val_fraction": 0.0}


def test_arrays_without_a_model_train_one_and_give_every_level(rng):
    images = smooth_images(rng, (2, 3, 20, 20))
    results = cuts_ext.segment(images, train_options=TINY_TRAINING, progress=False)
    assert len(results) == 2
    for result, image in zip(results, images):
        seg = result.segmentation
        assert seg.label_maps.shape == (len(seg.levels), 20, 20) and seg.levels
        assert seg.reconstruction.shape == (3, 20, 20)
        np.testing.assert_array_equal(result.image.data, image)
        # The label map of a level is the hierarchy at that iteration, as an image.
        np.testing.assert_array_equal(seg.label_maps[0].ravel(), seg.hierarchy[seg.levels[0]])
        assert result.metrics is None and result.hint_masks is None


def test_masks_give_label_hint_masks_and_scores(rng):
    images = smooth_images(rng, (2, 1, 16, 16))
    masks = images[:, 0] > 0.2
    model = cuts_ext.train(images, **TINY_TRAINING, progress=False).model
    results = cuts_ext.segment(images, model, masks=[masks[0], None], progress=False)
    first, second = results
    assert second.metrics is None
    levels = len(first.segmentation.levels)
    assert first.hint_masks.shape == (levels, 16, 16) and first.hint_masks.dtype == bool
    best = first.metrics["best_dice_level"]
    expected = 2 * (first.hint_masks[best] & masks[0]).sum() / (
        first.hint_masks[best].sum() + masks[0].sum())
    assert first.metrics["best_dice"] == pytest.approx(expected)
    assert 0.0 < first.metrics["best_dice"] <= 1.0


def test_a_nifti_volume_is_segmented_in_3d(tmp_path, rng):
    volume = smooth_images(rng, (1, 1, 8, 10, 12))[0, 0]
    path = tmp_path / "vol.nii.gz"
    affine = np.diag([2.0, 1.5, 1.0, 1.0])
    nibabel.save(nibabel.Nifti1Image(volume, affine), str(path))
    (result,) = cuts_ext.segment(path, train_options={**TINY_TRAINING, "batch_size": 1},
                                 progress=False)
    assert result.segmentation.label_maps.shape[1:] == (8, 10, 12)
    np.testing.assert_array_equal(result.image.affine, affine)


def test_a_checkpoint_path_is_a_model(tmp_path, rng):
    images = smooth_images(rng, (2, 3, 16, 16))
    cuts_ext.train(images, **TINY_TRAINING, checkpoint=tmp_path / "m.pt", progress=False)
    direct = cuts_ext.segment(images, cuts_ext.load_encoder(tmp_path / "m.pt"), progress=False)
    from_path = cuts_ext.segment(images, tmp_path / "m.pt", progress=False)
    for a, b in zip(direct, from_path):
        np.testing.assert_array_equal(a.segmentation.hierarchy, b.segmentation.hierarchy)


def test_position_weight_is_the_condensation_s_positional_encoding(rng):
    """segment condenses each image's embeddings with the positional encoding of its shape at
    the given weight; weight 0 is the reference method, with no encoding."""
    from cuts_ext.condensation.driver import condense
    from cuts_ext.segmentation.defaults import IMAGE_DEFAULTS
    images = smooth_images(rng, (1, 3, 18, 14))
    model = cuts_ext.train(images, **TINY_TRAINING, progress=False).model
    latent = np.asarray(cuts_ext.embed(model, images).z)[0]
    points = latent.reshape(latent.shape[0], -1).T
    hierarchies = {}
    for weight in (IMAGE_DEFAULTS.position_weight, 0.0, 2.0):
        (result,) = cuts_ext.segment(images, model, position_weight=weight, channel_weight=0,
                                     progress=False)
        expected = condense(points, position_weight=weight, spatial_shape=(18, 14),
                            n_pca=IMAGE_DEFAULTS.n_pca).hierarchy
        np.testing.assert_array_equal(result.condensation.hierarchy, expected)
        hierarchies[weight] = expected
    # The encoding is not ignored: a heavy weight changes the hierarchy.
    assert not np.array_equal(hierarchies[0.0], hierarchies[2.0])


def test_channel_weight_appends_the_image_s_own_values(rng):
    """segment condenses each pixel's embedding beside its own channel values at the given
    channel weight; the super-voxel path gives each super-voxel its voxels' mean values."""
    from cuts_ext.condensation.driver import condense
    from cuts_ext.segmentation.defaults import IMAGE_DEFAULTS
    from cuts_ext.segmentation.points import condensation_points
    images = smooth_images(rng, (1, 3, 18, 14))
    model = cuts_ext.train(images, **TINY_TRAINING, progress=False).model
    latent = np.asarray(cuts_ext.embed(model, images).z)[0]
    points = latent.reshape(latent.shape[0], -1).T
    (result,) = cuts_ext.segment(images, model, position_weight=0.0, channel_weight=0.7,
                                 progress=False)
    expected = condense(points, channels=images[0].reshape(3, -1).T, channel_weight=0.7,
                        n_pca=IMAGE_DEFAULTS.n_pca)
    np.testing.assert_array_equal(result.condensation.hierarchy, expected.hierarchy)
    coarse = condensation_points(model, images[0], None, max_points=40)
    labels = coarse.point_labels.ravel()
    for point in (0, len(coarse.channels) - 1):
        np.testing.assert_allclose(coarse.channels[point],
                                   images[0].reshape(3, -1)[:, labels == point].mean(axis=1),
                                   rtol=1e-6)


@pytest.mark.parametrize("images,kwargs,words", [
    (np.zeros((2, 16, 16), np.float32), {}, ["[B, C, H, W]"]),
    (np.full((1, 1, 8, 8), np.nan, np.float32), {}, ["finite"]),
    (np.zeros((2, 1, 8, 8), np.float32), {"masks": [np.zeros((8, 8))]}, ["1 masks", "2 images"]),
    (np.zeros((1, 1, 8, 8), np.float32), {"masks": [np.zeros((8, 9))]}, ["mask", "[8, 9]"]),
    (np.zeros((1, 1, 8, 8), np.float32), {"model": 3}, ["model must be"]),
    (np.zeros((1, 1, 8, 8), np.float32), {"position_weight": -0.5}, ["position_weight", ">= 0"]),
    (np.zeros((1, 1, 8, 8), np.float32), {"position_weight": float("nan")}, ["position_weight"]),
    (np.zeros((1, 1, 8, 8), np.float32), {"channel_weight": -1.0}, ["channel_weight", ">= 0"]),
])
def test_bad_input_raises_a_clear_value_error(images, kwargs, words):
    with pytest.raises(ValueError) as raised:
        cuts_ext.segment(images, progress=False, **kwargs)
    for word in words:
        assert word in str(raised.value)


def test_an_unreadable_file_raises_input_error(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="broken.png"):
        cuts_ext.segment(tmp_path / "broken.png", progress=False)


@pytest.mark.parametrize("max_points", [None, 50])
def test_a_model_of_another_kind_is_refused_by_what_differs(rng, max_points):
    # Both paths: every pixel (embed checked it) and super-voxels (torch's own error before).
    volume_model = cuts_ext.CUTSEncoder(1, dims=3, seed=0)
    rgb_model = cuts_ext.CUTSEncoder(3, dims=2, seed=0)
    image = smooth_images(rng, (1, 1, 16, 16))
    with pytest.raises(ValueError, match=r"3-D encoder \(for volumes\).*a 2-D image"):
        cuts_ext.segment(image, volume_model, max_points=max_points, progress=False)
    with pytest.raises(ValueError, match=r"3 channel\(s\) and this input has 1"):
        cuts_ext.segment(image, rgb_model, max_points=max_points, progress=False)


def test_an_image_without_a_matching_foreground_file_takes_the_default(tmp_path, rng):
    # A missing mask file must not silently mean "every voxel" (air included, for a volume).
    grid = np.meshgrid(*[np.linspace(-1, 1, n) for n in (10, 12, 11)], indexing="ij")
    head = sum(g ** 2 for g in grid) <= 0.6
    volume = np.where(head, 1.0 + smooth_images(rng, (1, 1, 10, 12, 11))[0, 0], 0.0)
    nibabel.save(nibabel.Nifti1Image(volume.astype(np.float32), np.eye(4)),
                 str(tmp_path / "head.nii.gz"))
    masks = tmp_path / "masks"
    masks.mkdir()
    np.save(masks / "someone_else.npy", np.ones((10, 12, 11)))
    model = cuts_ext.CUTSEncoder(1, dims=3, seed=0)
    with pytest.warns(UserWarning, match="no mask for head.*default foreground"):
        (result,) = cuts_ext.segment(tmp_path / "head.nii.gz", model, foreground=masks,
                                     progress=False)
    (auto,) = cuts_ext.segment(tmp_path / "head.nii.gz", model, foreground="auto",
                               progress=False)
    np.testing.assert_array_equal(result.segmentation.foreground, auto.segmentation.foreground)
    assert not result.segmentation.foreground.all()
