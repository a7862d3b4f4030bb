"""What condensation does to the points before the engine sees them (docs/method.md,
"Preparation"): L2-normalised rows, an optional positional encoding and the optional image
channels, each with its weight, and exact PCA.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np

from .._arrays import real_host_array
from .._checks import real, sizes

# Octaves of the positional encoding: wavelengths from twice the image's extent down to a
# quarter of it, coarse enough that position separates regions, not neighbouring pixels.
_POSITION_OCTAVES = 4


def check_weight(weight: Any, name: str) -> float:
    """`weight` (the argument `name`, e.g. position_weight) as a float: TypeError unless it is
    a real number (a string such as "0.5" is not), ValueError unless it is finite and >= 0."""
    return real(weight, name, minimum=0.0)


def check_channels(channels: Any, n: int) -> np.ndarray:
    """float64 [N, c] copy of `channels` ([N] is taken as one channel); ValueError unless it
    holds N rows of at least one finite real value."""
    values = real_host_array(channels, "channels")
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[0] != n or values.shape[1] < 1:
        raise ValueError(f"channels must be [N, c] = [{n}, c >= 1], got shape "
                         f"{list(values.shape)}")
    if not np.isfinite(values).all():
        raise ValueError("channels must be finite")
    return values


def standardise_channels(channels: np.ndarray, weights: Optional[np.ndarray]) -> np.ndarray:
    """float64 [N, c]: the channels centred and scaled together so that their total variance
    (the sum of the channels' variances) is 1, means and variances weighted by `weights` (how
    many pixels each point stands for; None: 1 each). One scale for all channels keeps their
    relative contrast (an RGB image's colours); constant channels give zeros."""
    mean = np.average(channels, axis=0, weights=weights)
    centred = channels - mean
    total = float(np.average((centred ** 2).sum(axis=1), weights=weights))
    return centred / math.sqrt(total) if total > 0 else np.zeros_like(centred)


def check_spatial_shape(spatial_shape: Any, n: int) -> tuple:
    """`spatial_shape` as a tuple of ints; TypeError unless a sequence of integers, ValueError
    unless its sizes are positive and their product is the number of points `n`."""
    shape = sizes(spatial_shape, "spatial_shape")
    if math.prod(shape) != n:
        raise ValueError(f"spatial_shape {shape} must be positive sizes whose product is the "
                         f"number of points, {n}")
    return shape


def check_positions(positions: Any, n: int) -> np.ndarray:
    """float64 [N, d] copy of `positions`; ValueError unless it holds N rows of 1 to 3 finite
    coordinates in [0, 1]."""
    values = real_host_array(positions, "positions")
    if values.ndim != 2 or values.shape[0] != n or not 1 <= values.shape[1] <= 3:
        raise ValueError(f"positions must be [N, d] = [{n}, 1 to 3], got shape "
                         f"{list(values.shape)}")
    if not (np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()):
        raise ValueError("positions must be finite coordinates in [0, 1]")
    return values


def prepare_points(X: np.ndarray, n_pca: Optional[int], position_weight: float = 0.0,
                   spatial_shape: Optional[Sequence[int]] = None,
                   positions: Optional[np.ndarray] = None,
                   channels: Optional[np.ndarray] = None, channel_weight: float = 0.0,
                   weights: Optional[np.ndarray] = None) -> np.ndarray:
    """L2-normalised rows, then (weight > 0) `position_weight` times the positional encoding of
    each point appended (at `positions`, or at its place in the row-major grid of
    `spatial_shape`), then (weight > 0) `channel_weight` times the standardised `channels`
    (`standardise_channels`, with the points' `weights`), then exact PCA to `n_pca`
    dimensions when N > n_pca and C > n_pca.

    PCA centres the columns and projects them on the top right singular vectors, each with its
    sign fixed so that its largest-magnitude entry is positive. Zero rows stay zero. Rows are
    normalised without overflow or underflow at any finite magnitude (`normalise_rows`).

    Args:
        X: float64 [N, C].
        position_weight, spatial_shape, positions, channels, channel_weight, weights: as
            `condense` takes them (already checked).
    Returns:
        float64 [N, min(C', n_pca)], C-contiguous, C' = C plus the appended columns.
    """
    X = normalise_rows(X)
    if position_weight > 0:
        encoding = (encode_positions(positions) if positions is not None
                    else positional_encoding(spatial_shape))
        X = np.concatenate([X, position_weight * encoding], axis=1)
    if channel_weight > 0:
        X = np.concatenate([X, channel_weight * standardise_channels(channels, weights)], axis=1)
    n, c = X.shape
    if n_pca is None or n <= n_pca or c <= n_pca:
        return np.ascontiguousarray(X)
    centred = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:n_pca]
    largest = np.argmax(np.abs(components), axis=1)
    components = components * np.sign(components[np.arange(n_pca), largest])[:, None]
    return np.ascontiguousarray(centred @ components.T)


def normalise_rows(X: np.ndarray) -> np.ndarray:
    """float64 [N, C]: each row of X divided by its L2 norm (zero rows stay zero).

    Each row is first scaled by the power of two nearest its largest magnitude, so that the
    squares in the norm neither overflow (rows of 1e155 and more) nor underflow (1e-160 and
    less). Scaling by a power of two is exact, so for any row whose squares were safe the result
    is bit for bit the plain X / ||X||.
    """
    largest = np.abs(X).max(axis=1, initial=0.0, keepdims=True)
    _, exponents = np.frexp(largest)
    scaled = np.ldexp(X, -exponents)
    norms = np.linalg.norm(scaled, axis=1, keepdims=True)
    return scaled / np.where(norms > 0, norms, 1.0)


def positional_encoding(shape: Sequence[int]) -> np.ndarray:
    """float64 [prod(shape), 2 * 4 * d]: `encode_positions` of every pixel of the row-major grid
    of `shape`, each coordinate scaled to [0, 1] (0 along an axis of size 1)."""
    axes = [np.linspace(0.0, 1.0, size) if size > 1 else np.zeros(1) for size in shape]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(shape))
    return encode_positions(grid)


def encode_positions(positions: np.ndarray) -> np.ndarray:
    """float64 [N, 2 * 4 * d] of coordinates u float64 [N, d] in [0, 1]: sin and cos of
    pi * 2^f * u for f = 0..3 and each axis, divided by sqrt(4 d) so that every row has norm 1."""
    n, d = positions.shape
    angles = np.pi * positions[:, :, None] * 2.0 ** np.arange(_POSITION_OCTAVES)  # [N, d, F]
    features = np.concatenate([np.sin(angles), np.cos(angles)], axis=2).reshape(n, -1)
    return features / np.sqrt(_POSITION_OCTAVES * d)
