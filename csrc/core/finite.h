// The finiteness check the fronts make of their float inputs before any work (NaN or +-Inf in
// images or features would otherwise become a silent wrong answer), on the array's device.
#pragma once

#include "core/array.h"

namespace cuts {

// Whether every element of a float32 / float64 array is finite.
bool all_finite_cpu(const ArrayView& values);   // core/finite_cpu.cpp
#ifdef CUTS_WITH_CUDA
bool all_finite_cuda(const ArrayView& values, StreamHandle stream);  // core/cuda/finite.cu
#endif

// Throws InvalidArgument ("NAME must be finite: found NaN or Inf") unless every element of
// `values` is finite; a CUDA array is checked on its device, on `stream`.
void require_finite(const ArrayView& values, const char* name, StreamHandle stream);

}  // namespace cuts
