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
    MultiscaleSegmentation.from_condensation(result, shape)   label maps at every level, the
                                                    persistent map, the automatic level; .npz
    persistent_map(label_maps)                      persistent-structures map of [L, *spatial]
    auto_level(segmentation, method="default")      a label-free choice of one level
    io.read_image, io.resolve_inputs, io.write_outputs, ...   files in and out
    metrics.dice, metrics.hausdorff_distance, metrics.score_levels   scores against a mask
    figures.save_figure                             the overview figure of one input
    segment(images, model=None, masks=None, ...)    images in, multi-scale segmentations out
"""

import importlib
import sys

from . import _C, io
from ._missing import missing_dependency
from .condensation import ops
from .condensation.driver import CondensationResult, condense
from .encoder.pairs import sample_pairs
from .encoder.patches import extract_patches
from .info import build_info
from .io import figures
from .segmentation import metrics
from .segmentation.level_choice import auto_level
from .segmentation.multiscale import MultiscaleSegmentation
from .segmentation.persistence import persistent_map
from .segmentation.pipeline import SegmentedImage, segment

# The documented namespaces cuts_ext.ops, .metrics and .figures live in the subpackages of their
# stage; registered under their public names too, `import cuts_ext.metrics` and
# `from cuts_ext.ops import merge` keep working.
for _public, _module in (("ops", ops), ("metrics", metrics), ("figures", figures)):
    sys.modules[f"{__name__}.{_public}"] = _module
del _public, _module

# From the module itself: build_info() would query the CUDA driver, and forked worker processes
# (Dask, DataLoader) must not inherit an initialised one from an import.
__version__ = _C.__version__

# The stage-1 names need PyTorch, whose import costs seconds and hundreds of megabytes
# (python/bench/RESULTS.md): they are loaded on first use, so that condensation alone
# (`import cuts_ext; cuts_ext.condense(...)`) never pays it.
_NEEDS_TORCH = {"load_encoder": "encoder.checkpoint", "Embedding": "encoder.embedding",
                "embed": "encoder.embedding", "CUTSEncoder": "encoder.model",
                "TrainResult": "encoder.training", "train": "encoder.training"}


def __getattr__(name: str):
    if name not in _NEEDS_TORCH:
        raise AttributeError(f"module 'cuts_ext' has no attribute {name!r}")
    try:
        module = importlib.import_module(f".{_NEEDS_TORCH[name]}", __name__)
    except ModuleNotFoundError as error:
        missing = missing_dependency(error)
        if missing is None:
            raise
        raise ModuleNotFoundError(f"cuts_ext.{name}: {missing}", name=error.name) from error
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NEEDS_TORCH))

__all__ = ["CUTSEncoder", "CondensationResult", "Embedding", "MultiscaleSegmentation",
           "SegmentedImage", "TrainResult", "auto_level", "build_info", "condense", "embed",
           "extract_patches", "figures", "io", "load_encoder", "metrics", "ops",
           "persistent_map", "sample_pairs", "segment", "train", "__version__"]
