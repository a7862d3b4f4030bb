"""Benchmark cuts_ext's patch kernels against the baselines they replace, in one table.

What is compared (every pair timed in the same run, on the same inputs):

* ``extract_patches`` 2-D, 16 x 3 x 128 x 128 float32, P = 5, against
  ``F.unfold(F.pad(x, (2, 2, 2, 2), mode="replicate"), kernel_size=5)`` (torch). The results
  are asserted equal first: ``out.reshape(B, H*W, C*P*P) == unfold_out.transpose(1, 2)``.
* ``extract_patches`` 3-D, 1 x 1 x 64^3 float32, P = 5, against a plain NumPy gather:
  ``np.pad(mode="edge")`` + ``sliding_window_view`` copied into cuts_ext's materialised
  [B, D, H, W, C, P, P, P] layout (asserted equal first). A torch ``Tensor.unfold`` gather is
  timed too, as a second baseline.
* ``sample_pairs`` (8 anchors, P = 5, radius 5, 10 attempts, ssim_min 0.5) on 16 retina crops
  (2-D, 3 x 128 x 128, values in [-1, 1]) and on one smooth 64^3 volume, against a plain
  Python / NumPy sampler written as research code would be: Python loops, ``random.randrange``
  and ``skimage.metrics.structural_similarity`` on channels-last patches. The random streams
  differ, so the outputs are validated (shapes, ranges, radius) rather than compared pair by
  pair, and the mean SSIM of the chosen pairs is shown for both as a sanity column.
* With ``--device cuda`` or ``all`` on a machine where CUDA is usable, the same cuts_ext calls
  on torch CUDA tensors (``torch.cuda.synchronize()`` inside the timed region), against torch
  unfold on CUDA; the CUDA sample_pairs rows are compared with the plain CPU sampler and are
  compared with the cuts_ext CPU kernel's pairs (documented to be identical; a difference is
  flagged in the check column).

Times are the median of several repeats after one warm-up call; each extract_patches pair is
timed alternately (cuts_ext, baseline, cuts_ext, ...) so that both see the same machine load. ratio = baseline / cuts_ext,
so > 1 means cuts_ext is faster. Peak memory is measured where it is cheap: tracemalloc for
NumPy-allocated results (CPU), ``torch.cuda.max_memory_allocated`` on CUDA; torch CPU
allocations are not traced ("n/a").

Run from the repository root::

    python python/bench/bench_patches.py            # full run (~1-3 min on 2 cores)
    python python/bench/bench_patches.py --quick    # fewer repeats, smaller sampler batch
    python python/bench/bench_patches.py --device cpu
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import gaussian_filter
from skimage import data as skdata
from skimage.metrics import structural_similarity
from skimage.transform import resize

import cuts_ext

PATCH = 5
N_ANCHORS = 8
RADIUS = 5
ATTEMPTS = 10
SSIM_MIN = 0.5
DATA_RANGE = 2.0
SEED = 1234
MIB = 2.0 ** 20


# ----------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Config:
    """Repeat counts and sizes for one run."""

    extract_repeats: int
    pairs_repeats: int      # cuts_ext sample_pairs (fast)
    plain_repeats: int      # the plain Python sampler (slow)
    pairs_batch: int        # images in the sample_pairs batch


FULL = Config(extract_repeats=25, pairs_repeats=50, plain_repeats=2, pairs_batch=16)
QUICK = Config(extract_repeats=5, pairs_repeats=10, plain_repeats=1, pairs_batch=4)


@dataclass
class Row:
    """One line of the result table."""

    op: str
    device: str
    shape: str
    cuts_ms: float | None = None
    baseline: str = ""
    base_ms: float | None = None
    check: str = ""
    ssim: str = "-"
    memory: str = "-"
    note: str = ""

    def ratio(self) -> str:
        if self.cuts_ms is None or self.base_ms is None or self.cuts_ms <= 0:
            return "-"
        return f"{self.base_ms / self.cuts_ms:.1f}x"


# ----------------------------------------------------------------------------- timing / memory


def time_call(fn: Callable[[], Any], repeats: int, sync: Callable[[], None] | None = None,
              warmup: int = 1) -> tuple[float, Any]:
    """Median wall time of `fn()` in milliseconds over `repeats` calls, after `warmup` calls.

    `sync` (e.g. torch.cuda.synchronize) runs inside the timed region, after each call, so that
    asynchronous work is counted. Returns (median_ms, result of the last call).
    """
    result = None
    for _ in range(warmup):
        result = fn()
        if sync is not None:
            sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        if sync is not None:
            sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), result


def time_pair(cuts: Callable[[], Any], baseline: Callable[[], Any], repeats: int,
              sync: Callable[[], None] | None = None) -> tuple[float, float]:
    """Median ms of `cuts` and of `baseline`, timed alternately so both see the same machine load.

    One warm-up call of each, then `repeats` rounds of one timed call of each (time_call).
    """
    for warmup in (cuts, baseline):
        warmup()
        if sync is not None:
            sync()
    cuts_times, base_times = [], []
    for _ in range(repeats):
        cuts_times.append(time_call(cuts, 1, sync, warmup=0)[0])
        base_times.append(time_call(baseline, 1, sync, warmup=0)[0])
    return statistics.median(cuts_times), statistics.median(base_times)


def traced_peak_mib(fn: Callable[[], Any]) -> float:
    """Peak bytes (MiB) allocated through Python/NumPy allocators during one call of `fn`."""
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak / MIB


def cuda_peak_mib(fn: Callable[[], Any]) -> float:
    """Peak CUDA memory (MiB) torch's allocator held beyond the current level during one call."""
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    result = fn()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del result
    return peak / MIB


def memory_pair(cuts: float | None, base: float | None) -> str:
    fmt = lambda v: "n/a" if v is None else f"{v:.0f}"
    return f"{fmt(cuts)} / {fmt(base)}"


# ----------------------------------------------------------------------------- inputs


def retina_batch(batch: int) -> np.ndarray:
    """[batch, 3, 128, 128] float32 in [-1, 1]: crops, flips and rotations of skimage's retina."""
    retina = resize(skdata.retina(), (512, 512), anti_aliasing=True)  # float64 in [0, 1]
    crops = [(0, 0, 512), (96, 96, 320), (0, 256, 256), (256, 0, 256),
             (128, 200, 256), (200, 128, 192), (40, 300, 160), (300, 40, 200)]
    images = []
    for i in range(batch):
        top, left, side = crops[i % len(crops)]
        tile = resize(retina[top:top + side, left:left + side], (128, 128), anti_aliasing=True)
        variant = i // len(crops)
        if variant % 2 == 1:
            tile = tile[:, ::-1]
        tile = np.rot90(tile, k=variant // 2)
        images.append(np.moveaxis(tile, -1, 0))
    stack = np.stack(images).astype(np.float32)
    return np.ascontiguousarray(stack * 2.0 - 1.0)


def smooth_volume(side: int = 64) -> np.ndarray:
    """[1, 1, side, side, side] float32 in [-1, 1]: a Gaussian-smoothed random field."""
    rng = np.random.default_rng(SEED)
    noise = gaussian_filter(rng.standard_normal((side, side, side)), sigma=2.5)
    noise = (noise - noise.min()) / (noise.max() - noise.min()) * 2.0 - 1.0
    return np.ascontiguousarray(noise[None, None].astype(np.float32))


# ----------------------------------------------------------------------------- baselines


def unfold_2d(x: torch.Tensor, size: int) -> torch.Tensor:
    """[B, C*P*P, H*W]: torch unfold of the replicate-padded images."""
    r = size // 2
    return F.unfold(F.pad(x, (r, r, r, r), mode="replicate"), kernel_size=size)


def unfold_3d_torch(x: torch.Tensor, size: int) -> torch.Tensor:
    """[B, D, H, W, C, P, P, P] materialised with torch's Tensor.unfold on each spatial axis."""
    r = size // 2
    padded = F.pad(x, (r, r, r, r, r, r), mode="replicate")
    windows = padded.unfold(2, size, 1).unfold(3, size, 1).unfold(4, size, 1)
    return windows.permute(0, 2, 3, 4, 1, 5, 6, 7).contiguous()


def numpy_patches_3d(volumes: np.ndarray, size: int) -> np.ndarray:
    """[B, D, H, W, C, P, P, P] from edge-padded volumes via sliding_window_view, copied."""
    r = size // 2
    padded = np.pad(volumes, ((0, 0), (0, 0), (r, r), (r, r), (r, r)), mode="edge")
    windows = sliding_window_view(padded, (size, size, size), axis=(2, 3, 4))
    return np.ascontiguousarray(windows.transpose(0, 2, 3, 4, 1, 5, 6, 7))


def patch_channels_last(image_cl: np.ndarray, centre: tuple[int, ...], r: int) -> np.ndarray:
    """The P^d x C patch of a channels-last image [..spatial.., C] centred at `centre`."""
    return image_cl[tuple(slice(c - r, c + r + 1) for c in centre)]


def plain_ssim(pa: np.ndarray, pb: np.ndarray) -> float:
    return structural_similarity(pa, pb, win_size=PATCH, channel_axis=-1, data_range=DATA_RANGE)


def plain_sample_pairs(images: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The CUTS stage-1 pair sampler written plainly: Python loops, randrange, skimage SSIM.

    images: [B, C, H, W] or [B, C, D, H, W]. Returns two [B, S, d] int64 coordinate arrays.
    """
    rng = random.Random(seed)
    r = PATCH // 2
    anchors, positives = [], []
    for image in images:
        image_cl = np.moveaxis(image, 0, -1)  # channels last, as skimage wants it
        extent = image_cl.shape[:-1]
        image_anchors, image_positives = [], []
        for _ in range(N_ANCHORS):
            anchor = tuple(rng.randrange(r, n - r) for n in extent)
            anchor_patch = patch_channels_last(image_cl, anchor, r)
            best, best_ssim = None, SSIM_MIN
            for _ in range(ATTEMPTS):
                candidate = tuple(rng.randrange(max(a - RADIUS, r), min(a + RADIUS, n - r))
                                  for a, n in zip(anchor, extent))
                s = plain_ssim(anchor_patch, patch_channels_last(image_cl, candidate, r))
                if s > best_ssim:
                    best, best_ssim = candidate, s
            if best is None:
                best = tuple(neighbour_toward_centre(a, n, r) for a, n in zip(anchor, extent))
            image_anchors.append(anchor)
            image_positives.append(best)
        anchors.append(image_anchors)
        positives.append(image_positives)
    return np.asarray(anchors, dtype=np.int64), np.asarray(positives, dtype=np.int64)


def neighbour_toward_centre(a: int, n: int, r: int) -> int:
    """One pixel toward the centre of an axis of length n (kept at a if it would leave)."""
    b = a - 1 if a > n // 2 else a + 1
    return b if r <= b < n - r else a


# ----------------------------------------------------------------------------- checks


def check_pairs(images: np.ndarray, anchors: np.ndarray, positives: np.ndarray) -> None:
    """Asserts a valid sample: shapes, patches inside the image, positives within the radius."""
    batch, spatial = images.shape[0], images.shape[2:]
    r = PATCH // 2
    expected = (batch, N_ANCHORS, len(spatial))
    assert anchors.shape == expected and positives.shape == expected, (anchors.shape, expected)
    upper = np.asarray(spatial) - r
    for name, coords in (("anchors", anchors), ("positives", positives)):
        assert (coords >= r).all() and (coords < upper).all(), f"{name} patch leaves the image"
    offset = positives - anchors
    assert (np.abs(offset) <= RADIUS).all(), "positive outside the radius"


def mean_pair_ssim(images: np.ndarray, anchors: np.ndarray, positives: np.ndarray) -> float:
    """Mean skimage SSIM of the chosen anchor / positive patches."""
    r = PATCH // 2
    values = []
    for image, image_anchors, image_positives in zip(images, anchors, positives):
        image_cl = np.moveaxis(image, 0, -1)
        for a, p in zip(image_anchors, image_positives):
            values.append(plain_ssim(patch_channels_last(image_cl, tuple(a), r),
                                     patch_channels_last(image_cl, tuple(p), r)))
    return float(np.mean(values))


def to_numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def shape_text(x: Any) -> str:
    return "x".join(str(int(s)) for s in x.shape)


# ----------------------------------------------------------------------------- benchmarks


def bench_extract_2d(x: torch.Tensor, device: str, cfg: Config) -> Row:
    """cuts_ext.extract_patches vs replicate-pad + F.unfold on [B, C, H, W] images."""
    B, C, H, W = x.shape
    P = PATCH
    sync = torch.cuda.synchronize if device == "cuda" else None
    ours = cuts_ext.extract_patches(x, size=P)
    ref = unfold_2d(x, P)
    assert tuple(ours.shape) == (B, H, W, C, P, P), ours.shape
    assert torch.equal(ours.reshape(B, H * W, C * P * P), ref.transpose(1, 2)), "2-D mismatch"
    del ours, ref
    cuts_ms, base_ms = time_pair(lambda: cuts_ext.extract_patches(x, size=P),
                                 lambda: unfold_2d(x, P), cfg.extract_repeats, sync)
    if device == "cuda":
        memory = memory_pair(cuda_peak_mib(lambda: cuts_ext.extract_patches(x, size=P)),
                             cuda_peak_mib(lambda: unfold_2d(x, P)))
    else:  # the same kernel on a zero-copy NumPy view, so tracemalloc sees the output
        x_np = x.numpy()
        memory = memory_pair(traced_peak_mib(lambda: cuts_ext.extract_patches(x_np, size=P)), None)
    return Row("extract_patches 2-D", device, shape_text(x), cuts_ms, "pad+F.unfold", base_ms,
               "equal", memory=memory)


def bench_extract_3d_numpy(v: np.ndarray, cfg: Config) -> Row:
    """cuts_ext.extract_patches vs the NumPy sliding-window gather on [B, C, D, H, W] (CPU)."""
    P = PATCH
    ours = cuts_ext.extract_patches(v, size=P)
    ref = numpy_patches_3d(v, P)
    assert ours.shape == ref.shape and np.array_equal(ours, ref), "3-D NumPy mismatch"
    del ours, ref
    cuts_ms, base_ms = time_pair(lambda: cuts_ext.extract_patches(v, size=P),
                                 lambda: numpy_patches_3d(v, P), cfg.extract_repeats)
    memory = memory_pair(traced_peak_mib(lambda: cuts_ext.extract_patches(v, size=P)),
                         traced_peak_mib(lambda: numpy_patches_3d(v, P)))
    return Row("extract_patches 3-D", "cpu", shape_text(v), cuts_ms, "np.pad+sliding_window",
               base_ms, "equal", memory=memory)


def bench_extract_3d_torch(v: torch.Tensor, device: str, cfg: Config) -> Row:
    """cuts_ext.extract_patches vs a torch Tensor.unfold gather on [B, C, D, H, W]."""
    P = PATCH
    sync = torch.cuda.synchronize if device == "cuda" else None
    ours = cuts_ext.extract_patches(v, size=P)
    ref = unfold_3d_torch(v, P)
    assert ours.shape == ref.shape and torch.equal(ours, ref), "3-D torch mismatch"
    del ours, ref
    cuts_ms, base_ms = time_pair(lambda: cuts_ext.extract_patches(v, size=P),
                                 lambda: unfold_3d_torch(v, P), cfg.extract_repeats, sync)
    memory = "-"
    if device == "cuda":
        memory = memory_pair(cuda_peak_mib(lambda: cuts_ext.extract_patches(v, size=P)),
                             cuda_peak_mib(lambda: unfold_3d_torch(v, P)))
    return Row("extract_patches 3-D", device, shape_text(v), cuts_ms, "pad+Tensor.unfold",
               base_ms, "equal", memory=memory)


@dataclass
class PlainResult:
    """The plain sampler's timing and sanity figure on one input, shared by the CPU/CUDA rows."""

    ms: float
    mean_ssim: float


def bench_plain_pairs(images: np.ndarray, cfg: Config) -> PlainResult:
    ms, (anchors, positives) = time_call(lambda: plain_sample_pairs(images, SEED),
                                         cfg.plain_repeats, warmup=0)
    check_pairs(images, anchors, positives)
    return PlainResult(ms, mean_pair_ssim(images, anchors, positives))


def sample_pairs_call(x: Any) -> tuple[Any, Any]:
    return cuts_ext.sample_pairs(x, n_anchors=N_ANCHORS, size=PATCH, radius=RADIUS,
                                 attempts=ATTEMPTS, ssim_min=SSIM_MIN, seed=SEED,
                                 data_range=DATA_RANGE)


def bench_pairs(label: str, images: np.ndarray, plain: PlainResult, device: str,
                cfg: Config) -> Row:
    """cuts_ext.sample_pairs on `device` vs the plain Python sampler (timed on the CPU)."""
    x = torch.from_numpy(images).to(device)
    sync = torch.cuda.synchronize if device == "cuda" else None
    cuts_ms, (anchors, positives) = time_call(lambda: sample_pairs_call(x), cfg.pairs_repeats, sync)
    anchors, positives = to_numpy(anchors), to_numpy(positives)
    check_pairs(images, anchors, positives)
    check = "valid"
    if device == "cuda":
        cpu_anchors, cpu_positives = sample_pairs_call(images)
        same = np.array_equal(anchors, cpu_anchors) and np.array_equal(positives, cpu_positives)
        check = "valid, same as cpu" if same else "valid, DIFFERS FROM CPU"
    ssim = f"{mean_pair_ssim(images, anchors, positives):.3f} / {plain.mean_ssim:.3f}"
    baseline = "python+skimage (cpu)" if device == "cuda" else "python+skimage"
    return Row(label, device, shape_text(images), cuts_ms, baseline, plain.ms, check, ssim=ssim)


# ----------------------------------------------------------------------------- driver


def cuda_state() -> tuple[bool, str]:
    """(usable, reason): CUDA needs both a usable cuts_ext build and a CUDA build of torch."""
    info = cuts_ext.build_info()
    if not info["cuda_usable"]:
        reason = info.get("cuda_unavailable_reason") or "no CUDA device"
        if not info["cuda_compiled"]:
            reason = "cuts_ext built without CUDA"
        return False, reason
    if not torch.cuda.is_available():
        return False, f"torch {torch.__version__} has no usable CUDA"
    return True, ""


def skipped_rows(reason: str) -> list[Row]:
    return [Row("(all cuda rows)", "cuda", "-", check="skipped", note=reason)]


def run(devices: list[str], cfg: Config) -> list[Row]:
    images = retina_batch(16)
    volume = smooth_volume(64)
    pair_images = images[:cfg.pairs_batch]
    rows: list[Row] = []

    cuda_ok, cuda_reason = cuda_state() if "cuda" in devices else (False, "")
    plain_2d = bench_plain_pairs(pair_images, cfg)
    plain_3d = bench_plain_pairs(volume, cfg)

    for device in devices:
        if device == "cuda" and not cuda_ok:
            rows.extend(skipped_rows(cuda_reason))
            continue
        x = torch.from_numpy(images).to(device)
        v = torch.from_numpy(volume).to(device)
        rows.append(bench_extract_2d(x, device, cfg))
        if device == "cpu":
            rows.append(bench_extract_3d_numpy(volume, cfg))
        rows.append(bench_extract_3d_torch(v, device, cfg))
        rows.append(bench_pairs("sample_pairs 2-D", pair_images, plain_2d, device, cfg))
        rows.append(bench_pairs("sample_pairs 3-D", volume, plain_3d, device, cfg))
        del x, v
    return rows


def format_table(rows: list[Row]) -> str:
    headers = ["op", "device", "input", "cuts_ext ms", "baseline", "baseline ms", "ratio",
               "check", "mean SSIM cuts/base", "peak MiB cuts/base"]
    ms = lambda v: "-" if v is None else (f"{v:.3f}" if v < 1 else f"{v:.1f}")
    cells = [[r.op, r.device, r.shape, ms(r.cuts_ms), r.baseline or "-", ms(r.base_ms), r.ratio(),
              r.check + (f" ({r.note})" if r.note else ""), r.ssim, r.memory] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    numeric = {3, 5, 6}
    line = lambda vals: "| " + " | ".join(
        v.rjust(w) if i in numeric else v.ljust(w) for i, (v, w) in enumerate(zip(vals, widths))) + " |"
    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in numeric else "-" * (w + 2)
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([line(headers), rule, *(line(c) for c in cells)])


def busy_elsewhere(seconds: float = 0.5) -> str:
    """CPU time used by other processes while this one sleeps, in % of all cores (Linux only)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]  # total, idle + iowait
    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return "unknown"
    total = max(total1 - total0, 1)
    return f"{100.0 * (1.0 - (idle1 - idle0) / total):.0f}%"


def header(cfg: Config, mode: str, devices: list[str]) -> str:
    info = cuts_ext.build_info()
    cuda = "usable" if info["cuda_usable"] else f"not usable ({info['cuda_unavailable_reason']})"
    if info["cuda_usable"] and torch.cuda.is_available():
        cuda += f": {torch.cuda.get_device_name(0)}"
    return "\n".join([
        f"cuts_ext {info['version']} bench_patches ({mode}; devices: {', '.join(devices)})",
        f"machine: {platform.machine()} {platform.processor() or ''}".rstrip()
        + f", os.cpu_count()={os.cpu_count()}, python {platform.python_version()}, "
        f"CPU busy with other processes at start: {busy_elsewhere()} (other load skews timings)",
        f"cuts_ext: openmp={info['openmp']} openmp_max_threads={info['openmp_max_threads']}, "
        f"cuda compiled={info['cuda_compiled']} ({info['cuda_version']}), {cuda}",
        f"torch {torch.__version__} (intra-op threads {torch.get_num_threads()}), "
        f"numpy {np.__version__}",
        f"P={PATCH}; sample_pairs: n_anchors={N_ANCHORS} radius={RADIUS} attempts={ATTEMPTS} "
        f"ssim_min={SSIM_MIN}; repeats: extract {cfg.extract_repeats}, cuts_ext pairs "
        f"{cfg.pairs_repeats}, plain sampler {cfg.plain_repeats} (median after 1 warm-up, "
        "none for the plain sampler)",
        "ratio = baseline ms / cuts_ext ms (> 1: cuts_ext faster); CUDA sample_pairs rows are "
        "compared with the plain sampler on the CPU",
    ])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, 4-image sampler batch")
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                        help="all = cpu, plus cuda when cuts_ext reports it usable")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = QUICK if args.quick else FULL
    if args.device == "all":
        devices = ["cpu"] + (["cuda"] if cuts_ext.build_info()["cuda_usable"] else [])
    else:
        devices = [args.device]
    start = time.perf_counter()
    print(header(cfg, "quick" if args.quick else "full", devices), flush=True)
    rows = run(devices, cfg)
    print()
    print(format_table(rows))
    print(f"\ntotal bench time {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
