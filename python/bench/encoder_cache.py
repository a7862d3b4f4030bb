"""Trained encoders kept between benchmark runs (bench_quality --cache, bench_volume --cache)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional


def cached_encoder(path: Optional[Path], images: Any, device: Any = None, **train_options):
    """`cuts_ext.train(images, **train_options)`'s encoder; with a `path`, trained only when
    no file is there and kept there, else loaded (the same weights: train's checkpoint holds
    its best-validation weights, which is what it returns).

    train writes its checkpoint after every epoch, so it writes under another name until it is
    done: a stopped run leaves nothing that a later run would take for finished.
    """
    import cuts_ext

    if path is None:
        return cuts_ext.train(images, device=device, progress=False, **train_options).model
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        training = path.with_suffix(".training.pt")
        cuts_ext.train(images, device=device, progress=False, checkpoint=training,
                       **train_options)
        training.replace(path)
    return cuts_ext.load_encoder(path, device=device)
