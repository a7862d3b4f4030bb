"""cuts_ext: CUTS unsupervised multi-scale segmentation of medical images, with C++/CUDA kernels.

Public API:
    extract_patches(images, size=5, centers=None)  pixel-centred patches (2-D and 3-D)
    sample_pairs(images, n_anchors=8, ...)          anchor / positive pairs of CUTS stage 1
    condense(X, knn=30, n_pca=50, t="auto", ...)     diffusion condensation hierarchy of [N, C]
    build_info()                                    what was compiled in and what runs here
    CUTSEncoder(in_channels, num_kernels=16, ...)   the stage-1 encoder (torch module), 2-D / 3-D
    train(images, epochs=200, ...)                  stage-1 training (AdamW, DDP under torchrun)
    embed(model, images, tile=None)                 latent map of every pixel, tiled when large
    load_encoder(path)                              the encoder of a train() checkpoint
    ops.diffusion_step, ops.merge                   the low-level steps of condensation
"""

from . import ops
from .checkpoint import load_encoder
from .condense import CondensationResult, condense
from .embedding import Embedding, embed
from .encoder import CUTSEncoder
from .info import build_info
from .pairs import sample_pairs
from .patches import extract_patches
from .training import TrainResult, train

__version__ = build_info()["version"]

__all__ = ["CUTSEncoder", "CondensationResult", "Embedding", "TrainResult", "build_info",
           "condense", "embed", "extract_patches", "load_encoder", "ops", "sample_pairs", "train",
           "__version__"]
