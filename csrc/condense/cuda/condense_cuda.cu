// CUDA diffusion condensation engine: the same steps as csrc/condense/cpu/condense_cpu.cpp (the
// reference), with the points, cluster sizes, clusters and kernel graph kept on the GPU.
//
// Neighbour queries are the CPU engine's sorted sweep (graph_kernels.cuh): the points sorted by
// their first coordinate once per point set, each query scanning only its window of ranks. A
// pair is listed under exactly the CPU's conditions (its first-axis window, then
// squared_distance_bounded against the widened radius), and each list is sorted by index, so
// the lists, the k-th neighbour distances, the pair distances and the merges are the CPU's bit
// for bit. The affinities use the device's exp / pow, which may differ from the host libm's by
// an ulp. Built with --fmad=false (CMakeLists.txt): no multiply-add is contracted, so sums and
// products round as on the CPU.
//
// The diffusion time's inputs stay on the device: the blocks of the graph come from a device
// union-find, only their sizes, the degrees and the entries of the small blocks (those the host
// decomposes exactly) are copied back, and the stochastic estimate's Lanczos recurrence runs
// here, returning only its coefficients. Merges run on the device too (the same union-find).
// Every copy is counted (transfers(), for the tests).
#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "condense/cuda/cub_ops.cuh"
#include "condense/cuda/graph_kernels.cuh"
#include "condense/cuda/block_kernels.cuh"
#include "condense/cuda/lanczos_kernels.cuh"
#include "condense/cuda/step_kernels.cuh"
#include "condense/engine.h"
#include "condense/kernel.h"
#include "condense/lanczos.h"
#include "condense/spectrum_blocks.h"
#include "core/cuda/cuda_utils.h"
#include "core/errors.h"
#include "core/nvtx.h"

namespace cuts {
namespace {

// Directed neighbour lists as CSR: row i's entries offsets[i] .. offsets[i + 1], increasing j.
struct NeighbourLists {
  DeviceArray<int64_t> offsets;  // [M + 1]
  DeviceArray<int64_t> cols;     // [E]
  DeviceArray<double> dist;      // [E]
  int64_t entries = 0;
};

// The points sorted by their first coordinate (condense/cpu/sweep.h's layout, without lanes).
struct DeviceSweep {
  DeviceArray<int64_t> order;  // [M] the point at each rank
  DeviceArray<double> key;     // [M] its first coordinate, ascending
  DeviceArray<double> xs;      // [M, C] the points in rank order
};

// The kernel graph on the device: both directions of every pair (each row's entries together,
// so that row sums run in column order without atomics), int32 columns: 12 bytes an entry.
struct DeviceGraph {
  DeviceArray<int64_t> row_ptr;  // [M + 1]
  DeviceArray<int32_t> cols;     // [E]
  DeviceArray<double> values;    // [E]
  int64_t entries = 0;
  bool built = false;
};

class CudaCondenser final : public Condenser {
 public:
  CudaCondenser(DeviceArray<double> x, int64_t n, int64_t c, double decay, double thresh,
                int device, cudaStream_t stream)
      : n_(n), m_(n), c_(c), decay_(decay), thresh_(thresh), device_(device), stream_(stream),
        pool_(device), x_(std::move(x)), w_(n, stream, "the cluster weights", pool_.get()),
        cluster_(n, stream, "the cluster of every point", pool_.get()) {
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
    graph_ = DeviceGraph{};  // dropped first, as on the CPU: the old graph never sits beside it
    const int64_t m = m_;
    DeviceArray<double> bandwidth(m, stream_, "the adaptive bandwidths", pool_.get());
    // Directed lists j within i's support; S_ij is nonzero where either direction is. The
    // sorted copy of the points is freed before the graph is built.
    NeighbourLists directed = [&] {
      const DeviceSweep sweep = sort_points();
      DeviceArray<double> kth(m, stream_, "the k-th neighbour distances", pool_.get());
      kth_neighbour_distance(sweep, k, kth.get());
      DeviceArray<double> support(m, stream_, "the kernel supports", pool_.get());
      {
        NvtxRange range("bandwidth_kernel");
        bandwidth_kernel<<<blocks_for(m), kThreadsPerBlock, 0, stream_>>>(
            kth.get(), m, decay_, thresh_, bandwidth.get(), support.get());
        CUTS_CHECK_LAUNCH(stream_, "bandwidth_kernel");
      }
      kth.release();
      return neighbours_within(sweep, support.get(), 0.0, /*only_greater=*/false,
                               /*by_index=*/false);
    }();
    build_graph(std::move(directed), /*symmetric=*/false,
                AdaptiveAffinity{bandwidth.get(), w_.get(), decay_, thresh_});
  }

  void fixed_kernel(double eps) override {
    DeviceGuard guard(device_);
    graph_ = DeviceGraph{};  // dropped first, as on the CPU
    const double bandwidth = std::max(eps, DBL_EPSILON);
    const double support = kernel_support(bandwidth, decay_, thresh_);
    // One radius for all: the lists are already symmetric (and, sorted by index, in the
    // graph's order).
    NeighbourLists lists = neighbours_within(sort_points(), nullptr, support, false, true);
    build_graph(std::move(lists), /*symmetric=*/true,
                FixedAffinity{bandwidth, w_.get(), decay_, thresh_});
  }

  KernelGraph kernel_graph() const override {
    if (!graph_.built) throw InvalidArgument("no kernel built since the last merge");
    DeviceGuard guard(device_);
    KernelGraph g;
    g.row_ptr = to_host(graph_.row_ptr.get(), m_ + 1, stream_, &transfers_);
    const std::vector<int32_t> cols = to_host(graph_.cols.get(), graph_.entries, stream_,
                                              &transfers_);
    g.cols.assign(cols.begin(), cols.end());
    g.values = to_host(graph_.values.get(), graph_.entries, stream_, &transfers_);
    return g;
  }

  std::vector<double> gram_product(const std::vector<double>& v, int64_t columns) const override {
    if (!graph_.built) throw InvalidArgument("gram_product needs a kernel: build one first");
    const int64_t m = m_;
    if (columns < 0 || static_cast<int64_t>(v.size()) != m * columns)
      throw InvalidArgument("gram_product: the block must have M * columns values");
    DeviceGuard guard(device_);
    const DeviceArray<double> block =
        to_device(v, stream_, "the gram_product block", &transfers_, pool_.get());
    DeviceArray<double> inner(m * columns, stream_, "the gram_product intermediate", pool_.get());
    DeviceArray<double> out(m * columns, stream_, "the gram_product result", pool_.get());
    // inner = D^-2 S V, then out = S inner.
    for (int pass = 0; pass < 2; ++pass) {
      NvtxRange range("gram_pass_kernel");
      gram_pass_kernel<<<blocks_for(m * columns), kThreadsPerBlock, 0, stream_>>>(
          graph_.row_ptr.get(), graph_.cols.get(), graph_.values.get(),
          pass == 0 ? block.get() : inner.get(), m, columns, pass == 0,
          pass == 0 ? inner.get() : out.get());
      CUTS_CHECK_LAUNCH(stream_, "gram_pass_kernel");
    }
    return to_host(out.get(), m * columns, stream_, &transfers_);
  }

  // The blocks of S, found on the device (union-find, condense/cuda/block_kernels.cuh), and
  // the entries of the blocks of 2..exact_limit points in small_block_rows' order: only these,
  // the block of every point, the block sizes and the degrees come to the host, never the graph.
  SpectrumBlocks spectrum_blocks(int64_t exact_limit) const override {
    if (!graph_.built) throw InvalidArgument("spectrum_blocks needs a kernel: build one first");
    const int64_t m = m_;
    if (m > std::numeric_limits<int32_t>::max())
      throw InvalidArgument("spectrum_blocks: at most 2^31 - 1 points, got " + std::to_string(m));
    DeviceGuard guard(device_);
    NvtxRange range("spectrum_blocks");
    SpectrumBlocks out;
    out.edges = graph_.entries;
    DeviceArray<double> degree(m, stream_, "the degrees", pool_.get());
    degree_kernel<<<blocks_for(m), kThreadsPerBlock, 0, stream_>>>(
        graph_.row_ptr.get(), graph_.values.get(), m, degree.get());
    CUTS_CHECK_LAUNCH(stream_, "degree_kernel");

    DeviceArray<int64_t> block, sizes;
    const int64_t blocks = components(
        [&](int32_t* parent) {
          union_edges_kernel<<<blocks_for(m), kThreadsPerBlock, 0, stream_>>>(
              graph_.row_ptr.get(), graph_.cols.get(), m, parent);
          CUTS_CHECK_LAUNCH(stream_, "union_edges_kernel");
        },
        &block, &sizes);

    // The rows of small blocks by (block size, block), stable, so by index within a block.
    DeviceArray<unsigned long long> keys(m, stream_, "the small-block row keys", pool_.get());
    DeviceArray<unsigned long long> keys_alt(m, stream_, "the small-block row keys", pool_.get());
    DeviceArray<int64_t> rows(m, stream_, "the small-block rows", pool_.get());
    DeviceArray<int64_t> rows_alt(m, stream_, "the small-block rows", pool_.get());
    DeviceArray<unsigned long long> listed_count(1, stream_, "the small-block row count",
                                                 pool_.get());
    CUTS_CUDA_CHECK(cudaMemsetAsync(listed_count.get(), 0, sizeof(unsigned long long), stream_));
    small_row_key_kernel<<<blocks_for(m), kThreadsPerBlock, 0, stream_>>>(
        block.get(), sizes.get(), m, exact_limit, keys.get(), rows.get(), listed_count.get());
    CUTS_CHECK_LAUNCH(stream_, "small_row_key_kernel");
    cub::DoubleBuffer<unsigned long long> key_buffer(keys.get(), keys_alt.get());
    cub::DoubleBuffer<int64_t> row_buffer(rows.get(), rows_alt.get());
    sort_pairs("cub::DeviceRadixSort::SortPairs (small-block rows)", key_buffer, row_buffer, m,
               64, stream_, pool_.get());
    const int64_t listed =
        static_cast<int64_t>(scalar_to_host(listed_count.get(), stream_, &transfers_));
    DeviceArray<int64_t> offsets(listed + 1, stream_, "the small-block entry offsets", pool_.get());
    CUTS_CUDA_CHECK(cudaMemsetAsync(offsets.get() + listed, 0, sizeof(int64_t), stream_));
    row_length_kernel<<<blocks_for(listed), kThreadsPerBlock, 0, stream_>>>(
        graph_.row_ptr.get(), row_buffer.Current(), listed, offsets.get());
    CUTS_CHECK_LAUNCH(stream_, "row_length_kernel");
    exclusive_sum("cub::DeviceScan::ExclusiveSum (small-block entries)", offsets.get(),
                  listed + 1, stream_, pool_.get());
    const int64_t entries = scalar_to_host(offsets.get() + listed, stream_, &transfers_);
    DeviceArray<int32_t> entry_rows(entries, stream_, "the small-block entry rows", pool_.get());
    DeviceArray<int32_t> entry_cols(entries, stream_, "the small-block entry columns", pool_.get());
    DeviceArray<double> entry_values(entries, stream_, "the small-block entry values", pool_.get());
    small_entries_kernel<<<blocks_for(listed), kThreadsPerBlock, 0, stream_>>>(
        graph_.row_ptr.get(), graph_.cols.get(), graph_.values.get(), row_buffer.Current(),
        offsets.get(), listed, entry_rows.get(), entry_cols.get(), entry_values.get());
    CUTS_CHECK_LAUNCH(stream_, "small_entries_kernel");

    out.block = to_host(block.get(), m, stream_, &transfers_);
    out.sizes = to_host(sizes.get(), blocks, stream_, &transfers_);
    out.degree = to_host(degree.get(), m, stream_, &transfers_);
    out.rows = to_host(entry_rows.get(), entries, stream_, &transfers_);
    out.cols = to_host(entry_cols.get(), entries, stream_, &transfers_);
    out.values = to_host(entry_values.get(), entries, stream_, &transfers_);
    return out;
  }

  // Condenser::lanczos on the device in float64: the probe block goes up once, the recurrence
  // runs in a workspace sized once per call, and only the coefficients come back.
  LanczosCoefficients lanczos(const std::vector<double>& probes, int64_t columns,
                              int64_t steps) const override {
    if (!graph_.built) throw InvalidArgument("lanczos needs a kernel: build one first");
    const int64_t m = m_;
    check_lanczos_arguments(probes, m, columns, steps);
    DeviceGuard guard(device_);
    NvtxRange range("lanczos");
    const int64_t n = m * columns;
    const unsigned int grid = blocks_for(n);
    DeviceArray<double> start =
        to_device(probes, stream_, "the Lanczos probes", &transfers_, pool_.get());
    DeviceArray<double> vector_a(n, stream_, "the Lanczos vectors", pool_.get());
    DeviceArray<double> vector_b(n, stream_, "the Lanczos vectors", pool_.get());
    DeviceArray<double> w(n, stream_, "the Lanczos product", pool_.get());
    DeviceArray<double> inner(n, stream_, "the Lanczos product intermediate", pool_.get());
    // alphas [steps, p], betas [steps, p], then the probes' norms [p].
    DeviceArray<double> coefficients(2 * steps * columns + columns, stream_,
                                     "the Lanczos coefficients", pool_.get());
    double* alphas = coefficients.get();
    double* betas = alphas + steps * columns;
    double* norms = betas + steps * columns;
    double* q = vector_a.get();
    double* q_prev = vector_b.get();
    // norm <- the column norms of v, out <- v / norm (v itself where a norm is 0).
    auto normalise_columns = [&](const double* v, double* norm, double* out) {
      column_dots_kernel<<<columns, kDotThreads, 0, stream_>>>(v, v, m, columns, norm);
      CUTS_CHECK_LAUNCH(stream_, "column_dots_kernel");
      sqrt_kernel<<<1, kThreadsPerBlock, 0, stream_>>>(norm, columns);
      CUTS_CHECK_LAUNCH(stream_, "sqrt_kernel");
      divide_columns_kernel<<<grid, kThreadsPerBlock, 0, stream_>>>(v, norm, m, columns, out);
      CUTS_CHECK_LAUNCH(stream_, "divide_columns_kernel");
    };
    normalise_columns(start.get(), norms, q);
    start.release();
    for (int64_t j = 0; j < steps; ++j) {
      double* alpha = alphas + j * columns;
      double* beta = betas + j * columns;
      // w = S D^-2 S q, as gram_product computes it.
      gram_pass_kernel<<<grid, kThreadsPerBlock, 0, stream_>>>(
          graph_.row_ptr.get(), graph_.cols.get(), graph_.values.get(), q, m, columns, true,
          inner.get());
      CUTS_CHECK_LAUNCH(stream_, "gram_pass_kernel");
      gram_pass_kernel<<<grid, kThreadsPerBlock, 0, stream_>>>(
          graph_.row_ptr.get(), graph_.cols.get(), graph_.values.get(), inner.get(), m, columns,
          false, w.get());
      CUTS_CHECK_LAUNCH(stream_, "gram_pass_kernel");
      if (j > 0) {  // beta_-1 q_-1 = 0
        subtract_scaled_kernel<<<grid, kThreadsPerBlock, 0, stream_>>>(w.get(), beta - columns,
                                                                       q_prev, m, columns);
        CUTS_CHECK_LAUNCH(stream_, "subtract_scaled_kernel");
      }
      column_dots_kernel<<<columns, kDotThreads, 0, stream_>>>(q, w.get(), m, columns, alpha);
      CUTS_CHECK_LAUNCH(stream_, "column_dots_kernel");
      subtract_scaled_kernel<<<grid, kThreadsPerBlock, 0, stream_>>>(w.get(), alpha, q, m,
                                                                     columns);
      CUTS_CHECK_LAUNCH(stream_, "subtract_scaled_kernel");
      // beta = |w|, q_{j+1} = w / beta into the buffer of q_{j-1}, which is no longer needed.
      normalise_columns(w.get(), beta, q_prev);
      std::swap(q, q_prev);
    }
    const std::vector<double> back =
        to_host(coefficients.get(), 2 * steps * columns, stream_, &transfers_);
    LanczosCoefficients out;
    out.alphas.assign(back.begin(), back.begin() + steps * columns);
    out.betas.assign(back.begin() + steps * columns, back.end());
    return out;
  }

  TransferCounts transfers() const override { return transfers_; }

  void diffuse(int64_t t) override {
    if (!graph_.built) throw InvalidArgument("diffuse needs a kernel: build one first");
    if (t <= 0) return;
    DeviceGuard guard(device_);
    const int64_t m = m_;
    // P_ij = S_ij / D_i, formed once: the reference divides K by its row sums the same way.
    DeviceArray<double> p(graph_.entries, stream_, "the diffusion operator", pool_.get());
    {
      NvtxRange range("transition_kernel");
      transition_kernel<<<blocks_for(m), kThreadsPerBlock, 0, stream_>>>(
          graph_.row_ptr.get(), graph_.values.get(), m, p.get());
      CUTS_CHECK_LAUNCH(stream_, "transition_kernel");
    }
    DeviceArray<double> next(m * c_, stream_, "the diffused points", pool_.get());
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
    // A radius sure to hold `count` pairs (condense/kernel.h, pair_search); every pair when
    // the neighbour rank it needs is past what the device query finds (over 10^8 points).
    double radius = kInfinity;
    const DeviceSweep sweep = sort_points();
    const PairSearch search = pair_search(count, m);
    if (search.k <= kMaxNeighbours) {
      DeviceArray<double> kth(m, stream_, "the k-th neighbour distances", pool_.get());
      DeviceArray<double> sorted(m, stream_, "the sorted k-th neighbour distances", pool_.get());
      kth_neighbour_distance(sweep, search.k, kth.get());
      cub::DoubleBuffer<double> buffer(kth.get(), sorted.get());
      sort_keys("cub::DeviceRadixSort::SortKeys (k-th neighbour distances)", buffer, m, stream_,
                pool_.get());
      radius = scalar_to_host(buffer.Current() + search.rank, stream_, &transfers_);
    }
    NeighbourLists lists =
        neighbours_within(sweep, nullptr, radius, /*only_greater=*/true, /*by_index=*/false);
    const int64_t entries = lists.entries;
    if (entries == 0) return {};
    lists.cols.release();
    lists.offsets.release();
    DeviceArray<double> sorted(entries, stream_, "the sorted pair distances", pool_.get());
    cub::DoubleBuffer<double> buffer(lists.dist.get(), sorted.get());
    sort_keys("cub::DeviceRadixSort::SortKeys (pair distances)", buffer, entries, stream_,
              pool_.get());
    return to_host(buffer.Current(), std::min(count, entries), stream_, &transfers_);
  }

  // Joins every pair closer than the threshold, transitively, on the device: the pairs within
  // it (the query keeps d <= r; the union keeps d < r), a union-find whose roots are the
  // smallest members (so groups come out numbered by their smallest member, the order rows
  // are kept in), each group's members in increasing index by a stable sort, then the in-order
  // means and summed weights. Only the pair and group counts come to the host.
  int64_t merge(double threshold) override {
    DeviceGuard guard(device_);
    NvtxRange range("merge");
    graph_ = DeviceGraph{};  // the kernel belongs to the points it was built on (as on the CPU)
    const int64_t m = m_;
    const unsigned int grid = blocks_for(m);
    DeviceArray<int64_t> group, offsets;
    const int64_t groups = components(
        [&](int32_t* parent) {
          const NeighbourLists lists = neighbours_within(sort_points(), nullptr, threshold,
                                                         /*only_greater=*/true,
                                                         /*by_index=*/false);
          union_close_pairs_kernel<<<grid, kThreadsPerBlock, 0, stream_>>>(
              lists.offsets.get(), lists.cols.get(), lists.dist.get(), threshold, m, parent);
          CUTS_CHECK_LAUNCH(stream_, "union_close_pairs_kernel");
        },
        &group, &offsets);
    if (groups != m) {
      // The new state is built aside and swapped in at the end: a failure on the way (out of
      // memory) leaves labels, points and weights as they were, in one numbering.
      DeviceArray<int64_t> cluster(n_, stream_, "the relabelled clusters", pool_.get());
      if (n_ > 0)
        CUTS_CUDA_CHECK(cudaMemcpyAsync(cluster.get(), cluster_.get(), n_ * sizeof(int64_t),
                                        cudaMemcpyDeviceToDevice, stream_));
      relabel_kernel<<<blocks_for(n_), kThreadsPerBlock, 0, stream_>>>(group.get(), n_,
                                                                       cluster.get());
      CUTS_CHECK_LAUNCH(stream_, "relabel_kernel");
      // Group sizes to member offsets; members grouped, each group's in increasing index: a
      // stable sort of 0..M-1 by group (which the sort may overwrite: relabelling is done).
      exclusive_sum("cub::DeviceScan::ExclusiveSum (group members)", offsets.get(), groups + 1,
                    stream_, pool_.get());
      DeviceArray<int64_t> group_alt(m, stream_, "the member sort keys", pool_.get());
      DeviceArray<int64_t> members(m, stream_, "the group members", pool_.get());
      DeviceArray<int64_t> members_alt(m, stream_, "the group members", pool_.get());
      iota_kernel<<<grid, kThreadsPerBlock, 0, stream_>>>(m, members.get());
      CUTS_CHECK_LAUNCH(stream_, "iota_kernel");
      cub::DoubleBuffer<int64_t> key_buffer(group.get(), group_alt.get());
      cub::DoubleBuffer<int64_t> member_buffer(members.get(), members_alt.get());
      sort_pairs("cub::DeviceRadixSort::SortPairs (group members)", key_buffer, member_buffer, m,
                 bits_for(static_cast<uint64_t>(groups)), stream_, pool_.get());
      const int64_t* sorted_members = member_buffer.Current();
      DeviceArray<double> x(groups * c_, stream_, "the merged points", pool_.get());
      DeviceArray<double> w(groups, stream_, "the merged weights", pool_.get());
      merge_points_kernel<<<blocks_for(groups * c_), kThreadsPerBlock, 0, stream_>>>(
          x_.get(), sorted_members, offsets.get(), groups, c_, x.get());
      CUTS_CHECK_LAUNCH(stream_, "merge_points_kernel");
      merge_weights_kernel<<<blocks_for(groups), kThreadsPerBlock, 0, stream_>>>(
          w_.get(), sorted_members, offsets.get(), groups, w.get());
      CUTS_CHECK_LAUNCH(stream_, "merge_weights_kernel");
      cluster_ = std::move(cluster);
      x_ = std::move(x);
      w_ = std::move(w);
      m_ = groups;
    }
    return groups;
  }

  std::vector<int32_t> labels() const override {
    DeviceGuard guard(device_);
    const std::vector<int64_t> cluster = to_host(cluster_.get(), n_, stream_, &transfers_);
    return std::vector<int32_t>(cluster.begin(), cluster.end());
  }

  std::vector<double> points() const override {
    DeviceGuard guard(device_);
    return to_host(x_.get(), m_ * c_, stream_, &transfers_);
  }

  std::vector<double> weights() const override {
    DeviceGuard guard(device_);
    return to_host(w_.get(), m_, stream_, &transfers_);
  }

 protected:
  void assign_weights(const std::vector<double>& weights) override {
    DeviceGuard guard(device_);
    w_ = to_device(weights, stream_, "the weights", &transfers_, pool_.get());
    graph_ = DeviceGraph{};
  }

 private:
  // The components of a union-find over the current points: `unite(parent)` launches the
  // kernel that joins pairs (block_kernels.cuh; the parents start as themselves). Returns their
  // number K; `id` [M] gets each point's component, numbered by smallest member, and `sizes`
  // [K + 1] the points of each, its last entry 0 (an exclusive scan makes it member offsets).
  // Only K comes to the host.
  template <class Unite>
  int64_t components(Unite&& unite, DeviceArray<int64_t>* id, DeviceArray<int64_t>* sizes) const {
    const int64_t m = m_;
    const unsigned int grid = blocks_for(m);
    DeviceArray<int32_t> parent(m, stream_, "the union-find parents", pool_.get());
    DeviceArray<int64_t> first(m + 1, stream_, "the component numbering", pool_.get());
    CUTS_CUDA_CHECK(cudaMemsetAsync(first.get() + m, 0, sizeof(int64_t), stream_));
    init_parent_kernel<<<grid, kThreadsPerBlock, 0, stream_>>>(m, parent.get());
    CUTS_CHECK_LAUNCH(stream_, "init_parent_kernel");
    unite(parent.get());
    roots_kernel<<<grid, kThreadsPerBlock, 0, stream_>>>(m, parent.get(), first.get());
    CUTS_CHECK_LAUNCH(stream_, "roots_kernel");
    exclusive_sum("cub::DeviceScan::ExclusiveSum (component numbers)", first.get(), m + 1,
                  stream_, pool_.get());
    const int64_t count = m == 0 ? 0 : scalar_to_host(first.get() + m, stream_, &transfers_);
    *id = DeviceArray<int64_t>(m, stream_, "the component of every point", pool_.get());
    *sizes = DeviceArray<int64_t>(count + 1, stream_, "the component sizes", pool_.get());
    CUTS_CUDA_CHECK(cudaMemsetAsync(sizes->get(), 0, (count + 1) * sizeof(int64_t), stream_));
    block_kernel<<<grid, kThreadsPerBlock, 0, stream_>>>(parent.get(), first.get(), m, id->get(),
                                                         sizes->get());
    CUTS_CHECK_LAUNCH(stream_, "block_kernel");
    return count;
  }

  // The current points sorted by their first coordinate: what every neighbour query scans.
  DeviceSweep sort_points() const {
    const int64_t m = m_;
    DeviceSweep sweep;
    sweep.order = DeviceArray<int64_t>(m, stream_, "the sweep order", pool_.get());
    sweep.key = DeviceArray<double>(m, stream_, "the sweep keys", pool_.get());
    sweep.xs = DeviceArray<double>(m * c_, stream_, "the points in sweep order", pool_.get());
    if (m == 0) return sweep;
    DeviceArray<int64_t> order_alt(m, stream_, "the sweep order", pool_.get());
    DeviceArray<double> key_alt(m, stream_, "the sweep keys", pool_.get());
    NvtxRange range("sort_points");
    sweep_keys_kernel<<<blocks_for(m), kThreadsPerBlock, 0, stream_>>>(
        x_.get(), m, c_, sweep.key.get(), sweep.order.get());
    CUTS_CHECK_LAUNCH(stream_, "sweep_keys_kernel");
    // Radix sorts are stable: equal keys keep their index order, as std::stable_sort does.
    cub::DoubleBuffer<double> keys(sweep.key.get(), key_alt.get());
    cub::DoubleBuffer<int64_t> order(sweep.order.get(), order_alt.get());
    sort_pairs("cub::DeviceRadixSort::SortPairs (sweep keys)", keys, order, m, 64, stream_,
               pool_.get());
    if (keys.Current() != sweep.key.get()) std::swap(sweep.key, key_alt);
    if (order.Current() != sweep.order.get()) std::swap(sweep.order, order_alt);
    gather_rows_kernel<<<blocks_for(m * c_), kThreadsPerBlock, 0, stream_>>>(
        x_.get(), sweep.order.get(), m, c_, sweep.xs.get());
    CUTS_CHECK_LAUNCH(stream_, "gather_rows_kernel");
    return sweep;
  }

  // The distance from every point to its k-th nearest other point, into out[M].
  void kth_neighbour_distance(const DeviceSweep& sweep, int64_t k, double* out) const {
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
    const int kk = static_cast<int>(k);
    const unsigned int grid = blocks_for(m);
    const double* xs = sweep.xs.get();
    const double* key = sweep.key.get();
    const int64_t* order = sweep.order.get();
    NvtxRange range("sweep_kth_distance_kernel");
    // The smallest instantiation that holds k: the k best live in each thread's local memory.
    if (k <= 1) {
      sweep_kth_distance_kernel<1><<<grid, kThreadsPerBlock, 0, stream_>>>(xs, key, order, m,
                                                                          c_, kk, out);
    } else if (k <= 8) {
      sweep_kth_distance_kernel<8><<<grid, kThreadsPerBlock, 0, stream_>>>(xs, key, order, m,
                                                                          c_, kk, out);
    } else if (k <= 32) {
      sweep_kth_distance_kernel<32><<<grid, kThreadsPerBlock, 0, stream_>>>(xs, key, order, m,
                                                                           c_, kk, out);
    } else if (k <= 64) {
      sweep_kth_distance_kernel<64><<<grid, kThreadsPerBlock, 0, stream_>>>(xs, key, order, m,
                                                                           c_, kk, out);
    } else if (k <= 128) {
      sweep_kth_distance_kernel<128><<<grid, kThreadsPerBlock, 0, stream_>>>(xs, key, order, m,
                                                                            c_, kk, out);
    } else {
      sweep_kth_distance_kernel<kMaxNeighbours><<<grid, kThreadsPerBlock, 0, stream_>>>(
          xs, key, order, m, c_, kk, out);
    }
    CUTS_CHECK_LAUNCH(stream_, "sweep_kth_distance_kernel");
  }

  // For every point i, the points j != i with d_ij <= radius_i (radius[i], or `scalar` where
  // radius is null; only j > i when only_greater): count, scan, fill; each list sorted by j
  // when by_index (else in rank order).
  NeighbourLists neighbours_within(const DeviceSweep& sweep, const double* radius, double scalar,
                                   bool only_greater, bool by_index) const {
    const int64_t m = m_;
    NeighbourLists lists;
    lists.offsets = DeviceArray<int64_t>(m + 1, stream_, "the neighbour list offsets", pool_.get());
    CUTS_CUDA_CHECK(cudaMemsetAsync(lists.offsets.get(), 0, (m + 1) * sizeof(int64_t), stream_));
    if (m == 0) return lists;
    const unsigned int grid = blocks_for(m);
    {
      NvtxRange range("sweep_within_radius_count_kernel");
      sweep_within_radius_kernel<false><<<grid, kThreadsPerBlock, 0, stream_>>>(
          sweep.xs.get(), sweep.key.get(), sweep.order.get(), m, c_, radius, scalar,
          only_greater, lists.offsets.get(), nullptr, nullptr);
      CUTS_CHECK_LAUNCH(stream_, "sweep_within_radius_count_kernel");
    }
    int64_t* offsets = lists.offsets.get();
    const int64_t items = m + 1;  // offsets[m] = 0 turns into the total
    exclusive_sum("cub::DeviceScan::ExclusiveSum (neighbour counts)", offsets, items, stream_,
                  pool_.get());
    lists.entries = scalar_to_host(offsets + m, stream_, &transfers_);
    lists.cols = DeviceArray<int64_t>(lists.entries, stream_, "the neighbour lists", pool_.get());
    lists.dist =
        DeviceArray<double>(lists.entries, stream_, "the neighbour distances", pool_.get());
    if (lists.entries == 0) return lists;
    {
      NvtxRange range("sweep_within_radius_fill_kernel");
      sweep_within_radius_kernel<true><<<grid, kThreadsPerBlock, 0, stream_>>>(
          sweep.xs.get(), sweep.key.get(), sweep.order.get(), m, c_, radius, scalar,
          only_greater, offsets, lists.cols.get(), lists.dist.get());
      CUTS_CHECK_LAUNCH(stream_, "sweep_within_radius_fill_kernel");
    }
    if (by_index) {
      DeviceArray<int64_t> cols(lists.entries, stream_, "the neighbour lists", pool_.get());
      DeviceArray<double> dist(lists.entries, stream_, "the neighbour distances", pool_.get());
      sort_segments("cub::DeviceSegmentedSort::SortPairs (neighbour lists)", lists.cols.get(),
                    cols.get(), lists.dist.get(), dist.get(), lists.entries, m, offsets,
                    stream_, pool_.get());
      lists.cols = std::move(cols);
      lists.dist = std::move(dist);
    }
    return lists;
  }

  // The CSR graph of the lists plus self-loops (united with their transpose unless already
  // symmetric), holding the nonzero affinity(i, j, d) of each pair: entries keyed row * M + col
  // and sorted, the first of each key valued, zeros dropped, then compacted in order.
  template <class Affinity>
  void build_graph(NeighbourLists lists, bool symmetric, const Affinity& affinity) {
    const int64_t m = m_;
    if (m > std::numeric_limits<int32_t>::max())  // int32 columns (and row * M + col in 63 bits)
      throw InvalidArgument("the CUDA engine holds at most 2^31 - 1 points, got " +
                            std::to_string(m));
    const int64_t total = (symmetric ? 1 : 2) * lists.entries + m;
    DeviceArray<unsigned long long> keys(total, stream_, "the kernel graph keys", pool_.get());
    DeviceArray<double> dist(total, stream_, "the kernel graph distances", pool_.get());
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
      values_storage = DeviceArray<double>(total, stream_, "the kernel graph values", pool_.get());
      values = values_storage.get();
    } else if (total > 0) {
      keys_alt =
          DeviceArray<unsigned long long>(total, stream_, "the kernel graph keys", pool_.get());
      dist_alt = DeviceArray<double>(total, stream_, "the kernel graph distances", pool_.get());
      cub::DoubleBuffer<unsigned long long> key_buffer(keys.get(), keys_alt.get());
      cub::DoubleBuffer<double> dist_buffer(dist.get(), dist_alt.get());
      const int end_bit = bits_for(static_cast<uint64_t>(m) * static_cast<uint64_t>(m) - 1);
      sort_pairs("cub::DeviceRadixSort::SortPairs (kernel graph)", key_buffer, dist_buffer, total,
                 end_bit, stream_, pool_.get());
      sorted_keys = key_buffer.Current();
      sorted_dist = dist_buffer.Current();
      values = dist_buffer.Alternate();  // free after the sort
    }
    DeviceArray<int64_t> position(total + 1, stream_, "the kernel graph positions", pool_.get());
    CUTS_CUDA_CHECK(cudaMemsetAsync(position.get() + total, 0, sizeof(int64_t), stream_));
    {
      NvtxRange range("graph_values_kernel");
      graph_values_kernel<Affinity><<<blocks_for(total), kThreadsPerBlock, 0, stream_>>>(
          sorted_keys, sorted_dist, total, m, affinity, values, position.get());
      CUTS_CHECK_LAUNCH(stream_, "graph_values_kernel");
    }
    int64_t* pos = position.get();
    const int64_t items = total + 1;
    exclusive_sum("cub::DeviceScan::ExclusiveSum (kernel graph)", pos, items, stream_, pool_.get());
    DeviceGraph graph;
    graph.entries = scalar_to_host(pos + total, stream_, &transfers_);
    graph.row_ptr =
        DeviceArray<int64_t>(m + 1, stream_, "the kernel graph row pointers", pool_.get());
    graph.cols = DeviceArray<int32_t>(graph.entries, stream_, "the kernel graph columns",
                                      pool_.get());
    graph.values =
        DeviceArray<double>(graph.entries, stream_, "the kernel graph values", pool_.get());
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
  // Every array the engine allocates comes from here (declared before them, so it outlives
  // them): after the first iteration, allocations reuse memory the pool already holds.
  DevicePool pool_;
  DeviceArray<double> x_;         // [M, C] current points
  DeviceArray<double> w_;         // [M] original points per cluster
  DeviceArray<int64_t> cluster_;  // [N] current cluster of each original point
  DeviceGraph graph_;             // the kernel on the current points; not built after a merge
  mutable TransferCounts transfers_;  // every host <-> device copy the engine makes
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
