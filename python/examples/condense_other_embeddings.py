"""Diffusion condensation of embeddings that came from another model.

Any [N, C] array works (numpy, torch CPU or CUDA, cupy): here, per-pixel features of a
torchvision-free stand-in (a fixed random convolution of scikit-image's astronaut photograph),
condensed into a coarse-to-fine hierarchy and shown as label maps.

    python python/examples/condense_other_embeddings.py
"""

import numpy as np
import torch
from skimage.data import astronaut
from skimage.transform import resize

import cuts_ext


def features(side: int = 96, channels: int = 32) -> torch.Tensor:
    """[side * side, channels]: your model's per-pixel embedding goes here."""
    image = resize(astronaut(), (side, side), anti_aliasing=True).astype(np.float32)
    x = torch.from_numpy(image).permute(2, 0, 1)[None] * 2 - 1
    conv = torch.nn.Conv2d(3, channels, 7, padding=3, padding_mode="replicate")
    torch.nn.init.normal_(conv.weight, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        z = torch.tanh(conv(x))[0]
    return z.reshape(channels, -1).T.contiguous()


def main() -> None:
    side = 96
    result = cuts_ext.condense(features(side))     # torch in, torch hierarchy out
    print(f"{result.n_iterations} iterations, levels {result.levels}")
    for position in (0, len(result.levels) // 2, -1):
        labels = result.label_map((side, side), level=position)
        print(f"level {position}: {int(labels.max()) + 1} clusters")
    centroids = result.centroids(level=-1)          # [k, C] mean embedding of each cluster
    print("coarsest level centroids:", centroids.shape)


if __name__ == "__main__":
    main()
