// CPU diffusion condensation engine. Neighbour queries scan windows of the points sorted by their
// first coordinate, four distances at a time (cpu/sweep.h); the stochastic spectrum estimate's
// products run in float32 on a compact copy of the graph (cpu/float_gram.h). OpenMP runs the
// queries, kernel rows and diffusion rows in parallel; every result is independent of the
// thread count.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <queue>
#include <vector>

#include "common/kernel.h"
#include "cpu/dispatch_float.h"
#include "cpu/float_gram.h"
#include "cpu/parallel.h"
#include "cpu/sweep.h"
#include "cuts/build_info.h"
#include "cuts/condense.h"
#include "cuts/errors.h"
#include "cuts/groups.h"
#include "cuts/spectrum_blocks.h"

namespace cuts {
namespace {

constexpr double kFloat64Eps = std::numeric_limits<double>::epsilon();


// Row i of P X: out = sum_e (S_e / degree) x_{col e}, in column order. Cloned for AVX2 (without
// FMA, so every lane rounds exactly as the scalar code and the CUDA engine do) with a run-time
// choice, since the wheel itself targets baseline x86-64.
__attribute__((target_clones("avx2", "default")))
void diffuse_row(const KernelGraph& graph, int64_t i, double degree, const double* x, int64_t c,
                 double* out) {
  std::fill(out, out + c, 0.0);
  for (int64_t e = graph.row_ptr[i]; e < graph.row_ptr[i + 1]; ++e) {
    const double p = graph.values[e] / degree;
    const double* src = x + graph.cols[e] * c;
    for (int64_t k = 0; k < c; ++k) out[k] += p * src[k];
  }
}

struct Neighbour {
  int64_t index;
  double distance;
};

class CpuCondenser final : public Condenser {
 public:
  CpuCondenser(std::vector<double> x, int64_t n, int64_t c, double decay, double thresh)
      : c_(c), decay_(decay), thresh_(thresh), x_(std::move(x)), w_(n, 1.0), cluster_(n) {
    std::iota(cluster_.begin(), cluster_.end(), 0);
  }

  int64_t size() const override { return static_cast<int64_t>(w_.size()); }
  int64_t dims() const override { return c_; }

  void adaptive_kernel(int64_t k) override {
    drop_kernel();  // the old kernel's arrays are reused for the new one
    const int64_t m = size();
    const Sweep sweep(x_, m, c_);
    std::vector<double> bandwidth(m), support(m);
#pragma omp parallel for schedule(dynamic, 64) if (m >= kMinParallelRows)
    for (int64_t i = 0; i < m; ++i) {
      bandwidth[i] = std::max(kth_neighbour_distance(sweep, i, k), kFloat64Eps);
      support[i] = kernel_support(bandwidth[i], decay_, thresh_);
    }
    // Directed lists j within i's support; S_ij is nonzero where either direction is.
    auto directed = neighbours_within(sweep, support, /*only_greater=*/false);
    build_graph(directed, [&](int64_t i, int64_t j, double d) {
      return (alpha_decay(d, bandwidth[i], decay_, thresh_) +
              alpha_decay(d, bandwidth[j], decay_, thresh_)) / 2.0;
    });
  }

  void fixed_kernel(double eps) override {
    drop_kernel();  // the old kernel's arrays are reused for the new one
    const int64_t m = size();
    const Sweep sweep(x_, m, c_);
    const double bandwidth = std::max(eps, kFloat64Eps);
    const std::vector<double> support(m, kernel_support(bandwidth, decay_, thresh_));
    // One radius for all makes the kernel symmetric: find each pair once (j > i), value it
    // once, and write it to both rows.
    auto forward = neighbours_within(sweep, support, /*only_greater=*/true);
#pragma omp parallel for schedule(dynamic, 64) if (m >= kMinParallelRows)
    for (int64_t i = 0; i < m; ++i) {
      auto& row = forward[i];
      int64_t kept = 0;
      for (const auto& nb : row) {
        const double k = alpha_decay(nb.distance, bandwidth, decay_, thresh_);
        if (k != 0.0) row[kept++] = {nb.index, (k * w_[nb.index] + k * w_[i]) / 2.0};
      }
      row.resize(kept);
    }
    // Row i is [entries from rows < i][self-loop][its own entries (> i)]. The mirrored
    // entries are written by chunks of consecutive rows in parallel; each chunk starts its
    // cursor in row j after the entries that earlier chunks send there, so every row comes out
    // sorted by column, with no sort, the same for any number of threads.
    const int64_t chunks = m >= kMinParallelRows ? std::min<int64_t>(openmp_max_threads(), 16) : 1;
    auto chunk_begin = [&](int64_t t) { return m * t / chunks; };
    std::vector<std::vector<int32_t>> mirrored(chunks);  // [chunk][row] entries sent there
#pragma omp parallel for schedule(static, 1) if (chunks > 1)
    for (int64_t t = 0; t < chunks; ++t) {
      mirrored[t].assign(m, 0);
      for (int64_t i = chunk_begin(t); i < chunk_begin(t + 1); ++i)
        for (const auto& nb : forward[i]) ++mirrored[t][nb.index];
    }
    graph_.row_ptr.assign(m + 1, 0);
    for (int64_t i = 0; i < m; ++i) {
      int64_t below = 0;
      for (int64_t t = 0; t < chunks; ++t) {
        const int64_t sent = mirrored[t][i];
        mirrored[t][i] = static_cast<int32_t>(below);  // now chunk t's offset in row i
        below += sent;
      }
      graph_.row_ptr[i + 1] = graph_.row_ptr[i] + below + 1 + forward[i].size();
    }
    graph_.cols.resize(graph_.row_ptr[m]);
    graph_.values.resize(graph_.row_ptr[m]);
#pragma omp parallel for schedule(static, 1) if (chunks > 1)
    for (int64_t t = 0; t < chunks; ++t) {
      std::vector<int32_t>& offset = mirrored[t];
      for (int64_t i = chunk_begin(t); i < chunk_begin(t + 1); ++i) {
        int64_t own = graph_.row_ptr[i + 1] - 1 - static_cast<int64_t>(forward[i].size());
        graph_.cols[own] = i;
        graph_.values[own++] = w_[i];  // (k(0) w_i + k(0) w_i) / 2 with k(0) = 1
        for (const auto& nb : forward[i]) {
          graph_.cols[own] = nb.index;
          graph_.values[own++] = nb.distance;  // the affinity, see above
          const int64_t e = graph_.row_ptr[nb.index] + offset[nb.index]++;
          graph_.cols[e] = i;
          graph_.values[e] = nb.distance;
        }
        std::vector<Neighbour>().swap(forward[i]);
      }
    }
  }

  KernelGraph kernel_graph() const override {
    if (graph_.row_ptr.empty()) throw InvalidArgument("no kernel built since the last merge");
    return graph_;
  }

  SpectrumBlocks spectrum_blocks(int64_t exact_limit) const override {
    if (graph_.row_ptr.empty()) throw InvalidArgument("no kernel built since the last merge");
    return cuts::spectrum_blocks(graph_, exact_limit);  // no copy of the graph
  }

  std::vector<double> gram_product(const std::vector<double>& v, int64_t columns) const override {
    if (graph_.row_ptr.empty()) throw InvalidArgument("gram_product needs a kernel: build one first");
    // Built on the first product after a kernel build: a run with a fixed t never needs it.
    std::lock_guard<std::mutex> lock(gram_mutex_);
    if (!gram_) gram_ = std::make_unique<FloatGram>(graph_);
    return gram_->product(v, columns);
  }

  void diffuse(int64_t t) override {
    if (graph_.row_ptr.empty()) throw InvalidArgument("diffuse needs a kernel: build one first");
    const int64_t m = size();
    // P_ij = S_ij / D_i, divided as the reference divides K by its row sums; computed on the
    // fly rather than stored, which would double the graph's memory.
    std::vector<double> degree(m, 0.0);
#pragma omp parallel for schedule(dynamic, 256) if (m >= kMinParallelRows)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t e = graph_.row_ptr[i]; e < graph_.row_ptr[i + 1]; ++e) degree[i] += graph_.values[e];
    std::vector<double> next(x_.size());
    for (int64_t step = 0; step < t; ++step) {
#pragma omp parallel for schedule(dynamic, 256) if (m >= kMinParallelRows)
      for (int64_t i = 0; i < m; ++i)
        diffuse_row(graph_, i, degree[i], x_.data(), c_, next.data() + i * c_);
      x_.swap(next);
    }
  }

  std::vector<double> smallest_pair_distances(int64_t count) override {
    const int64_t m = size();
    const int64_t pairs = m * (m - 1) / 2;
    count = std::min(count, pairs);
    if (count <= 0) return {};
    const Sweep sweep(x_, m, c_);
    // A radius sure to hold `count` pairs: the 2 * count smallest nearest-neighbour distances
    // belong to 2 * count points, hence to at least `count` distinct pairs.
    double radius = std::numeric_limits<double>::infinity();
    if (2 * count <= m) {
      std::vector<double> nearest(m);
#pragma omp parallel for schedule(dynamic, 64) if (m >= kMinParallelRows)
      for (int64_t i = 0; i < m; ++i) nearest[i] = kth_neighbour_distance(sweep, i, 1);
      std::nth_element(nearest.begin(), nearest.begin() + (2 * count - 1), nearest.end());
      radius = nearest[2 * count - 1];
    }
    const auto lists = neighbours_within(sweep, std::vector<double>(m, radius), true);
    std::vector<double> distances;
    for (const auto& row : lists)
      for (const auto& nb : row) distances.push_back(nb.distance);
    std::sort(distances.begin(), distances.end());
    distances.resize(std::min<int64_t>(count, distances.size()));
    return distances;
  }

  int64_t merge(double threshold) override {
    const int64_t m = size();
    const Sweep sweep(x_, m, c_);
    // Pairs closer than the threshold (strictly): the query keeps d <= r, then d < r is checked.
    const auto lists = neighbours_within(sweep, std::vector<double>(m, threshold), true);
    std::vector<std::pair<int64_t, int64_t>> close;
    for (int64_t i = 0; i < m; ++i)
      for (const auto& nb : lists[i])
        if (nb.distance < threshold) close.emplace_back(i, nb.index);
    // Groups numbered by their smallest member, which is the order rows are kept in.
    int64_t groups = 0;
    const std::vector<int64_t> group = components_by_smallest_member(m, close, &groups);
    if (groups != m) {
      std::vector<double> sums(groups * c_, 0.0), w(groups, 0.0), members(groups, 0.0);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t k = 0; k < c_; ++k) sums[group[i] * c_ + k] += x_[i * c_ + k];
        members[group[i]] += 1.0;
        w[group[i]] += w_[i];
      }
      for (int64_t g = 0; g < groups; ++g)
        for (int64_t k = 0; k < c_; ++k) sums[g * c_ + k] /= members[g];
      x_.swap(sums);
      w_.swap(w);
      for (auto& c : cluster_) c = group[c];
    }
    drop_kernel();  // the kernel belongs to the points it was built on
    return groups;
  }

  std::vector<int32_t> labels() const override {
    return std::vector<int32_t>(cluster_.begin(), cluster_.end());
  }
  std::vector<double> points() const override { return x_; }
  std::vector<double> weights() const override { return w_; }

 protected:
  void assign_weights(const std::vector<double>& weights) override {
    w_ = weights;
    drop_kernel();
  }

 private:
  // Distance from point i to its k-th nearest other point (infinity when fewer than k exist):
  // the window around i's rank widens a lane group at a time, alternately left and right,
  // nearest key first, and stops once both sides are farther on the first axis than the
  // current k-th distance.
  double kth_neighbour_distance(const Sweep& s, int64_t i, int64_t k) const {
    constexpr int64_t L = Sweep::kLanes;
    constexpr double kInfinity = std::numeric_limits<double>::infinity();
    std::priority_queue<double> heap;  // the k smallest squared distances so far
    const double* xi = x_.data() + i * c_;
    const int64_t own = s.rank[i], m = size(), groups = (m + L - 1) / L;
    const double key = s.key[own];
    auto bound = [&] { return static_cast<int64_t>(heap.size()) == k ? heap.top() : kInfinity; };
    auto visit = [&](int64_t g) {
      double d2[L];
      s.group_distances(xi, g, bound(), d2);
      for (int64_t l = 0; l < L; ++l) {
        const int64_t q = g * L + l;
        if (q == own || q >= m) continue;
        if (static_cast<int64_t>(heap.size()) < k) {
          heap.push(d2[l]);
        } else if (d2[l] < heap.top()) {
          heap.pop();
          heap.push(d2[l]);
        }
      }
    };
    // i's own group, then whole groups outward, the nearer on the first axis first (a group's
    // gap is that of its member nearest to i), until both sides are beyond the k-th distance.
    visit(own / L);
    int64_t left = own / L - 1, right = own / L + 1;
    while (left >= 0 || right < groups) {
      const double gap_left = left >= 0 ? key - s.key[left * L + L - 1] : kInfinity;
      const double gap_right = right < groups ? s.key[right * L] - key : kInfinity;
      const bool go_left = gap_left <= gap_right;
      const double gap = go_left ? gap_left : gap_right;
      if (gap * gap > bound()) break;
      visit(go_left ? left-- : right++);
    }
    return static_cast<int64_t>(heap.size()) == k ? std::sqrt(heap.top()) : kInfinity;
  }

  // For every point i, the points j != i with d_ij <= radius[i] (only j > i when only_greater),
  // sorted by index. The radius is widened by a relative 1e-9 so that rounding in d^2 versus
  // r^2 never loses a pair at the edge; callers apply their exact criterion to the distance.
  // Throws OutOfMemory, before memory runs out, once the lists pass a quarter of this machine's
  // memory: a kernel that dense (a bandwidth reaching thousands of points each) is refused
  // rather than left to the kernel's out-of-memory killer.
  std::vector<std::vector<Neighbour>> neighbours_within(const Sweep& s,
                                                        const std::vector<double>& radius,
                                                        bool only_greater) const {
    const int64_t m = size();
    const int64_t budget = pair_budget();
    std::atomic<int64_t> found{0};
    std::vector<std::vector<Neighbour>> lists(m);
#pragma omp parallel for schedule(dynamic, 64) if (m >= kMinParallelRows)
    for (int64_t i = 0; i < m; ++i) {
      if (found.load(std::memory_order_relaxed) > budget) continue;  // giving up
      const double r = radius[i] * (1.0 + 1e-9), bound = r * r;
      const double* xi = x_.data() + i * c_;
      const int64_t own = s.rank[i];
      int64_t first = 0, last = 0;
      s.window(s.key[own], r, &first, &last);
      auto& out = lists[i];
      double d2[Sweep::kLanes];
      for (int64_t g = first / Sweep::kLanes; g * Sweep::kLanes < last; ++g) {
        s.group_distances(xi, g, bound, d2);
        for (int64_t l = 0; l < Sweep::kLanes; ++l) {
          const int64_t q = g * Sweep::kLanes + l;
          if (q < first || q >= last || q == own || !(d2[l] <= bound)) continue;
          const int64_t j = s.order[q];
          if (!only_greater || j > i) out.push_back({j, std::sqrt(d2[l])});
        }
      }
      std::sort(out.begin(), out.end(),
                [](const Neighbour& a, const Neighbour& b) { return a.index < b.index; });
      found.fetch_add(static_cast<int64_t>(out.size()), std::memory_order_relaxed);
    }
    if (found.load() > budget)
      throw OutOfMemory("the kernel graph of " + std::to_string(m) + " points needs more than " +
                        std::to_string(budget) + " neighbour pairs (" +
                        std::to_string(budget * kBytesPerPair >> 20) +
                        " MiB), over a quarter of this machine's memory: the kernel is too "
                        "dense for an explicit graph; condense fewer points");
    return lists;
  }

  // Bytes a listed pair costs until the graph is built: the list entry and its CSR entry
  // (twice for a pair stored in both rows).
  static constexpr int64_t kBytesPerPair = 3 * sizeof(Neighbour);

  static int64_t pair_budget() {
    const int64_t memory = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
    return memory / 4 / kBytesPerPair;
  }

  // The CSR graph of the directed lists united with their transpose, plus self-loops, holding
  // the nonzero affinity(i, j, d) of each pair: the lists are a superset of the kernel's
  // support. Two passes (count, fill) write the CSR arrays directly.
  template <class Affinity>
  void build_graph(std::vector<std::vector<Neighbour>>& lists, Affinity&& affinity) {
    const int64_t m = size();
    // Append the transpose: row j gets (i, d) for each (j, d) of row i's own entries.
    std::vector<size_t> own(m);
    for (int64_t i = 0; i < m; ++i) own[i] = lists[i].size();
    for (int64_t i = 0; i < m; ++i)
      for (size_t q = 0; q < own[i]; ++q) {
        const Neighbour nb = lists[i][q];  // a copy: the push below may move row i
        lists[nb.index].push_back({i, nb.distance});
      }
    std::vector<int64_t> count(m, 0);
#pragma omp parallel for schedule(dynamic, 64) if (m >= kMinParallelRows)
    for (int64_t i = 0; i < m; ++i) {
      auto& row = lists[i];
      row.push_back({i, 0.0});
      std::sort(row.begin(), row.end(),
                [](const Neighbour& a, const Neighbour& b) { return a.index < b.index; });
      row.erase(std::unique(row.begin(), row.end(),
                            [](const Neighbour& a, const Neighbour& b) { return a.index == b.index; }),
                row.end());
      // Keep only pairs of nonzero affinity, holding it in place of the distance.
      int64_t kept = 0;
      for (const auto& nb : row) {
        const double value = affinity(i, nb.index, nb.distance);
        if (value != 0.0) row[kept++] = {nb.index, value};
      }
      row.resize(kept);
      count[i] = kept;
    }
    graph_.row_ptr.assign(m + 1, 0);
    for (int64_t i = 0; i < m; ++i) graph_.row_ptr[i + 1] = graph_.row_ptr[i] + count[i];
    graph_.cols.resize(graph_.row_ptr[m]);
    graph_.values.resize(graph_.row_ptr[m]);
#pragma omp parallel for schedule(dynamic, 64) if (m >= kMinParallelRows)
    for (int64_t i = 0; i < m; ++i) {
      int64_t e = graph_.row_ptr[i];
      for (const auto& nb : lists[i]) {
        graph_.cols[e] = nb.index;
        graph_.values[e++] = nb.distance;  // the affinity, see above
      }
      std::vector<Neighbour>().swap(lists[i]);
    }
  }

  // Empties the kernel but keeps its arrays' capacity: the next kernel reuses those pages
  // instead of faulting in and zeroing hundreds of megabytes afresh every iteration.
  void drop_kernel() {
    graph_.row_ptr.clear();
    graph_.cols.clear();
    graph_.values.clear();
    gram_.reset();
  }

  int64_t c_;
  double decay_, thresh_;
  std::vector<double> x_;         // [M, C] current points
  std::vector<double> w_;         // [M] original points per cluster
  std::vector<int64_t> cluster_;  // [N] current cluster of each original point
  KernelGraph graph_;             // the kernel on the current points; empty after a merge
  mutable std::unique_ptr<FloatGram> gram_;  // graph_'s compact copy, built on demand
  mutable std::mutex gram_mutex_;
};

}  // namespace

std::unique_ptr<Condenser> make_condenser_cpu(const ArrayView& points, double decay,
                                              double thresh) {
  const int64_t n = points.shape[0], c = points.shape[1];
  std::vector<double> x(n * c);
  dispatch_float(points.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* src = points.as<const T>();
    for (int64_t i = 0; i < n * c; ++i) x[i] = static_cast<double>(src[i]);
  });
  return std::make_unique<CpuCondenser>(std::move(x), n, c, decay, thresh);
}

}  // namespace cuts
