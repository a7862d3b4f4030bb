#include "condense/cpu/sweep.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace cuts {

Sweep::Sweep(const std::vector<double>& x, int64_t m, int64_t c)
    : order(m), rank(m), key(m), dims(c) {
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return x[a * c] < x[b * c]; });
  const int64_t groups = (m + kLanes - 1) / kLanes;
  lanes.assign(groups * c * kLanes, std::numeric_limits<double>::infinity());
  for (int64_t q = 0; q < m; ++q) {
    rank[order[q]] = q;
    key[q] = x[order[q] * c];
    const double* row = x.data() + order[q] * c;
    double* group = lanes.data() + (q / kLanes) * c * kLanes + q % kLanes;
    for (int64_t k = 0; k < c; ++k) group[k * kLanes] = row[k];
  }
}

void Sweep::window(double centre, double r, int64_t* first, int64_t* last) const {
  // Both predicates are monotone in the rank: rounding a difference is monotone.
  *first = std::partition_point(key.begin(), key.end(),
                                [&](double k) { return centre - k > r; }) - key.begin();
  *last = std::partition_point(key.begin() + *first, key.end(),
                               [&](double k) { return k - centre <= r; }) - key.begin();
}

// Cloned for AVX2 without FMA, like the engine's row loops: each lane rounds exactly as the
// scalar sum does.
__attribute__((target_clones("avx2", "default")))
void Sweep::group_distances(const double* xi, int64_t group, double bound, double* d2) const {
  typedef double Lanes __attribute__((vector_size(kLanes * sizeof(double))));
  const double* g = lanes.data() + group * dims * kLanes;
  static_assert(kLanes == 4, "the all-lanes test below names each of the 4 lanes");
  Lanes sum = {};
  // Checked every 4 features: fewer branches, and a lane that stops later is still above bound.
  constexpr int64_t kCheckEvery = 4;
  for (int64_t k0 = 0; k0 < dims; k0 += kCheckEvery) {
    const int64_t k1 = std::min(dims, k0 + kCheckEvery);
    for (int64_t k = k0; k < k1; ++k) {
      Lanes column;
      __builtin_memcpy(&column, g + k * kLanes, sizeof(Lanes));
      const Lanes d = xi[k] - column;
      sum += d * d;
    }
    if (sum[0] > bound && sum[1] > bound && sum[2] > bound && sum[3] > bound) break;
  }
  __builtin_memcpy(d2, &sum, sizeof(Lanes));
}

}  // namespace cuts
