// The finiteness check on a CUDA device: a grid-stride pass that raises a flag.
#include "core/cuda/cuda_utils.h"
#include "core/cuda/grid_stride.h"
#include "core/finite.h"
#include "core/nvtx.h"

namespace cuts {
namespace {

template <class T>
__global__ void flag_non_finite_kernel(const T* __restrict__ values, int64_t n,
                                       unsigned int* flag) {
  CUTS_GRID_STRIDE(i, n)
    if (!isfinite(values[i])) atomicOr(flag, 1u);
}

}  // namespace

bool all_finite_cuda(const ArrayView& values, StreamHandle stream) {
  DeviceGuard guard(values.device_index);
  const cudaStream_t s = as_cuda_stream(stream);
  DeviceArray<unsigned int> flag(1, s, "the non-finite flag");
  CUTS_CUDA_CHECK(cudaMemsetAsync(flag.get(), 0, sizeof(unsigned int), s));
  const int64_t n = values.numel();
  {
    NvtxRange range("flag_non_finite_kernel");
    if (values.dtype == DType::Float64) {
      flag_non_finite_kernel<double><<<blocks_for(n), kThreadsPerBlock, 0, s>>>(
          values.as<const double>(), n, flag.get());
    } else {
      flag_non_finite_kernel<float><<<blocks_for(n), kThreadsPerBlock, 0, s>>>(
          values.as<const float>(), n, flag.get());
    }
    CUTS_CHECK_LAUNCH(s, "flag_non_finite_kernel");
  }
  return scalar_to_host(flag.get(), s) == 0;
}

}  // namespace cuts
