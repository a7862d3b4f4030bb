"""Benchmark cuts_ext.condense against the dense NumPy/SciPy oracle, in one table.

Inputs have real image structure, from scikit-image's fundus photograph (``skimage.data.retina``,
resized to S x S and scaled to [-1, 1]), for S = 64, 128 and 256 (N = 4,096, 16,384 and
65,536), C = 128 features per pixel:
- ``--input patches`` (default): its 7 x 7 x 3 pixel-centred patches, projected by a fixed random
  orthogonal map;
- ``--input encoder``: the embeddings of a CUTS encoder trained on the image itself (windowed
  step, 128 x 128 crops, 100 epochs, seed 0), what `segment` condenses.
Each input is made, and each condensation runs, in its own process, so that a run's peak
resident memory (ru_maxrss) is its own. The oracle (tests/support/condense_oracle.py, dense
N x N) runs where it fits: N = 4,096.

Columns: time, peak RSS, iterations, levels, and against a reference run of the same input: its
time, the speed-up, the agreement per iteration (minimum adjusted Rand index over the iterations
both have, whether the cluster counts are identical) and how many iterations chose a different t
(cuts_ext estimates the spectrum of blocks above 2,048 points stochastically). The reference of
a CPU row is the oracle, where it ran; with --device both, that of a CUDA row is the CPU run
(the contract of docs/method.md: same level count, ARI >= 0.99 at every level). --phases adds
each run's time per stage (cuts_ext.profiling: CUDA events on a GPU, the host clock on the CPU).

    python python/bench/bench_condense.py                 # N = 4,096 (+ oracle), 16,384, 65,536
    python python/bench/bench_condense.py --sizes 64 128  # image sides to run
    python python/bench/bench_condense.py --device cuda   # the CUDA engine instead of the CPU
    python python/bench/bench_condense.py --device both --phases   # CPU beside CUDA, per stage
    python python/bench/bench_condense.py --input encoder # trained-encoder embeddings
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
FEATURES = 128
PATCH = 7


def fundus(side: int) -> np.ndarray:
    """float32 [1, 3, side, side] in [-1, 1]: the resized fundus photograph."""
    from skimage.data import retina
    from skimage.transform import resize

    image = resize(retina(), (side, side), anti_aliasing=True).astype(np.float32) * 2 - 1
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None])


def embeddings(side: int, kind: str) -> np.ndarray:
    """float64 [side^2, 128]: projected pixel-centred patches ("patches") or trained-encoder
    embeddings ("encoder") of the resized fundus image."""
    import cuts_ext

    images = fundus(side)
    if kind == "encoder":
        model = cuts_ext.train(images, epochs=100, batch_size=1, val_fraction=0.0, step="windows",
                               crop=min(side, 128), seed=0, progress=False).model
        z = np.asarray(cuts_ext.embed(model, images).z)[0]
        return z.reshape(z.shape[0], -1).T.astype(np.float64)
    patches = cuts_ext.extract_patches(images, size=PATCH).reshape(side * side, -1)
    projection, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((patches.shape[1], FEATURES)))
    return patches.astype(np.float64) @ projection


def worker(implementation: str, side: int, device: str, out: Path, kind: str,
           phases: bool) -> None:
    """Makes the input (implementation "input") or runs one condensation of it, writing its
    measurements (and hierarchy) to `out`."""
    data = out.parent / f"input-{kind}-{side}.npy"
    if implementation == "input":
        np.save(data, embeddings(side, kind))
        return
    X = np.load(data)
    if implementation == "oracle":
        # The benchmark's baseline is the tests' oracle, loaded from its file.
        oracle_file = REPO / "tests" / "support" / "condense_oracle.py"
        spec = importlib.util.spec_from_file_location("condense_oracle", oracle_file)
        oracle = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = oracle  # its dataclasses look their module up there
        spec.loader.exec_module(oracle)
        condense_oracle = oracle.condense_oracle
        started = time.perf_counter()
        result = condense_oracle(X)
        seconds = time.perf_counter() - started
        hierarchy, counts, t = result.labels, result.cluster_counts, result.t
        levels = result.levels
    else:
        import cuts_ext
        from cuts_ext.profiling import record_stages
        if device == "cuda":
            import torch
            # Warm-up: the first CUDA condensation of a process loads the module's kernels,
            # creates the cuBLAS handle of the device preparation and grows the pools; none of
            # that belongs to the timed run.
            cuts_ext.condense(torch.from_numpy(X[:2048]).cuda(), max_iterations=2)
            X = torch.from_numpy(X).cuda()
            torch.cuda.synchronize()
        with record_stages() as stages:
            started = time.perf_counter()
            result = cuts_ext.condense(X)
            seconds = time.perf_counter() - started
        if phases:
            table = [f"Stages of cuts_ext {device}, N = {X.shape[0]:,}:", ""] + stages.table()
            out.with_suffix(".phases.md").write_text("\n".join(table))
        hierarchy = np.asarray(result.hierarchy.cpu() if device == "cuda" else result.hierarchy)
        counts, t, levels = result.cluster_counts, result.t, result.levels
    np.save(out.with_suffix(".npy"), hierarchy)
    out.write_text(json.dumps({
        "seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "iterations": len(counts), "levels": len(levels), "counts": counts, "t": t}))


def run_worker(implementation: str, side: int, device: str, scratch: Path, kind: str,
               phases: bool = False) -> dict:
    out = scratch / f"{implementation}-{side}-{device}.json"
    command = [sys.executable, __file__, "--worker", implementation, str(side), device, str(out),
               kind, str(int(phases))]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=scratch)
    if completed.returncode != 0:
        # The table cell gets the last line; the whole traceback goes to stderr.
        print(f"{implementation} worker, N = {side * side:,} on {device}, failed:\n"
              f"{completed.stderr}", file=sys.stderr, flush=True)
        reason = (completed.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": reason[:60]}
    if implementation == "input":
        return {}
    record = json.loads(out.read_text())
    record["hierarchy"] = np.load(out.with_suffix(".npy"))
    phases_file = out.with_suffix(".phases.md")
    record["phases"] = phases_file.read_text() if phases_file.exists() else None
    return record


def agreement(ours: dict, reference: dict) -> tuple[float, bool, int]:
    """(minimum ARI over common iterations, identical counts, iterations with another t)."""
    from sklearn.metrics import adjusted_rand_score
    common = min(len(ours["counts"]), len(reference["counts"]))
    aris = [adjusted_rand_score(reference["hierarchy"][i], ours["hierarchy"][i])
            for i in range(common)]
    other_t = sum(a != b for a, b in zip(ours["t"], reference["t"]))
    return min(aris), ours["counts"] == reference["counts"], other_t


def row(n: int, name: str, ours: dict, reference: dict | None) -> str:
    """One table row: a run, and its agreement with `reference` (None: dashes)."""
    cells = [f"{n:,}", name, f"{ours['seconds']:.2f}", f"{ours['peak_mib']:.0f}",
             str(ours["iterations"]), str(ours["levels"])]
    if reference is None or "error" in reference:
        cells += ["-"] * 5
    else:
        min_ari, same, other_t = agreement(ours, reference)
        cells += [f"{reference['seconds']:.2f}", f"{reference['seconds'] / ours['seconds']:.1f}x",
                  f"{min_ari:.4f}", "yes" if same else "no", str(other_t)]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256],
                        help="image sides S (N = S^2); default 64 128 256")
    parser.add_argument("--device", choices=["cpu", "cuda", "both"], default="cpu",
                        help="the engine to run; both: the CPU, then CUDA against it")
    parser.add_argument("--oracle-max", type=int, default=64,
                        help="largest side the dense oracle runs at (default 64: N = 4,096)")
    parser.add_argument("--input", choices=["patches", "encoder"], default="patches",
                        help="projected patches (default) or trained-encoder embeddings")
    parser.add_argument("--phases", action="store_true",
                        help="also print each run's time per stage (kernel, spectrum, ...)")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        implementation, side, device, out, kind, phases = args.worker
        worker(implementation, int(side), device, Path(out), kind, phases == "1")
        return 0

    import tempfile
    import cuts_ext
    info = cuts_ext.build_info()
    devices = ["cpu", "cuda"] if args.device == "both" else [args.device]
    if "cuda" in devices and not info["cuda_usable"]:
        print(f"bench_condense: skipped, no usable GPU ({info['cuda_unavailable_reason']})")
        return 1
    source = ("trained-encoder embeddings of skimage.data.retina" if args.input == "encoder"
              else "7x7x3 patches of skimage.data.retina, projected")
    print(f"cuts_ext {info['version']} condense, C = {FEATURES} ({source}), PCA 50, float64; "
          f"{os.cpu_count()} CPUs, "
          f"{info['openmp_max_threads']} OpenMP threads; device {args.device}")
    print("| N | impl | time s | peak RSS MiB | iterations | levels | reference s | speed-up "
          "| min ARI | same counts | other t |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    phase_tables = []
    with tempfile.TemporaryDirectory() as scratch:
        for side in args.sizes:
            n = side * side
            made = run_worker("input", side, "cpu", Path(scratch), args.input)
            if "error" in made:
                print(f"| {n:,} | input | failed: {made['error']} |")
                continue
            oracle = (run_worker("oracle", side, "cpu", Path(scratch), args.input)
                      if side <= args.oracle_max else None)
            reference = oracle
            for device in devices:
                ours = run_worker("cuts_ext", side, device, Path(scratch), args.input,
                                  args.phases)
                if "error" in ours:
                    print(f"| {n:,} | cuts_ext {device} | failed: {ours['error']} |")
                    continue
                print(row(n, f"cuts_ext {device}", ours, reference))
                if ours["phases"]:
                    phase_tables.append(ours["phases"])
                reference = ours  # the CUDA run is compared with the CPU's
            if oracle and "error" not in oracle:
                print(f"| {n:,} | oracle | {oracle['seconds']:.1f} | {oracle['peak_mib']:.0f} | "
                      f"{oracle['iterations']} | {oracle['levels']} | | | | | |")
    for table in phase_tables:
        print("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
