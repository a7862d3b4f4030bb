"""segment's per-dimension defaults (cuts_ext/segmentation/defaults.py): "default" stands for
the 2-D images' settings on images and the volumes' on volumes, everywhere it is accepted."""

import numpy as np
import pytest

import cuts_ext
from cuts_ext.io.readers import LoadedImage
from cuts_ext.segmentation.defaults import (DEFAULT, IMAGE_DEFAULTS, VOLUME_DEFAULTS,
                                            resolve)
from cuts_ext.segmentation.pipeline import segment_image

SETTINGS = ("position_weight", "channel_weight", "foreground", "max_points")


def test_resolve_replaces_only_the_default():
    assert resolve(DEFAULT, "max_points", 2) == IMAGE_DEFAULTS.max_points
    assert resolve(DEFAULT, "foreground", 3) == VOLUME_DEFAULTS.foreground
    assert resolve(0.25, "position_weight", 3) == 0.25
    assert resolve(None, "max_points", 2) is None
    mask = np.ones((2, 2), bool)
    assert resolve(mask, "foreground", 2) is mask  # an array is never the default


@pytest.mark.parametrize("shape, defaults", [((1, 20, 18), IMAGE_DEFAULTS),
                                             ((1, 10, 12, 11), VOLUME_DEFAULTS)],
                         ids=["image", "volume"])
def test_the_default_is_the_input_kind_s_setting(shape, defaults):
    rng = np.random.default_rng(0)
    data = np.full(shape, -1.0, np.float32)  # air around a textured object
    inner = (slice(None),) + tuple(slice(2, n - 2) for n in shape[1:])
    data[inner] = rng.uniform(0.2, 1.0, size=data[inner].shape)
    image = LoadedImage(data=data, path=None, name="x", source_dtype=np.dtype(np.float32))
    model = cuts_ext.CUTSEncoder(1, num_kernels=2, dims=len(shape) - 1, seed=0).eval()
    by_default = segment_image(model, image, seed=0)
    explicit = segment_image(model, image, seed=0, condense_options={"n_pca": defaults.n_pca},
                             **{name: getattr(defaults, name) for name in SETTINGS})
    np.testing.assert_array_equal(by_default.segmentation.label_maps,
                                  explicit.segmentation.label_maps)
    # Volumes drop the air by default (label 0 there), images keep every pixel.
    segmented = by_default.segmentation.foreground
    if defaults.foreground is None:
        assert segmented is None
    else:
        assert not segmented.flat[0] and segmented[(slice(2, -2),) * segmented.ndim].all()
        assert (by_default.segmentation.label_maps[:, ~segmented] == 0).all()
    # The label-free outputs follow the kind's rules too.
    seg = by_default.segmentation
    painted = cuts_ext.persistent_map(seg.label_maps, defaults.min_area_fraction,
                                      defaults.min_persistence,
                                      background=None if segmented is None else 0)
    np.testing.assert_array_equal(seg.persistent, painted)
    assert seg.auto_level == cuts_ext.auto_level(seg, defaults.auto_method, defaults.auto_clusters)


def test_bad_values_beside_the_default_are_still_refused():
    images = np.zeros((1, 1, 8, 8), np.float32)
    with pytest.raises(ValueError, match="max_points"):
        cuts_ext.segment(images, cuts_ext.CUTSEncoder(1, num_kernels=2, seed=0),
                         max_points=0, progress=False)
    # A misspelt "default" is a string where a number goes: TypeError, as for any weight.
    with pytest.raises(TypeError, match="channel_weight.*'defaults'"):
        cuts_ext.segment(images, cuts_ext.CUTSEncoder(1, num_kernels=2, seed=0),
                         channel_weight="defaults", progress=False)


def test_images_condense_in_20_pca_dimensions_unless_condense_options_say_otherwise():
    # The 2-D default (cross-validated) differs from condense's reference 50; volumes keep 50.
    assert (IMAGE_DEFAULTS.n_pca, VOLUME_DEFAULTS.n_pca) == (20, 50)
    rng = np.random.default_rng(3)
    image = LoadedImage(data=rng.uniform(-1, 1, (3, 24, 24)).astype(np.float32), path=None,
                        name="x", source_dtype=np.dtype(np.float32))
    model = cuts_ext.CUTSEncoder(3, num_kernels=4, seed=0).eval()  # 32 features: PCA applies
    by_default = segment_image(model, image, seed=0)
    for n_pca, same in ((20, True), (50, False), (None, False)):
        asked = segment_image(model, image, seed=0, condense_options={"n_pca": n_pca})
        assert np.array_equal(asked.segmentation.label_maps,
                              by_default.segmentation.label_maps) == same, n_pca
