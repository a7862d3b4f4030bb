"""cuts_ext: CUTS unsupervised multi-scale segmentation of medical images, with C++/CUDA kernels.

Public API:
    extract_patches(images, size=5, centers=None)  pixel-centred patches (2-D and 3-D)
    sample_pairs(images, n_anchors=8, ...)          anchor / positive pairs of CUTS stage 1
    condense(X, knn=30, n_pca=50, t="auto", ...)     diffusion condensation hierarchy of [N, C]
    build_info()                                    what was compiled in and what runs here
    ops.diffusion_step, ops.merge                   the low-level steps of condensation
"""

from . import ops
from .condense import CondensationResult, condense
from .info import build_info
from .pairs import sample_pairs
from .patches import extract_patches

__version__ = build_info()["version"]

__all__ = ["CondensationResult", "build_info", "condense", "extract_patches", "ops",
           "sample_pairs", "__version__"]
