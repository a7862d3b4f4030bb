"""Encoder checkpoints: one file holding the weights, the settings that rebuild the model, and
the training state that resumes it.

A checkpoint is a ``torch.save`` dictionary (read back with ``weights_only=True``, so loading
runs no pickled code) with:

    format    "cuts_ext.encoder"  (FORMAT), the marker that tells it from any other torch file
    version   1                   (VERSION)
    config    CUTSEncoder arguments: in_channels, num_kernels, patch_size, dims
    model     the best-validation weights (a state dict)
    epoch     epochs completed
    best      {"epoch", "loss"} of the kept weights
    history   one {"epoch", "lr", "reconstruction", "contrastive", "train", "val"} per epoch
    settings  the train() arguments that must not change on resume (seed, split, ...)
    resume    {"model", "optimizer", "scheduler"}: the latest state, to continue training

Writes are atomic: the file is written next to its destination under a temporary name,
flushed to disk, then renamed over it (``os.replace``), so a crash while saving leaves the
previous checkpoint in place, never a truncated one.
"""

from __future__ import annotations

import io
import os
import pickle
import uuid
from pathlib import Path
from typing import Any, Optional, Union

import torch

from .device import torch_device
from .model import CUTSEncoder

FORMAT = "cuts_ext.encoder"
VERSION = 1

PathLike = Union[str, "os.PathLike[str]"]


def save_checkpoint(path: PathLike, state: dict) -> None:
    """Writes `state` (which must hold the keys above) to `path` atomically; ValueError, and
    nothing written, when it holds no weights."""
    if not isinstance(state.get("model"), dict):
        raise ValueError(f"refusing to write checkpoint {str(path)!r} without weights (model is "
                         f"{type(state.get('model')).__name__})")
    path = Path(path)
    state = dict(state, format=FORMAT, version=VERSION)
    # Created as open(..., "w") would (0666 less the umask), not mkstemp's 0600: a model on a
    # shared file system is for the other users and services there too.
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            torch.save(state, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def encoder_bytes(model: CUTSEncoder) -> bytes:
    """`model`'s configuration and weights as the bytes of a checkpoint that `load_encoder`
    reads (without training history or resume state): what travels to the workers of a
    cluster instead of a pickled module."""
    state = dict(config=model.config, format=FORMAT, version=VERSION, epoch=None,
                 model={name: value.detach().cpu() for name, value in model.state_dict().items()})
    stream = io.BytesIO()
    torch.save(state, stream)
    return stream.getvalue()


def load_checkpoint(path: Union[PathLike, bytes]) -> dict:
    """The checkpoint dictionary at `path` (or in the bytes of one), tensors on the CPU.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the file is truncated or corrupt, is not a cuts_ext encoder checkpoint, or
            was written by a newer format version; the message says which.
    """
    if isinstance(path, (bytes, bytearray)):
        source: Any = io.BytesIO(path)
        path = Path("<checkpoint bytes>")
    else:
        path = source = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's message advises weights_only=False, which would run the file's code: a
        # cuts_ext checkpoint never needs it, so the advice is not passed on.
        raise ValueError(f"checkpoint {str(path)!r} is not a cuts_ext encoder checkpoint: it "
                         "is not a torch file of tensors (another format, or Python objects "
                         "that loading would have to execute)") from error
    except Exception as error:
        raise ValueError(f"checkpoint {str(path)!r} cannot be read as a cuts_ext encoder "
                         f"checkpoint (truncated, corrupt or not a torch file): {error}"
                         ) from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a cuts_ext encoder checkpoint (no "
                         f"format={FORMAT!r} marker); it may be another program's torch file")
    version = state.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ValueError(f"checkpoint {str(path)!r} has format version {version!r}; this "
                         f"cuts_ext reads versions up to {VERSION}: upgrade cuts_ext")
    missing = [key for key in ("config", "model", "epoch") if key not in state]
    if missing:
        raise ValueError(f"checkpoint {str(path)!r} lacks {', '.join(missing)}")
    return state


def load_encoder(path: Union[PathLike, bytes], device: Optional[Any] = None) -> CUTSEncoder:
    """The encoder stored at `path`, with its best-validation weights, in eval mode.

    Args:
        path: a file written by `cuts_ext.train` (or `save_checkpoint`), or the bytes of one
            (`encoder_bytes`).
        device: where to put the model (default: the CPU).

    Raises:
        FileNotFoundError, ValueError: as `load_checkpoint`; also ValueError for weights that do
            not fit the stored configuration (e.g. another num_kernels) or are not finite.
        RuntimeError: `device` asks for CUDA where torch cannot use a GPU.
    """
    device = torch_device(device) or torch.device("cpu")
    state = load_checkpoint(path)
    weights = state["model"]
    if not isinstance(weights, dict) or not all(isinstance(value, torch.Tensor)
                                                for value in weights.values()):
        raise ValueError(f"checkpoint {str(path)!r} holds no weights (model is "
                         f"{type(weights).__name__}); it may come from a diverged run")
    broken = [key for key, value in weights.items()
              if value.is_floating_point() and not bool(torch.isfinite(value).all())]
    if broken:
        raise ValueError(f"checkpoint {str(path)!r} holds non-finite weights (NaN or infinity) "
                         f"in {', '.join(broken[:3])}{' ...' if len(broken) > 3 else ''}; it "
                         "comes from a diverged run")
    try:
        model = CUTSEncoder(**state["config"])
        model.load_state_dict(weights)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"checkpoint {str(path)!r}: its weights do not fit its configuration "
                         f"{state['config']!r}: {' '.join(str(error).split())[:400]}") from error
    return model.to(device).eval()
