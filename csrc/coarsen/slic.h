// The per-voxel maths of coarsen's SLIC passes, shared by the CPU and CUDA backends so that both
// assign every voxel to the same centre, bit for bit (coarsen_cpu.cpp is compiled without FMA
// contraction and coarsen_cuda.cu with --fmad=false, so each distance rounds the same way).
//
// A 2-D grid [H, W] is a volume of depth 1. Centres are rows of `centres` [K, 3 + F] float64:
// (z, y, x) in voxel units, then the F features. Centre k was seeded in one cell of a regular
// grid of step S over the foreground's bounding box; `cell_centre` maps every cell to its centre
// (-1 for a cell with no foreground voxel).
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace cuts {

struct SlicGrid {
  int64_t extent[3] = {1, 1, 1};  // D, H, W of the voxel grid (D = 1 for 2-D)
  int64_t lo[3] = {0, 0, 0};      // first voxel of the foreground's bounding box
  int64_t cells[3] = {1, 1, 1};   // grid cells per axis: ceil(box extent / step)
  int64_t step = 1;               // S, in voxels
  double spatial_weight = 0;      // (m / S)^2 for compactness m

  CUTS_HD int64_t voxels() const { return extent[0] * extent[1] * extent[2]; }
  CUTS_HD int64_t cell_count() const { return cells[0] * cells[1] * cells[2]; }

  CUTS_HD void coords(int64_t voxel, int64_t c[3]) const {
    c[2] = voxel % extent[2];
    c[1] = (voxel / extent[2]) % extent[1];
    c[0] = voxel / (extent[1] * extent[2]);
  }
  // The cell (row-major index) holding the voxel at coordinates c, inside the bounding box.
  CUTS_HD int64_t cell_of(const int64_t c[3]) const {
    return (((c[0] - lo[0]) / step) * cells[1] + (c[1] - lo[1]) / step) * cells[2] +
           (c[2] - lo[2]) / step;
  }
};

// Width of a row of centres or of SLIC sums: the position, then the features.
CUTS_HD int64_t centre_width(int64_t features) { return 3 + features; }

// The SLIC distance (m / S)^2 ||x - c_x||^2 + ||f - c_f||^2, in a fixed order that both backends
// follow: feature j's square goes to partial sum j mod 4 (j in increasing order), the partial
// sums combine as (p0 + p1) + (p2 + p3), and that adds to the spatial term. Four independent
// sums keep the CPU's pipelines (and SIMD lanes) busy; the order is still the same everywhere.
template <class T>
CUTS_HD double slic_distance(const T* f, int64_t features, const int64_t c[3],
                             const double* centre, double spatial_weight) {
  const double dz = double(c[0]) - centre[0], dy = double(c[1]) - centre[1],
               dx = double(c[2]) - centre[2];
  const double* cf = centre + 3;
  double p[4] = {0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 4 <= features; j += 4) {
    for (int l = 0; l < 4; ++l) {
      const double e = double(f[j + l]) - cf[j + l];
      p[l] += e * e;
    }
  }
  for (int l = 0; j < features; ++j, ++l) {
    const double e = double(f[j]) - cf[j];
    p[l] += e * e;
  }
  return spatial_weight * (dz * dz + dy * dy + dx * dx) + ((p[0] + p[1]) + (p[2] + p[3]));
}

// The centre nearest to the voxel at `voxel` (features f [F]) among the centres seeded in the
// 3^d cells around its own cell; candidates are visited in increasing centre id (cells in
// row-major order, centres numbered in cell order) and a tie keeps the earlier one. Every
// foreground voxel's own cell has a centre, so the result is a valid id.
template <class T>
CUTS_HD int32_t nearest_centre(const T* f, int64_t features, int64_t voxel, const SlicGrid& g,
                               const int32_t* cell_centre, const double* centres) {
  int64_t c[3];
  g.coords(voxel, c);
  const int64_t cz = (c[0] - g.lo[0]) / g.step, cy = (c[1] - g.lo[1]) / g.step,
                cx = (c[2] - g.lo[2]) / g.step;
  const int64_t width = centre_width(features);
  int32_t best = -1;
  double best_distance = 0;
  for (int64_t z = cz - 1; z <= cz + 1; ++z) {
    if (z < 0 || z >= g.cells[0]) continue;
    for (int64_t y = cy - 1; y <= cy + 1; ++y) {
      if (y < 0 || y >= g.cells[1]) continue;
      for (int64_t x = cx - 1; x <= cx + 1; ++x) {
        if (x < 0 || x >= g.cells[2]) continue;
        const int32_t k = cell_centre[(z * g.cells[1] + y) * g.cells[2] + x];
        if (k < 0) continue;
        const double d = slic_distance(f, features, c, centres + k * width, g.spatial_weight);
        if (best < 0 || d < best_distance) {
          best = k;
          best_distance = d;
        }
      }
    }
  }
  return best;
}

}  // namespace cuts
