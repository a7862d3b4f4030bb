#!/usr/bin/env bash
# The one prepared run for a lent GPU machine (issue #13; docs/architecture.md, "Working without a
# GPU"). Builds cuts_ext for sm_90 and runs, each step under its own time limit and all of them
# inside one budget (CUTS_GPU_CHECK_SECONDS, default 520 s), in this order (the sanitizers last:
# they are the slowest and the benchmarks answer open issues):
#   gpu          nvidia-smi: the card, its driver and memory
#   build        pip install of this checkout (CUDA ON, sm_90), no build isolation (no network)
#   import       the installed build, not the checkout's cuts_ext/ (which has no _C), with CUDA
#                usable; the run stops here, with the summary, where no GPU is found
#   smoke        one CUDA test per kernel family with CUTS_CUDA_SYNC=1 (a fault is blamed on the
#                kernel that made it, not on the next synchronisation)
#   cuda_tests   every `cuda` test
#   bench_*      condensation CPU beside CUDA with per-phase times (CUDA events), 1 M points on
#                CUDA, the 1 mm MNI152 volume through bench_volume.py on CUDA (#12's 30 s), and
#                the 40 retina images on CUDA, every pixel beside 4,096 super-voxels (#12's 2-D
#                ratio; only when .gpu/retina and its encoder were carried)
#   profile      python/profile_gpu.sh: Nsight Compute on the condensation's neighbour pass
#   memcheck     compute-sanitizer memcheck on the smoke tests (torch's caching allocator off,
#                so that out-of-bounds writes into its blocks are seen); exit code 86 marks a
#                sanitizer finding, apart from a test's own failure (1)
#   racecheck    compute-sanitizer racecheck on the tests of the device union-find (spectrum
#                blocks, merges), the package's only kernels where threads share data
# Everything lands under $OUT (the device tool returns it; a temporary folder otherwise), in at
# most 8 files: summary.md (the table, rewritten after every step), steps.log (every step's
# output as it comes, so that a call cut short keeps what ran), bench.md, gpu.txt and the
# profiler's files. Tests and imports run from an empty folder with PYTHONSAFEPATH=1, so
# that the installed build is what `import cuts_ext` finds; pytest's "warnings are errors"
# (pyproject.toml) is relaxed to "shown", since the GPU machine's newer numpy / torch may warn
# where the development machine's do not.
#
# The GPU machine has no network: packages its image lacks (nibabel, nilearn for the MNI
# template) travel as wheels in .whl/, the trained 3-D encoder of the 1 mm benchmark in
# .gpu/volcache/, and the retina development images with a trained 2-D encoder in .gpu/retina/
# and .gpu/cvcache/ (all git-ignored; see python/bench/RESULTS.md, "Preparing a GPU run"):
#
#   run(command="CUTS_COMMIT=<git rev-parse --short HEAD here> bash python/gpu_check.sh",
#       carry=[".whl", ".gpu"], timeout_s=600)
#
# (the device's copy of the tree has no .git, hence the commit passed in).
#
# Rehearsal without a GPU (PYTHON=.venv/bin/python bash python/gpu_check.sh) builds, checks the
# import and writes the summary with the GPU steps "not run".
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
BUDGET="${CUTS_GPU_CHECK_SECONDS:-520}"
COMMIT="${CUTS_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}"
WORK="$(mktemp -d)"  # the current folder of every step: nothing importable in it
LOG="$OUT/steps.log"
BENCH="$OUT/bench.md"
SUMMARY="$OUT/summary.md"
: >"$LOG"
: >"$BENCH"
export PYTHONUNBUFFERED=1 CUTS_EXPECT_GPU=1
# One test per kernel family (their `cuda` cases only): patches, pairs, the finiteness check,
# condensation's graph queries and merges, its kernel and diffusion steps, the spectrum's blocks
# (a device union-find: racecheck matters there) and Lanczos recurrence, the per-iteration copy
# budget, coarsening.
SMOKE=(tests/test_extract_patches.py::test_accelerator_equals_cpu
       tests/test_sample_pairs.py::test_accelerator_equals_cpu
       tests/test_sample_pairs.py::test_accelerator_non_finite_is_a_value_error
       tests/test_condense_ops.py::test_queries_and_merges_are_bit_identical_before_diffusion
       tests/test_condense_ops.py::test_engine_steps_match_the_cpu
       tests/test_condense_ops.py::test_spectrum_blocks_match_the_cpu
       tests/test_condense_ops.py::test_lanczos_on_the_device_matches_the_recurrence_and_the_cpu
       tests/test_condense_ops.py::test_an_iteration_copies_o_of_m_bytes
       tests/test_coarsen.py::test_accelerator_matches_the_cpu)
RACE=(tests/test_condense_ops.py::test_spectrum_blocks_match_the_cpu
      tests/test_condense_ops.py::test_queries_and_merges_are_bit_identical_before_diffusion)
PYTEST=("$PY" -m pytest -q -p no:cacheprovider -W default --rootdir "$ROOT")
rows=()
started_all=$SECONDS

# step NAME SECONDS COMMAND...: runs COMMAND from $WORK under the smaller of its limit and what
# is left of the budget, appends its output to steps.log and a row to the summary.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - (SECONDS - started_all)))
  if [ "$left" -lt 10 ]; then
    echo "not run: the ${BUDGET} s budget is spent" >"$WORK/step.log"
    rows+=("$(printf '| %-14s | %-22s | %5s | %s |' "$name" "not run (budget spent)" "-" "")")
    write_summary
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local start=$SECONDS
  echo "===== $name: $*" >>"$LOG"
  # Output goes to steps.log as it comes; -k: a process deaf to SIGTERM is killed 10 s later.
  (cd "$WORK" && timeout -k 10 "$limit" "$@") 2>&1 | tee "$WORK/step.log" >>"$LOG"
  local rc=${PIPESTATUS[0]}
  local status=ok
  [ $rc -eq 0 ] || status="FAILED (rc $rc)"
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && status="TIMED OUT (${limit}s)"
  local last
  last=$(grep -v '^\s*$' "$WORK/step.log" | tail -n 1 | cut -c1-90 | tr '|' '/')
  rows+=("$(printf '| %-14s | %-22s | %4ds | %s |' "$name" "$status" $((SECONDS - start)) "$last")")
  write_summary
  return $rc
}

# write_summary [NAME...]: summary.md from the rows so far, NAMEs listed as not run.
write_summary() {
  {
    echo "# gpu_check $(date -u +%Y-%m-%dT%H:%MZ), commit $COMMIT"
    echo
    echo "GPU: $(cat "$OUT/gpu.txt")"
    echo
    echo "| step | status | time | last line of its output (steps.log has all) |"
    echo "|---|---|---:|---|"
    printf '%s\n' "${rows[@]}"
    for name in "$@"; do
      echo "| $name | not run (no usable GPU) | - | |"
    done
  } >"$SUMMARY"
}

summary() {
  write_summary "$@"
  cat "$SUMMARY"
  [ -s "$BENCH" ] && { echo; cat "$BENCH"; }
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/gpu.txt" 2>&1 ||
  echo "none found (nvidia-smi: $(head -c 200 "$OUT/gpu.txt"))" >"$OUT/gpu.txt"

# Carried wheels go to a folder of their own on the path (never into the image's packages).
if compgen -G "$ROOT/.whl/*.whl" >/dev/null; then
  step wheels 60 "$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade \
    --target "$WORK/site" "$ROOT"/.whl/*.whl
  export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi

step build 180 "$PY" -m pip install --no-build-isolation --no-deps -q \
  -C cmake.define.CMAKE_CUDA_ARCHITECTURES=90 -C cmake.define.CUTS_CUDA=ON \
  -C build-dir=/tmp/cuts_gpu_build "$ROOT" || { summary; exit 1; }

export PYTHONSAFEPATH=1
step import 30 "$PY" -c "
import json, cuts_ext
info = cuts_ext.build_info()
print('cuts_ext from', cuts_ext.__file__)
print(json.dumps(info))
assert not cuts_ext.__file__.startswith('$ROOT/cuts_ext'), 'imported the checkout, not the build'
assert info['cuda_compiled'], 'the build has no CUDA'
assert info['cuda_usable'], 'no usable GPU: ' + info['cuda_unavailable_reason']
import torch
assert torch.cuda.is_available(), 'torch cannot use the GPU'
print('GPU usable:', torch.cuda.get_device_name(0))
" || { summary smoke cuda_tests bench_condense bench_volume bench_2d bench_1M profile memcheck \
         racecheck
       exit 1; }

step smoke 60 env CUTS_CUDA_SYNC=1 "${PYTEST[@]}" -x -m cuda "${SMOKE[@]/#/$ROOT/}"
step cuda_tests 120 "${PYTEST[@]}" -m cuda "$ROOT/tests"

# Benchmarks: scripts import their neighbours from python/bench, which PYTHONSAFEPATH would hide.
bench() {
  local name=$1 limit=$2
  shift 2
  step "$name" "$limit" env -u PYTHONSAFEPATH "$PY" "$@"
  { echo "## $name: ${*#$ROOT/}"; echo; cat "$WORK/step.log"; echo; } >>"$BENCH"
}
bench bench_condense 90 "$ROOT/python/bench/bench_condense.py" --device both --sizes 128 256 \
  --oracle-max 0 --phases
bench bench_volume 90 "$ROOT/python/bench/bench_volume.py" --resolutions 1 --device cuda \
  --cache "$ROOT/.gpu/volcache"
if [ -d "$ROOT/.gpu/retina/images" ]; then
  bench bench_2d 100 "$ROOT/python/bench/bench_quality.py" --data "$ROOT/.gpu/retina" --seeds 0 \
    --no-baselines --max-points 4096 --device cuda --cache "$ROOT/.gpu/cvcache"
fi
bench bench_1M 60 "$ROOT/python/bench/bench_condense.py" --device cuda --sizes 1024 \
  --oracle-max 0 --phases
step profile 60 env -u PYTHONSAFEPATH OUT="$OUT" PYTHON="$PY" bash "$ROOT/python/profile_gpu.sh"
# Sanitizers: every test runs (no -x: one test's failure must not hide another kernel's
# check), and a sanitizer finding exits 86, a failing test 1.
step memcheck 60 env PYTORCH_NO_CUDA_MEMORY_CACHING=1 compute-sanitizer --tool memcheck \
  --error-exitcode 86 "${PYTEST[@]}" -m cuda "${SMOKE[@]/#/$ROOT/}"
step racecheck 60 env PYTORCH_NO_CUDA_MEMORY_CACHING=1 compute-sanitizer --tool racecheck \
  --error-exitcode 86 "${PYTEST[@]}" -m cuda "${RACE[@]/#/$ROOT/}"

summary
rm -rf "$WORK"
