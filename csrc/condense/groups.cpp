#include "condense/groups.h"

#include <algorithm>
#include <numeric>

namespace cuts {

SmallestRootSets::SmallestRootSets(int64_t m) : parent_(m) {
  std::iota(parent_.begin(), parent_.end(), 0);
}

int64_t SmallestRootSets::root(int64_t i) {
  while (parent_[i] != i) i = parent_[i] = parent_[parent_[i]];  // path halving
  return i;
}

void SmallestRootSets::join(int64_t a, int64_t b) {
  const int64_t ra = root(a), rb = root(b);
  if (ra != rb) parent_[std::max(ra, rb)] = std::min(ra, rb);
}

std::vector<int64_t> SmallestRootSets::components(int64_t* count) {
  const int64_t m = static_cast<int64_t>(parent_.size());
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

std::vector<int64_t> components_by_smallest_member(
    int64_t m, const std::vector<std::pair<int64_t, int64_t>>& edges, int64_t* count) {
  SmallestRootSets sets(m);
  for (const auto& [a, b] : edges) sets.join(a, b);
  return sets.components(count);
}

}  // namespace cuts
