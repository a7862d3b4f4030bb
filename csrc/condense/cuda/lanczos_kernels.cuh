// The CUDA condensation engine's kernels for the block Lanczos recurrence of the spectrum
// estimate (condense_cuda.cu, which alone includes this file, in CudaCondenser::lanczos; on the
// host: condense/lanczos.cpp), on [M, p] row-major blocks. The column sums are tree reductions,
// deterministic for a given M but not in the CPU's order: they feed only the stochastic
// estimate, whose products the CPU computes in float32 anyway.
#pragma once

#include <cstdint>

#include "core/cuda/grid_stride.h"

namespace cuts {
namespace {

constexpr int kDotThreads = 256;

// out[k] = sum_i a[i, k] b[i, k]: one block per column, each thread a strided partial sum,
// then a fixed tree; deterministic for a given M.
__global__ void __launch_bounds__(kDotThreads)
    column_dots_kernel(const double* __restrict__ a, const double* __restrict__ b, int64_t m,
                       int64_t p, double* __restrict__ out) {
  __shared__ double partial[kDotThreads];
  const int64_t k = blockIdx.x;
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < m; i += kDotThreads) sum += a[i * p + k] * b[i * p + k];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = kDotThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[k] = partial[0];
}

__global__ void sqrt_kernel(double* __restrict__ x, int64_t n) {
  CUTS_GRID_STRIDE(i, n)
    x[i] = sqrt(x[i]);
}

// w[i, k] -= coefficient[k] * v[i, k].
__global__ void subtract_scaled_kernel(double* __restrict__ w,
                                       const double* __restrict__ coefficient,
                                       const double* __restrict__ v, int64_t m, int64_t p) {
  CUTS_GRID_STRIDE(idx, m * p)
    w[idx] -= coefficient[idx % p] * v[idx];
}

// out[i, k] = w[i, k] / norm[k] (w itself where the norm is 0).
__global__ void divide_columns_kernel(const double* __restrict__ w,
                                      const double* __restrict__ norm, int64_t m, int64_t p,
                                      double* __restrict__ out) {
  CUTS_GRID_STRIDE(idx, m * p) {
    const double n = norm[idx % p];
    out[idx] = w[idx] / (n > 0 ? n : 1.0);
  }
}

}  // namespace
}  // namespace cuts
