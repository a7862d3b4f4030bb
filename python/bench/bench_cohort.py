"""A cohort through `cuts segment`: serial against `--workers 2` (a local Dask cluster).

Two cohorts: 16 retina images (the project's development data, with their masks; skipped with
a message when absent) and 2 synthetic volumes of 48^3 voxels (smooth noise, written as NIfTI;
the super-voxel path). An encoder per cohort is trained first (2 epochs: the speed of
segmentation does not depend on the weights' quality), then each cohort is segmented by the
command twice, serially and with --workers 2, each run in its own process. Reported per run:
wall time (the whole command: start-up, cluster start and stop, reading, segmenting, writing),
the peak resident memory of the command's own process (from wait4) and of each Dask worker
process (their VmHWM in /proc, polled every 0.1 s), and the serial / distributed time ratio.
The outputs of both runs are checked identical first.

    python python/bench/bench_cohort.py [--images DIR] [--masks DIR]
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RETINA = Path(__file__).resolve().parents[3] / "shared" / "data" / "retina"
IMAGES = 16
VOLUMES = 2
VOLUME_SIDE = 48


def cuts_command() -> str:
    return shutil.which("cuts", path=os.path.dirname(sys.executable)) or shutil.which("cuts")


def write_volumes(folder: Path) -> list:
    """VOLUMES smooth-noise volumes of VOLUME_SIDE^3 (float32 NIfTI), a bright ball in each."""
    import nibabel

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    grid = np.meshgrid(*[np.linspace(-1, 1, VOLUME_SIDE)] * 3, indexing="ij")
    ball = sum(axis ** 2 for axis in grid) < 0.4
    paths = []
    for number in range(VOLUMES):
        noise = rng.standard_normal((VOLUME_SIDE,) * 3)
        for axis in range(3):
            noise = np.cumsum(noise, axis=axis)
        volume = (noise - noise.min()) / np.ptp(noise) + ball
        paths.append(folder / f"volume{number}.nii.gz")
        nibabel.save(nibabel.Nifti1Image(volume.astype(np.float32), np.eye(4)), str(paths[-1]))
    return paths


def peak_mib(pid: int) -> float:
    """VmHWM (peak resident memory) of a live process, MiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def descendants(pid: int) -> list:
    """The pids of `pid`'s live descendants, whichever of its threads started them (Linux
    /proc: each thread lists its own children)."""
    found = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = [int(child) for child in listing.read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def run(arguments: list) -> dict:
    """Runs `cuts ARGUMENTS`; wall seconds, the command's own peak RSS (MiB, from wait4) and
    each child process's last seen VmHWM (the Dask workers, when there are any)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen([cuts_command(), *map(str, arguments)],
                                   stdout=subprocess.DEVNULL, stderr=errors)
        workers: dict = {}
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            for child in descendants(process.pid):
                workers[child] = max(workers.get(child, 0.0), peak_mib(child))
            time.sleep(0.1)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            sys.exit(f"cuts {' '.join(map(str, arguments))} failed:\n{errors.read()}")
    # Children living under 0.1 s or small (multiprocessing's resource tracker) are no workers.
    return {"seconds": seconds, "own": usage.ru_maxrss / 1024,
            "workers": sorted(peak for peak in workers.values() if peak > 100)}


def same_outputs(first: Path, second: Path) -> bool:
    """Whether both output folders hold the same files with the same bytes."""
    comparison = filecmp.dircmp(first, second)
    if comparison.left_only or comparison.right_only:
        return False
    _, mismatch, errors = filecmp.cmpfiles(first, second, comparison.common_files,
                                           shallow=False)
    return not mismatch and not errors and all(
        same_outputs(first / name, second / name) for name in comparison.common_dirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=RETINA / "images")
    parser.add_argument("--masks", type=Path, default=RETINA / "masks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        cohorts = []
        images = sorted(args.images.glob("*.png"))[:IMAGES] if args.images.is_dir() else []
        if len(images) < IMAGES:
            print(f"bench_cohort: {IMAGES} retina images not found under {args.images} (they "
                  "are not part of the repository); the image cohort is skipped")
        else:
            masks = ["--masks", args.masks] if args.masks.is_dir() else []
            cohorts.append((f"{IMAGES} retina images 128 x 128", images, masks))
        cohorts.append((f"{VOLUMES} volumes {VOLUME_SIDE}^3", write_volumes(root / "volumes"),
                        []))
        print("| cohort | run | wall s | peak MiB: command | peak MiB: each worker | "
              "serial / distributed |")
        print("|---|---|---:|---:|---|---:|")
        for number, (label, files, masks) in enumerate(cohorts):
            model = root / f"model{number}.pt"
            run(["train", *files, "-o", model, "--epochs", 2, "--quiet"])
            common = ["segment", *files, "--model", model, *masks, "--quiet"]
            serial = run([*common, "-o", root / f"serial{number}"])
            spread = run([*common, "-o", root / f"spread{number}", "--workers", 2])
            if not same_outputs(root / f"serial{number}", root / f"spread{number}"):
                sys.exit(f"bench_cohort: the outputs of {label} differ between the runs")
            for name, result in (("serial", serial), ("--workers 2", spread)):
                each = ", ".join(f"{peak:,.0f}" for peak in result["workers"]) or "-"
                ratio = f"{serial['seconds'] / result['seconds']:.2f}x" \
                    if name != "serial" else ""
                print(f"| {label} | {name} | {result['seconds']:.1f} | {result['own']:,.0f} | "
                      f"{each} | {ratio} |")
        print("outputs identical between the runs (every file, byte for byte)")


if __name__ == "__main__":
    main()
