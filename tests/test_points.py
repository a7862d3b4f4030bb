"""The points condensation sees (cuts_ext/segmentation/points.py): every pixel, the foreground's
voxels streamed tile by tile, or super-voxels of them; and segment's foreground / max_points."""

import numpy as np
import pytest

import cuts_ext
from cuts_ext.encoder import embedding
from cuts_ext.segmentation.points import (COARSENING_FEATURES, _coarsening_features,
                                          condensation_points, foreground_features,
                                          super_voxel_points)
from support.images import smooth_images


def _ellipsoid_volume(rng, shape=(20, 24, 22)):
    """float32 [1, *shape] in [-1, 1]: a textured ellipsoid in a dark, noisy surround, and its
    bool mask."""
    grid = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    inside = sum((g / r) ** 2 for g, r in zip(grid, (0.8, 0.7, 0.75))) <= 1
    texture = smooth_images(rng, (1, 1) + shape)[0, 0]
    volume = np.where(inside, 0.3 + 0.5 * texture, -0.95 + 0.02 * rng.random(shape))
    return volume[None].astype(np.float32), inside


@pytest.fixture(scope="module")
def volume_and_model():
    rng = np.random.default_rng(5)
    volume, inside = _ellipsoid_volume(rng)
    model = cuts_ext.CUTSEncoder(1, num_kernels=2, dims=3, seed=0).eval()
    return volume, inside, model


def test_streamed_features_equal_the_untiled_embedding(volume_and_model, monkeypatch):
    volume, inside, model = volume_and_model
    whole = cuts_ext.embed(model, volume[None])
    expected = whole.z[0][:, inside].T
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    # A budget that forces small tiles, some of them wholly outside the ellipsoid (skipped).
    monkeypatch.setattr(embedding, "WORK_BYTES", 40 * 4 * (2 + 4 * model.latent_channels) * 8**3)
    features, reconstruction = foreground_features(model, volume, inside)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(reconstruction[:, inside], whole.reconstruction[0][:, inside],
                               rtol=1e-4, atol=1e-5)


def test_super_voxels_cover_the_foreground_once_with_weights_summing_to_it(volume_and_model):
    volume, inside, model = volume_and_model
    points = condensation_points(model, volume, inside, max_points=300)
    labels = points.point_labels
    assert (labels[~inside] == -1).all() and (labels[inside] >= 0).all()
    k = points.features.shape[0]
    assert k <= 300 and labels.max() == k - 1
    np.testing.assert_array_equal(points.weights, np.bincount(labels[inside], minlength=k))
    assert points.weights.sum() == inside.sum()
    # Each point is the mean of its voxels' normalised vectors, placed at their centroid.
    features, _ = foreground_features(model, volume, inside)
    for j in (0, k // 2, k - 1):
        members = labels[inside] == j
        np.testing.assert_allclose(points.features[j], features[members].mean(axis=0),
                                   rtol=1e-5, atol=1e-6)
    assert ((points.positions >= 0) & (points.positions <= 1)).all()


def test_max_points_at_or_above_n_is_the_exact_path(rng):
    images = smooth_images(rng, (1, 3, 20, 18))
    model = cuts_ext.CUTSEncoder(3, num_kernels=2, seed=0).eval()
    (exact,) = cuts_ext.segment(images, model, max_points=None, progress=False)
    for limit in (20 * 18, 10**6):
        (same,) = cuts_ext.segment(images, model, max_points=limit, progress=False)
        np.testing.assert_array_equal(same.condensation.hierarchy, exact.condensation.hierarchy)
        assert same.segmentation.point_labels is None
    (coarse,) = cuts_ext.segment(images, model, max_points=60, progress=False)
    assert coarse.condensation.hierarchy.shape[1] <= 60
    assert coarse.segmentation.label_maps.shape[1:] == (20, 18)


def test_background_gets_label_zero_in_every_level_and_file(volume_and_model, tmp_path):
    volume, inside, model = volume_and_model
    # The foreground's voxels condensed one by one; position gives the untrained encoder's
    # embeddings enough structure for levels.
    (result,) = cuts_ext.segment(volume[None], model, foreground="auto", max_points=None,
                                 position_weight=2.0, progress=False)
    segmentation = result.segmentation
    np.testing.assert_array_equal(segmentation.foreground, inside)
    assert segmentation.levels
    assert (segmentation.label_maps[:, ~inside] == 0).all()
    assert (segmentation.label_maps[:, inside] > 0).all()
    assert (segmentation.persistent[~inside] == 0).all()
    folder = cuts_ext.io.write_outputs(tmp_path, result.image, segmentation)
    import nibabel
    written = np.asarray(nibabel.load(next(folder.glob("*_level00.nii.gz"))).dataobj)
    assert (written[~inside] == 0).all() and (written[inside] > 0).all()


def test_the_default_foreground_is_auto_for_volumes_and_none_for_images(volume_and_model, rng):
    volume, inside, model = volume_and_model
    (result,) = cuts_ext.segment(volume[None], model, max_points=400, progress=False)
    np.testing.assert_array_equal(result.segmentation.foreground, inside)
    image_model = cuts_ext.CUTSEncoder(3, num_kernels=2, seed=0).eval()
    (flat,) = cuts_ext.segment(smooth_images(rng, (1, 3, 16, 16)), image_model, progress=False)
    assert flat.segmentation.foreground is None


@pytest.mark.parametrize("kwargs,error,words", [
    ({"max_points": 0}, ValueError, ["max_points", ">= 1"]),
    ({"max_points": 2.5}, TypeError, ["max_points"]),
    ({"foreground": np.ones((3, 3, 3), bool)}, ValueError, ["foreground", "3 masks"]),
    ({"foreground": [np.ones((3, 3, 3), bool)]}, ValueError, ["foreground", "[3, 3, 3]"]),
    ({"foreground": "brain"}, ValueError, ["foreground"]),
    ({"foreground": [np.zeros((20, 24, 22), bool)]}, ValueError, ["foreground", "no voxel"]),
])
def test_bad_foreground_or_max_points_is_refused_before_any_work(volume_and_model, kwargs, error,
                                                                 words):
    volume, _, model = volume_and_model
    with pytest.raises(error) as raised:
        cuts_ext.segment(volume[None], model, progress=False, **kwargs)
    for word in words:
        assert word in str(raised.value)


def test_an_all_background_volume_is_refused(volume_and_model):
    _, _, model = volume_and_model
    empty = np.full((1, 1, 12, 12, 12), -1.0, np.float32)
    with pytest.raises(ValueError, match="no voxel"):
        cuts_ext.segment(empty, model, foreground="auto", progress=False)


def test_super_voxels_follow_an_intensity_edge_the_embedding_does_not_show():
    # Identical vectors everywhere: only the image's own channels can place the edge.
    inside = np.ones((6, 12, 12), bool)
    image = np.zeros((1, 6, 12, 12), np.float32)
    image[:, :, :, 5:] = 1.0
    features = np.ones((inside.sum(), 8), np.float32)
    points = super_voxel_points(features, image, inside, 16, image)
    labels = points.point_labels
    assert labels.max() + 1 <= 16
    left, right = set(np.unique(labels[:, :, :5])), set(np.unique(labels[:, :, 5:]))
    assert left and right and not left & right


def test_coarsening_features_weigh_the_channels_as_much_as_the_embedding(rng):
    inside = np.ones((4, 5, 6), bool)
    features = rng.normal(size=(inside.sum(), 32)).astype(np.float32)
    image = (1000.0 * rng.normal(size=(2,) + inside.shape)).astype(np.float32)
    combined = _coarsening_features(features, image[:, inside].T)
    assert combined.shape == (inside.sum(), COARSENING_FEATURES + 2)
    embedding = combined[:, :COARSENING_FEATURES].var(axis=0).sum()
    channels = combined[:, COARSENING_FEATURES:].var(axis=0).sum()
    assert channels == pytest.approx(embedding, rel=1e-4)
