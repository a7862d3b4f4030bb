"""The stage-1 losses against a direct NumPy computation of docs/method.md's formulas."""

import numpy as np
import pytest
import torch

import cuts_ext
from cuts_ext.encoder.model import EncoderOutput
from cuts_ext.encoder.losses import cuts_loss, nt_xent_loss, reconstruction_loss


def numpy_nt_xent(anchors, positives, temperature=0.5):
    losses = []
    for a, p in zip(anchors, positives):  # one image at a time, as the formula reads
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        p = p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)
        e = np.exp(a @ p.T / temperature)
        positive = np.trace(e)
        negative = e.sum() - positive
        losses.append(-np.log(positive / (negative + 1e-7) + 1e-7))
    return np.mean(losses)


@pytest.mark.parametrize("B,S,F", [(1, 2, 3), (3, 8, 16), (2, 5, 128)])
def test_nt_xent_equals_numpy(rng, B, S, F):
    anchors, positives = rng.standard_normal((2, B, S, F))
    ours = nt_xent_loss(torch.from_numpy(anchors), torch.from_numpy(positives))
    assert ours.item() == pytest.approx(numpy_nt_xent(anchors, positives), rel=1e-12)
    ours = nt_xent_loss(torch.from_numpy(anchors), torch.from_numpy(positives), temperature=0.1)
    assert ours.item() == pytest.approx(numpy_nt_xent(anchors, positives, 0.1), rel=1e-12)


def test_nt_xent_rewards_matching_pairs(rng):
    anchors = torch.from_numpy(rng.standard_normal((2, 8, 16)))
    assert nt_xent_loss(anchors, anchors) < nt_xent_loss(anchors, anchors.flip(1))


@pytest.mark.parametrize("lam", [0.0, 1e-3, 0.5, 1.0])
def test_mix_equals_numpy(rng, lam):
    B, S, C, P, F = 2, 4, 3, 5, 8
    real, recon = rng.standard_normal((2, B, S, C, P, P))
    anchors, positives = rng.standard_normal((2, B, S, F))
    output = EncoderOutput(None, *(torch.from_numpy(a) for a in (real, recon, anchors, positives)))
    losses = cuts_loss(output, lambda_contrastive=lam)
    mse = np.mean((recon - real) ** 2)
    contrastive = numpy_nt_xent(anchors, positives)
    assert losses.reconstruction.item() == pytest.approx(mse, rel=1e-12)
    assert losses.contrastive.item() == pytest.approx(contrastive, rel=1e-12)
    assert losses.total.item() == pytest.approx(lam * contrastive + (1 - lam) * mse, rel=1e-12)
    assert reconstruction_loss(output.patch_recon, output.patch_real).item() == pytest.approx(mse)


def test_losses_of_a_training_forward_have_gradients(rng):
    model = cuts_ext.CUTSEncoder(3, num_kernels=2, seed=0)
    x = torch.from_numpy(rng.uniform(-1, 1, (2, 3, 16, 16)).astype(np.float32))
    anchors, positives = cuts_ext.sample_pairs(x, seed=0)
    cuts_loss(model(x, anchors, positives), lambda_contrastive=0.5).total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
