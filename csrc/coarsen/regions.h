// The connectivity stage of coarsen (host algorithms both backends use): SLIC labels become
// face-connected components, and components merge into at most max_points connected regions.
#pragma once

#include <cstdint>
#include <vector>

namespace cuts {

// Per-label sums of the F features, each summed in voxel order, and voxel counts.
struct LabelSums {
  std::vector<double> sums;     // [labels, F]
  std::vector<int64_t> counts;  // [labels]
};

// Relabels `labels` [N] (row-major over extent (D, H, W); -1 = background, kept) so that every
// face-connected component (4-neighbours in 2-D, 6 in 3-D) of equal labels gets its own id,
// numbered 0.. in the order of each component's first voxel; returns the number of components.
int32_t split_connected(int32_t* labels, const int64_t extent[3]);

// Merges the components of `labels` (ids from split_connected, their sums in `components`) into
// connected regions, writing region ids 0..K-1, numbered in the order of each region's first
// voxel, over `labels`; returns K. A region is small when its size is below a quarter of the
// mean seeded size (size * 4 * seeds < foreground voxels). While the smallest region that has a
// neighbour (ties: the lower id) is small, or more than max_points regions remain, it merges into
// its face-adjacent region with the nearest mean features (squared Euclidean; ties: the lower
// id). Regions without neighbours are whole foreground components and never merge. Throws
// InvalidArgument when more than max_points such isolated regions remain.
int32_t merge_regions(int32_t* labels, const int64_t extent[3], const LabelSums& components,
                      int64_t features, int64_t max_points, int32_t seeds, int64_t foreground);

}  // namespace cuts
