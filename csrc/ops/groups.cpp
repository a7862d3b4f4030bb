#include "cuts/groups.h"

#include <algorithm>
#include <numeric>

namespace cuts {

std::vector<int64_t> components_by_smallest_member(
    int64_t m, const std::vector<std::pair<int64_t, int64_t>>& edges, int64_t* count) {
  // Union-find whose roots are always the smallest index of their set (with path halving).
  std::vector<int64_t> parent(m);
  std::iota(parent.begin(), parent.end(), 0);
  auto root = [&](int64_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (const auto& [a, b] : edges) {
    const int64_t ra = root(a), rb = root(b);
    if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
  }
  std::vector<int64_t> component(m), root_component(m, -1);
  int64_t k = 0;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t r = root(i);
    if (root_component[r] < 0) root_component[r] = k++;
    component[i] = root_component[r];
  }
  *count = k;
  return component;
}

}  // namespace cuts
