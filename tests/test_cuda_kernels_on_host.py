"""The CUDA condensation engine's grid-stride kernels, compiled as host code and checked against
brute force (tests/support/host_emulation): their per-element logic is tested on every machine
with a C++ compiler, not only where a GPU runs them. What a host cannot show (races between
threads, the device's arithmetic, launches) is left to the `cuda` tests."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EMULATION = ROOT / "tests" / "support" / "host_emulation"


def test_condensation_kernels_match_brute_force(tmp_path):
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("no C++ compiler on PATH to build the host emulation")
    if not (ROOT / "csrc" / "condense" / "cuda" / "graph_kernels.cuh").exists():
        pytest.skip("the C++ sources (csrc/) are not beside the tests")
    program = tmp_path / "check_condense_kernels"
    build = subprocess.run(
        [compiler, "-std=c++17", "-O1", "-Wall", "-Wno-unused-function", f"-I{ROOT / 'csrc'}",
         f"-I{EMULATION}", str(EMULATION / "check_condense_kernels.cpp"),
         str(ROOT / "csrc" / "condense" / "groups.cpp"), "-o", str(program)],
        capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(program)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip().endswith("0 failures"), run.stdout[-3000:]
