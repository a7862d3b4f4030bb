"""The CUTS encoder (docs/method.md, "Stage 1: the encoder"): four convolutions to a per-pixel
latent vector, and the linear head that reconstructs each pixel's patch from its vector."""

from __future__ import annotations

import math
from typing import NamedTuple, Optional

import torch
from torch import nn

from .._checks import integer
from .patches import extract_patches

#: Convolutions in the encoder, and the half-width of each one's 5-wide kernel.
N_CONVS = 4
KERNEL_RADIUS = 2
#: How far (pixels per side) an output vector sees into the input: 4 convs x 2 px = 8.
RECEPTIVE_RADIUS = N_CONVS * KERNEL_RADIUS
# P, the side of the patch each pixel's latent vector reconstructs (the reference's).
PATCH_SIZE = 5


class EncoderOutput(NamedTuple):
    """What a training forward returns: the latent map and everything the two losses need.

    With B images, S anchors per image, F = 8 * num_kernels latent channels, C image channels,
    P the patch side and d = 2 or 3 spatial dimensions (all float32 unless the input was float64):

    Attributes:
        z: [B, F, *spatial] the latent map (None from a `windows` forward).
        patch_real: [B, S, C, P, P(, P)] the real patch around each anchor (no gradient).
        patch_recon: [B, S, C, P, P(, P)] the head's reconstruction of it from z at the anchor.
        z_anchors: [B, S, F] latent vectors at the anchors.
        z_positives: [B, S, F] latent vectors at the positives.
    """

    z: torch.Tensor
    patch_real: torch.Tensor
    patch_recon: torch.Tensor
    z_anchors: torch.Tensor
    z_positives: torch.Tensor


class CUTSEncoder(nn.Module):
    """The CUTS stage-1 encoder for images (dims=2) or volumes (dims=3).

    Four convolutions (kernel 5, stride 1, "same" size with replicate padding), each followed by
    batch norm and leaky ReLU, with channels in_channels -> k -> 2k -> 4k -> 8k (k =
    num_kernels): the latent map has 8k channels at the input's resolution, and
    z[b, :, i, j] describes the patch centred at (i, j). A linear head maps one latent vector to
    the P^d x C patch around its pixel.

    Inputs are expected with intensities scaled to [-1, 1] (the sampler's SSIM assumes a data
    range of 2); scaling is the caller's job.

    Args:
        in_channels: C, channels of the images.
        num_kernels: k (16 in the reference), so the latent size is 8k.
        patch_size: P, the reconstructed patch side (odd, >= 3; 5 in the reference).
        dims: 2 for [B, C, H, W] images, 3 for [B, C, D, H, W] volumes.
        seed: weights are drawn from a private generator seeded with it (PyTorch's default
            initialisation, uniform in +-1/sqrt(fan_in)); None draws from torch's global
            generator, as any torch module does.

    Raises:
        TypeError: an argument that is not an integer (numpy integers are).
        ValueError: one out of range, or an even patch_size.
    """

    def __init__(self, in_channels: int, num_kernels: int = 16, patch_size: int = PATCH_SIZE,
                 dims: int = 2, *, seed: Optional[int] = None):
        super().__init__()
        in_channels = integer(in_channels, "in_channels", minimum=1)
        num_kernels = integer(num_kernels, "num_kernels", minimum=1)
        patch_size = integer(patch_size, "patch_size", minimum=3)
        if patch_size % 2 == 0:
            raise ValueError(f"patch_size must be odd, got {patch_size}")
        dims = integer(dims, "dims", minimum=2, maximum=3)
        if seed is not None:
            seed = integer(seed, "seed")
        self.in_channels = in_channels
        self.num_kernels = num_kernels
        self.patch_size = patch_size
        self.dims = dims
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
        widths = [in_channels] + [num_kernels * 2 ** i for i in range(N_CONVS)]
        layers = []
        # Built on the meta device, so that construction consumes no global random numbers;
        # reset_parameters then draws the weights from the generator that `seed` asks for.
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [conv(c_in, c_out, 2 * KERNEL_RADIUS + 1, padding=KERNEL_RADIUS,
                            padding_mode="replicate", device="meta"),
                       norm(c_out, device="meta"), nn.LeakyReLU()]
        self.layers = nn.Sequential(*layers)
        self.recon = nn.Linear(widths[-1], in_channels * patch_size ** dims, device="meta")
        self.to_empty(device="cpu")
        self.reset_parameters(seed)

    @property
    def latent_channels(self) -> int:
        """F = 8 * num_kernels, the length of each pixel's latent vector."""
        return self.recon.in_features

    @property
    def config(self) -> dict:
        """The constructor arguments that rebuild this architecture (stored in checkpoints)."""
        return dict(in_channels=self.in_channels, num_kernels=self.num_kernels,
                    patch_size=self.patch_size, dims=self.dims)

    def reset_parameters(self, seed: Optional[int] = None) -> None:
        """PyTorch's default initialisation of every layer, from a private generator of `seed`."""
        generator = None
        if seed is not None:
            generator = torch.Generator().manual_seed(int(seed) % 2 ** 63)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Conv3d, nn.Linear)):
                # kaiming_uniform_(a=sqrt(5)) and the bias rule of torch both reduce to this bound.
                fan_in = module.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in)
                with torch.no_grad():
                    module.weight.uniform_(-bound, bound, generator=generator)
                    module.bias.uniform_(-bound, bound, generator=generator)
            elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
                module.reset_parameters()

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        """The latent map: [B, C, *spatial] -> [B, F, *spatial] (in channels-last memory order)."""
        # oneDNN and cuDNN convolve channels-last data faster (python/bench/RESULTS.md,
        # 2026-11-25); the shape and the values are the same.
        layout = torch.channels_last if self.dims == 2 else torch.channels_last_3d
        return self.layers(x.contiguous(memory_format=layout))

    def latent_at(self, x: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """The latent vectors of given pixels, computed from their receptive fields only.

        Each pixel's (2 * RECEPTIVE_RADIUS + 1)^d input window is gathered with
        `cuts_ext.extract_patches` (edges replicated, as the first convolution pads) and the
        convolutions run unpadded, shrinking it to 1 pixel. After every inner layer, positions
        that fall outside the image take the value at the nearest position inside it, which is
        what the full model's replicate padding of that layer's input holds there. So, with
        batch norm in eval mode, the result equals ``latent(x)`` at `coords` up to float
        rounding, at 1 / (H * W / K) of the cost. In training mode batch norm normalises with
        the statistics of these windows instead of those of every pixel.

        Args:
            x: [B, C, *spatial] float32.
            coords: [B, K, d] int64 pixel coordinates inside the image, on x's device.

        Returns:
            [B, K, F] latent vectors.
        """
        self._check_input(x)
        B, K, d = coords.shape
        radius = RECEPTIVE_RADIUS
        extent = x.shape[2:]
        x = x.detach()
        # extract_patches wants windows no larger than the image: pad a small image with its
        # edges (what extract_patches itself does beyond the border) and shift the centres.
        short = [max(0, -(-(2 * radius + 1 - n) // 2)) for n in extent]
        if any(short):
            pad = [p for s in reversed(short) for p in (s, s)]
            x = nn.functional.pad(x, pad, mode="replicate")
            coords = coords + torch.tensor(short, device=coords.device)
        windows = extract_patches(x, size=2 * radius + 1, centers=coords)
        h = windows.reshape((B * K, self.in_channels) + windows.shape[3:])
        centres = (coords - torch.tensor(short, device=coords.device)).reshape(B * K, d)
        convolve = nn.functional.conv2d if self.dims == 2 else nn.functional.conv3d
        for layer in range(N_CONVS):
            conv, norm, activation = self.layers[3 * layer:3 * layer + 3]
            h = activation(norm(convolve(h, conv.weight, conv.bias)))
            radius -= KERNEL_RADIUS
            if radius > 0:
                h = _replicate_outside(h, centres, extent, radius)
        return h.reshape(B, K, -1)

    def reconstruct_centres(self, z: torch.Tensor) -> torch.Tensor:
        """The centre pixel of every pixel's reconstructed patch: [B, F, *spatial] -> [B, C, *spatial].

        Only the head's rows that produce the patch centre are applied (a 1x1 convolution), which
        equals reconstructing each full patch and keeping its centre.
        """
        C, volume = self.in_channels, self.patch_size ** self.dims
        centre = volume // 2  # row-major index of the centre of a P^d patch
        weight = self.recon.weight.view(C, volume, -1)[:, centre]  # [C, F]
        bias = self.recon.bias.view(C, volume)[:, centre]
        out = torch.einsum("cf,bf...->bc...", weight, z)
        return out + bias.view((1, C) + (1,) * self.dims)

    def forward(self, x: torch.Tensor, anchors: Optional[torch.Tensor] = None,
                positives: Optional[torch.Tensor] = None, windows: bool = False):
        """The latent map, or with pairs, everything the training losses need.

        Args:
            x: [B, C, H, W] (dims=2) or [B, C, D, H, W] (dims=3), float32, in [-1, 1].
            anchors, positives: optional [B, S, d] int64 coordinates on x's device, as
                `cuts_ext.sample_pairs` returns them; both or neither. Each anchor's whole
                P^d patch must lie inside the image.
            windows: with pairs, compute only the anchors' and positives' latent vectors, from
                their receptive fields (`latent_at`); the output's z is then None.

        Returns:
            Without pairs: z, [B, F, *spatial]. With pairs: an `EncoderOutput`.
        """
        self._check_input(x)
        if anchors is None and positives is None:
            return self.latent(x)
        if anchors is None or positives is None:
            raise ValueError("anchors and positives must be given together")
        B = x.shape[0]
        if anchors.shape != positives.shape or anchors.dim() != 3 or anchors.shape[0] != B \
                or anchors.shape[2] != self.dims:
            raise ValueError(f"anchors and positives must both be [{B}, S, {self.dims}], got "
                             f"{list(anchors.shape)} and {list(positives.shape)}")
        if windows:
            z = None
            z_anchors, z_positives = self.latent_at(x, torch.cat([anchors, positives], 1)).chunk(2, 1)
        else:
            z = self.latent(x)
            # Channels last, so one advanced index per spatial axis picks [B, S, F] at once.
            z_last = z.movedim(1, -1)
            batch = torch.arange(B, device=z.device).unsqueeze(1)
            z_anchors = z_last[(batch,) + tuple(anchors.unbind(-1))]
            z_positives = z_last[(batch,) + tuple(positives.unbind(-1))]
        patch_real = extract_patches(x.detach(), size=self.patch_size, centers=anchors)
        patch_recon = self.recon(z_anchors).view(patch_real.shape)
        return EncoderOutput(z, patch_real, patch_recon, z_anchors, z_positives)

    def _check_input(self, x: torch.Tensor) -> None:
        expected = "[B, C, H, W]" if self.dims == 2 else "[B, C, D, H, W]"
        if x.dim() != self.dims + 2:
            raise ValueError(f"images must be {expected} (rank {self.dims + 2}) for a "
                             f"{self.dims}-D encoder, got shape {list(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"images have {x.shape[1]} channels but the encoder was trained on "
                             f"in_channels={self.in_channels}")


def _replicate_outside(h: torch.Tensor, centres: torch.Tensor, extent: tuple,
                       radius: int) -> torch.Tensor:
    """Windows [N, F, s, ..., s] (s = 2 * radius + 1) centred at `centres` [N, d] of an image
    of spatial `extent`: every position outside the image takes the value of the nearest one
    inside, axis by axis.

    Done as a product with one-hot selection matrices rather than a gather: the identity rows
    of interior windows leave values bit-exact, and matmul's backward is deterministic on CUDA,
    where a scatter-add is not.
    """
    side = 2 * radius + 1
    offsets = torch.arange(-radius, radius + 1, device=h.device)
    positions = torch.arange(side, device=h.device)
    d = len(extent)
    for axis, n in enumerate(extent):
        c = centres[:, axis:axis + 1]
        source = (c + offsets).clamp(0, n - 1) - (c - radius)                   # [N, s]
        select = (source.unsqueeze(-1) == positions).to(h.dtype)               # [N, s, s]
        select = select.transpose(1, 2).reshape((-1, 1) + (1,) * (d - 2) + (side, side))
        h = torch.matmul(h.movedim(2 + axis, -1), select).movedim(-1, 2 + axis)
    return h
