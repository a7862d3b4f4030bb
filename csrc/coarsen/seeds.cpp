#include "coarsen/seeds.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"

namespace cuts {
namespace {

bool is_foreground(const uint8_t* mask, int64_t voxel) { return mask == nullptr || mask[voxel]; }

// Cells of step `step` over the box [lo, hi] that hold a foreground voxel, marked in `marks`.
int64_t mark_cells(const SlicGrid& g, const uint8_t* mask, std::vector<uint8_t>& marks) {
  marks.assign(static_cast<size_t>(g.cell_count()), 0);
  if (mask == nullptr) {  // the box is the whole grid: every cell holds voxels
    std::fill(marks.begin(), marks.end(), 1);
    return g.cell_count();
  }
  int64_t marked = 0;
  int64_t c[3];
  for (int64_t v = 0; v < g.voxels(); ++v) {
    if (!mask[v]) continue;
    g.coords(v, c);
    uint8_t& m = marks[static_cast<size_t>(g.cell_of(c))];
    marked += !m;
    m = 1;
  }
  return marked;
}

}  // namespace

SlicPlan plan_seeds(const int64_t extent[3], int ndim, const uint8_t* mask, int64_t max_points,
                    double compactness) {
  SlicPlan plan;
  SlicGrid& g = plan.grid;
  int64_t hi[3] = {-1, -1, -1};
  for (int a = 0; a < 3; ++a) {
    g.extent[a] = extent[a];
    g.lo[a] = extent[a];
  }
  int64_t c[3];
  for (int64_t v = 0; v < g.voxels(); ++v) {
    if (!is_foreground(mask, v)) continue;
    ++plan.foreground;
    g.coords(v, c);
    for (int a = 0; a < 3; ++a) {
      g.lo[a] = std::min(g.lo[a], c[a]);
      hi[a] = std::max(hi[a], c[a]);
    }
  }
  if (plan.foreground == 0) throw InvalidArgument("foreground has no foreground voxel");

  std::vector<uint8_t> marks;
  const double per_point = double(plan.foreground) / double(max_points);
  g.step = std::max<int64_t>(1, static_cast<int64_t>(std::floor(std::pow(per_point, 1.0 / ndim))));
  for (;;) {
    for (int a = 0; a < 3; ++a) g.cells[a] = (hi[a] - g.lo[a] + g.step) / g.step;
    const int64_t seeds = mark_cells(g, mask, marks);
    if (seeds <= max_points) {
      plan.seeds = static_cast<int32_t>(seeds);
      break;
    }
    // A foreground that fills its box holds seeds ~ box / S^d, so this step is about right; a
    // thinner one needs several rounds, each growing S geometrically.
    const double grown = double(g.step) * std::pow(double(seeds) / double(max_points), 1.0 / ndim);
    g.step = std::max<int64_t>(g.step + 1, static_cast<int64_t>(std::floor(grown)));
  }
  g.spatial_weight = (compactness / double(g.step)) * (compactness / double(g.step));

  plan.cell_centre.resize(marks.size());
  int32_t next = 0;
  for (size_t cell = 0; cell < marks.size(); ++cell)
    plan.cell_centre[cell] = marks[cell] ? next++ : -1;
  return plan;
}

}  // namespace cuts
