"""Benchmark one CUTS training step and embed, cuts_ext against the authors' step written plainly.

What is compared (in one run, on the same 16 x 3 x 128 x 128 batch, 8 anchors per image, the
same initial weights):

* "step, full": cuts_ext's training step as ``cuts_ext.train(step="full")`` runs it:
  ``sample_pairs`` on the batch's device, one encoder forward over the whole batch, the anchor
  patches through ``extract_patches`` and the latent vectors by tensor indexing, the batched
  losses, backward, AdamW.
* "step, windows": the same with ``step="windows"``: only the receptive fields of the sampled
  pixels go through the encoder (``CUTSEncoder.latent_at``).
* "pairs + gathers + losses": the part of the step that the issue moves into the kernels,
  alone: everything of the full step except the encoder convolutions (the latent map is a
  precomputed leaf tensor; backward stops there).
* baseline, for each: the authors' step re-implemented plainly: the same encoder convolutions,
  then the pair sampler with Python loops, ``random.randrange`` and scikit-image's SSIM on
  host copies of the patches (bench_patches.plain_sample_pairs), the anchor patches and the
  latent vectors gathered in Python loops over images and samples, NT-Xent in a loop over
  images, backward, AdamW.
* "embed": images per second of ``cuts_ext.embed`` on the batch (whole images, and in 64-pixel
  tiles), no baseline.

Before timing, the cuts_ext and the plain gathers and losses are checked equal on the same
pairs. Steps are timed alternately (cuts_ext, baseline, ...) so both see the same machine load;
the median is reported. ratio = baseline / cuts_ext (> 1: cuts_ext faster).

Run from the repository root::

    python python/bench/bench_train.py                 # CPU (and CUDA when usable)
    python python/bench/bench_train.py --device cuda
    python python/bench/bench_train.py --quick         # one timed round
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import cuts_ext
from cuts_ext.encoder.losses import cuts_loss

HERE = Path(__file__).resolve().parent
BATCH, SIDE, ANCHORS, PATCH, SEED = 16, 128, 8, 5, 1234
RETINA = HERE.parents[2] / "shared" / "data" / "retina" / "images"


def load_bench_patches() -> Any:
    """bench_patches.py, for its plain sampler, timing helpers and test images."""
    spec = importlib.util.spec_from_file_location("bench_patches", HERE / "bench_patches.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bp = load_bench_patches()


def images_batch() -> tuple[np.ndarray, str]:
    """[16, 3, 128, 128] float32 in [-1, 1]: the shared retina images when present, otherwise
    crops of scikit-image's retina photograph."""
    files = sorted(RETINA.glob("*.png"))[:BATCH] if RETINA.is_dir() else []
    if len(files) == BATCH:
        from skimage.io import imread
        stack = np.stack([imread(f)[..., :3] for f in files]).astype(np.float32) / 127.5 - 1
        return np.ascontiguousarray(np.moveaxis(stack, -1, 1)), "shared/data/retina"
    return bp.retina_batch(BATCH), "skimage retina crops"


# ----------------------------------------------------------------------------- the two steps


def cuts_step(model: cuts_ext.CUTSEncoder, optimizer: torch.optim.Optimizer, x: torch.Tensor,
              seed: int, windows: bool) -> float:
    """One cuts_ext training step (as cuts_ext.train runs it); returns the loss."""
    anchors, positives = cuts_ext.sample_pairs(x, n_anchors=ANCHORS, size=PATCH, seed=seed)
    losses = cuts_loss(model(x, anchors, positives, windows=windows))
    optimizer.zero_grad(set_to_none=True)
    losses.total.backward()
    optimizer.step()
    return losses.total.detach()


def plain_gathers_and_loss(model: cuts_ext.CUTSEncoder, x: torch.Tensor, z: torch.Tensor,
                           anchors: np.ndarray, positives: np.ndarray) -> torch.Tensor:
    """The authors' gathers and losses: Python loops over images and samples."""
    B, S = anchors.shape[:2]
    r = PATCH // 2
    F = z.shape[1]
    patch_real = torch.zeros((B, S, x.shape[1], PATCH, PATCH), device=x.device)
    z_anchors = torch.zeros((B, S, F), device=x.device)
    z_positives = torch.zeros((B, S, F), device=x.device)
    for b in range(B):
        for s in range(S):
            (ha, wa), (hp, wp) = anchors[b, s], positives[b, s]
            patch_real[b, s] = x[b, :, ha - r:ha + r + 1, wa - r:wa + r + 1]
            z_anchors[b, s] = z[b, :, ha, wa]
            z_positives[b, s] = z[b, :, hp, wp]
    patch_recon = model.recon(z_anchors).view(patch_real.shape)
    reconstruction = torch.nn.functional.mse_loss(patch_recon, patch_real)
    contrastive = 0.0
    for b in range(B):
        a = torch.nn.functional.normalize(z_anchors[b], dim=1)
        p = torch.nn.functional.normalize(z_positives[b], dim=1)
        exp_sim = torch.exp(a @ p.T / 0.5)
        negatives = ~torch.eye(S, dtype=torch.bool, device=x.device)
        contrastive = contrastive - torch.log(
            torch.diag(exp_sim).sum() / ((exp_sim * negatives).sum() + 1e-7) + 1e-7)
    contrastive = contrastive / B
    return 1e-3 * contrastive + (1 - 1e-3) * reconstruction


def plain_step(model: cuts_ext.CUTSEncoder, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               seed: int, z: torch.Tensor | None = None) -> float:
    """The authors' step written plainly; with `z` given, the convolutions are skipped."""
    if z is None:
        z = model.latent(x)
    anchors, positives = bp.plain_sample_pairs(x.detach().cpu().numpy(), seed)
    loss = plain_gathers_and_loss(model, x, z, anchors, positives)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def cuts_without_convs(model: cuts_ext.CUTSEncoder, optimizer: torch.optim.Optimizer,
                       x: torch.Tensor, z: torch.Tensor, seed: int) -> float:
    """The cuts_ext step on a precomputed latent map: pairs, gathers, losses, head backward."""
    anchors, positives = cuts_ext.sample_pairs(x, n_anchors=ANCHORS, size=PATCH, seed=seed)
    z_last = z.movedim(1, -1)
    batch = torch.arange(x.shape[0], device=x.device).unsqueeze(1)
    z_anchors = z_last[(batch,) + tuple(anchors.unbind(-1))]
    z_positives = z_last[(batch,) + tuple(positives.unbind(-1))]
    patch_real = cuts_ext.extract_patches(x, size=PATCH, centers=anchors)
    output = cuts_ext.encoder.model.EncoderOutput(z, patch_real,
                                            model.recon(z_anchors).view(patch_real.shape),
                                            z_anchors, z_positives)
    loss = cuts_loss(output).total
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def check_equal(model: cuts_ext.CUTSEncoder, x: torch.Tensor) -> str:
    """The cuts_ext training forward and the plain loops give the same loss on the same pairs."""
    anchors, positives = cuts_ext.sample_pairs(x, n_anchors=ANCHORS, size=PATCH, seed=SEED)
    with torch.no_grad():
        ours = cuts_loss(model(x, anchors, positives)).total.item()
        windows = cuts_loss(model.eval()(x, anchors, positives, windows=True)).total.item()
        full_eval = cuts_loss(model(x, anchors, positives)).total.item()
        model.train()
        theirs = plain_gathers_and_loss(model, x, model.latent(x), anchors.cpu().numpy(),
                                        positives.cpu().numpy()).item()
    assert abs(ours - theirs) <= 1e-5 * max(1.0, abs(theirs)), (ours, theirs)
    assert abs(windows - full_eval) <= 1e-5 * max(1.0, abs(full_eval)), (windows, full_eval)
    return "loss equal"


# ----------------------------------------------------------------------------- driver


def time_alternately(ours: Callable[[int], Any], theirs: Callable[[int], Any], repeats: int,
                     sync: Callable[[], None] | None) -> tuple[float, float]:
    """Median ms of `ours(i)` and `theirs(i)` over `repeats` alternating rounds, one warm-up."""
    times: tuple[list, list] = ([], [])
    for round_ in range(repeats + 1):
        for fn, bucket in ((ours, times[0]), (theirs, times[1])):
            start = time.perf_counter()
            fn(round_)
            if sync is not None:
                sync()
            if round_ > 0:
                bucket.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times[0]), statistics.median(times[1])


def run_device(device: str, images: np.ndarray, repeats: int) -> list[list[str]]:
    x = torch.from_numpy(images).to(device)
    sync = torch.cuda.synchronize if device == "cuda" else None
    base = cuts_ext.CUTSEncoder(3, seed=SEED).to(device)
    rows = []

    def fresh() -> tuple[cuts_ext.CUTSEncoder, torch.optim.Optimizer]:
        model = copy.deepcopy(base)
        return model, torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)

    check = check_equal(copy.deepcopy(base), x)
    shape = f"{BATCH} x 3 x {SIDE} x {SIDE}, {ANCHORS} anchors"
    baseline = "Python loops + skimage SSIM"
    plain_model, plain_opt = fresh()
    for label, windows in (("step, full", False), ("step, windows", True)):
        model, optimizer = fresh()
        ours, theirs = time_alternately(
            lambda i: cuts_step(model, optimizer, x, SEED + i, windows),
            lambda i: plain_step(plain_model, plain_opt, x, SEED + i), repeats, sync)
        rows.append([label, device, shape, ours, baseline, theirs, check])

    z = base.latent(x).detach().requires_grad_()
    model, optimizer = fresh()
    ours, theirs = time_alternately(
        lambda i: cuts_without_convs(model, optimizer, x, z, SEED + i),
        lambda i: plain_step(plain_model, plain_opt, x, SEED + i, z=z), repeats, sync)
    rows.append(["pairs + gathers + losses", device, shape, ours, baseline, theirs, check])

    model = base.eval()
    for label, tile in (("embed", None), ("embed, 64-px tiles", 64)):
        start = time.perf_counter()
        for _ in range(max(1, repeats // 2)):
            cuts_ext.embed(model, x, tile=tile)
            if sync is not None:
                sync()
        seconds = (time.perf_counter() - start) / max(1, repeats // 2)
        rows.append([label, device, f"{BATCH} x 3 x {SIDE} x {SIDE}", seconds * 1e3, "-", None,
                     f"{BATCH / seconds:.1f} images/s"])
    return rows


def format_table(rows: list[list]) -> str:
    headers = ["op", "device", "input", "cuts_ext ms", "baseline", "baseline ms", "ratio",
               "check / throughput"]
    ms = lambda v: "-" if v is None else f"{v:,.1f}"
    ratio = lambda ours, theirs: "-" if theirs is None else f"{theirs / ours:.1f}x"
    cells = [[op, dev, shape, ms(ours), base, ms(theirs), ratio(ours, theirs), note]
             for op, dev, shape, ours, base, theirs, note in rows]
    lines = ["| " + " | ".join(headers) + " |",
             "| " + " | ".join("---:" if i in (3, 5, 6) else "---" for i in range(8)) + " |"]
    lines += ["| " + " | ".join(c) + " |" for c in cells]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                        help="all = cpu, plus cuda when cuts_ext reports it usable")
    parser.add_argument("--quick", action="store_true", help="one timed round per row")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per row")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    images, source = images_batch()
    cuda_ok, cuda_reason = bp.cuda_state()
    devices = ["cpu"] if args.device == "cpu" else ["cuda"] if args.device == "cuda" \
        else ["cpu"] + (["cuda"] if cuda_ok else [])
    print(f"cuts_ext {cuts_ext.__version__} bench_train: images {source}; torch "
          f"{torch.__version__} ({torch.get_num_threads()} threads); CPU busy with other "
          f"processes at start: {bp.busy_elsewhere()} (other load skews timings); "
          f"cuda: {'usable' if cuda_ok else cuda_reason}; {repeats} timed round(s), median",
          flush=True)
    rows = []
    for device in devices:
        if device == "cuda" and not cuda_ok:
            print(f"cuda rows skipped: {cuda_reason}")
            continue
        rows += run_device(device, images, repeats)
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
