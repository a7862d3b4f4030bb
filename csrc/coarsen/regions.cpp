#include "coarsen/regions.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <string>
#include <utility>

#include "core/errors.h"

namespace cuts {
namespace {

// Offsets to the face neighbours after a voxel (+x, +y, +z) that exist on the grid.
struct Faces {
  int64_t stride[3];
  int count = 0;
  int64_t extent[3];

  explicit Faces(const int64_t e[3]) {
    for (int a = 0; a < 3; ++a) extent[a] = e[a];
    stride[0] = 1;
    stride[1] = e[2];
    stride[2] = e[1] * e[2];
  }
  // Whether the neighbour of voxel (z, y, x) along axis a (0: x, 1: y, 2: z) in direction
  // `dir` (+1 / -1) lies on the grid.
  bool inside(const int64_t zyx[3], int a, int dir) const {
    const int64_t c = zyx[2 - a] + dir;
    return c >= 0 && c < extent[2 - a];
  }
};

void coords(const int64_t e[3], int64_t v, int64_t zyx[3]) {
  zyx[2] = v % e[2];
  zyx[1] = (v / e[2]) % e[1];
  zyx[0] = v / (e[1] * e[2]);
}

// The distinct pairs (a < b) of face-adjacent components, as adjacency lists.
std::vector<std::vector<int32_t>> adjacency(const int32_t* labels, const int64_t extent[3],
                                            int32_t components) {
  const Faces faces(extent);
  const int64_t n = extent[0] * extent[1] * extent[2];
  std::vector<uint64_t> pairs;
  int64_t zyx[3];
  for (int64_t v = 0; v < n; ++v) {
    const int32_t a = labels[v];
    if (a < 0) continue;
    coords(extent, v, zyx);
    for (int axis = 0; axis < 3; ++axis) {
      if (!faces.inside(zyx, axis, 1)) continue;
      const int32_t b = labels[v + faces.stride[axis]];
      if (b < 0 || b == a) continue;
      const uint64_t key = (uint64_t(std::min(a, b)) << 32) | uint64_t(std::max(a, b));
      // Along a shared face the same pair repeats voxel after voxel: skip the repeats early.
      if (pairs.empty() || pairs.back() != key) pairs.push_back(key);
    }
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  std::vector<std::vector<int32_t>> neighbours(static_cast<size_t>(components));
  for (uint64_t key : pairs) {
    const auto a = static_cast<int32_t>(key >> 32), b = static_cast<int32_t>(key & 0xffffffffu);
    neighbours[a].push_back(b);
    neighbours[b].push_back(a);
  }
  return neighbours;
}

// Regions as a union-find over components; a root carries its region's size, feature sums and
// (possibly stale) neighbour list.
class Regions {
 public:
  Regions(const LabelSums& c, int64_t features, std::vector<std::vector<int32_t>> neighbours)
      : features_(features), size_(c.counts), sums_(c.sums), neighbours_(std::move(neighbours)),
        parent_(size_.size()) {
    for (size_t i = 0; i < parent_.size(); ++i) parent_[i] = static_cast<int32_t>(i);
  }

  int32_t find(int32_t r) {
    while (parent_[r] != r) r = parent_[r] = parent_[parent_[r]];
    return r;
  }
  int64_t size(int32_t r) const { return size_[r]; }

  // The current neighbour roots of root r, sorted and distinct (its list is rewritten so).
  const std::vector<int32_t>& neighbours(int32_t r) {
    std::vector<int32_t>& list = neighbours_[r];
    for (int32_t& q : list) q = find(q);
    list.erase(std::remove(list.begin(), list.end(), r), list.end());
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    return list;
  }

  // Squared Euclidean distance between the mean features of roots a and b.
  double distance(int32_t a, int32_t b) const {
    double d = 0;
    for (int64_t j = 0; j < features_; ++j) {
      const double e = sums_[a * features_ + j] / double(size_[a]) -
                       sums_[b * features_ + j] / double(size_[b]);
      d += e * e;
    }
    return d;
  }

  void merge_into(int32_t r, int32_t q) {
    parent_[r] = q;
    size_[q] += size_[r];
    for (int64_t j = 0; j < features_; ++j) sums_[q * features_ + j] += sums_[r * features_ + j];
    std::vector<int32_t>& into = neighbours_[q];
    into.insert(into.end(), neighbours_[r].begin(), neighbours_[r].end());
    std::vector<int32_t>().swap(neighbours_[r]);
  }

 private:
  int64_t features_;
  std::vector<int64_t> size_;
  std::vector<double> sums_;
  std::vector<std::vector<int32_t>> neighbours_;
  std::vector<int32_t> parent_;
};

}  // namespace

int32_t split_connected(int32_t* labels, const int64_t extent[3]) {
  const Faces faces(extent);
  const int64_t n = extent[0] * extent[1] * extent[2];
  // Visited voxels are marked in `component`; labels are rewritten only at the end, since the
  // flood fill compares the original labels.
  std::vector<int32_t> component(static_cast<size_t>(n), -1);
  std::vector<int64_t> stack;
  int32_t next = 0;
  int64_t zyx[3];
  for (int64_t start = 0; start < n; ++start) {
    if (labels[start] < 0 || component[start] >= 0) continue;
    const int32_t label = labels[start], id = next++;
    component[start] = id;
    stack.assign(1, start);
    while (!stack.empty()) {
      const int64_t v = stack.back();
      stack.pop_back();
      coords(extent, v, zyx);
      for (int axis = 0; axis < 3; ++axis) {
        for (int dir = -1; dir <= 1; dir += 2) {
          if (!faces.inside(zyx, axis, dir)) continue;
          const int64_t u = v + dir * faces.stride[axis];
          if (labels[u] == label && component[u] < 0) {
            component[u] = id;
            stack.push_back(u);
          }
        }
      }
    }
  }
  std::copy(component.begin(), component.end(), labels);
  return next;
}

int32_t merge_regions(int32_t* labels, const int64_t extent[3], const LabelSums& components,
                      int64_t features, int64_t max_points, int32_t seeds, int64_t foreground) {
  const auto count = static_cast<int32_t>(components.counts.size());
  Regions regions(components, features, adjacency(labels, extent, count));
  using Entry = std::pair<int64_t, int32_t>;  // (size, root): the smallest first, then lower id
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
  for (int32_t r = 0; r < count; ++r) queue.push({regions.size(r), r});
  int64_t alive = count;
  while (!queue.empty()) {
    const auto [size, r] = queue.top();
    queue.pop();
    if (regions.find(r) != r || regions.size(r) != size) continue;  // merged or grown since
    // In float64, since the product of two counts below 2^31 may overflow int64; it is exact
    // wherever it is near `foreground` (< 2^31).
    const bool small = 4.0 * double(size) * double(seeds) < double(foreground);
    if (!small && alive <= max_points) break;
    const std::vector<int32_t>& around = regions.neighbours(r);
    if (around.empty()) continue;  // a whole foreground component: it stays
    int32_t best = around[0];
    double best_distance = regions.distance(r, best);
    for (size_t i = 1; i < around.size(); ++i) {
      const double d = regions.distance(r, around[i]);
      if (d < best_distance) {
        best = around[i];
        best_distance = d;
      }
    }
    regions.merge_into(r, best);
    --alive;
    queue.push({regions.size(best), best});
  }
  if (alive > max_points)
    throw InvalidArgument("max_points is " + std::to_string(max_points) + " but the foreground "
                          "has " + std::to_string(alive) + " connected components left unmerged; "
                          "super-voxels are connected, so max_points must be at least that");

  // Region ids in the order of each region's first voxel.
  std::vector<int32_t> id(static_cast<size_t>(count), -1);
  int32_t next = 0;
  const int64_t n = extent[0] * extent[1] * extent[2];
  for (int64_t v = 0; v < n; ++v) {
    if (labels[v] < 0) continue;
    int32_t& region = id[regions.find(labels[v])];
    if (region < 0) region = next++;
    labels[v] = region;
  }
  return next;
}

}  // namespace cuts
