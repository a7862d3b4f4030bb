// What the CUDA runtime can do on this machine now, and small host <-> device helpers.
#include "core/cuda/cuda_utils.h"
#include "core/build_info.h"

#include <string>

namespace cuts {

namespace {

// The lowest compute capability (major * 10 + minor) this build holds code for: the smallest
// number in CUTS_CUDA_ARCHS ("80-real,90"), or 0 when it names none ("native", "all"). SASS for
// sm_XY runs on X.y for y >= Y and PTX compute_XY is compiled for any later GPU, so with the
// default list (sm_80 SASS, compute_90 PTX) every GPU at or above 8.0 can run the kernels and
// none below it can.
int lowest_architecture() {
  const std::string archs = CUTS_CUDA_ARCHS;
  int lowest = 0;
  for (std::size_t i = 0; i < archs.size();) {
    if (archs[i] < '0' || archs[i] > '9') {
      ++i;
      continue;
    }
    int value = 0;
    for (; i < archs.size() && archs[i] >= '0' && archs[i] <= '9'; ++i) {
      value = value * 10 + (archs[i] - '0');
    }
    if (lowest == 0 || value < lowest) lowest = value;
  }
  return lowest;
}

}  // namespace

CudaStatus cuda_status_cuda() {
  CudaStatus s;
  s.compiled = true;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    // With no NVIDIA driver installed at all the runtime says "driver version is insufficient".
    s.reason = std::string("no usable NVIDIA driver or GPU (the CUDA runtime reports: ") +
               cudaGetErrorString(err) + ")";
    return s;
  }
  if (count == 0) {
    s.reason = "no CUDA GPU was found";
    return s;
  }
  // A GPU below the lowest compiled architecture passes detection and fails at its first launch
  // ("no kernel image is available"): it is not counted as usable.
  const int lowest = lowest_architecture();
  std::string below;
  for (int device = 0; device < count; ++device) {
    int major = 0, minor = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    if (major * 10 + minor >= lowest) {
      ++s.device_count;
    } else {
      below += (below.empty() ? "" : ", ") + std::to_string(major) + "." + std::to_string(minor);
    }
  }
  if (s.device_count == 0) {
    s.reason = below.empty()
                   ? std::string("no GPU answered the compute capability query")
                   : "the GPU(s) found have compute capability " + below +
                         ", below this build's lowest architecture (sm_" +
                         std::to_string(lowest) + "); rebuild with CMAKE_CUDA_ARCHITECTURES";
  }
  return s;
}

void copy_to_host_cuda(const ArrayView& source, void* dst, StreamHandle stream) {
  DeviceGuard guard(source.device_index);
  const cudaStream_t s = as_cuda_stream(stream);
  CUTS_CUDA_CHECK(cudaMemcpyAsync(dst, source.data, source.numel() * dtype_size(source.dtype),
                                  cudaMemcpyDeviceToHost, s));
  CUTS_CUDA_CHECK(cudaStreamSynchronize(s));
}

}  // namespace cuts
