// The CUDA condensation engine's kernels that find neighbours and build the kernel graph
// (condense_cuda.cu, which alone includes this file). Neighbours come from the CPU engine's
// sorted sweep (condense/cpu/sweep.h): the points sorted by their first coordinate, a query
// scanning only the ranks whose key is within its radius (or, for the k-th neighbour, widening
// outward from its own rank until the key gap passes the k-th distance). One thread per rank,
// so neighbouring threads read overlapping windows. Lists, k-th neighbour distances and merges
// are the CPU engine's bit for bit (see condense_cuda.cu).
#pragma once

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <limits>

#include "condense/kernel.h"
#include "core/cuda/grid_stride.h"

namespace cuts {
namespace {

// The largest k of the k-th neighbour query: a thread keeps its k best in a local array.
constexpr int64_t kMaxNeighbours = 256;
// A constexpr scalar: usable in device code as well.
constexpr double kInfinity = std::numeric_limits<double>::infinity();

// The sweep's inputs: key[q] = x[i, 0] and order[q] = i for q = 0..M-1 (sorted by a radix sort
// of the keys afterwards).
__global__ void sweep_keys_kernel(const double* __restrict__ x, int64_t m, int64_t c,
                                  double* __restrict__ key, int64_t* __restrict__ order) {
  CUTS_GRID_STRIDE(i, m) {
    key[i] = x[i * c];
    order[i] = i;
  }
}

// xs[q] = x[order[q]]: the points in rank order, so that a window is one contiguous stretch.
__global__ void gather_rows_kernel(const double* __restrict__ x,
                                   const int64_t* __restrict__ order, int64_t m, int64_t c,
                                   double* __restrict__ xs) {
  CUTS_GRID_STRIDE(idx, m * c)
    xs[idx] = x[order[idx / c] * c + idx % c];
}

// Distance from each point to its k-th nearest other point (infinity when fewer than k exist),
// as the CPU's kth_neighbour_distance: the k smallest squared distances kept in ascending order
// while ranks are visited outward from the point's own, the nearer key first; it stops once the
// next key gap squared exceeds the k-th (a point's squared distance is at least its key gap
// squared, as the first term of its sum). Once k are held, squared_distance_bounded gives up
// past the k-th, so the k-th value is the exact one, whatever the visiting order.
template <int K>
__global__ void sweep_kth_distance_kernel(const double* __restrict__ xs,
                                          const double* __restrict__ key,
                                          const int64_t* __restrict__ order, int64_t m, int64_t c,
                                          int k, double* __restrict__ out) {
  CUTS_GRID_STRIDE(own, m) {
    const double* xi = xs + own * c;
    const double centre = key[own];
    double best[K];
    int count = 0;
    int64_t left = own - 1, right = own + 1;
    while (left >= 0 || right < m) {
      const double gap_left = left >= 0 ? centre - key[left] : kInfinity;
      const double gap_right = right < m ? key[right] - centre : kInfinity;
      const bool go_left = gap_left <= gap_right;
      const double gap = go_left ? gap_left : gap_right;
      if (count == k && gap * gap > best[k - 1]) break;
      const int64_t q = go_left ? left-- : right++;
      const double bound = count == k ? best[k - 1] : kInfinity;
      const double d2 = squared_distance_bounded(xi, xs + q * c, c, bound);
      int pos;
      if (count < k) {
        pos = count++;
      } else if (d2 < best[k - 1]) {
        pos = k - 1;
      } else {
        continue;
      }
      while (pos > 0 && best[pos - 1] > d2) {
        best[pos] = best[pos - 1];
        --pos;
      }
      best[pos] = d2;
    }
    out[order[own]] = count == k ? sqrt(best[k - 1]) : kInfinity;
  }
}

// The adaptive bandwidth (raised to float64 epsilon, as std::max does) and its kernel support.
__global__ void bandwidth_kernel(const double* __restrict__ kth, int64_t m, double decay,
                                 double thresh, double* __restrict__ bandwidth,
                                 double* __restrict__ support) {
  CUTS_GRID_STRIDE(i, m) {
    const double b = kth[i] < DBL_EPSILON ? DBL_EPSILON : kth[i];
    bandwidth[i] = b;
    support[i] = kernel_support(b, decay, thresh);
  }
}

// The CPU's scan_row for every point: for the point i at rank `own`, every j != i (only
// j > i when only_greater) in its window of ranks |key_q - key_own| <= r (found by binary
// search: both bounds are monotone in the rank) with squared_distance_bounded <= r^2,
// r = radius * (1 + 1e-9) (radius[i], or `scalar` when radius is null). kFill = false counts
// them into counts[i]; kFill = true writes them from offsets[i] with sqrt(d^2), in rank order
// (a segmented sort then orders each row by j, as the CPU's lists are).
template <bool kFill>
__global__ void sweep_within_radius_kernel(const double* __restrict__ xs,
                                           const double* __restrict__ key,
                                           const int64_t* __restrict__ order, int64_t m,
                                           int64_t c, const double* __restrict__ radius,
                                           double scalar, bool only_greater,
                                           int64_t* __restrict__ counts_or_offsets,
                                           int64_t* __restrict__ cols,
                                           double* __restrict__ dist) {
  CUTS_GRID_STRIDE(own, m) {
    const int64_t i = order[own];
    const double r = (radius != nullptr ? radius[i] : scalar) * (1.0 + 1e-9);
    const double bound = r * r;
    const double centre = key[own];
    // first: the least rank with !(centre - key > r); last: the least with !(key - centre <= r).
    int64_t lo = 0, hi = own;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (centre - key[mid] > r) lo = mid + 1; else hi = mid;
    }
    const int64_t first = lo;
    lo = own;
    hi = m;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (key[mid] - centre <= r) lo = mid + 1; else hi = mid;
    }
    const int64_t last = lo;
    const double* xi = xs + own * c;
    int64_t pos = kFill ? counts_or_offsets[i] : 0;
    for (int64_t q = first; q < last; ++q) {
      if (q == own) continue;
      const int64_t j = order[q];
      if (only_greater && j < i) continue;
      const double d2 = squared_distance_bounded(xi, xs + q * c, c, bound);
      if (!(d2 <= bound)) continue;
      if (kFill) {
        cols[pos] = j;
        dist[pos] = sqrt(d2);
      }
      ++pos;
    }
    if (!kFill) counts_or_offsets[i] = pos;
  }
}

// The entries of the union of the directed lists with their transpose, plus self-loops, as
// (row * m + col, distance) pairs in any order: (i, j) and (j, i) for each listed pair.
__global__ void emit_union_kernel(const int64_t* __restrict__ offsets,
                                  const int64_t* __restrict__ cols, const double* __restrict__ dist,
                                  int64_t m, unsigned long long* __restrict__ keys,
                                  double* __restrict__ d) {
  const int64_t directed = offsets[m];
  CUTS_GRID_STRIDE(i, m) {
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
  CUTS_GRID_STRIDE(i, m) {
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
  CUTS_GRID_STRIDE(t, total) {
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
                                     int32_t* __restrict__ cols, double* __restrict__ out) {
  CUTS_GRID_STRIDE(t, total) {
    if (position[t + 1] != position[t]) {
      const int64_t e = position[t];
      cols[e] = static_cast<int32_t>(keys[t] % static_cast<unsigned long long>(m));
      out[e] = values[t];
    }
  }
}

// row_ptr[r] = kept entries before row r's first key (a binary search in the sorted keys).
__global__ void graph_row_ptr_kernel(const unsigned long long* __restrict__ keys,
                                     const int64_t* __restrict__ position, int64_t total, int64_t m,
                                     int64_t* __restrict__ row_ptr) {
  CUTS_GRID_STRIDE(r, m + 1) {
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
