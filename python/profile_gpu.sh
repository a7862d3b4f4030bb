#!/usr/bin/env bash
# Nsight recipes for condensation at volume scale (issue #13). Not yet run on a GPU: the first
# lent GPU runs it from python/gpu_check.sh, which records what it shows in
# python/bench/RESULTS.md.
#
# Nsight Compute (ncu; installed on the lent H100/H200 machines). The workload: the 262,144
# pixel-centred patch features of skimage's fundus photograph at 512 x 512 (bench_condense.py's
# input, real image structure), condensed on the GPU for 2 iterations. ncu profiles only the
# kernels of the neighbour pass (sweep_kth_distance_kernel, sweep_within_radius_kernel and their
# kin, graph_kernels.cuh) inside the NVTX range "cuts_ext.condense" (cuts_ext/profiling.py names
# the ranges), the first LAUNCHES of them (default 40), with the Speed Of Light and memory
# sections: the share of the card's memory bandwidth and fp64 rate each kernel reaches. The
# card's clocks are left as they are (--clock-control none).
#
#   bash python/profile_gpu.sh         # $OUT/profile.ncu-rep (open in ncu-ui) + profile.txt
#   LAUNCHES=200 SIDE=1024 bash python/profile_gpu.sh
#
# Nsight Systems (not on the lent machines; for users who have it): the whole timeline of a
# volume run, with the pipeline's stages (cuts_ext.segment/embed, coarsen, condense, maps) and
# each condensation iteration and phase as NVTX ranges:
#
#   nsys profile --trace=cuda,nvtx,osrt -o cuts_volume \
#       cuts segment brain.nii.gz -o out --device cuda
#   nsys stats --report nvtx_sum,cuda_gpu_kern_sum cuts_volume.nsys-rep
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
command -v ncu >/dev/null || { echo "profile_gpu: ncu (Nsight Compute) is not on PATH"; exit 1; }
SIDE="${SIDE:-512}"
LAUNCHES="${LAUNCHES:-40}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# The input is made outside the profiler (its patch extraction is not what is measured).
(cd "$WORK" && "$PY" - "$ROOT" "$SIDE" <<'EOF'
import sys
sys.path.insert(0, f"{sys.argv[1]}/python/bench")
import numpy as np
from bench_condense import embeddings
np.save("points.npy", embeddings(int(sys.argv[2]), "patches"))
EOF
) || { echo "profile_gpu: making the input failed"; exit 1; }

cat >"$WORK/workload.py" <<'EOF'
import numpy as np
import torch
import cuts_ext
X = torch.from_numpy(np.load("points.npy")).cuda()
result = cuts_ext.condense(X, max_iterations=2)
torch.cuda.synchronize()
print(f"condensed {X.shape[0]:,} points: {result.cluster_counts} clusters after each iteration")
EOF

# --clock-control none: ncu would otherwise lock the card's clocks, a setting the lent machines'
# rules forbid changing. --kernel-name: the neighbour pass's kernels only, not the device
# preparation's or the sorts' launches that come first.
cd "$WORK" && ncu --nvtx --nvtx-include "cuts_ext.condense/" --kernel-name "regex:sweep_" \
  --launch-count "$LAUNCHES" --clock-control none \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --export "$OUT/profile" --force-overwrite \
  "$PY" workload.py >"$WORK/ncu.log" 2>&1
rc=$?
# The per-kernel table: duration, memory and compute throughput as a share of the card's peak.
ncu --import "$OUT/profile.ncu-rep" --print-summary per-kernel >"$OUT/profile.txt" 2>&1 ||
  cp "$WORK/ncu.log" "$OUT/profile.txt"
tail -n 5 "$WORK/ncu.log"
exit $rc
