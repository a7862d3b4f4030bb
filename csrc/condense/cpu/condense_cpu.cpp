// CPU diffusion condensation engine. Neighbour queries scan windows of the points sorted by their
// first coordinate, four distances at a time (condense/cpu/sweep.h); the kernel graph holds each
// pair once (condense/cpu/upper_graph.h). OpenMP runs the queries, kernel rows and products in
// parallel; every result is independent of the thread count.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <queue>
#include <vector>

#include "condense/cpu/page_allocator.h"
#include "condense/cpu/parallel.h"
#include "condense/cpu/sweep.h"
#include "condense/cpu/upper_graph.h"
#include "condense/engine.h"
#include "condense/groups.h"
#include "condense/kernel.h"
#include "condense/spectrum_blocks.h"
#include "core/dispatch_float.h"
#include "core/errors.h"

namespace cuts {
namespace {

constexpr double kFloat64Eps = std::numeric_limits<double>::epsilon();

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
    drop_kernel();
    const int64_t m = size();
    const Sweep sweep(x_, m, c_);
    std::vector<double> bandwidth(m), support(m);
#pragma omp parallel for schedule(dynamic, 64) if (m >= kMinParallelRows)
    for (int64_t i = 0; i < m; ++i) {
      bandwidth[i] = std::max(kth_neighbour_distance(sweep, i, k), kFloat64Eps);
      support[i] = kernel_support(bandwidth[i], decay_, thresh_);
    }
    // Directed lists j within i's support; S_ij is nonzero where either direction is, so pair
    // (i, j), i < j, is listed by i, by j or by both: move j's listings to row i.
    auto lists = neighbours_within(sweep, support, /*only_greater=*/false);
    for (int64_t i = 0; i < m; ++i)
      for (const Neighbour& nb : lists[i])
        if (nb.index < i) lists[nb.index].push_back({i, nb.distance});
    auto affinity = [&](int64_t i, int64_t j, double d) {
      return weighted_affinity(alpha_decay(d, bandwidth[i], decay_, thresh_),
                               alpha_decay(d, bandwidth[j], decay_, thresh_), w_[i], w_[j]);
    };
    std::vector<double> diagonal(m);
    for (int64_t i = 0; i < m; ++i) diagonal[i] = affinity(i, i, 0.0);  // (w_i + w_i) / 2
    set_kernel(build_upper_graph(
        std::move(diagonal),
        [&](int64_t i, std::vector<int32_t>& cols, std::vector<double>& values) {
          auto& row = lists[i];
          std::sort(row.begin(), row.end(), by_index);
          int64_t previous = -1;
          for (const Neighbour& nb : row) {
            if (nb.index <= i || nb.index == previous) continue;  // lower half, or listed twice
            previous = nb.index;
            const double value = affinity(i, nb.index, nb.distance);
            if (value == 0.0) continue;
            cols.push_back(static_cast<int32_t>(nb.index));
            values.push_back(value);
          }
          std::vector<Neighbour>().swap(row);
        }));
  }

  void fixed_kernel(double eps) override {
    drop_kernel();
    const int64_t m = size();
    const Sweep sweep(x_, m, c_);
    const double bandwidth = std::max(eps, kFloat64Eps);
    const double support = kernel_support(bandwidth, decay_, thresh_);
    // One radius for all makes the kernel symmetric: each pair is found from its smaller index
    // only, and stored there. The pairs are found and stored block by block, so that the graph
    // is never held twice; past the budget the remaining rows are skipped and the build fails.
    const int64_t budget = pair_budget(kGraphBytesPerPair);
    std::atomic<int64_t> found{0};
    auto graph = build_upper_graph(
        w_,  // (k(0) w_i + k(0) w_i) / 2 with k(0) = 1
        [&](int64_t i, std::vector<int32_t>& cols, std::vector<double>& values) {
          if (found.load(std::memory_order_relaxed) > budget) return;
          thread_local std::vector<Neighbour> row;
          row.clear();
          scan_row(sweep, i, support, /*only_greater=*/true, row);
          for (const Neighbour& nb : row) {
            const double k = alpha_decay(nb.distance, bandwidth, decay_, thresh_);
            if (k == 0.0) continue;
            cols.push_back(static_cast<int32_t>(nb.index));
            values.push_back(weighted_affinity(k, k, w_[i], w_[nb.index]));
          }
          found.fetch_add(static_cast<int64_t>(row.size()), std::memory_order_relaxed);
        });
    if (found.load() > budget) throw too_dense(m, budget, kGraphBytesPerPair);
    set_kernel(std::move(graph));
  }

  KernelGraph kernel_graph() const override {
    const UpperGraph& g = kernel("kernel_graph");
    std::vector<int64_t> rows;
    KernelGraph out;
    std::vector<int64_t> all(g.size());
    std::iota(all.begin(), all.end(), 0);
    full_rows(g, all, &rows, &out.cols, &out.values);
    out.row_ptr.assign(g.size() + 1, 0);
    for (int64_t row : rows) ++out.row_ptr[row + 1];
    std::partial_sum(out.row_ptr.begin(), out.row_ptr.end(), out.row_ptr.begin());
    return out;
  }

  SpectrumBlocks spectrum_blocks(int64_t exact_limit) const override {
    return cuts::spectrum_blocks(kernel("spectrum_blocks"), degree_, exact_limit);
  }

  std::vector<double> gram_product(const std::vector<double>& v, int64_t columns) const override {
    const UpperGraph& g = kernel("gram_product");
    const int64_t m = size(), w = kFloatWidth;
    std::vector<double> out(v.size());
    std::vector<float> slice(m * w), u(m * w);
    for (int64_t first = 0; first < columns; first += w) {
      const int64_t n = std::min(w, columns - first);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t k = 0; k < w; ++k)
          slice[i * w + k] = k < n ? static_cast<float>(v[i * columns + first + k]) : 0.0f;
      symmetric_product_float32(g, slice.data(), u.data());  // S V
      for (int64_t i = 0; i < m; ++i) {
        const float scale = static_cast<float>(1.0 / (degree_[i] * degree_[i]));
        for (int64_t k = 0; k < w; ++k) u[i * w + k] *= scale;
      }
      symmetric_product_float32(g, u.data(), slice.data());  // S D^-2 S V
      for (int64_t i = 0; i < m; ++i)
        for (int64_t k = 0; k < n; ++k) out[i * columns + first + k] = slice[i * w + k];
    }
    return out;
  }

  void diffuse(int64_t t) override {
    const UpperGraph& g = kernel("diffuse");
    // P_ij = S_ij / D_i, divided per entry as the reference divides K by its row sums; computed
    // on the fly rather than stored, which would double the graph's memory.
    std::vector<double> next(x_.size());
    for (int64_t step = 0; step < t; ++step) {
      symmetric_product(g, Coefficient::kDividedByDegree, degree_, x_.data(), c_, next.data());
      x_.swap(next);
    }
  }

  std::vector<double> smallest_pair_distances(int64_t count) override {
    const int64_t m = size();
    const int64_t pairs = m * (m - 1) / 2;
    count = std::min(count, pairs);
    if (count <= 0) return {};
    const Sweep sweep(x_, m, c_);
    // A radius sure to hold `count` pairs (condense/kernel.h, pair_search).
    const PairSearch search = pair_search(count, m);
    std::vector<double> kth(m);
#pragma omp parallel for schedule(dynamic, 64) if (m >= kMinParallelRows)
    for (int64_t i = 0; i < m; ++i) kth[i] = kth_neighbour_distance(sweep, i, search.k);
    std::nth_element(kth.begin(), kth.begin() + search.rank, kth.end());
    const double radius = kth[search.rank];
    const auto lists = neighbours_within(sweep, std::vector<double>(m, radius), true);
    std::vector<double> distances;
    for (const auto& row : lists)
      for (const auto& nb : row) distances.push_back(nb.distance);
    std::sort(distances.begin(), distances.end());
    distances.resize(std::min<int64_t>(count, distances.size()));
    return distances;
  }

  int64_t merge(double threshold) override {
    // The kernel belongs to the points it was built on; dropped first, so that the merge's own
    // lists do not add to its memory.
    drop_kernel();
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

  // Appends to `out` the points j != i with d_ij <= r (only j > i when only_greater), sorted by
  // index. The radius is widened by a relative 1e-9 so that rounding in d^2 versus r^2 never
  // loses a pair at the edge; callers apply their exact criterion to the distance.
  void scan_row(const Sweep& s, int64_t i, double radius, bool only_greater,
                std::vector<Neighbour>& out) const {
    const double r = radius * (1.0 + 1e-9), bound = r * r;
    const double* xi = x_.data() + i * c_;
    const int64_t own = s.rank[i], begin = static_cast<int64_t>(out.size());
    int64_t first = 0, last = 0;
    s.window(s.key[own], r, &first, &last);
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
    std::sort(out.begin() + begin, out.end(), by_index);
  }

  // scan_row for every point i with radius[i], as one list per point. Throws OutOfMemory,
  // before memory runs out, once the lists pass the pair budget.
  std::vector<std::vector<Neighbour>> neighbours_within(const Sweep& s,
                                                        const std::vector<double>& radius,
                                                        bool only_greater) const {
    const int64_t m = size();
    const int64_t budget = pair_budget(kListedBytesPerPair);
    std::atomic<int64_t> found{0};
    std::vector<std::vector<Neighbour>> lists(m);
#pragma omp parallel for schedule(dynamic, 64) if (m >= kMinParallelRows)
    for (int64_t i = 0; i < m; ++i) {
      if (found.load(std::memory_order_relaxed) > budget) continue;  // giving up
      scan_row(s, i, radius[i], only_greater, lists[i]);
      found.fetch_add(static_cast<int64_t>(lists[i].size()), std::memory_order_relaxed);
    }
    if (found.load() > budget) throw too_dense(m, budget, kListedBytesPerPair);
    return lists;
  }

  static bool by_index(const Neighbour& a, const Neighbour& b) { return a.index < b.index; }

  // Bytes a pair costs: in the graph (int32 column, float64 value), and while listed (a
  // neighbour list entry, perhaps listed from both ends, and then in the graph).
  static constexpr int64_t kGraphBytesPerPair = sizeof(int32_t) + sizeof(double);
  static constexpr int64_t kListedBytesPerPair = 2 * sizeof(Neighbour) + kGraphBytesPerPair;

  // The pairs that fit in a quarter of this machine's memory at `bytes` each. A kernel denser
  // than that (a bandwidth reaching many thousands of points each) is refused with OutOfMemory
  // rather than left to the kernel's out-of-memory killer.
  static int64_t pair_budget(int64_t bytes) {
    const int64_t memory = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
    return memory / 4 / bytes;
  }

  static OutOfMemory too_dense(int64_t m, int64_t budget, int64_t bytes) {
    return OutOfMemory("the kernel graph of " + std::to_string(m) + " points needs more than " +
                       std::to_string(budget) + " neighbour pairs (" +
                       std::to_string(budget * bytes >> 20) +
                       " MiB), over a quarter of this machine's memory: the kernel is too dense "
                       "for an explicit graph; condense fewer points");
  }

  const UpperGraph& kernel(const char* step) const {
    if (!graph_) throw InvalidArgument(std::string(step) + " needs a kernel: build one first");
    return *graph_;
  }

  void set_kernel(UpperGraph graph) {
    graph_ = std::move(graph);
    degree_ = row_sums(*graph_);
  }

  // Frees the kernel, and with it the heap's free pages: each iteration's neighbour lists and
  // spectrum arrays (here and in Python) would otherwise stay resident in between.
  void drop_kernel() {
    graph_.reset();
    degree_ = {};
    return_free_heap_pages();
  }

  int64_t c_;
  double decay_, thresh_;
  std::vector<double> x_;          // [M, C] current points
  std::vector<double> w_;          // [M] original points per cluster
  std::vector<int64_t> cluster_;   // [N] current cluster of each original point
  std::optional<UpperGraph> graph_;  // the kernel on the current points; none after a merge
  std::vector<double> degree_;     // [M] D, the row sums of graph_
};

}  // namespace

std::unique_ptr<Condenser> make_condenser_cpu(const ArrayView& points, double decay,
                                              double thresh) {
  const int64_t n = points.shape[0], c = points.shape[1];  // n < 2^31: condense.cpp
  std::vector<double> x(n * c);
  dispatch_float(points.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* src = points.as<const T>();
    for (int64_t i = 0; i < n * c; ++i) x[i] = static_cast<double>(src[i]);
  });
  return std::make_unique<CpuCondenser>(std::move(x), n, c, decay, thresh);
}

}  // namespace cuts
