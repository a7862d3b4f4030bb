// The CUDA condensation engine's per-step kernels (condense_cuda.cu, which alone includes this
// file): the engine's state (float64 points, clusters), diffusion and the spectrum's products
// over the CSR kernel graph, and the merge of groups of points. Every sum runs in the CPU
// engine's order, so that with --fmad=false it rounds as the CPU's does.
#pragma once

#include <cstdint>

#include "core/cuda/grid_stride.h"

namespace cuts {
namespace {

template <class T>
__global__ void to_float64_kernel(const T* __restrict__ src, int64_t n, double* __restrict__ dst) {
  CUTS_GRID_STRIDE(i, n)
    dst[i] = static_cast<double>(src[i]);
}

__global__ void fill_kernel(double* __restrict__ out, int64_t n, double value) {
  CUTS_GRID_STRIDE(i, n)
    out[i] = value;
}

// Every point its own cluster of weight 1.
__global__ void init_clusters_kernel(int64_t n, double* __restrict__ weights,
                                     int64_t* __restrict__ cluster) {
  CUTS_GRID_STRIDE(i, n) {
    weights[i] = 1.0;
    cluster[i] = i;
  }
}

// out[i] = i.
__global__ void iota_kernel(int64_t n, int64_t* __restrict__ out) {
  CUTS_GRID_STRIDE(i, n)
    out[i] = i;
}

// D_i, the sum of row i of S in column order, as the CPU engine sums it.
__device__ __forceinline__ double row_sum(const int64_t* __restrict__ row_ptr,
                                          const double* __restrict__ values, int64_t i) {
  double sum = 0.0;
  for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e) sum += values[e];
  return sum;
}

__global__ void degree_kernel(const int64_t* __restrict__ row_ptr,
                              const double* __restrict__ values, int64_t m,
                              double* __restrict__ degree) {
  CUTS_GRID_STRIDE(i, m)
    degree[i] = row_sum(row_ptr, values, i);
}

// P = D^-1 S.
__global__ void transition_kernel(const int64_t* __restrict__ row_ptr,
                                  const double* __restrict__ values, int64_t m,
                                  double* __restrict__ p) {
  CUTS_GRID_STRIDE(i, m) {
    const double degree = row_sum(row_ptr, values, i);
    for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e) p[e] = values[e] / degree;
  }
}

// next = P x, one thread per (row, feature), the row's entries summed in order from 0.
__global__ void diffuse_kernel(const int64_t* __restrict__ row_ptr,
                               const int32_t* __restrict__ cols, const double* __restrict__ p,
                               const double* __restrict__ x, int64_t m, int64_t c,
                               double* __restrict__ next) {
  CUTS_GRID_STRIDE(idx, m * c) {
    const int64_t i = idx / c, k = idx % c;
    double sum = 0.0;
    for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e) sum += p[e] * x[cols[e] * c + k];
    next[idx] = sum;
  }
}

// One pass of gram_product, one thread per (row, column): dst = S src, the row's entries summed
// in order from 0, divided by D_i^2 (D_i summed alongside, in the same order) when `scale`.
__global__ void gram_pass_kernel(const int64_t* __restrict__ row_ptr,
                                 const int32_t* __restrict__ cols,
                                 const double* __restrict__ values,
                                 const double* __restrict__ src, int64_t m, int64_t columns,
                                 bool scale, double* __restrict__ dst) {
  CUTS_GRID_STRIDE(idx, m * columns) {
    const int64_t i = idx / columns, k = idx % columns;
    double sum = 0.0, degree = 0.0;
    for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e) {
      const double s = values[e];
      sum += s * src[cols[e] * columns + k];
      degree += s;
    }
    dst[idx] = scale ? sum / (degree * degree) : sum;
  }
}

// Group means summed over the members in increasing index (members grouped by offsets), and
// group weights, as the CPU's in-order accumulation.
__global__ void merge_points_kernel(const double* __restrict__ x,
                                    const int64_t* __restrict__ members,
                                    const int64_t* __restrict__ offsets, int64_t groups, int64_t c,
                                    double* __restrict__ out) {
  CUTS_GRID_STRIDE(idx, groups * c) {
    const int64_t g = idx / c, k = idx % c;
    double sum = 0.0, count = 0.0;
    for (int64_t q = offsets[g]; q < offsets[g + 1]; ++q) {
      sum += x[members[q] * c + k];
      count += 1.0;
    }
    out[idx] = sum / count;
  }
}

__global__ void merge_weights_kernel(const double* __restrict__ w,
                                     const int64_t* __restrict__ members,
                                     const int64_t* __restrict__ offsets, int64_t groups,
                                     double* __restrict__ out) {
  CUTS_GRID_STRIDE(g, groups) {
    double sum = 0.0;
    for (int64_t q = offsets[g]; q < offsets[g + 1]; ++q) sum += w[members[q]];
    out[g] = sum;
  }
}

__global__ void relabel_kernel(const int64_t* __restrict__ group, int64_t n,
                               int64_t* __restrict__ cluster) {
  CUTS_GRID_STRIDE(i, n)
    cluster[i] = group[cluster[i]];
}

}  // namespace
}  // namespace cuts
