"""The two losses of CUTS stage 1 and their mix (docs/method.md, "Stage 1: the encoder")."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from .model import EncoderOutput

#: NT-Xent temperature and the epsilon inside its ratio (reference values).
TEMPERATURE = 0.5
NT_XENT_EPS = 1e-7


class Losses(NamedTuple):
    """Scalar tensors: total = lambda * contrastive + (1 - lambda) * reconstruction."""

    total: torch.Tensor
    reconstruction: torch.Tensor
    contrastive: torch.Tensor


def reconstruction_loss(patch_recon: torch.Tensor, patch_real: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all elements of two [B, S, C, P, P(, P)] patch tensors."""
    return F.mse_loss(patch_recon, patch_real)


def nt_xent_loss(z_anchors: torch.Tensor, z_positives: torch.Tensor,
                 temperature: float = TEMPERATURE) -> torch.Tensor:
    """NT-Xent within each image, averaged over the batch.

    Per image b, with A and Pos the L2-normalised [S, F] anchor and positive vectors and
    sim = A @ Pos^T / T: loss_b = -log(sum_i exp(sim_ii) / (sum_{i != j} exp(sim_ij) + 1e-7)
    + 1e-7). The other anchors' positives in the same image are the negatives.

    Args:
        z_anchors, z_positives: [B, S, F].
        temperature: T > 0.

    Returns:
        A scalar tensor, the mean of loss_b over the B images.
    """
    anchors = F.normalize(z_anchors, dim=-1)
    positives = F.normalize(z_positives, dim=-1)
    exp_sim = torch.exp(torch.bmm(anchors, positives.transpose(1, 2)) / temperature)  # [B, S, S]
    diagonal = torch.eye(exp_sim.shape[-1], dtype=torch.bool, device=exp_sim.device)
    positive = torch.diagonal(exp_sim, dim1=1, dim2=2).sum(-1)
    negative = exp_sim.masked_fill(diagonal, 0.0).sum((1, 2))
    return -torch.log(positive / (negative + NT_XENT_EPS) + NT_XENT_EPS).mean()


def cuts_loss(output: EncoderOutput, lambda_contrastive: float = 1e-3,
              temperature: float = TEMPERATURE) -> Losses:
    """The training objective of one `CUTSEncoder` training forward.

    Args:
        output: what ``CUTSEncoder(x, anchors, positives)`` returned.
        lambda_contrastive: lambda in [0, 1] (1e-3 in the reference).
        temperature: the NT-Xent temperature.
    """
    reconstruction = reconstruction_loss(output.patch_recon, output.patch_real)
    contrastive = nt_xent_loss(output.z_anchors, output.z_positives, temperature)
    total = lambda_contrastive * contrastive + (1.0 - lambda_contrastive) * reconstruction
    return Losses(total, reconstruction, contrastive)
