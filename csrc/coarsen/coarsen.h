// coarsen: groups the voxels of a 2-D or 3-D grid into at most max_points super-voxels, each
// face-connected, of voxels with similar features, so that condensation can run on the
// super-voxels' means. The operation's front: it validates the arguments and routes to the
// features' device (coarsen_kernels.h); only the bindings call it.
//
//   features   [N, F] float32 or float64, CPU or CUDA; N = prod(spatial_shape), voxels in
//              row-major order of the grid; F >= 1
//   spatial    [H, W] or [D, H, W], each >= 1
//   foreground optional [N] uint8 on the features' device (nonzero = foreground); null = all
//   labels     [N] int32 on the features' device, written: -1 on the background, else the
//              super-voxel 0..K-1, numbered in the order of each super-voxel's first voxel
//   returns    K, the voxel count of each super-voxel [K] and its mean features [K, F], both
//              summed in voxel order (host vectors)
//
// The algorithm (S: the grid step, d: the number of spatial axes):
//  1. Seeds (seeds.h): S is the smallest step, from floor((foreground / max_points)^(1/d))
//     upward, such that at most max_points cells of the step-S grid over the foreground's
//     bounding box hold a foreground voxel; each such cell seeds one centre.
//  2. SLIC passes (slic.h), `iterations` times: every centre becomes the mean (position in voxel
//     units and features) of its voxels, first of its cell's foreground voxels (a centre with no
//     voxels stays); then every foreground voxel joins the nearest of the centres seeded in the
//     3^d cells around its own, by ||f - c_f||^2 + (compactness / S)^2 ||x - c_x||^2 (ties: the
//     lower centre id).
//  3. Connectivity (regions.h): each face-connected component of a SLIC label becomes a region;
//     while the smallest region with a neighbour is under a quarter of the mean seeded size
//     (foreground / seeds), or more than max_points regions remain, it merges into the adjacent
//     region whose mean features are nearest. Merging adjacent connected regions keeps them
//     connected; InvalidArgument if the foreground has more than max_points components.
// Sums are added per label in voxel order, so the result does not depend on the thread count,
// and the CUDA backend (same order, same rounding) gives the CPU's labels, counts and means.
#pragma once

#include <cstdint>
#include <vector>

#include "core/array.h"

namespace cuts {

struct CoarsenOptions {
  int64_t max_points = 1;   // M >= 1
  double compactness = 0;   // m >= 0, finite
  int iterations = 5;       // >= 1
};

struct Coarsening {
  int32_t count = 0;             // K
  std::vector<int64_t> counts;   // [K] voxels per super-voxel
  std::vector<double> means;     // [K, F] mean features
};

Coarsening coarsen(const ArrayView& features, const std::vector<int64_t>& spatial,
                   const ArrayView* foreground, const CoarsenOptions& options,
                   const ArrayView& labels, StreamHandle stream);

}  // namespace cuts
