// The CUDA condensation engine's kernels that find neighbours and build the kernel graph
// (condense_cuda.cu, which alone includes this file): brute-force pair queries over all points,
// one thread per row i with the j side staged through shared memory, and the steps that turn
// the neighbour lists into a CSR graph of affinities. Lists, k-th neighbour distances and merges
// are the CPU engine's bit for bit (see condense_cuda.cu).
#pragma once

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <limits>

#include "condense/kernel.h"

namespace cuts {
namespace {

// Threads per block of the brute-force pair kernels (one thread per row), and the shared memory
// one block may use for its tile of j rows (the default limit, no opt-in needed).
constexpr int kRowThreads = 128;
constexpr int64_t kTileBytes = 48 * 1024;
// The largest k of the k-th neighbour query: a thread keeps its k best in a local array.
constexpr int64_t kMaxNeighbours = 256;
// A constexpr scalar: usable in device code as well.
constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Rows of the j tile in shared memory for C features (0: C too large, j read from global).
int tile_rows_for(int64_t c) {
  const int64_t rows = std::min<int64_t>(kRowThreads, kTileBytes / (8 * std::max<int64_t>(c, 1)));
  return static_cast<int>(rows);
}

// Blocks of kRowThreads for one thread per row of m.
unsigned int row_blocks(int64_t m) {
  const int64_t blocks = (m + kRowThreads - 1) / kRowThreads;
  return static_cast<unsigned int>(blocks > 0 ? blocks : 1);
}

// Calls visit(j, x_j) for j = from, from + 1, ..., m - 1 in order, in every active thread of the
// block; x_j points to shared memory when the rows are staged (tile_rows > 0). Every thread of
// the block must call it with the same from / tile_rows (it synchronises the block).
template <class Visit>
__device__ __forceinline__ void for_each_point(const double* __restrict__ x, int64_t m, int64_t c,
                                               double* tile, int tile_rows, int64_t from,
                                               bool active, Visit& visit) {
  if (tile_rows == 0) {
    if (active)
      for (int64_t j = from; j < m; ++j) visit(j, x + j * c);
    return;
  }
  for (int64_t base = from; base < m; base += tile_rows) {
    const int64_t rows = min(static_cast<int64_t>(tile_rows), m - base);
    __syncthreads();  // the previous tile has been used by every thread
    for (int64_t t = threadIdx.x; t < rows * c; t += blockDim.x) tile[t] = x[base * c + t];
    __syncthreads();
    if (active)
      for (int64_t r = 0; r < rows; ++r) visit(base + r, tile + r * c);
  }
}

// Distance from each point to its k-th nearest other point (infinity when fewer than k exist):
// the CPU's kth_neighbour_distance, as a brute-force scan keeping the k smallest squared
// distances in ascending order. Once k are held, squared_distance_bounded gives up past the
// k-th, exactly as the CPU's heap bound does, so the k-th value is the same.
template <int K>
__global__ void __launch_bounds__(kRowThreads)
    kth_distance_kernel(const double* __restrict__ x, int64_t m, int64_t c, int k, int tile_rows,
                        double* __restrict__ out) {
  extern __shared__ double tile[];
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const bool active = i < m;
  const double* xi = x + (active ? i : 0) * c;
  double best[K];
  for (int q = 0; q < K; ++q) best[q] = kInfinity;
  int count = 0;
  auto visit = [&](int64_t j, const double* xj) {
    if (j == i) return;
    const double bound = count == k ? best[k - 1] : kInfinity;
    const double d2 = squared_distance_bounded(xi, xj, c, bound);
    int pos;
    if (count < k) {
      pos = count++;
    } else if (d2 < best[k - 1]) {
      pos = k - 1;
    } else {
      return;
    }
    while (pos > 0 && best[pos - 1] > d2) {
      best[pos] = best[pos - 1];
      --pos;
    }
    best[pos] = d2;
  };
  for_each_point(x, m, c, tile, tile_rows, 0, active, visit);
  if (active) out[i] = count == k ? sqrt(best[k - 1]) : kInfinity;
}

// The adaptive bandwidth (raised to float64 epsilon, as std::max does) and its kernel support.
__global__ void bandwidth_kernel(const double* __restrict__ kth, int64_t m, double decay,
                                 double thresh, double* __restrict__ bandwidth,
                                 double* __restrict__ support) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < m;
       i += int64_t(blockDim.x) * gridDim.x) {
    const double b = kth[i] < DBL_EPSILON ? DBL_EPSILON : kth[i];
    bandwidth[i] = b;
    support[i] = kernel_support(b, decay, thresh);
  }
}

// The CPU's neighbours_within: for row i, every j != i (only j > i when only_greater) inside
// i's first-axis window |x_j0 - x_i0| <= r with squared_distance_bounded(x_i, x_j) <= r^2,
// r = radius * (1 + 1e-9) (radius[i], or `scalar` when radius is null). kFill = false counts
// them into counts[i]; kFill = true writes them from offsets[i], increasing j, with sqrt(d^2).
template <bool kFill>
__global__ void __launch_bounds__(kRowThreads)
    within_radius_kernel(const double* __restrict__ x, int64_t m, int64_t c,
                         const double* __restrict__ radius, double scalar, bool only_greater,
                         int tile_rows, int64_t* __restrict__ counts_or_offsets,
                         int64_t* __restrict__ cols, double* __restrict__ dist) {
  extern __shared__ double tile[];
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const bool active = i < m;
  const double* xi = x + (active ? i : 0) * c;
  const double r = (active ? (radius != nullptr ? radius[i] : scalar) : 0.0) * (1.0 + 1e-9);
  const double bound = r * r;
  int64_t pos = kFill && active ? counts_or_offsets[i] : 0;
  auto visit = [&](int64_t j, const double* xj) {
    if (j == i || (only_greater && j < i)) return;
    if (!(fabs(xj[0] - xi[0]) <= r)) return;  // the CPU's sweep window
    const double d2 = squared_distance_bounded(xi, xj, c, bound);
    if (d2 <= bound) {
      if (kFill) {
        cols[pos] = j;
        dist[pos] = sqrt(d2);
      }
      ++pos;
    }
  };
  // With only_greater no thread of this block needs a j at or below the block's first row.
  const int64_t from = only_greater ? blockIdx.x * int64_t(blockDim.x) + 1 : 0;
  for_each_point(x, m, c, tile, tile_rows, from, active, visit);
  if (!kFill && active) counts_or_offsets[i] = pos;
}

// The entries of the union of the directed lists with their transpose, plus self-loops, as
// (row * m + col, distance) pairs in any order: (i, j) and (j, i) for each listed pair.
__global__ void emit_union_kernel(const int64_t* __restrict__ offsets,
                                  const int64_t* __restrict__ cols, const double* __restrict__ dist,
                                  int64_t m, unsigned long long* __restrict__ keys,
                                  double* __restrict__ d) {
  const int64_t directed = offsets[m];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < m;
       i += int64_t(blockDim.x) * gridDim.x) {
    for (int64_t e = offsets[i]; e < offsets[i + 1]; ++e) {
      const int64_t j = cols[e];
      keys[2 * e] = static_cast<unsigned long long>(i * m + j);
      d[2 * e] = dist[e];
      keys[2 * e + 1] = static_cast<unsigned long long>(j * m + i);
      d[2 * e + 1] = dist[e];
    }
    keys[2 * directed + i] = static_cast<unsigned long long>(i * m + i);
    d[2 * directed + i] = 0.0;
  }
}

// Symmetric lists (one radius for all): each row's list with its self-loop inserted in place,
// row after row, so the keys come out sorted by (row, col) with no sort.
__global__ void emit_symmetric_kernel(const int64_t* __restrict__ offsets,
                                      const int64_t* __restrict__ cols,
                                      const double* __restrict__ dist, int64_t m,
                                      unsigned long long* __restrict__ keys,
                                      double* __restrict__ d) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < m;
       i += int64_t(blockDim.x) * gridDim.x) {
    int64_t out = offsets[i] + i;
    bool self_done = false;
    for (int64_t e = offsets[i]; e < offsets[i + 1]; ++e) {
      if (!self_done && cols[e] > i) {
        keys[out] = static_cast<unsigned long long>(i * m + i);
        d[out++] = 0.0;
        self_done = true;
      }
      keys[out] = static_cast<unsigned long long>(i * m + cols[e]);
      d[out++] = dist[e];
    }
    if (!self_done) {
      keys[out] = static_cast<unsigned long long>(i * m + i);
      d[out] = 0.0;
    }
  }
}

struct AdaptiveAffinity {
  const double* bandwidth;
  const double* weights;
  double decay, thresh;
  __device__ double operator()(int64_t i, int64_t j, double d) const {
    return weighted_affinity(alpha_decay(d, bandwidth[i], decay, thresh),
                             alpha_decay(d, bandwidth[j], decay, thresh), weights[i], weights[j]);
  }
};

struct FixedAffinity {
  double bandwidth;
  const double* weights;
  double decay, thresh;
  __device__ double operator()(int64_t i, int64_t j, double d) const {
    const double k = alpha_decay(d, bandwidth, decay, thresh);
    return weighted_affinity(k, k, weights[i], weights[j]);
  }
};

// Over the entries sorted by key: the first of each key gets its affinity, kept when nonzero
// (keep[t] = 1), as the CPU's unique-then-filter does.
template <class Affinity>
__global__ void graph_values_kernel(const unsigned long long* __restrict__ keys,
                                    const double* __restrict__ d, int64_t total, int64_t m,
                                    Affinity affinity, double* __restrict__ values,
                                    int64_t* __restrict__ keep) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(blockDim.x) * gridDim.x) {
    const bool first = t == 0 || keys[t] != keys[t - 1];
    double value = 0.0;
    if (first) {
      const int64_t key = static_cast<int64_t>(keys[t]);
      value = affinity(key / m, key % m, d[t]);
    }
    values[t] = value;
    keep[t] = first && value != 0.0 ? 1 : 0;
  }
}

// Kept entries to their CSR slots (position = exclusive scan of keep, [total + 1]).
__global__ void graph_scatter_kernel(const unsigned long long* __restrict__ keys,
                                     const double* __restrict__ values,
                                     const int64_t* __restrict__ position, int64_t total, int64_t m,
                                     int64_t* __restrict__ cols, double* __restrict__ out) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(blockDim.x) * gridDim.x) {
    if (position[t + 1] != position[t]) {
      const int64_t e = position[t];
      cols[e] = static_cast<int64_t>(keys[t] % static_cast<unsigned long long>(m));
      out[e] = values[t];
    }
  }
}

// row_ptr[r] = kept entries before row r's first key (a binary search in the sorted keys).
__global__ void graph_row_ptr_kernel(const unsigned long long* __restrict__ keys,
                                     const int64_t* __restrict__ position, int64_t total, int64_t m,
                                     int64_t* __restrict__ row_ptr) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r <= m;
       r += int64_t(blockDim.x) * gridDim.x) {
    int64_t lo = total;
    if (r < m) {
      const unsigned long long target = static_cast<unsigned long long>(r * m);
      int64_t hi = total;
      lo = 0;
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < target) lo = mid + 1; else hi = mid;
      }
    }
    row_ptr[r] = position[lo];
  }
}

}  // namespace
}  // namespace cuts
