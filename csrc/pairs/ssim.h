// SSIM of two patches of one image, as scikit-image's structural_similarity computes it for two
// P^d x C patches with win_size = P (one window covering the whole patch), channel_axis=-1:
// per channel (2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2)) with
// sample (n - 1) variances and covariance, then the mean over channels. Accumulated in double
// for either input dtype; centred two-pass moments (scikit-image takes E[x^2] - E[x]^2, which
// agrees to rounding).
#pragma once

#include <cstdint>

#include "core/grid.h"
#include "core/hd.h"

namespace cuts {

struct SsimConstants {
  double c1;  // (0.01 * data_range)^2
  double c2;  // (0.03 * data_range)^2
};

CUTS_HD SsimConstants ssim_constants(double data_range) {
  return {(0.01 * data_range) * (0.01 * data_range), (0.03 * data_range) * (0.03 * data_range)};
}

// `image` is one image [C, D, H, W]; `a` and `b` are patch centres (z, y, x). Needs P^d >= 2.
template <class T>
CUTS_HD double patch_ssim(const T* image, const Grid& g, const PatchShape& p, const int64_t a[3],
                          const int64_t b[3], SsimConstants k) {
  const double n = static_cast<double>(p.length());
  double total = 0.0;
  for (int64_t c = 0; c < g.channels; ++c) {
    const T* plane = image + c * g.voxels();
    double mean_a = 0.0, mean_b = 0.0;
    for (int kz = 0; kz < p.extent(0); ++kz)
      for (int ky = 0; ky < p.size; ++ky)
        for (int kx = 0; kx < p.size; ++kx) {
          mean_a += static_cast<double>(plane[patch_source_offset(g, p, a, kz, ky, kx)]);
          mean_b += static_cast<double>(plane[patch_source_offset(g, p, b, kz, ky, kx)]);
        }
    mean_a /= n;
    mean_b /= n;
    double var_a = 0.0, var_b = 0.0, cov = 0.0;
    for (int kz = 0; kz < p.extent(0); ++kz)
      for (int ky = 0; ky < p.size; ++ky)
        for (int kx = 0; kx < p.size; ++kx) {
          const double da = static_cast<double>(plane[patch_source_offset(g, p, a, kz, ky, kx)]) - mean_a;
          const double db = static_cast<double>(plane[patch_source_offset(g, p, b, kz, ky, kx)]) - mean_b;
          var_a += da * da;
          var_b += db * db;
          cov += da * db;
        }
    var_a /= (n - 1.0);
    var_b /= (n - 1.0);
    cov /= (n - 1.0);
    total += ((2.0 * mean_a * mean_b + k.c1) * (2.0 * cov + k.c2)) /
             ((mean_a * mean_a + mean_b * mean_b + k.c1) * (var_a + var_b + k.c2));
  }
  return total / static_cast<double>(g.channels);
}

}  // namespace cuts
