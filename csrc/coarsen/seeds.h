// The seeding plan of coarsen (a host algorithm both backends use): the grid step S and the
// regular grid of cells over the foreground's bounding box, one centre per cell that holds a
// foreground voxel, numbered in row-major cell order.
#pragma once

#include <cstdint>
#include <vector>

#include "coarsen/slic.h"

namespace cuts {

struct SlicPlan {
  SlicGrid grid;
  std::vector<int32_t> cell_centre;  // [grid.cell_count()]: the cell's centre, -1 for none
  int32_t seeds = 0;                 // centres: the cells holding a foreground voxel
  int64_t foreground = 0;            // foreground voxels
};

// The plan for a grid of extent (D, H, W) (D = 1 for 2-D, `ndim` = 2), foreground `mask` [N]
// (host, nonzero = foreground; null = every voxel) and at most `max_points` centres:
// S starts at floor((foreground / max_points)^(1/ndim)) (at least 1) and grows until at most
// max_points cells hold a foreground voxel. Throws InvalidArgument when the mask is all
// background.
SlicPlan plan_seeds(const int64_t extent[3], int ndim, const uint8_t* mask, int64_t max_points,
                    double compactness);

}  // namespace cuts
