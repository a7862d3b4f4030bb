// What the CUDA runtime can do on this machine now, and small host <-> device helpers.
#include "core/cuda/cuda_utils.h"
#include "core/build_info.h"

namespace cuts {

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
  } else if (count == 0) {
    s.reason = "no CUDA GPU was found";
  } else {
    s.device_count = count;
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
