// sample_pairs: the anchor / positive pixel pairs of CUTS stage 1 (see pair_sampler.h for the
// exact rule), every pair drawn independently from a counter-based stream of `seed`. The
// operation's front: it validates the arguments and the images' values and routes to the
// images' device (pairs_kernels.h); only the bindings call it.
//
//   images     [B, C, H, W] or [B, C, D, H, W]; float32 or float64; finite; CPU or CUDA
//   anchors    out: [B, S, d] int64 on the images' device
//   positives  out: [B, S, d] int64 on the images' device
//   stream     CUDA arrays: the stream the finiteness check and the sampler run on; ignored on
//              the CPU, where OpenMP runs them
//
// The same seed gives the same pairs on the CPU and on a GPU. Throws InvalidArgument for a
// malformed argument or non-finite images, DeviceError where a CUDA array cannot run here.
#pragma once

#include <cstdint>
#include <vector>

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

}  // namespace cuts
