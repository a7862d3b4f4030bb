// What this build of the C++ core contains, and what of it can run on this machine now.
#pragma once

#include <string>

#include "core/array.h"

namespace cuts {

struct CudaStatus {
  bool compiled = false;   // CUDA kernels are part of this build
  int device_count = 0;    // GPUs usable now (0 when not compiled or none usable)
  std::string reason;      // why no GPU is usable; empty when one is
};

CudaStatus cuda_status();
int openmp_max_threads();

// Throws DeviceError naming `argument` unless a CUDA GPU can run kernels now.
void require_cuda(const char* argument);

#ifdef CUTS_WITH_CUDA
// csrc/core/cuda/runtime.cu
CudaStatus cuda_status_cuda();
// Copies a whole CUDA array to host memory `dst` and waits for the copy.
void copy_to_host_cuda(const ArrayView& source, void* dst, StreamHandle stream);
#endif

}  // namespace cuts
