"""The points that condensation sees for one image or volume: every pixel, the foreground's
voxels, or at most `max_points` super-voxels of them (docs/method.md, "Weighted points").

An image whose pixels all fit is embedded whole and condensed pixel by pixel, exactly as the
method states. Otherwise the encoder runs tile by tile, tiles without foreground are skipped,
and each tile's latent vectors are L2-normalised and kept for its foreground voxels only, as
soon as they exist: the 128-channel latent map of a volume (4.4 GB for a 1 mm brain) never
exists at once. Beyond `max_points` foreground voxels, super-voxels (csrc/coarsen) group them
by the image's own intensities and the embedding together; each enters condensation at the mean
of its voxels' normalised vectors, weighted by its voxel count and placed (for the positional
encoding) at its centroid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import scipy.sparse

from ..profiling import stage

# Super-voxels follow the embeddings projected on their leading principal axes (SLIC's cost is
# linear in the feature count, and the leading axes carry the boundaries) beside the image's own
# channels, as SLIC follows an image's colours. The embedding alone does not hold tissue edges
# well enough: on the 2 mm MNI152 brain (236,370 voxels into about 12,000 super-voxels), giving
# every super-voxel its majority tissue caps the white / grey matter Dice at 0.81 / 0.86 with the
# embedding's axes alone, 0.94 / 0.94 with the intensity beside them (python/bench/RESULTS.md).
COARSENING_FEATURES = 16


@dataclass
class CondensationPoints:
    """What `condense` receives for one image, and how its points map back to voxels.

    Attributes:
        features: float32 [M, F], the rows to condense.
        weights: float64 [M] voxels per point, or None (one voxel each).
        positions: float64 [M, d] coordinates in [0, 1], or None: the points are the pixels of
            the grid, in row-major order (condense's spatial_shape places them).
        point_labels: int32 [*spatial] point of every voxel, -1 outside the foreground; None
            when the points are all the voxels in row-major order.
        channels: float64 [M, C], each point's values in the image (its voxel's, or the mean
            of its voxels'), for condense's `channels`.
        reconstruction: float32 [C, *spatial], the encoder's reconstruction (-1, the darkest
            value, in tiles skipped for holding no foreground).
    """

    features: np.ndarray
    weights: Optional[np.ndarray]
    positions: Optional[np.ndarray]
    point_labels: Optional[np.ndarray]
    reconstruction: np.ndarray
    channels: np.ndarray


def condensation_points(model: Any, image: np.ndarray, foreground: Optional[np.ndarray],
                        max_points: Optional[int]) -> CondensationPoints:
    """The points of one image for `condense`.

    Args:
        model: a trained `CUTSEncoder` of the image's dimension.
        image: float32 [C, *spatial] in [-1, 1].
        foreground: bool [*spatial] (at least one voxel), or None for every voxel.
        max_points: the most points to condense, or None for no limit.
    """
    from ..encoder.embedding import embed

    spatial = image.shape[1:]
    n = math.prod(spatial)
    whole = foreground is None or bool(foreground.all())
    if whole and (max_points is None or max_points >= n):
        with stage("embed", cuda=_on_gpu(model)):
            embedding = embed(model, image[None])
        latent = embedding.z[0]
        features = latent.reshape(latent.shape[0], -1).T  # [N, F], pixels in row-major order
        return CondensationPoints(features, None, None, None, embedding.reconstruction[0],
                                  image.reshape(image.shape[0], -1).T.astype(np.float64))
    mask = np.ones(spatial, bool) if foreground is None else foreground
    with stage("embed", cuda=_on_gpu(model)):
        features, reconstruction = foreground_features(model, image, mask)
    if max_points is None or max_points >= features.shape[0]:
        return CondensationPoints(features, None, _grid_positions(mask), _foreground_rank(mask),
                                  reconstruction, image[:, mask].T.astype(np.float64))
    with stage("coarsen"):
        return super_voxel_points(features, image, mask, max_points, reconstruction)


def _on_gpu(model: Any) -> bool:
    """Whether the encoder's weights are on a GPU (its work then runs on torch's stream)."""
    return any(parameter.is_cuda for parameter in model.parameters())


def super_voxel_points(features: np.ndarray, image: np.ndarray, mask: np.ndarray,
                       max_points: int, reconstruction: np.ndarray) -> CondensationPoints:
    """The foreground grouped into at most `max_points` super-voxels, each a point at the mean
    of its voxels' vectors, weighted by their count and placed at their centroid.

    Args:
        features: float32 [N_fg, F], the foreground voxels' vectors in row-major order.
        image: float32 [C, *spatial], the image the vectors embed.
        mask: bool [*spatial], the foreground.
        max_points: >= 1.
        reconstruction: passed through to the result.
    """
    voxel_channels = image[:, mask].T  # [N_fg, C], gathered once for SLIC and the means
    point_labels, counts = _super_voxels(_coarsening_features(features, voxel_channels), mask,
                                         max_points)
    labels = point_labels[mask]
    means = _block_sums(labels, features, counts.shape[0]) / counts[:, None]
    positions = _block_sums(labels, _grid_positions(mask), counts.shape[0]) / counts[:, None]
    channels = _block_sums(labels, voxel_channels, counts.shape[0]) / counts[:, None]
    return CondensationPoints(means.astype(np.float32), counts.astype(np.float64), positions,
                              point_labels, reconstruction, channels)


def foreground_features(model: Any, image: np.ndarray, mask: np.ndarray) -> tuple:
    """(float32 [N_fg, F] L2-normalised latent vectors of the foreground voxels in row-major
    order, float32 [C, *spatial] reconstruction), streamed tile by tile."""
    import torch

    from ..encoder.embedding import embed_tiles

    rank = _foreground_rank(mask)
    features = np.empty((int(mask.sum()), model.latent_channels), np.float32)
    reconstruction = np.full(image.shape, -1.0, np.float32)  # skipped tiles: the darkest value

    def no_foreground(where: tuple) -> bool:
        return not mask[where[2:]].any()

    # Rows are scattered as single items of F floats each: numpy copies a row per index then,
    # where a float32 [voxels, F] scatter walks every element (3x slower for a tile).
    row = np.dtype((np.void, features.itemsize * features.shape[1]))
    rows = features.view(row)[:, 0]
    x = torch.from_numpy(np.ascontiguousarray(image[None], dtype=np.float32))
    for where, latent, centres in embed_tiles(model, x, skip=no_foreground):
        block = where[2:]
        inside = mask[block]
        # [voxels, F]; no copy for the encoder's channels-last output (voxel-major memory)
        vectors = np.ascontiguousarray(latent[0].cpu().numpy()[:, inside].T)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors /= np.where(norms > 0, norms, 1.0)
        rows[rank[block][inside]] = vectors.view(row)[:, 0]
        reconstruction[(slice(None),) + block] = centres[0].cpu().numpy()
    return features, reconstruction


def _coarsening_features(features: np.ndarray, voxel_channels: np.ndarray) -> np.ndarray:
    """float32 [N_fg, A + C]: the vectors' A leading principal axes beside the image's C channels
    at the foreground voxels (`voxel_channels` [N_fg, C], rows as in `features`), the channels
    scaled so that both parts have the same total variance (neither drowns the other whatever
    the intensity range; where either part is constant, the channels stay as they are)."""
    projected = _leading_axes(features, COARSENING_FEATURES)
    channels = voxel_channels.astype(np.float64)
    channel_spread = channels.var(axis=0).sum()
    embedding_spread = float(projected.var(axis=0).sum())
    if channel_spread > 0 and embedding_spread > 0:
        channels *= np.sqrt(embedding_spread / channel_spread)
    return np.concatenate([projected, channels.astype(np.float32)], axis=1)


def _super_voxels(features: np.ndarray, mask: np.ndarray, max_points: int) -> tuple:
    """(int32 [*spatial] super-voxel of every voxel, -1 outside; int64 [K] voxel counts) from
    SLIC on the foreground voxels' features [N_fg, F'] over the foreground's bounding box."""
    from ..condensation.coarsen import coarsen

    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in np.nonzero(mask))
    inside = mask[box]
    grid = np.zeros(inside.shape + (features.shape[1],), np.float32)
    grid[inside] = features
    result = coarsen(grid.reshape(-1, features.shape[1]), inside.shape, max_points,
                     foreground=inside)
    point_labels = np.full(mask.shape, -1, np.int32)
    point_labels[box] = result.labels
    return point_labels, np.asarray(result.counts, np.int64)


def _leading_axes(features: np.ndarray, count: int) -> np.ndarray:
    """float32 [N, min(count, F)]: the centred rows projected on their top principal axes
    (eigenvectors of the F x F covariance, accumulated in float64 in blocks)."""
    n, f = features.shape
    if f <= count:
        return features
    mean = features.mean(axis=0, dtype=np.float64)
    covariance = np.zeros((f, f))
    for start in range(0, n, _BLOCK):
        block = np.subtract(features[start:start + _BLOCK], mean, dtype=np.float64)
        covariance += block.T @ block
    _, vectors = np.linalg.eigh(covariance)
    axes = vectors[:, ::-1][:, :count]
    projected = np.empty((n, count), np.float32)
    for start in range(0, n, _BLOCK):
        block = np.subtract(features[start:start + _BLOCK], mean, dtype=np.float64)
        projected[start:start + _BLOCK] = block @ axes
    return projected


# Rows per block where a float64 copy of all rows (2 GB for a 1 mm brain) would set the peak.
_BLOCK = 1 << 16


def _block_sums(labels: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """float64 [K, C]: the sums of the rows of `values` [N, C] per label (labels [N] in 0..K-1),
    accumulated in float64 block by block."""
    sums = np.zeros((k, values.shape[1]))
    for start in range(0, labels.shape[0], _BLOCK):
        block = labels[start:start + _BLOCK]
        members = scipy.sparse.csr_matrix(
            (np.ones(block.shape[0]), (block, np.arange(block.shape[0]))),
            shape=(k, block.shape[0]))
        sums += members @ values[start:start + _BLOCK].astype(np.float64)
    return sums


def _foreground_rank(mask: np.ndarray) -> np.ndarray:
    """int32 [*spatial]: each foreground voxel's index among them in row-major order (its row
    in the features, its point when each voxel is one), -1 outside."""
    rank = np.full(mask.shape, -1, np.int32)
    rank[mask] = np.arange(int(mask.sum()), dtype=np.int32)
    return rank


def _grid_positions(mask: np.ndarray) -> np.ndarray:
    """float64 [N_fg, d]: the foreground voxels' coordinates scaled to [0, 1] per axis, as the
    positional encoding of the whole grid scales them (0 along an axis of size 1)."""
    axes = [np.linspace(0.0, 1.0, size) if size > 1 else np.zeros(1) for size in mask.shape]
    return np.stack([axis[index] for axis, index in zip(axes, np.nonzero(mask))], axis=1)
