// The geometry shared by every patch operation: how an image's voxels are laid out, and where
// element k of a pixel-centred patch comes from. A 2-D image is a volume of depth 1 whose patches
// have depth 1, so one code path serves [B, C, H, W] and [B, C, D, H, W].
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace cuts {

struct Grid {
  int ndim = 2;                    // spatial dimensions: 2 or 3
  int64_t channels = 1;            // C
  int64_t extent[3] = {1, 1, 1};   // D, H, W (D = 1 for 2-D images)

  CUTS_HD int64_t voxels() const { return extent[0] * extent[1] * extent[2]; }
  CUTS_HD int64_t image_stride() const { return channels * voxels(); }
  // The first spatial axis that exists: 1 (H) for 2-D, 0 (D) for 3-D.
  CUTS_HD int first_axis() const { return 3 - ndim; }
};

struct PatchShape {
  int size = 5;   // P, odd
  int ndim = 2;

  CUTS_HD int radius() const { return size / 2; }
  // Patch extent along axis 0..2 (depth, height, width); depth is 1 for 2-D patches.
  CUTS_HD int extent(int axis) const { return (axis == 0 && ndim == 2) ? 1 : size; }
  CUTS_HD int64_t length() const { return int64_t(extent(0)) * size * size; }  // P^ndim
};

// Replicate padding: an index outside [0, n) reads the nearest edge voxel.
CUTS_HD int64_t clamp_index(int64_t i, int64_t n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }

// Offset within one channel plane of the voxel that patch element (kz, ky, kx) reads when the
// patch is centred at `center` (z, y, x); z = 0 and kz = 0 for 2-D.
CUTS_HD int64_t patch_source_offset(const Grid& g, const PatchShape& p, const int64_t center[3],
                                    int kz, int ky, int kx) {
  const int rz = p.extent(0) / 2, r = p.radius();
  const int64_t z = clamp_index(center[0] + kz - rz, g.extent[0]);
  const int64_t y = clamp_index(center[1] + ky - r, g.extent[1]);
  const int64_t x = clamp_index(center[2] + kx - r, g.extent[2]);
  return (z * g.extent[1] + y) * g.extent[2] + x;
}

// Element k of a flattened patch (row-major over kz, ky, kx) as its three offsets.
CUTS_HD void patch_element(const PatchShape& p, int64_t k, int* kz, int* ky, int* kx) {
  *kx = static_cast<int>(k % p.size);
  *ky = static_cast<int>((k / p.size) % p.size);
  *kz = static_cast<int>(k / (int64_t(p.size) * p.size));
}

// Voxel index v (row-major over D, H, W) as its (z, y, x) coordinates.
CUTS_HD void voxel_coords(const Grid& g, int64_t v, int64_t c[3]) {
  c[2] = v % g.extent[2];
  c[1] = (v / g.extent[2]) % g.extent[1];
  c[0] = v / (g.extent[2] * g.extent[1]);
}

}  // namespace cuts
