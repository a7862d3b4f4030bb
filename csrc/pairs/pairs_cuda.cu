// CUDA sample_pairs: one thread per pair, running the same pairs/pair_sampler.h routine as the
// CPU. Built with --fmad=false (CMakeLists.txt) so SSIM values match the CPU's bit for bit.
#include "core/cuda/cuda_utils.h"
#include "core/nvtx.h"
#include "pairs/pairs_kernels.h"

namespace cuts {
namespace {

template <class T>
__global__ void sample_pairs_kernel(const T* __restrict__ images, PairSamplerParams q,
                                    int64_t pairs, int64_t* __restrict__ anchors,
                                    int64_t* __restrict__ positives) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= pairs) return;
  sample_pair(images, q, i, anchors + i * q.grid.ndim, positives + i * q.grid.ndim);
}

}  // namespace

void sample_pairs_cuda(const ArrayView& images, const PairSamplerParams& params,
                       const ArrayView& anchors, const ArrayView& positives, StreamHandle stream) {
  DeviceGuard guard(images.device_index);
  const cudaStream_t s = as_cuda_stream(stream);
  const int64_t pairs = anchors.shape[0] * anchors.shape[1];
  const unsigned int blocks = static_cast<unsigned int>((pairs + 127) / 128);
  NvtxRange range("sample_pairs_kernel");
  if (images.dtype == DType::Float64) {
    sample_pairs_kernel<double><<<blocks, 128, 0, s>>>(images.as<const double>(), params, pairs,
                                                       anchors.as<int64_t>(), positives.as<int64_t>());
  } else {
    sample_pairs_kernel<float><<<blocks, 128, 0, s>>>(images.as<const float>(), params, pairs,
                                                      anchors.as<int64_t>(), positives.as<int64_t>());
  }
  CUTS_CHECK_LAUNCH(s, "sample_pairs_kernel");
}

}  // namespace cuts
