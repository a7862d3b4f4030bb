#include "core/build_info.h"

#ifdef CUTS_WITH_OPENMP
#include <omp.h>
#endif

#include "core/errors.h"

namespace cuts {

CudaStatus cuda_status() {
#ifdef CUTS_WITH_CUDA
  return cuda_status_cuda();
#else
  CudaStatus s;
  s.reason = "cuts_ext was built without CUDA (no nvcc at build time, or CUTS_CUDA=OFF)";
  return s;
#endif
}

int openmp_max_threads() {
#ifdef CUTS_WITH_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void require_cuda(const char* argument) {
  const CudaStatus s = cuda_status();
  if (s.device_count > 0) return;
  throw DeviceError(std::string(argument) + " is a CUDA array, but no CUDA GPU can run here: " +
                    s.reason + ". Move it to the CPU, or use a CUDA build on a GPU machine.");
}

}  // namespace cuts
