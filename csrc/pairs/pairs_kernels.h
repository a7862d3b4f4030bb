// The backends of sample_pairs (pairs.h), called by its front once the arguments are validated
// and the images checked finite (core/finite.h): each runs pair_sampler.h's sample_pair for
// every pair.
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

}  // namespace cuts
