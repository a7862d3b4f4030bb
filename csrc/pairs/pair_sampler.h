// One anchor / positive pair of CUTS stage 1 (docs/method.md, "Training pairs"), drawn from its
// own counter-based random stream so that every pair is independent of every other and of the
// device:
//   anchor:    each coordinate uniform in [r, n - r), r = P // 2 (the whole patch inside);
//   candidate: each coordinate uniform in [max(a - radius, r), min(a + radius, n - r)) (Python's
//              randrange: the upper end excluded), `attempts` times;
//   positive:  the candidate of highest SSIM with the anchor's patch, if above ssim_min (the first
//              on ties); otherwise the anchor's diagonal neighbour one voxel toward the image
//              centre (a - 1 where a > n // 2, else a + 1), kept at a on an axis where that
//              neighbour's patch would leave the image (only when n == P).
#pragma once

#include <cstdint>

#include "core/grid.h"
#include "core/hd.h"
#include "pairs/random.h"
#include "pairs/ssim.h"

namespace cuts {

struct PairSamplerParams {
  Grid grid;
  PatchShape patch;
  int64_t samples_per_image = 8;
  int radius = 5;
  int attempts = 10;
  double ssim_min = 0.5;
  SsimConstants ssim{};
  uint64_t seed = 0;
};

// `images` is the whole batch [B, C, D, H, W]; writes ndim coordinates to each output.
template <class T>
CUTS_HD void sample_pair(const T* images, const PairSamplerParams& q, int64_t sample,
                         int64_t* anchor_out, int64_t* positive_out) {
  const Grid& g = q.grid;
  const T* image = images + (sample / q.samples_per_image) * g.image_stride();
  const int r = q.patch.radius();
  const int first = g.first_axis();
  CounterRandom random(q.seed, static_cast<uint64_t>(sample));

  int64_t anchor[3] = {0, 0, 0};
  for (int axis = first; axis < 3; ++axis) anchor[axis] = random.uniform(r, g.extent[axis] - r);

  int64_t best[3] = {0, 0, 0};
  bool found = false;
  double best_ssim = 0.0;
  for (int attempt = 0; attempt < q.attempts; ++attempt) {
    int64_t candidate[3] = {0, 0, 0};
    for (int axis = first; axis < 3; ++axis) {
      const int64_t lo = anchor[axis] - q.radius > r ? anchor[axis] - q.radius : r;
      const int64_t hi = anchor[axis] + q.radius < g.extent[axis] - r ? anchor[axis] + q.radius
                                                                       : g.extent[axis] - r;
      candidate[axis] = random.uniform(lo, hi);
    }
    const double s = patch_ssim(image, g, q.patch, anchor, candidate, q.ssim);
    if (s > q.ssim_min && (!found || s > best_ssim)) {
      found = true;
      best_ssim = s;
      for (int axis = 0; axis < 3; ++axis) best[axis] = candidate[axis];
    }
  }
  if (!found) {
    for (int axis = first; axis < 3; ++axis) {
      const int64_t toward_centre = anchor[axis] > g.extent[axis] / 2 ? anchor[axis] - 1 : anchor[axis] + 1;
      const bool inside = toward_centre >= r && toward_centre < g.extent[axis] - r;
      best[axis] = inside ? toward_centre : anchor[axis];
    }
  }
  for (int axis = first; axis < 3; ++axis) {
    anchor_out[axis - first] = anchor[axis];
    positive_out[axis - first] = best[axis];
  }
}

}  // namespace cuts
