"""Preparation of a GPU input on its GPU: condense's default for CUDA input (`exact=True`
prepares it on the host instead, as every host input is).

The same steps as `preparation.prepare_points`, in torch float64 where the points live, with one
difference: the PCA components come from the eigendecomposition of the C x C covariance
(computed on the device, decomposed on the host) instead of an SVD of the whole [N, C] matrix,
so only C x C numbers and the small appended features cross between host and device. The
result equals the host's up to rounding; the components' signs follow the same rule.
docs/method.md ("Numerical contract") says what that guarantees of the hierarchies.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from .._arrays import Operand, as_operand
from .preparation import encode_positions, positional_encoding, standardise_channels


def device_points(X: Any, operand: Optional[Operand] = None) -> tuple:
    """(operand, float64 [N, C] C-contiguous torch tensor on X's GPU) for a torch or cupy
    array on a GPU, refusing what cannot become float64 exactly, as `engine.host_points` does:
    ValueError for a rank other than 2, no feature column, a complex or unsafe integer dtype,
    or NaN / Inf. `operand`: X already wrapped by `as_operand`, if it was."""
    import torch
    if operand is None:
        operand = as_operand(X, "X", None)
    value = operand.value if operand.library == "torch" else torch.from_dlpack(operand.value)
    if value.ndim != 2:
        raise ValueError(f"X must be [N, C], got shape {list(value.shape)}")
    if value.shape[0] > 0 and value.shape[1] == 0:
        raise ValueError(f"X must have at least one feature column, got shape "
                         f"{list(value.shape)}")
    if value.is_complex():
        raise ValueError(f"X must hold real numbers that float64 represents exactly (float16, "
                         f"float32, float64, or integers), got {value.dtype}")
    if value.dtype == torch.int64 and value.numel() and \
            (int(value.max()) > 2**53 or int(value.min()) < -2**53):
        raise ValueError(f"X holds {value.dtype} values beyond 2^53, which float64 cannot "
                         "represent exactly")
    points = value.to(torch.float64).contiguous()
    if not bool(torch.isfinite(points).all()):
        raise ValueError("X must be finite: found NaN or Inf")
    return operand, points


def prepare_points_on_device(X: Any, n_pca: Optional[int], position_weight: float = 0.0,
                             spatial_shape: Optional[Sequence[int]] = None,
                             positions: Optional[np.ndarray] = None,
                             channels: Optional[np.ndarray] = None, channel_weight: float = 0.0,
                             weights: Optional[np.ndarray] = None) -> Any:
    """`preparation.prepare_points` of a float64 torch tensor X [N, C], on X's device.

    The positional encoding and the standardised channels are computed on the host (they are
    N x 8d and N x c) and appended on the device. PCA: the centred columns projected on the top
    `n_pca` eigenvectors of their covariance, each signed so that its largest-magnitude entry
    is positive.

    Returns:
        float64 torch tensor [N, min(C', n_pca)], C-contiguous, on X's device.
    """
    import torch
    X = normalise_rows_on_device(X)
    appended = []
    if position_weight > 0:
        encoding = (encode_positions(positions) if positions is not None
                    else positional_encoding(spatial_shape))
        appended.append(position_weight * encoding)
    if channel_weight > 0:
        appended.append(channel_weight * standardise_channels(channels, weights))
    if appended:
        X = torch.cat([X] + [torch.from_numpy(a).to(X.device) for a in appended], dim=1)
    n, c = X.shape
    if n_pca is None or n <= n_pca or c <= n_pca:
        return X.contiguous()
    centred = X - X.mean(dim=0)
    covariance = (centred.T @ centred).cpu().numpy()
    _, vectors = np.linalg.eigh(covariance)  # ascending eigenvalues
    components = vectors[:, ::-1][:, :n_pca].T
    largest = np.argmax(np.abs(components), axis=1)
    components = components * np.sign(components[np.arange(n_pca), largest])[:, None]
    projection = torch.from_numpy(np.ascontiguousarray(components.T)).to(X.device)
    return (centred @ projection).contiguous()


def normalise_rows_on_device(X: Any) -> Any:
    """`preparation.normalise_rows` in torch: rows scaled by the power of two nearest their
    largest magnitude (exact), then divided by their L2 norm; zero rows stay zero."""
    import torch
    largest = X.abs().amax(dim=1, keepdim=True)
    _, exponents = torch.frexp(largest)
    scaled = torch.ldexp(X, -exponents)
    norms = torch.linalg.vector_norm(scaled, dim=1, keepdim=True)
    return scaled / torch.where(norms > 0, norms, torch.ones_like(norms))
