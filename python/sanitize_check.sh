#!/usr/bin/env bash
# The C++ kernels under AddressSanitizer and UndefinedBehaviorSanitizer (CMake option
# CUTS_SANITIZE, CPU only): builds cuts_ext into its own virtual environment and build folder
# (build/sanitize/, so the normal install is untouched), then runs the tests that drive the
# compiled module (_C): patches, pairs, condensation, its low-level ops and oracle, coarsening,
# the finiteness checks and the array boundary, plus the property-based tests. Any sanitizer
# finding aborts the process, so the run is clean exactly when pytest passes.
#
#   bash python/sanitize_check.sh            # about 10 minutes on 2 cores, most of it the build
#   bash python/sanitize_check.sh -k patches # extra arguments go to pytest
#
# The interpreter is not instrumented, so the ASan runtime is preloaded (LD_PRELOAD); leak
# detection is off, because CPython and torch keep allocations alive until exit by design, and
# an allocation too large to make returns NULL (numpy's MemoryError, a documented outcome the
# property tests reach) instead of aborting.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p "${CUTS_SANITIZE_DIR:-build/sanitize}"
DIR=$(cd "${CUTS_SANITIZE_DIR:-build/sanitize}" && pwd)
PY="${PYTHON:-python3}"
TESTS=(tests/test_extract_patches.py tests/test_sample_pairs.py tests/test_condense.py
       tests/test_condense_ops.py tests/test_condense_oracle.py tests/test_coarsen.py
       tests/test_arrays.py tests/test_properties.py)

if [ ! -x "$DIR/venv/bin/python" ]; then
  "$PY" -m venv "$DIR/venv"
  "$DIR/venv/bin/pip" install -q torch==2.13.0
fi
CUTS_CUDA=OFF "$DIR/venv/bin/pip" install -q ".[test]" \
  -C cmake.define.CUTS_SANITIZE=ON -C cmake.define.CUTS_CUDA=OFF \
  -C cmake.build-type=RelWithDebInfo -C build-dir="$DIR/cmake"

asan=$(g++ -print-file-name=libasan.so)
ubsan=$(g++ -print-file-name=libubsan.so)
export LD_PRELOAD="$asan:$ubsan"
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:halt_on_error=1:detect_odr_violation=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
echo "+ LD_PRELOAD=$LD_PRELOAD ASAN_OPTIONS=$ASAN_OPTIONS pytest ${TESTS[*]} $*"
# From outside the source tree, so that the sanitized install (not the source folder) is found.
(cd / && "$DIR/venv/bin/python" -c "import cuts_ext; print('cuts_ext from', cuts_ext.__file__)")
"$DIR/venv/bin/pytest" -q -p no:cacheprovider "${TESTS[@]}" "$@"
