// The merge rule of condensation as the CPU engine runs it, on the host, and the components of
// a kernel graph; the CUDA engine runs the same rule on the device (cuda/block_kernels.cuh,
// a union-find whose roots are likewise the smallest members).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace cuts {

// Union-find over m points whose roots are always the smallest index of their set, so that
// components come out numbered by their smallest member.
class SmallestRootSets {
 public:
  explicit SmallestRootSets(int64_t m);
  void join(int64_t a, int64_t b);
  // The component of every point, numbered 0..k-1 in the order of each component's smallest
  // member; `count` receives k.
  std::vector<int64_t> components(int64_t* count);

 private:
  int64_t root(int64_t i);
  std::vector<int64_t> parent_;
};

// The connected components of the graph on m points with the given edges (pairs of point
// indices), numbered as SmallestRootSets::components does.
std::vector<int64_t> components_by_smallest_member(
    int64_t m, const std::vector<std::pair<int64_t, int64_t>>& edges, int64_t* count);

}  // namespace cuts
