#!/usr/bin/env bash
# One prepared run for a lent GPU machine (see ARCHITECTURE.md, "Working without a GPU"):
# builds cuts_ext for sm_90, runs the `cuda` tests (a missing GPU fails them rather than skipping),
# runs compute-sanitizer memcheck and racecheck on a short CUDA test, runs the GPU side of the
# benchmarks, and prints one table. Logs go under $OUT when set (the device tool returns them),
# else under a temporary folder. Each step has its own time limit (120 + 20 + 90 + 60 + 60 s, plus
# 60 s per benchmark), so with two benchmarks the run ends within 8 minutes. The GPU machine has
# no network: it builds with what its image holds (torch, pybind11, scikit-build-core, cmake,
# ninja, scikit-image, pytest).
#
#   bash python/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export CUTS_EXPECT_GPU=1 PYTHONUNBUFFERED=1
rows=()

# step NAME SECONDS COMMAND...: runs COMMAND with a time limit, logs to $OUT/NAME.log.
step() {
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  local status=ok
  [ $rc -eq 0 ] || status="FAILED (rc $rc)"
  [ $rc -eq 124 ] && status="TIMED OUT (${limit}s)"
  rows+=("$(printf '| %-22s | %-18s | %5ds | %s |' "$name" "$status" $((SECONDS - start)) "$(tail -n 1 "$OUT/$name.log" | cut -c1-70)")")
  return $rc
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/gpu.txt" 2>&1
step build 120 "$PY" -m pip install --no-build-isolation --no-deps -v \
  -C cmake.define.CMAKE_CUDA_ARCHITECTURES=90 -C cmake.define.CUTS_CUDA=ON . || {
  printf '%s\n' "${rows[@]}"; exit 1; }
step build_info 20 "$PY" -c "import cuts_ext, json; print(json.dumps(cuts_ext.build_info()))"
step cuda_tests 90 "$PY" -m pytest -q -m cuda tests
SHORT_TEST="tests/test_extract_patches.py::test_accelerator_equals_cpu tests/test_sample_pairs.py::test_accelerator_equals_cpu tests/test_condense_ops.py::test_queries_and_merges_are_bit_identical_before_diffusion"
step memcheck 60 compute-sanitizer --tool memcheck --error-exitcode 1 "$PY" -m pytest -q -x $SHORT_TEST
step racecheck 60 compute-sanitizer --tool racecheck --error-exitcode 1 "$PY" -m pytest -q -x $SHORT_TEST
step bench_patches 60 "$PY" python/bench/bench_patches.py --device cuda
# N = 16,384 and 65,536 on the GPU (the CPU oracle is left to CPU runs).
step bench_condense 60 "$PY" python/bench/bench_condense.py --device cuda --sizes 128 256 --oracle-max 0

echo "GPU: $(cat "$OUT/gpu.txt")   logs: $OUT"
printf '| %-22s | %-18s | %6s | %s |\n' step status time "last line of its log"
printf '%s\n' "${rows[@]}"
for bench in bench_patches bench_condense; do
  echo; cat "$OUT/$bench.log"
done
