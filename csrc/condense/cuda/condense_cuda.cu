// CUDA diffusion condensation engine: the same steps as csrc/condense/cpu/condense_cpu.cpp (the
// reference), with the points, cluster sizes, clusters and kernel graph kept on the GPU.
//
// Neighbour queries are brute force over all pairs: one thread per row i, the j side staged
// through shared memory a tile of rows at a time, visited in increasing index so that every
// list comes out sorted. A pair is listed under exactly the CPU's conditions (its first-axis
// window, then squared_distance_bounded against the widened radius), so the lists, the k-th
// neighbour distances, the pair distances and the merges are the CPU's bit for bit. The
// affinities use the device's exp / pow, which may differ from the host libm's by an ulp.
// Built with --fmad=false (CMakeLists.txt): no multiply-add is contracted, so sums and
// products round as on the CPU.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "condense/engine.h"
#include "condense/groups.h"
#include "condense/kernel.h"
#include "core/cuda/cuda_utils.h"
#include "core/errors.h"
#include "core/nvtx.h"

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

// ---------------------------------------------------------------------------------------------
// Sizes

// The number of bits holding values 0..max_value (at least 1), the radix sort's end_bit.
int bits_for(uint64_t max_value) {
  int bits = 1;
  while (bits < 64 && (max_value >> bits) != 0) ++bits;
  return bits;
}

// Rows of the j tile in shared memory for C features (0: C too large, j read from global).
int tile_rows_for(int64_t c) {
  const int64_t rows = std::min<int64_t>(kRowThreads, kTileBytes / (8 * std::max<int64_t>(c, 1)));
  return static_cast<int>(rows);
}

unsigned int row_blocks(int64_t m) {
  const int64_t blocks = (m + kRowThreads - 1) / kRowThreads;
  return static_cast<unsigned int>(blocks > 0 ? blocks : 1);
}

// ---------------------------------------------------------------------------------------------
// Kernels

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

template <class T>
__global__ void to_float64_kernel(const T* __restrict__ src, int64_t n, double* __restrict__ dst) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x)
    dst[i] = static_cast<double>(src[i]);
}

__global__ void fill_kernel(double* __restrict__ out, int64_t n, double value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x)
    out[i] = value;
}

// Every point its own cluster of weight 1.
__global__ void init_clusters_kernel(int64_t n, double* __restrict__ weights,
                                     int64_t* __restrict__ cluster) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x) {
    weights[i] = 1.0;
    cluster[i] = i;
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
  double decay, thresh;
  __device__ double operator()(int64_t i, int64_t j, double d) const {
    return (alpha_decay(d, bandwidth[i], decay, thresh) +
            alpha_decay(d, bandwidth[j], decay, thresh)) / 2.0;
  }
};

struct FixedAffinity {
  double bandwidth;
  const double* weights;
  double decay, thresh;
  __device__ double operator()(int64_t i, int64_t j, double d) const {
    const double k = alpha_decay(d, bandwidth, decay, thresh);
    return (k * weights[j] + k * weights[i]) / 2.0;
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

// P = D^-1 S: D_i the row sum, in column order.
__global__ void transition_kernel(const int64_t* __restrict__ row_ptr,
                                  const double* __restrict__ values, int64_t m,
                                  double* __restrict__ p) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < m;
       i += int64_t(blockDim.x) * gridDim.x) {
    double degree = 0.0;
    for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e) degree += values[e];
    for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e) p[e] = values[e] / degree;
  }
}

// next = P x, one thread per (row, feature), the row's entries summed in order from 0.
__global__ void diffuse_kernel(const int64_t* __restrict__ row_ptr,
                               const int64_t* __restrict__ cols, const double* __restrict__ p,
                               const double* __restrict__ x, int64_t m, int64_t c,
                               double* __restrict__ next) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < m * c;
       idx += int64_t(blockDim.x) * gridDim.x) {
    const int64_t i = idx / c, k = idx % c;
    double sum = 0.0;
    for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e) sum += p[e] * x[cols[e] * c + k];
    next[idx] = sum;
  }
}

// One pass of gram_product, one thread per (row, column): dst = S src, the row's entries summed
// in order from 0, divided by D_i^2 (D_i summed alongside, in the same order) when `scale`.
__global__ void gram_pass_kernel(const int64_t* __restrict__ row_ptr,
                                 const int64_t* __restrict__ cols, const double* __restrict__ values,
                                 const double* __restrict__ src, int64_t m, int64_t columns,
                                 bool scale, double* __restrict__ dst) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < m * columns;
       idx += int64_t(blockDim.x) * gridDim.x) {
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
__global__ void merge_points_kernel(const double* __restrict__ x, const int64_t* __restrict__ members,
                                    const int64_t* __restrict__ offsets, int64_t groups, int64_t c,
                                    double* __restrict__ out) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < groups * c;
       idx += int64_t(blockDim.x) * gridDim.x) {
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
  for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < groups;
       g += int64_t(blockDim.x) * gridDim.x) {
    double sum = 0.0;
    for (int64_t q = offsets[g]; q < offsets[g + 1]; ++q) sum += w[members[q]];
    out[g] = sum;
  }
}

__global__ void relabel_kernel(const int64_t* __restrict__ group, int64_t n,
                               int64_t* __restrict__ cluster) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(blockDim.x) * gridDim.x)
    cluster[i] = group[cluster[i]];
}

// ---------------------------------------------------------------------------------------------
// The engine

// Directed neighbour lists as CSR: row i's entries offsets[i] .. offsets[i + 1], increasing j.
struct NeighbourLists {
  DeviceArray<int64_t> offsets;  // [M + 1]
  DeviceArray<int64_t> cols;     // [E]
  DeviceArray<double> dist;      // [E]
  int64_t entries = 0;
};

// The kernel graph on the device.
struct DeviceGraph {
  DeviceArray<int64_t> row_ptr;  // [M + 1]
  DeviceArray<int64_t> cols;     // [E]
  DeviceArray<double> values;    // [E]
  int64_t entries = 0;
  bool built = false;
};

class CudaCondenser final : public Condenser {
 public:
  CudaCondenser(DeviceArray<double> x, int64_t n, int64_t c, double decay, double thresh,
                int device, cudaStream_t stream)
      : n_(n), m_(n), c_(c), decay_(decay), thresh_(thresh), device_(device), stream_(stream),
        x_(std::move(x)), w_(n, stream, "the cluster weights"),
        cluster_(n, stream, "the cluster of every point") {
    NvtxRange range("init_clusters_kernel");
    init_clusters_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream_>>>(n, w_.get(),
                                                                          cluster_.get());
    CUTS_CHECK_LAUNCH(stream_, "init_clusters_kernel");
  }

  ~CudaCondenser() override {
    // Free in stream order on the engine's device, then restore the caller's; never throw.
    int previous = -1;
    if (cudaGetDevice(&previous) != cudaSuccess) {
      cudaGetLastError();
      previous = -1;
    }
    if (previous != device_ && cudaSetDevice(device_) != cudaSuccess) cudaGetLastError();
    graph_ = DeviceGraph{};
    x_.release();
    w_.release();
    cluster_.release();
    if (previous >= 0 && previous != device_ && cudaSetDevice(previous) != cudaSuccess)
      cudaGetLastError();
  }

  int64_t size() const override { return m_; }
  int64_t dims() const override { return c_; }

  void adaptive_kernel(int64_t k) override {
    if (k < 1) throw InvalidArgument("k (neighbours of the adaptive bandwidth) must be >= 1, got " +
                                     std::to_string(k));
    DeviceGuard guard(device_);
    const int64_t m = m_;
    DeviceArray<double> kth(m, stream_, "the k-th neighbour distances");
    kth_neighbour_distance(k, kth.get());
    DeviceArray<double> bandwidth(m, stream_, "the adaptive bandwidths");
    DeviceArray<double> support(m, stream_, "the kernel supports");
    {
      NvtxRange range("bandwidth_kernel");
      bandwidth_kernel<<<blocks_for(m), kThreadsPerBlock, 0, stream_>>>(
          kth.get(), m, decay_, thresh_, bandwidth.get(), support.get());
      CUTS_CHECK_LAUNCH(stream_, "bandwidth_kernel");
    }
    kth.release();
    // Directed lists j within i's support; S_ij is nonzero where either direction is.
    NeighbourLists directed = neighbours_within(support.get(), 0.0, /*only_greater=*/false);
    support.release();
    build_graph(std::move(directed), /*symmetric=*/false,
                AdaptiveAffinity{bandwidth.get(), decay_, thresh_});
  }

  void fixed_kernel(double eps) override {
    DeviceGuard guard(device_);
    const double bandwidth = std::max(eps, DBL_EPSILON);
    const double support = kernel_support(bandwidth, decay_, thresh_);
    // One radius for all: the lists are already symmetric.
    NeighbourLists lists = neighbours_within(nullptr, support, false);
    build_graph(std::move(lists), /*symmetric=*/true,
                FixedAffinity{bandwidth, w_.get(), decay_, thresh_});
  }

  KernelGraph kernel_graph() const override {
    if (!graph_.built) throw InvalidArgument("no kernel built since the last merge");
    DeviceGuard guard(device_);
    KernelGraph g;
    g.row_ptr = to_host(graph_.row_ptr.get(), m_ + 1, stream_);
    g.cols = to_host(graph_.cols.get(), graph_.entries, stream_);
    g.values = to_host(graph_.values.get(), graph_.entries, stream_);
    return g;
  }

  std::vector<double> gram_product(const std::vector<double>& v, int64_t columns) const override {
    if (!graph_.built) throw InvalidArgument("gram_product needs a kernel: build one first");
    const int64_t m = m_;
    if (columns < 0 || static_cast<int64_t>(v.size()) != m * columns)
      throw InvalidArgument("gram_product: the block must have M * columns values");
    DeviceGuard guard(device_);
    const DeviceArray<double> block = to_device(v, stream_, "the gram_product block");
    DeviceArray<double> inner(m * columns, stream_, "the gram_product intermediate");
    DeviceArray<double> out(m * columns, stream_, "the gram_product result");
    // inner = D^-2 S V, then out = S inner.
    for (int pass = 0; pass < 2; ++pass) {
      NvtxRange range("gram_pass_kernel");
      gram_pass_kernel<<<blocks_for(m * columns), kThreadsPerBlock, 0, stream_>>>(
          graph_.row_ptr.get(), graph_.cols.get(), graph_.values.get(),
          pass == 0 ? block.get() : inner.get(), m, columns, pass == 0,
          pass == 0 ? inner.get() : out.get());
      CUTS_CHECK_LAUNCH(stream_, "gram_pass_kernel");
    }
    return to_host(out.get(), m * columns, stream_);
  }

  void diffuse(int64_t t) override {
    if (!graph_.built) throw InvalidArgument("diffuse needs a kernel: build one first");
    DeviceGuard guard(device_);
    const int64_t m = m_;
    // P_ij = S_ij / D_i, formed once: the reference divides K by its row sums the same way.
    DeviceArray<double> p(graph_.entries, stream_, "the diffusion operator");
    {
      NvtxRange range("transition_kernel");
      transition_kernel<<<blocks_for(m), kThreadsPerBlock, 0, stream_>>>(
          graph_.row_ptr.get(), graph_.values.get(), m, p.get());
      CUTS_CHECK_LAUNCH(stream_, "transition_kernel");
    }
    if (t <= 0) return;
    DeviceArray<double> next(m * c_, stream_, "the diffused points");
    for (int64_t step = 0; step < t; ++step) {
      NvtxRange range("diffuse_kernel");
      diffuse_kernel<<<blocks_for(m * c_), kThreadsPerBlock, 0, stream_>>>(
          graph_.row_ptr.get(), graph_.cols.get(), p.get(), x_.get(), m, c_, next.get());
      CUTS_CHECK_LAUNCH(stream_, "diffuse_kernel");
      std::swap(x_, next);
    }
  }

  std::vector<double> smallest_pair_distances(int64_t count) override {
    const int64_t m = m_;
    const int64_t pairs = m * (m - 1) / 2;
    count = std::min(count, pairs);
    if (count <= 0) return {};
    DeviceGuard guard(device_);
    // A radius sure to hold `count` pairs: the 2 * count smallest nearest-neighbour distances
    // belong to 2 * count points, hence to at least `count` distinct pairs.
    double radius = kInfinity;
    if (2 * count <= m) {
      DeviceArray<double> nearest(m, stream_, "the nearest-neighbour distances");
      DeviceArray<double> sorted(m, stream_, "the sorted nearest-neighbour distances");
      kth_neighbour_distance(1, nearest.get());
      cub::DoubleBuffer<double> buffer(nearest.get(), sorted.get());
      run_cub("cub::DeviceRadixSort::SortKeys (nearest distances)", stream_,
              [&](void* temp, size_t& bytes) {
                return cub::DeviceRadixSort::SortKeys(temp, bytes, buffer, m, 0, 64, stream_);
              });
      radius = scalar_to_host(buffer.Current() + (2 * count - 1), stream_);
    }
    NeighbourLists lists = neighbours_within(nullptr, radius, /*only_greater=*/true);
    const int64_t entries = lists.entries;
    if (entries == 0) return {};
    lists.cols.release();
    lists.offsets.release();
    DeviceArray<double> sorted(entries, stream_, "the sorted pair distances");
    cub::DoubleBuffer<double> buffer(lists.dist.get(), sorted.get());
    run_cub("cub::DeviceRadixSort::SortKeys (pair distances)", stream_,
            [&](void* temp, size_t& bytes) {
              return cub::DeviceRadixSort::SortKeys(temp, bytes, buffer, entries, 0, 64, stream_);
            });
    return to_host(buffer.Current(), std::min(count, entries), stream_);
  }

  int64_t merge(double threshold) override {
    DeviceGuard guard(device_);
    const int64_t m = m_;
    // Pairs closer than the threshold (strictly): the query keeps d <= r, then d < r is checked.
    // They are few: the union-find runs on the host, as the CPU's.
    std::vector<int64_t> offsets, cols;
    std::vector<double> dist;
    {
      NeighbourLists lists = neighbours_within(nullptr, threshold, /*only_greater=*/true);
      offsets = to_host(lists.offsets.get(), m + 1, stream_);
      cols = to_host(lists.cols.get(), lists.entries, stream_);
      dist = to_host(lists.dist.get(), lists.entries, stream_);
    }
    std::vector<std::pair<int64_t, int64_t>> close;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t e = offsets[i]; e < offsets[i + 1]; ++e)
        if (dist[e] < threshold) close.emplace_back(i, cols[e]);
    // Groups numbered by their smallest member, which is the order rows are kept in.
    int64_t groups = 0;
    const std::vector<int64_t> group = components_by_smallest_member(m, close, &groups);
    if (groups != m) {
      // Members of each group in increasing index (a counting sort), for in-order sums.
      std::vector<int64_t> member_offsets(groups + 1, 0), members(m);
      for (int64_t i = 0; i < m; ++i) ++member_offsets[group[i] + 1];
      for (int64_t g = 0; g < groups; ++g) member_offsets[g + 1] += member_offsets[g];
      {
        std::vector<int64_t> cursor(member_offsets.begin(), member_offsets.end() - 1);
        for (int64_t i = 0; i < m; ++i) members[cursor[group[i]]++] = i;
      }
      const DeviceArray<int64_t> d_group = to_device(group, stream_, "the merge groups");
      const DeviceArray<int64_t> d_members = to_device(members, stream_, "the group members");
      const DeviceArray<int64_t> d_offsets =
          to_device(member_offsets, stream_, "the group member offsets");
      DeviceArray<double> x(groups * c_, stream_, "the merged points");
      DeviceArray<double> w(groups, stream_, "the merged weights");
      {
        NvtxRange range("merge_points_kernel");
        merge_points_kernel<<<blocks_for(groups * c_), kThreadsPerBlock, 0, stream_>>>(
            x_.get(), d_members.get(), d_offsets.get(), groups, c_, x.get());
        CUTS_CHECK_LAUNCH(stream_, "merge_points_kernel");
      }
      {
        NvtxRange range("merge_weights_kernel");
        merge_weights_kernel<<<blocks_for(groups), kThreadsPerBlock, 0, stream_>>>(
            w_.get(), d_members.get(), d_offsets.get(), groups, w.get());
        CUTS_CHECK_LAUNCH(stream_, "merge_weights_kernel");
      }
      {
        NvtxRange range("relabel_kernel");
        relabel_kernel<<<blocks_for(n_), kThreadsPerBlock, 0, stream_>>>(d_group.get(), n_,
                                                                         cluster_.get());
        CUTS_CHECK_LAUNCH(stream_, "relabel_kernel");
      }
      x_ = std::move(x);
      w_ = std::move(w);
      m_ = groups;
    }
    graph_ = DeviceGraph{};  // the kernel belongs to the points it was built on
    return groups;
  }

  std::vector<int32_t> labels() const override {
    DeviceGuard guard(device_);
    const std::vector<int64_t> cluster = to_host(cluster_.get(), n_, stream_);
    return std::vector<int32_t>(cluster.begin(), cluster.end());
  }

  std::vector<double> points() const override {
    DeviceGuard guard(device_);
    return to_host(x_.get(), m_ * c_, stream_);
  }

  std::vector<double> weights() const override {
    DeviceGuard guard(device_);
    return to_host(w_.get(), m_, stream_);
  }

 protected:
  void assign_weights(const std::vector<double>& weights) override {
    DeviceGuard guard(device_);
    w_ = to_device(weights, stream_, "the weights");
    graph_ = DeviceGraph{};
  }

 private:
  // The distance from every point to its k-th nearest other point, into out[M].
  void kth_neighbour_distance(int64_t k, double* out) {
    const int64_t m = m_;
    if (m == 0) return;
    if (k > m - 1) {
      // Fewer than k other points: infinity everywhere, as the CPU's query finds.
      NvtxRange range("fill_kernel");
      fill_kernel<<<blocks_for(m), kThreadsPerBlock, 0, stream_>>>(out, m, kInfinity);
      CUTS_CHECK_LAUNCH(stream_, "fill_kernel");
      return;
    }
    if (k > kMaxNeighbours)
      throw InvalidArgument("the CUDA engine finds at most " + std::to_string(kMaxNeighbours) +
                            " neighbours for the adaptive bandwidth, got k = " +
                            std::to_string(k) + ": use a smaller knn or run on the CPU");
    const int tile_rows = tile_rows_for(c_);
    const size_t shared = static_cast<size_t>(tile_rows) * c_ * sizeof(double);
    const int kk = static_cast<int>(k);
    NvtxRange range("kth_distance_kernel");
    if (k <= 1) {
      kth_distance_kernel<1><<<row_blocks(m), kRowThreads, shared, stream_>>>(x_.get(), m, c_, kk,
                                                                             tile_rows, out);
    } else if (k <= 8) {
      kth_distance_kernel<8><<<row_blocks(m), kRowThreads, shared, stream_>>>(x_.get(), m, c_, kk,
                                                                             tile_rows, out);
    } else if (k <= 32) {
      kth_distance_kernel<32><<<row_blocks(m), kRowThreads, shared, stream_>>>(x_.get(), m, c_,
                                                                              kk, tile_rows, out);
    } else if (k <= 64) {
      kth_distance_kernel<64><<<row_blocks(m), kRowThreads, shared, stream_>>>(x_.get(), m, c_,
                                                                              kk, tile_rows, out);
    } else if (k <= 128) {
      kth_distance_kernel<128><<<row_blocks(m), kRowThreads, shared, stream_>>>(x_.get(), m, c_,
                                                                               kk, tile_rows, out);
    } else {
      kth_distance_kernel<kMaxNeighbours><<<row_blocks(m), kRowThreads, shared, stream_>>>(
          x_.get(), m, c_, kk, tile_rows, out);
    }
    CUTS_CHECK_LAUNCH(stream_, "kth_distance_kernel");
  }

  // For every point i, the points j != i with d_ij <= radius_i (radius[i], or `scalar` where
  // radius is null; only j > i when only_greater), sorted by index: count, scan, fill.
  NeighbourLists neighbours_within(const double* radius, double scalar, bool only_greater) {
    const int64_t m = m_;
    NeighbourLists lists;
    lists.offsets = DeviceArray<int64_t>(m + 1, stream_, "the neighbour list offsets");
    CUTS_CUDA_CHECK(cudaMemsetAsync(lists.offsets.get(), 0, (m + 1) * sizeof(int64_t), stream_));
    if (m == 0) return lists;
    const int tile_rows = tile_rows_for(c_);
    const size_t shared = static_cast<size_t>(tile_rows) * c_ * sizeof(double);
    {
      NvtxRange range("within_radius_count_kernel");
      within_radius_kernel<false><<<row_blocks(m), kRowThreads, shared, stream_>>>(
          x_.get(), m, c_, radius, scalar, only_greater, tile_rows, lists.offsets.get(), nullptr,
          nullptr);
      CUTS_CHECK_LAUNCH(stream_, "within_radius_count_kernel");
    }
    int64_t* offsets = lists.offsets.get();
    const int64_t items = m + 1;  // offsets[m] = 0 turns into the total
    run_cub("cub::DeviceScan::ExclusiveSum (neighbour counts)", stream_,
            [&](void* temp, size_t& bytes) {
              return cub::DeviceScan::ExclusiveSum(temp, bytes, offsets, offsets, items, stream_);
            });
    lists.entries = scalar_to_host(offsets + m, stream_);
    lists.cols = DeviceArray<int64_t>(lists.entries, stream_, "the neighbour lists");
    lists.dist = DeviceArray<double>(lists.entries, stream_, "the neighbour distances");
    if (lists.entries > 0) {
      NvtxRange range("within_radius_fill_kernel");
      within_radius_kernel<true><<<row_blocks(m), kRowThreads, shared, stream_>>>(
          x_.get(), m, c_, radius, scalar, only_greater, tile_rows, offsets, lists.cols.get(),
          lists.dist.get());
      CUTS_CHECK_LAUNCH(stream_, "within_radius_fill_kernel");
    }
    return lists;
  }

  // The CSR graph of the lists plus self-loops (united with their transpose unless already
  // symmetric), holding the nonzero affinity(i, j, d) of each pair: entries keyed row * M + col
  // and sorted, the first of each key valued, zeros dropped, then compacted in order.
  template <class Affinity>
  void build_graph(NeighbourLists lists, bool symmetric, const Affinity& affinity) {
    const int64_t m = m_;
    if (m > 3037000499LL)  // row * M + col must fit in 63 bits
      throw InvalidArgument("the CUDA engine holds at most 3037000499 points, got " +
                            std::to_string(m));
    const int64_t total = (symmetric ? 1 : 2) * lists.entries + m;
    DeviceArray<unsigned long long> keys(total, stream_, "the kernel graph keys");
    DeviceArray<double> dist(total, stream_, "the kernel graph distances");
    DeviceArray<unsigned long long> keys_alt;
    DeviceArray<double> dist_alt;
    unsigned long long* sorted_keys = keys.get();
    double* sorted_dist = dist.get();
    double* values = nullptr;  // scratch [total] for the affinities
    DeviceArray<double> values_storage;
    if (symmetric) {
      NvtxRange range("emit_symmetric_kernel");
      emit_symmetric_kernel<<<blocks_for(m), kThreadsPerBlock, 0, stream_>>>(
          lists.offsets.get(), lists.cols.get(), lists.dist.get(), m, keys.get(), dist.get());
      CUTS_CHECK_LAUNCH(stream_, "emit_symmetric_kernel");
    } else {
      NvtxRange range("emit_union_kernel");
      emit_union_kernel<<<blocks_for(m), kThreadsPerBlock, 0, stream_>>>(
          lists.offsets.get(), lists.cols.get(), lists.dist.get(), m, keys.get(), dist.get());
      CUTS_CHECK_LAUNCH(stream_, "emit_union_kernel");
    }
    lists = NeighbourLists{};  // release before the sort's buffers
    if (symmetric) {
      values_storage = DeviceArray<double>(total, stream_, "the kernel graph values");
      values = values_storage.get();
    } else if (total > 0) {
      keys_alt = DeviceArray<unsigned long long>(total, stream_, "the kernel graph keys");
      dist_alt = DeviceArray<double>(total, stream_, "the kernel graph distances");
      cub::DoubleBuffer<unsigned long long> key_buffer(keys.get(), keys_alt.get());
      cub::DoubleBuffer<double> dist_buffer(dist.get(), dist_alt.get());
      const int end_bit = bits_for(static_cast<uint64_t>(m) * static_cast<uint64_t>(m) - 1);
      run_cub("cub::DeviceRadixSort::SortPairs (kernel graph)", stream_,
              [&](void* temp, size_t& bytes) {
                return cub::DeviceRadixSort::SortPairs(temp, bytes, key_buffer, dist_buffer, total,
                                                       0, end_bit, stream_);
              });
      sorted_keys = key_buffer.Current();
      sorted_dist = dist_buffer.Current();
      values = dist_buffer.Alternate();  // free after the sort
    }
    DeviceArray<int64_t> position(total + 1, stream_, "the kernel graph positions");
    CUTS_CUDA_CHECK(cudaMemsetAsync(position.get() + total, 0, sizeof(int64_t), stream_));
    {
      NvtxRange range("graph_values_kernel");
      graph_values_kernel<Affinity><<<blocks_for(total), kThreadsPerBlock, 0, stream_>>>(
          sorted_keys, sorted_dist, total, m, affinity, values, position.get());
      CUTS_CHECK_LAUNCH(stream_, "graph_values_kernel");
    }
    int64_t* pos = position.get();
    const int64_t items = total + 1;
    run_cub("cub::DeviceScan::ExclusiveSum (kernel graph)", stream_,
            [&](void* temp, size_t& bytes) {
              return cub::DeviceScan::ExclusiveSum(temp, bytes, pos, pos, items, stream_);
            });
    DeviceGraph graph;
    graph.entries = scalar_to_host(pos + total, stream_);
    graph.row_ptr = DeviceArray<int64_t>(m + 1, stream_, "the kernel graph row pointers");
    graph.cols = DeviceArray<int64_t>(graph.entries, stream_, "the kernel graph columns");
    graph.values = DeviceArray<double>(graph.entries, stream_, "the kernel graph values");
    if (total > 0) {
      NvtxRange range("graph_scatter_kernel");
      graph_scatter_kernel<<<blocks_for(total), kThreadsPerBlock, 0, stream_>>>(
          sorted_keys, values, pos, total, m, graph.cols.get(), graph.values.get());
      CUTS_CHECK_LAUNCH(stream_, "graph_scatter_kernel");
    }
    {
      NvtxRange range("graph_row_ptr_kernel");
      graph_row_ptr_kernel<<<blocks_for(m + 1), kThreadsPerBlock, 0, stream_>>>(
          sorted_keys, pos, total, m, graph.row_ptr.get());
      CUTS_CHECK_LAUNCH(stream_, "graph_row_ptr_kernel");
    }
    graph.built = true;
    graph_ = std::move(graph);
  }

  int64_t n_, m_, c_;
  double decay_, thresh_;
  int device_;
  cudaStream_t stream_;
  DeviceArray<double> x_;         // [M, C] current points
  DeviceArray<double> w_;         // [M] original points per cluster
  DeviceArray<int64_t> cluster_;  // [N] current cluster of each original point
  DeviceGraph graph_;             // the kernel on the current points; not built after a merge
};

}  // namespace

std::unique_ptr<Condenser> make_condenser_cuda(const ArrayView& points, double decay,
                                               double thresh, StreamHandle stream) {
  DeviceGuard guard(points.device_index);
  const cudaStream_t s = as_cuda_stream(stream);
  const int64_t n = points.shape[0], c = points.shape[1];
  DeviceArray<double> x(n * c, s, "the points (float64 copy)");
  if (n * c > 0) {
    if (points.dtype == DType::Float64) {
      CUTS_CUDA_CHECK(cudaMemcpyAsync(x.get(), points.data, n * c * sizeof(double),
                                      cudaMemcpyDeviceToDevice, s));
    } else {
      NvtxRange range("to_float64_kernel");
      to_float64_kernel<float><<<blocks_for(n * c), kThreadsPerBlock, 0, s>>>(
          points.as<const float>(), n * c, x.get());
      CUTS_CHECK_LAUNCH(s, "to_float64_kernel");
    }
  }
  auto engine = std::make_unique<CudaCondenser>(std::move(x), n, c, decay, thresh,
                                                points.device_index, s);
  // The caller may free `points` once we return, whatever stream it allocates on next.
  CUTS_CUDA_CHECK(cudaStreamSynchronize(s));
  return engine;
}

}  // namespace cuts
