// The merge rule of condensation, shared by the CPU and CUDA engines (it runs on the host: the
// pairs under the merge threshold are few).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace cuts {

// The connected components of the graph on m points with the given edges (pairs of point
// indices), numbered 0..k-1 in the order of each component's smallest member. Returns the
// component of every point; `count` receives k.
std::vector<int64_t> components_by_smallest_member(
    int64_t m, const std::vector<std::pair<int64_t, int64_t>>& edges, int64_t* count);

}  // namespace cuts
