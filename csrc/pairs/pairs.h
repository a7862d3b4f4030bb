// sample_pairs: the anchor / positive pixel pairs of CUTS stage 1 (see pairs/pair_sampler.h for
// the exact rule), every pair drawn independently from a counter-based stream of `seed`.
//
//   images     [B, C, H, W] or [B, C, D, H, W]; float32 or float64; finite; CPU or CUDA
//   anchors    out: [B, S, d] int64 on the images' device
//   positives  out: [B, S, d] int64 on the images' device
#pragma once

#include <vector>

#include "pairs/pair_sampler.h"
#include "core/array.h"

namespace cuts {

struct PairOptions {
  int64_t n_anchors = 8;
  int size = 5;
  int radius = 5;
  int attempts = 10;
  double ssim_min = 0.5;
  double data_range = 2.0;
  uint64_t seed = 0;
};

std::vector<int64_t> sample_pairs_shape(const ArrayView& images, const PairOptions& options);
void sample_pairs(const ArrayView& images, const PairOptions& options, const ArrayView& anchors,
                  const ArrayView& positives, StreamHandle stream);

// Test hook: SSIM (as the sampler computes it) of the patch pairs listed in `pairs`, a CPU int64
// array [M, 1 + 2d] of rows (image index, centre a, centre b), on CPU images.
std::vector<double> patch_ssim_of_pairs(const ArrayView& images, int size, double data_range,
                                        const ArrayView& pairs);

void sample_pairs_cpu(const ArrayView& images, const PairSamplerParams& params,
                      const ArrayView& anchors, const ArrayView& positives);
#ifdef CUTS_WITH_CUDA
void sample_pairs_cuda(const ArrayView& images, const PairSamplerParams& params,
                       const ArrayView& anchors, const ArrayView& positives, StreamHandle stream);
#endif

// Whether every element of a float array is finite (no NaN, no +-Inf).
bool all_finite_cpu(const ArrayView& values);
#ifdef CUTS_WITH_CUDA
bool all_finite_cuda(const ArrayView& values, StreamHandle stream);
#endif

}  // namespace cuts
