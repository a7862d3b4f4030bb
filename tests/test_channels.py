"""The image's own channels beside the embedding in condensation (condense's `channels` and
`channel_weight`, segment's `channel_weight`)."""

import subprocess
import sys

import numpy as np
import pytest

import cuts_ext
from cuts_ext.condensation.preparation import prepare_points, standardise_channels
from cuts_ext.segmentation.metrics import adjusted_rand_index


def test_weight_zero_ignores_the_channels_bit_for_bit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6))
    plain = cuts_ext.condense(x, n_pca=None)
    with_channels = cuts_ext.condense(x, n_pca=None, channels=rng.normal(size=(120, 2)),
                                      channel_weight=0.0)
    assert np.array_equal(plain.hierarchy, with_channels.hierarchy)


def test_the_appended_block_is_the_weighted_standardised_channels():
    rng = np.random.default_rng(1)
    x, channels = rng.normal(size=(50, 4)), rng.normal(3.0, 2.0, size=(50, 3))
    prepared = prepare_points(x, None, channels=channels, channel_weight=0.5)
    block = prepared[:, 4:]
    centred = channels - channels.mean(axis=0)
    expected = 0.5 * centred / np.sqrt((centred ** 2).sum(axis=1).mean())
    np.testing.assert_allclose(block, expected, rtol=1e-12)
    # One scale for all channels: their relative contrast is kept.
    np.testing.assert_allclose(block.std(axis=0) / block.std(axis=0)[0],
                               channels.std(axis=0) / channels.std(axis=0)[0], rtol=1e-12)
    np.testing.assert_allclose((block ** 2).sum(axis=1).mean(), 0.25, rtol=1e-12)


def test_a_point_of_weight_two_standardises_as_two_copies():
    channels = np.array([[0.0], [1.0], [5.0]])
    weighted = standardise_channels(channels, np.array([1.0, 2.0, 1.0]))
    copies = standardise_channels(np.array([[0.0], [1.0], [1.0], [5.0]]), None)
    np.testing.assert_allclose(weighted, copies[[0, 1, 3]], rtol=1e-12)


def test_constant_channels_add_nothing():
    assert not standardise_channels(np.full((6, 2), 0.3), None).any()


def test_channels_separate_points_the_embedding_cannot():
    # Identical embeddings: appearance alone merges everything at once; the channels keep
    # the dark and the bright half apart until late.
    x = np.tile([1.0, 0.0, 0.0], (40, 1))
    x += np.random.default_rng(2).normal(scale=1e-3, size=x.shape)
    intensity = np.r_[np.zeros(20), np.ones(20)]
    result = cuts_ext.condense(x, n_pca=None, channels=intensity, channel_weight=1.0)
    two = [i for i, count in enumerate(result.cluster_counts) if count == 2]
    assert two, result.cluster_counts
    labels = np.asarray(result.hierarchy[two[0]])
    assert len(set(labels[:20])) == 1 and len(set(labels[20:])) == 1
    assert labels[0] != labels[20]
    # Without the channels no iteration finds the two halves: the noise decides.
    plain = cuts_ext.condense(x, n_pca=None)
    halves = np.r_[np.zeros(20, int), np.ones(20, int)]
    assert all(adjusted_rand_index(np.asarray(labels), halves) < 0.5
               for labels in plain.hierarchy)


@pytest.mark.parametrize("kwargs, message", [
    (dict(channel_weight=1.0), "needs channels"),
    (dict(channel_weight=-1.0, channels=np.zeros(30)), "channel_weight must be a finite number"),
    (dict(channel_weight=float("nan"), channels=np.zeros(30)), "channel_weight must be"),
    (dict(channel_weight=1.0, channels=np.zeros((29, 1))), r"channels must be \[N, c\]"),
    (dict(channel_weight=1.0, channels=np.full(30, np.inf)), "channels must be finite"),
    (dict(channel_weight=1.0, channels=np.zeros((30, 0))), r"channels must be \[N, c\]"),
])
def test_bad_channels_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cuts_ext.condense(np.random.default_rng(3).normal(size=(30, 4)), **kwargs)


def test_cli_refuses_a_negative_channel_weight(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cuts_ext.cli", "segment", str(tmp_path),
                           "-o", str(tmp_path / "out"), "--channel-weight", "-1"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert "--channel-weight" in done.stderr and "finite number >= 0" in done.stderr
