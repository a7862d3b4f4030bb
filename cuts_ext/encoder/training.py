"""train(): CUTS stage 1 (docs/method.md, "Stage 1: the encoder") on one device or, under
``torchrun``, on several processes with PyTorch's DistributedDataParallel.

Every training step is: a batch of images (randomly cropped when large) -> pairs from
`cuts_ext.sample_pairs` on the batch's device -> one `CUTSEncoder` training forward (the whole
latent map, or with step="windows" only the sampled pixels' receptive fields; gathers through
`cuts_ext.extract_patches` and tensor indexing) -> the mixed loss -> AdamW. Nothing in the step
loops over samples in Python or copies to the host; losses are read back once per epoch.
"""

from __future__ import annotations

import functools
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .._arrays import host_array
from .._checks import choice, integer, real
from .._progress import progress_bar
from .checkpoint import PathLike, load_checkpoint, save_checkpoint
from .device import default_device, torch_device
from .losses import cuts_loss
from .model import PATCH_SIZE, CUTSEncoder
from .pairs import sample_pairs

#: Spatial side beyond which training takes random crops, when `crop` is not given.
DEFAULT_CROP = {2: 256, 3: 64}
#: Reference warm-up length; shortened to epochs // 20 for short runs.
REFERENCE_WARMUP_EPOCHS = 10

# Purposes of derived seeds: each random choice of a run has its own stream.
_INIT, _SPLIT, _SHUFFLE, _CROP, _PAIRS, _VAL_CROP, _VAL_PAIRS = range(7)


@dataclass
class TrainResult:
    """What `train` returns.

    Attributes:
        model: the encoder with the best-validation weights, in eval mode, on the training
            device (unwrapped from DistributedDataParallel).
        history: one dict per epoch: epoch, lr, reconstruction, contrastive, train (the mixed
            training loss), val (the mixed validation loss, None without a validation set).
        best_epoch: the epoch (0-based) whose weights `model` holds.
        best_loss: its validation loss (training loss when there is no validation set).
    """

    model: CUTSEncoder
    history: list = field(default_factory=list)
    best_epoch: int = -1
    best_loss: float = math.inf


def train(images: Any, *, epochs: int = 200, batch_size: int = 16, lr: float = 1e-3,
          weight_decay: float = 1e-4, lambda_contrastive: float = 1e-3,
          val_fraction: float = 0.3, seed: int = 0, device: Any = None,
          checkpoint: Optional[PathLike] = None, resume: bool = False, num_kernels: int = 16,
          patch_size: int = PATCH_SIZE, n_anchors: int = 8,
          crop: Union[int, Sequence[int], None] = None, warmup_epochs: Optional[int] = None,
          step: str = "full", progress: bool = True,
          deterministic: bool = True) -> TrainResult:
    """Trains a `CUTSEncoder` without labels (CUTS stage 1).

    The reference recipe by default: AdamW (lr 1e-3, weight decay 1e-4), a linear warm-up of
    10 epochs then cosine annealing to 0 over 200 epochs, batch 16, 8 anchors per image,
    lambda 1e-3, a 70/30 train / validation split; the weights with the lowest validation loss
    are kept.

    Distributed: started under ``torchrun --nproc_per_node N`` (WORLD_SIZE > 1 in the
    environment), the call joins the process group (gloo on the CPU, NCCL on CUDA; or uses one
    the caller already initialised), wraps the model in DistributedDataParallel and gives each
    process 1 / N of every epoch's images; `batch_size` is per process. Batch-norm running
    statistics are averaged over the processes after every epoch, so all ranks end with
    identical weights; only rank 0 writes the checkpoint and shows progress.

    Determinism: every random choice (initial weights, split, order, crops, pairs) comes from a
    private stream derived from `seed`, the epoch and the step, never from global random state,
    so the same seed on the same device and world size gives the same weights, and a resumed
    run equals an uninterrupted one. With `deterministic` (default) the call switches on
    ``torch.use_deterministic_algorithms`` and cuDNN's deterministic mode for its duration and
    restores the previous settings on return (on CUDA it also sets
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` when unset, which cuBLAS needs for repeatable results).

    Args:
        images: [B, C, H, W] images or [B, C, D, H, W] volumes (numpy or torch, float, finite,
            intensities scaled to [-1, 1] by the caller), or a dataset: any object with
            ``__len__`` and ``__getitem__`` returning a [C, *spatial] array (or a tuple whose
            first element is one).
        epochs: total epochs of the run (a resumed run continues up to this).
        batch_size: images per step and process.
        lr, weight_decay: AdamW's.
        lambda_contrastive: weight of the contrastive loss, in [0, 1].
        val_fraction: share of the images held out for validation, in [0, 1); at least one
            image is held out when it is > 0 and there are two or more images.
        seed: any integer.
        device: torch device; default CUDA when cuts_ext and torch can use it, else the CPU.
        checkpoint: file to write after every epoch (atomically): best weights, settings and
            the state to resume from. None keeps everything in memory.
        resume: continue from `checkpoint` when that file exists (it must come from a run with
            the same data and settings: seed, split, batch, anchors, crop, step); otherwise
            start afresh and overwrite it.
        num_kernels, patch_size: the encoder's k and P.
        n_anchors: anchors per image and step (S).
        crop: spatial crop side (int, or one per axis) for training on random crops; images
            no larger are used whole. Default: 256 for images, 64 for volumes. A batch that
            holds smaller images of different sizes is cropped to its smallest extent along
            each axis.
        warmup_epochs: linear warm-up length; default min(10, epochs // 20), i.e. the
            reference's 10 at 200 epochs and proportionally shorter for short runs.
        step: "full" (the reference): each step computes the latent map of the whole batch and
            batch norm normalises over every pixel. "windows": each step computes only the
            anchors' and positives' latent vectors from their 17-pixel receptive fields
            (`CUTSEncoder.latent_at`): the same vectors the full map holds at those pixels,
            at about 1 % of the arithmetic for 128 x 128 images, but batch norm's training
            statistics then come from those windows rather than from every pixel, so the
            optimisation differs from the reference. Validation always uses the windows (in
            eval mode both give the same vectors).
        progress: show a tqdm progress bar (epochs, with the losses).
        deterministic: see above.

    Returns:
        A `TrainResult`.

    Raises:
        ValueError: images of the wrong rank, non-float or non-finite images, images under
            patch_size pixels along an axis, an invalid setting, a checkpoint that is not a
            cuts_ext checkpoint, or one made for other images / settings when resuming.
        TypeError: images that are neither an array nor a dataset (None, a number); a count
            (epochs, batch_size, crop, ...) that is not an integer, a rate that is not a real
            number.
        RuntimeError: device asks for CUDA where torch cannot use a GPU; the run diverged
            (a NaN or infinite loss or weight after an epoch: the error names the epoch, and
            the checkpoint keeps the last finite epoch's state, never a diverged one).
    """
    _check_settings(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                    lambda_contrastive=lambda_contrastive, val_fraction=val_fraction,
                    n_anchors=n_anchors, seed=seed, num_kernels=num_kernels)
    choice(step, "step", ("full", "windows"))
    device = torch_device(device)
    source = _ImageSource(images, integer(patch_size, "patch_size", minimum=1))
    crop_shape = _crop_shape(crop, source.dims, patch_size)
    warmup = (min(REFERENCE_WARMUP_EPOCHS, epochs // 20) if warmup_epochs is None
              else integer(warmup_epochs, "warmup_epochs", minimum=0))
    settings = dict(seed=int(seed), n_images=len(source), val_fraction=float(val_fraction),
                    batch_size=batch_size, n_anchors=n_anchors, crop=list(crop_shape), step=step)
    with _process_group(device) as (rank, world, device), \
            _deterministic_algorithms(deterministic, device):
        run = _Run(source, settings, device, rank, world, lambda_contrastive, step == "windows")
        model = CUTSEncoder(source.channels, num_kernels, patch_size, source.dims,
                            seed=_derive_seed(seed, _INIT)).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, functools.partial(lr_factor, epochs=epochs, warmup=warmup))
        result = TrainResult(model)
        best_weights = None
        start = 0
        if resume and checkpoint is not None and os.path.exists(checkpoint):
            state = load_checkpoint(checkpoint)
            _check_resumable(state, model, settings, checkpoint)
            model.load_state_dict(state["resume"]["model"])
            optimizer.load_state_dict(state["resume"]["optimizer"])
            scheduler.load_state_dict(state["resume"]["scheduler"])
            start = state["epoch"]
            result.history = list(state["history"])
            result.best_epoch, result.best_loss = state["best"]["epoch"], state["best"]["loss"]
            best_weights = state["model"]
        trainer = model
        if world > 1:
            trainer = DistributedDataParallel(model, device_ids=[device.index]
                                              if device.type == "cuda" else None)
        bar = _progress_bar(start, epochs, progress and rank == 0)
        for epoch in bar:
            record = run.epoch(trainer, model, optimizer, epoch)
            _require_finite(record, model, result.best_epoch)
            scheduler.step()
            result.history.append(record)
            score = record["val"] if record["val"] is not None else record["train"]
            if score < result.best_loss:
                result.best_epoch, result.best_loss = epoch, score
                best_weights = _cpu_state(model)
            # Shown at the bar's next redraw: forcing one per epoch would defeat the bar's
            # redraw interval in a log (_progress.py).
            bar.set_postfix({"recon": f"{record['reconstruction']:.4g}",
                             "contr": f"{record['contrastive']:.4g}",
                             "val": "-" if record["val"] is None else f"{record['val']:.4g}"},
                            refresh=False)
            if checkpoint is not None and rank == 0:
                save_checkpoint(checkpoint, dict(
                    config=model.config, model=best_weights, epoch=epoch + 1,
                    best=dict(epoch=result.best_epoch, loss=result.best_loss),
                    history=result.history, settings=settings,
                    resume=dict(model=_cpu_state(model), optimizer=optimizer.state_dict(),
                                scheduler=scheduler.state_dict())))
        bar.close()
        if world > 1 and checkpoint is not None:
            # Only rank 0 writes: the others return once the final file exists, so a script
            # that trains and then loads the checkpoint reads the same model on every rank.
            dist.barrier()
        if best_weights is not None:
            model.load_state_dict(best_weights)
        result.model = model.eval()
        return result


def _require_finite(record: dict, model: CUTSEncoder, best_epoch: int) -> None:
    """RuntimeError when an epoch's losses or the weights after it are NaN or infinite: the run
    has diverged and no later epoch can recover (nothing of the epoch is kept or written)."""
    losses = {key: record[key] for key in ("reconstruction", "contrastive", "val")
              if record[key] is not None}
    finite_weights = bool(torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all())
    if finite_weights and all(math.isfinite(value) for value in losses.values()):
        return
    shown = ", ".join(f"{key} {value:.4g}" for key, value in losses.items())
    kept = (f"the weights of epoch {best_epoch} are the last good ones (and what the checkpoint "
            "holds)" if best_epoch >= 0 else "no epoch produced usable weights")
    raise RuntimeError(
        f"training diverged in epoch {record['epoch']} (losses: {shown}; weights "
        f"{'finite' if finite_weights else 'not finite'}) at lr {record['lr']:.3g}; {kept}. "
        "Lower lr, or check that the images are scaled to [-1, 1]")


def lr_factor(epoch: int, *, epochs: int, warmup: int) -> float:
    """The learning-rate multiplier of `epoch` (0-based): linear warm-up, then cosine to 0.

    Epochs 0 .. warmup-1 ramp up as (epoch + 1) / (warmup + 1), so that no epoch runs at lr 0;
    from `warmup` on, 0.5 * (1 + cos(pi * (epoch - warmup) / (epochs - warmup))).
    """
    if epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    return 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / max(1, epochs - warmup)))


class _Run:
    """The per-epoch work of one process: its share of the split, the steps, the validation."""

    def __init__(self, source: "_ImageSource", settings: dict, device: torch.device, rank: int,
                 world: int, lambda_contrastive: float, windows: bool):
        self.source, self.device, self.rank, self.world = source, device, rank, world
        self.windows = windows
        self.seed = settings["seed"]
        self.batch_size = settings["batch_size"]
        self.n_anchors = settings["n_anchors"]
        self.crop = tuple(settings["crop"])
        self.lambda_contrastive = lambda_contrastive
        n = len(source)
        n_val = 0
        if settings["val_fraction"] > 0 and n >= 2:
            n_val = min(n - 1, max(1, round(settings["val_fraction"] * n)))
        order = torch.randperm(n, generator=_generator(self.seed, _SPLIT))
        self.val_indices = order[:n_val]
        self.train_indices = order[n_val:]

    def epoch(self, trainer: torch.nn.Module, model: CUTSEncoder,
              optimizer: torch.optim.Optimizer, epoch: int) -> dict:
        """One epoch of training then validation; the losses, averaged over all processes."""
        model.train()
        shuffled = self.train_indices[torch.randperm(len(self.train_indices),
                                                     generator=_generator(self.seed, _SHUFFLE, epoch))]
        crops = _generator(self.seed, _CROP, epoch, self.rank)
        sums = torch.zeros(3, dtype=torch.float64, device=self.device)
        for step, indices in enumerate(self._batches(self._shard(shuffled, pad=True))):
            x = self.source.batch(indices, self.crop, crops, self.device)
            anchors, positives = sample_pairs(
                x, n_anchors=self.n_anchors, size=model.patch_size,
                seed=_derive_seed(self.seed, _PAIRS, epoch, step, self.rank))
            losses = cuts_loss(trainer(x, anchors, positives, windows=self.windows),
                               self.lambda_contrastive)
            optimizer.zero_grad(set_to_none=True)
            losses.total.backward()
            optimizer.step()
            sums += self._loss_sums(losses, len(indices))
        reconstruction, contrastive = self._means(sums)
        if self.world > 1:
            _average_buffers(model, self.world)
        return dict(epoch=epoch, lr=optimizer.param_groups[0]["lr"],
                    reconstruction=reconstruction, contrastive=contrastive,
                    train=self._mix(reconstruction, contrastive), val=self.validate(model))

    @torch.no_grad()
    def validate(self, model: CUTSEncoder) -> Optional[float]:
        """The mixed loss over the validation images in eval mode, or None when there are none.

        Crops and pairs depend only on the seed and the batch, so every epoch is scored on the
        same samples and the scores are comparable.
        """
        if len(self.val_indices) == 0:
            return None
        model.eval()
        sums = torch.zeros(3, dtype=torch.float64, device=self.device)
        for first, indices in self._batches(self._shard(self.val_indices, pad=False), True):
            crops = _generator(self.seed, _VAL_CROP, first)
            x = self.source.batch(indices, self.crop, crops, self.device)
            anchors, positives = sample_pairs(x, n_anchors=self.n_anchors, size=model.patch_size,
                                              seed=_derive_seed(self.seed, _VAL_PAIRS, first))
            losses = cuts_loss(model(x, anchors, positives, windows=True),
                               self.lambda_contrastive)
            sums += self._loss_sums(losses, len(indices))
        return self._mix(*self._means(sums))

    def _loss_sums(self, losses: Any, n: int) -> torch.Tensor:
        """float64 [3]: a batch of n images' share of the epoch's means (each loss times n, n)."""
        return torch.stack([losses.reconstruction.detach() * n, losses.contrastive.detach() * n,
                            torch.tensor(float(n), device=self.device)])

    def _means(self, sums: torch.Tensor) -> Tuple[float, float]:
        """(reconstruction, contrastive) averaged over the images of every process."""
        if self.world > 1:
            dist.all_reduce(sums)
        reconstruction, contrastive = (sums[:2] / sums[2]).tolist()
        return reconstruction, contrastive

    def _mix(self, reconstruction: float, contrastive: float) -> float:
        return self.lambda_contrastive * contrastive + (1 - self.lambda_contrastive) * reconstruction

    def _shard(self, indices: torch.Tensor, pad: bool) -> torch.Tensor:
        """This process's share. Padded (cyclically, as DistributedSampler does) for training,
        so that every process runs the same number of equally sized steps, which DDP's
        collective gradient averaging needs."""
        if self.world == 1:
            return indices
        if pad:
            total = -(-len(indices) // self.world) * self.world
            indices = indices.repeat(-(-total // len(indices)))[:total]
        return indices[self.rank::self.world]

    def _batches(self, indices: torch.Tensor, with_position: bool = False) -> Iterator:
        for first in range(0, len(indices), self.batch_size):
            batch = indices[first:first + self.batch_size].tolist()
            # A validation batch is identified by its first image, whatever the sharding.
            yield (batch[0], batch) if with_position else batch


class _ImageSource:
    """The training images: an in-memory [N, C, *spatial] tensor or a dataset of [C, *spatial]
    items, read a batch at a time, each at least `min_extent` pixels along every spatial axis
    (the patch size: pairs are sampled with whole patches inside the image)."""

    def __init__(self, images: Any, min_extent: int):
        self.array: Optional[torch.Tensor] = None
        self.dataset = None
        self.min_extent = min_extent
        if _is_array(images):
            self.array = _as_float_tensor(images, "images")
            if self.array.dim() not in (4, 5):
                raise ValueError("images must be [B, C, H, W] or [B, C, D, H, W] (rank 4 or 5), "
                                 f"got shape {list(self.array.shape)}")
            if self.array.shape[0] == 0:
                raise ValueError("images holds no image (B = 0)")
            _check_finite(self.array, "images")
            self._check_extent(self.array.shape[2:], "images")
            self.channels, self.dims = int(self.array.shape[1]), self.array.dim() - 2
        elif hasattr(images, "__len__") and hasattr(images, "__getitem__"):
            self.dataset = images
            if len(images) == 0:
                raise ValueError("images (a dataset) is empty")
            self.channels = self.dims = None
            first = self._item(0)
            self.channels, self.dims = int(first.shape[0]), first.dim() - 1
        else:
            raise TypeError("images must be an array [B, C, *spatial] or a dataset of "
                            f"[C, *spatial] arrays, got {type(images).__name__}")

    def __len__(self) -> int:
        return int(self.array.shape[0]) if self.array is not None else len(self.dataset)

    def batch(self, indices: list, crop: tuple, generator: torch.Generator,
              device: torch.device) -> torch.Tensor:
        """[len(indices), C, *window] float32 on `device`, each image cropped at a random
        offset drawn from `generator`; window = min(crop, the batch's smallest extent) per
        axis, so that images of different sizes (smaller than crop) still form one batch."""
        items = [self.array[index] if self.array is not None else self._item(index)
                 for index in indices]
        window = [min([c] + [item.shape[1 + axis] for item in items])
                  for axis, c in enumerate(crop)]
        crops = []
        for item in items:
            starts = [int(torch.randint(n - w + 1, (), generator=generator))
                      for w, n in zip(window, item.shape[1:])]
            crops.append(item[(slice(None),) + tuple(slice(s, s + w)
                                                     for s, w in zip(starts, window))])
        return torch.stack(crops).to(device, non_blocking=True)

    def _item(self, index: int) -> torch.Tensor:
        item = self.dataset[index]
        if isinstance(item, (tuple, list)):
            item = item[0]
        item = _as_float_tensor(item, f"images[{index}]")
        if item.dim() not in (3, 4):
            raise ValueError(f"images[{index}] must be [C, H, W] or [C, D, H, W] (rank 3 or 4), "
                             f"got shape {list(item.shape)}")
        if self.channels is not None and (item.shape[0] != self.channels
                                          or item.dim() - 1 != self.dims):
            raise ValueError(f"images[{index}] has shape {list(item.shape)}, unlike the first "
                             f"item's {self.channels} channels and {self.dims} spatial axes")
        _check_finite(item, f"images[{index}]")
        self._check_extent(item.shape[1:], f"images[{index}]")
        return item

    def _check_extent(self, spatial: Any, name: str) -> None:
        if min(spatial) < self.min_extent:
            raise ValueError(f"{name} must be at least patch_size = {self.min_extent} pixels "
                             f"along every spatial axis to train on, got spatial shape "
                             f"{list(spatial)}")


def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, torch.Tensor)) or hasattr(x, "__array__") \
        or hasattr(x, "__dlpack__")


def _as_float_tensor(x: Any, name: str) -> torch.Tensor:
    """A float32 torch tensor of `x` (torch tensors keep their device)."""
    if not isinstance(x, torch.Tensor):
        x = torch.from_numpy(host_array(x, name))
    if not x.is_floating_point():
        raise ValueError(f"{name} must be floating point with intensities scaled to [-1, 1], "
                         f"got {x.dtype}")
    return x.to(torch.float32)


def _check_finite(x: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains non-finite values (NaN or infinity)")


def _check_settings(**values: Any) -> None:
    integer(values["epochs"], "epochs", minimum=1)
    integer(values["batch_size"], "batch_size", minimum=1)
    integer(values["n_anchors"], "n_anchors", minimum=1)
    integer(values["num_kernels"], "num_kernels", minimum=1)
    integer(values["seed"], "seed")
    real(values["lr"], "lr", minimum=0, above=True)
    real(values["weight_decay"], "weight_decay", minimum=0)
    real(values["lambda_contrastive"], "lambda_contrastive", minimum=0, maximum=1)
    real(values["val_fraction"], "val_fraction", minimum=0, maximum=1, below=True)


def _crop_shape(crop: Union[int, Sequence[int], None], dims: int, patch_size: int) -> tuple:
    if crop is None:
        crop = DEFAULT_CROP[dims]
    if isinstance(crop, (int, np.integer, float)):
        sides = (crop,) * dims
    else:
        sides = tuple(crop) if isinstance(crop, (tuple, list)) else ()
    if len(sides) != dims:
        raise ValueError(f"crop must be an integer or {dims} integers, each >= patch_size "
                         f"({patch_size}), got {crop!r}")
    return tuple(integer(s, "crop", minimum=patch_size) for s in sides)


def _check_resumable(state: dict, model: CUTSEncoder, settings: dict, path: PathLike) -> None:
    if state["config"] != model.config:
        saved, asked = state["config"], model.config
        if saved.get("in_channels") != asked["in_channels"]:
            raise ValueError(f"images have {asked['in_channels']} channels but checkpoint "
                             f"{str(path)!r} was trained on in_channels="
                             f"{saved.get('in_channels')}")
        raise ValueError(f"checkpoint {str(path)!r} holds an encoder {saved}, not the "
                         f"{asked} this call asks for")
    if "resume" not in state or "settings" not in state:
        raise ValueError(f"checkpoint {str(path)!r} holds no training state to resume from")
    # Keys a checkpoint does not record (its version predates them) are not compared.
    saved = state["settings"]
    changed = [f"{key} ({saved[key]!r} -> {value!r})"
               for key, value in settings.items() if key in saved and saved[key] != value]
    if changed:
        raise ValueError(f"cannot resume from {str(path)!r}: the training settings differ: "
                         f"{', '.join(changed)}")


def _derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed for one purpose (and epoch, step, rank ...) of a run with `seed`."""
    sequence = np.random.SeedSequence([int(seed) % 2 ** 64, *keys])
    return int(sequence.generate_state(1, np.uint64)[0]) % 2 ** 63


def _generator(seed: int, *keys: int) -> torch.Generator:
    return torch.Generator().manual_seed(_derive_seed(seed, *keys))


def _cpu_state(model: torch.nn.Module) -> dict:
    return {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}


def _average_buffers(model: torch.nn.Module, world: int) -> None:
    """Averages the batch-norm running statistics over the processes.

    DDP broadcasts rank 0's buffers at each forward, but the last forward of an epoch updates
    each rank's own copy; averaging makes the ranks agree again, from a larger sample."""
    for buffer in model.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer)
            buffer /= world


@contextmanager
def _process_group(device: Any) -> Iterator[tuple]:
    """(rank, world size, device) of this process; joins the torchrun process group when
    WORLD_SIZE > 1 and none is initialised yet (and leaves it on exit)."""
    device = device if device is not None else default_device()
    joined = False
    if not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        joined = True
    try:
        rank = dist.get_rank() if dist.is_initialized() else 0
        world = dist.get_world_size() if dist.is_initialized() else 1
        if device.type == "cuda" and device.index is None:
            # One GPU per process: torchrun's LOCAL_RANK picks it.
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) if world > 1
                                  else torch.cuda.current_device())
        yield rank, world, device
    finally:
        if joined:
            dist.destroy_process_group()


@contextmanager
def _deterministic_algorithms(enabled: bool, device: torch.device) -> Iterator[None]:
    """Deterministic kernels for the duration of the block (the previous settings restored)."""
    if not enabled:
        yield
        return
    previous = (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = previous[2:]


def _progress_bar(start: int, epochs: int, enabled: bool) -> Any:
    return progress_bar(range(start, epochs), enabled=enabled, initial=start, total=epochs,
                        desc="cuts_ext.train", unit="epoch", dynamic_ncols=True)
