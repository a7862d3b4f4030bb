"""`foreground_mask`: None, given masks, and the "auto" rule on synthetic volumes with and without
noisy air, skull-stripped style volumes, nibabel's real MRI volumes, 2-D photographs; its errors."""

import glob
import os

import nibabel
import numpy as np
import pytest
from nibabel.testing import data_path
from scipy import ndimage

from cuts_ext.io import read_image
from cuts_ext.segmentation.foreground import foreground_mask

RETINA = "/work/shared/data/retina"


def _ellipsoid(shape, radii, center=None):
    """bool mask of the ellipsoid (ellipse) of `radii` about `center` (default: the middle)."""
    grids = np.indices(shape, dtype=np.float64)
    center = [(size - 1) / 2 for size in shape] if center is None else center
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grids, center, radii)) <= 1


def _scaled(values):
    """[1, *spatial] float32 in [-1, 1] by min and max, as read_image scales a volume."""
    values = np.asarray(values, dtype=np.float64)
    return ((values - values.min()) / (values.max() - values.min()) * 2 - 1)[None].astype(
        np.float32)


def _head(shape=(40, 48, 36)):
    """(intensities, mask): a bright ellipsoid (0.6) with a brighter core (1.0) in zeros."""
    outer = _ellipsoid(shape, [0.4 * size for size in shape])
    inner = _ellipsoid(shape, [0.18 * size for size in shape])
    values = np.where(outer, 0.6, 0.0)
    values[inner] = 1.0
    return values, outer


def _rician(values, sigma, rng):
    """|values + complex Gaussian noise|: the magnitude MRI's noise, Rayleigh in the air."""
    return np.abs(values + rng.normal(0, sigma, values.shape)
                  + 1j * rng.normal(0, sigma, values.shape))


def _dice(a, b):
    return 2 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def _border(mask):
    """The voxels on the array's faces, flattened."""
    return np.concatenate([np.take(mask, end, axis=axis).ravel()
                           for axis in range(mask.ndim) for end in (0, -1)])


def _components(mask):
    return ndimage.label(mask)[1]


# --- "auto" on synthetic volumes ---------------------------------------------------------------

def test_auto_keeps_exactly_an_ellipsoid_in_zeros():
    values, ellipsoid = _head()
    mask = foreground_mask(_scaled(values), "auto")
    assert mask.dtype == bool and mask.shape == ellipsoid.shape
    np.testing.assert_array_equal(mask, ellipsoid)


@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.1])
def test_auto_drops_noisy_air_around_an_ellipsoid(sigma, rng):
    values, ellipsoid = _head()
    image = _scaled(_rician(values, sigma, rng))
    assert np.mean(image == image.min()) < 0.2  # the threshold branch, not the masked one
    mask = foreground_mask(image, "auto")
    dice = _dice(mask, ellipsoid)
    print(f"sigma {sigma}: Dice {dice:.4f}")
    assert dice > 0.99
    assert _components(mask) == 1
    # No air island: nothing farther than one voxel from the ellipsoid, no border voxel.
    assert not (mask & ~ndimage.binary_dilation(ellipsoid)).any()
    assert not _border(mask).any()


def test_auto_on_a_skull_stripped_volume_keeps_every_tissue_voxel_and_dark_csf_inside():
    shape = (36, 44, 32)
    brain = _ellipsoid(shape, (15, 19, 13))
    rng = np.random.default_rng(7)
    values = np.where(brain, rng.uniform(0.2, 1.0, shape), 0.0)   # tissue of every intensity
    values[_ellipsoid(shape, (3, 6, 2))] = 0.0          # a ventricle stored as exactly 0
    values[10, 15, 12] = values[25, 30, 20] = 0.0      # single dark CSF voxels
    speck = (1, 1, 1)
    values[speck] = 0.5                                 # a stray voxel outside the brain
    image = _scaled(values)
    assert np.mean(image == -1) > 0.2                  # the masked branch
    mask = foreground_mask(image, "auto")
    expected = brain.copy()
    np.testing.assert_array_equal(mask, expected)       # holes kept, the speck dropped
    assert not mask[speck]


def test_auto_keeps_a_cavity_that_opens_onto_a_face_cut_by_the_field_of_view():
    # A brain cut by the first face of axis 0 with a dark channel from that face inwards: in
    # 3-D the channel reaches the border, in every slice along axis 0 it is enclosed.
    shape = (20, 40, 40)
    brain = _ellipsoid(shape, (18, 17, 17), center=(0, 19.5, 19.5))
    values = np.where(brain, 0.8, 0.0)
    values[:6, 17:23, 17:23] = 0.0
    mask = foreground_mask(_scaled(values), "auto")
    np.testing.assert_array_equal(mask, brain)


def test_auto_takes_the_brightest_channel(rng):
    # A shell bright in one channel only (like a fundus, red alone) around a core bright in all
    # three, over a dark background that is not exactly constant. On the channel mean the
    # shell would be as dark as a third of itself, and dropped.
    shape = (24, 28, 20)
    outer = _ellipsoid(shape, [0.4 * size for size in shape])
    core = _ellipsoid(shape, [0.25 * size for size in shape])
    values = rng.uniform(0, 0.02, (3,) + shape)
    values[2, outer] = 0.6
    values[:, core] = 1.0
    image = (values * 2 - 1).astype(np.float32)
    np.testing.assert_array_equal(foreground_mask(image, "auto"), outer)


# --- "auto" on nibabel's real MRI volumes ------------------------------------------------------

def test_auto_on_anatomical_nii_keeps_the_whole_crop_of_brain():
    # anatomical.nii is a 66 x 82 x 50 mm box inside an MNI-normalised brain (x -32..32,
    # y -40..42, z -16..32 mm): no air at all, every voxel is brain tissue or CSF.
    image = read_image(data_path / "anatomical.nii")
    mask = foreground_mask(image.data, "auto")
    print(f"anatomical.nii {image.spatial_shape}: foreground {mask.mean():.3f}")
    assert mask.shape == image.spatial_shape and _components(mask) == 1
    assert mask.mean() > 0.98


def test_auto_on_anatomical_nii_padded_with_noisy_air_keeps_the_brain(rng):
    brain = (read_image(data_path / "anatomical.nii").data[0] + 1) / 2
    margin = 8
    values = np.pad(brain, margin)
    box = np.pad(np.ones(brain.shape, dtype=bool), margin)
    noisy = _rician(values, 0.05 * np.median(brain), rng)  # tissue / noise about 20
    mask = foreground_mask(_scaled(noisy), "auto")
    dice = _dice(mask, box)
    print(f"anatomical.nii in air: foreground {mask.mean():.3f} (box {box.mean():.3f}), "
          f"Dice {dice:.4f}")
    assert dice > 0.995 and _components(mask) == 1
    assert not (mask & ~ndimage.binary_dilation(box)).any()
    assert not _border(mask).any()


def test_auto_on_example4d_reproduces_its_brain_mask():
    # example4d.nii.gz is a masked EPI (background stored as 0); read_image makes its 4th
    # axis channels: the first volume is channel 0.
    image = read_image(data_path / "example4d.nii.gz")
    stored = np.asanyarray(nibabel.load(data_path / "example4d.nii.gz").dataobj)[..., 0] != 0
    mask = foreground_mask(image.data[:1], "auto")
    print(f"example4d.nii.gz {image.spatial_shape}, first volume: foreground "
          f"{mask.mean():.3f}, nonzero {stored.mean():.3f}")
    assert _components(mask) == 1
    assert not (stored & ~mask).any()                       # every stored brain voxel
    assert np.count_nonzero(mask & ~stored) <= 0.001 * stored.sum()  # + a few holes filled
    np.testing.assert_array_equal(foreground_mask(image.data, "auto"), mask)


# --- "auto" on 2-D images ----------------------------------------------------------------------

def test_auto_keeps_a_disc_in_a_dark_surround_with_its_dark_spots(rng):
    shape = (96, 128)
    disc = _ellipsoid(shape, (40, 40))
    colour = np.array([200.0, 90.0, 40.0])[:, None, None]         # reddish, like a fundus
    pixels = np.where(disc, colour, 6.0) + rng.normal(0, 3, (3,) + shape)
    pixels[:, _ellipsoid(shape, (6, 8), center=(40, 70))] = 20.0  # a dark spot inside
    image = (np.clip(np.round(pixels), 0, 255) / 127.5 - 1).astype(np.float32)
    np.testing.assert_array_equal(foreground_mask(image, "auto"), disc)


@pytest.mark.skipif(not os.path.isdir(RETINA), reason=f"the retina data is not at {RETINA}")
def test_auto_on_retina_photographs_keeps_the_fundus():
    for path in sorted(glob.glob(f"{RETINA}/images/*.png"))[:8]:
        image = read_image(path).data
        mask = foreground_mask(image, "auto")
        assert _components(mask) == 1, path
        assert 0.6 < mask.mean() < 0.9, (path, mask.mean())
        assert not mask[[0, 0, -1, -1], [0, -1, 0, -1]].any(), path  # black corners


# --- None, given masks, defaults ---------------------------------------------------------------

def test_none_is_every_voxel():
    image = np.zeros((2, 5, 6, 7), dtype=np.float32)
    mask = foreground_mask(image, None)
    assert mask.dtype == bool and mask.shape == (5, 6, 7) and mask.all()
    assert foreground_mask(np.zeros((3, 4, 5), np.float32)).shape == (4, 5)  # None by default


def test_a_given_mask_passes_through_as_bool(rng):
    image = rng.uniform(-1, 1, (1, 6, 7, 8)).astype(np.float32)
    given = (rng.uniform(size=(6, 7, 8)) > 0.5).astype(np.uint8) * 3
    mask = foreground_mask(image, given)
    assert mask.dtype == bool and mask is not given
    np.testing.assert_array_equal(mask, given != 0)
    lists = foreground_mask(image[:, 0], [[1] * 8] + [[0] * 8] * 6)  # anything np.asarray takes
    assert lists[0].all() and not lists[1:].any()


def test_a_torch_mask_and_a_torch_image_are_accepted():
    torch = pytest.importorskip("torch")
    image = torch.zeros(1, 4, 5)
    given = torch.zeros(4, 5, dtype=torch.bool)
    given[1:3, 2] = True
    np.testing.assert_array_equal(foreground_mask(image, given), given.numpy())


# --- errors ------------------------------------------------------------------------------------

def test_a_mask_of_another_shape_is_refused_with_both_shapes():
    with pytest.raises(ValueError, match=r"foreground has shape \[5, 6\].*\[6, 5\]"):
        foreground_mask(np.zeros((1, 6, 5), np.float32), np.ones((5, 6), bool))
    with pytest.raises(ValueError, match=r"foreground has shape \[6, 5\].*\[4, 6, 5\]"):
        foreground_mask(np.zeros((1, 4, 6, 5), np.float32), np.ones((6, 5), bool))


@pytest.mark.parametrize("foreground", ["Auto", "otsu", "", 3, 0.5, True, {"a": 1}, object(),
                                        np.array(["a", "b"]), os.path.join("a", "b.png")])
def test_anything_else_is_refused_naming_what_is_accepted(foreground):
    with pytest.raises(ValueError, match=r"foreground must be None, 'auto', or a mask array"):
        foreground_mask(np.zeros((1, 4, 5), np.float32), foreground)


def test_a_given_mask_with_no_voxel_is_refused():
    with pytest.raises(ValueError, match="foreground holds no voxel"):
        foreground_mask(np.zeros((1, 4, 5), np.float32), np.zeros((4, 5)))


def test_auto_finding_no_voxel_is_refused():
    # A constant image (read_image makes it 0): every voxel is at the minimum.
    with pytest.raises(ValueError, match="foreground holds no voxel.*'auto'"):
        foreground_mask(np.zeros((1, 4, 5, 6), np.float32), "auto")


@pytest.mark.parametrize("image", [np.zeros((4, 5), np.float32), np.zeros((1, 2, 3, 4, 5)),
                                   np.array([[["a"]]]), np.zeros((1, 0, 3))])
def test_an_image_of_no_usable_shape_is_refused(image):
    with pytest.raises(ValueError, match="image must be"):
        foreground_mask(image, None)


def test_an_image_with_nan_is_refused():
    image = np.zeros((1, 4, 5), np.float32)
    image[0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="image holds NaN"):
        foreground_mask(image, "auto")
