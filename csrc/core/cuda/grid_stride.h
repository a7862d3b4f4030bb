// The loop every elementwise kernel runs: item `i` of `n` for each thread, striding by the whole
// grid, so any launch size covers any count (launch sizes: cuda_utils.h). Plain C++ apart from
// the CUDA built-ins, so tests/support/host_emulation compiles kernels using it on the host.
#pragma once

#include <cstdint>

#define CUTS_GRID_STRIDE(i, n)                                                     \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n);       \
       i += int64_t(blockDim.x) * gridDim.x)
