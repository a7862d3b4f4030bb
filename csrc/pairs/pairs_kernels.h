// The backends of sample_pairs (pairs.h), called by its front once the arguments are validated:
// each runs pair_sampler.h's sample_pair for every pair, and the finiteness check the front
// makes of the images first.
#pragma once

#include "core/array.h"
#include "pairs/pair_sampler.h"

namespace cuts {

// pairs_cpu.cpp: OpenMP over the pairs.
void sample_pairs_cpu(const ArrayView& images, const PairSamplerParams& params,
                      const ArrayView& anchors, const ArrayView& positives);
#ifdef CUTS_WITH_CUDA
// pairs_cuda.cu: one thread per pair, on `stream`.
void sample_pairs_cuda(const ArrayView& images, const PairSamplerParams& params,
                       const ArrayView& anchors, const ArrayView& positives, StreamHandle stream);
#endif

// Whether every element of a float array is finite (no NaN, no +-Inf).
bool all_finite_cpu(const ArrayView& values);
#ifdef CUTS_WITH_CUDA
bool all_finite_cuda(const ArrayView& values, StreamHandle stream);
#endif

}  // namespace cuts
