// CUDA extract_patches: one thread per output element, so consecutive threads write consecutive
// addresses; the source index comes from the same core/grid.h functions as on the CPU.
#include "core/cuda/cuda_utils.h"
#include "core/cuda/grid_stride.h"
#include "core/nvtx.h"
#include "patches/patches_kernels.h"

namespace cuts {
namespace {

template <class T>
__global__ void patches_everywhere_kernel(const T* __restrict__ images, Grid g, PatchShape p,
                                          int64_t total, T* __restrict__ out) {
  const int64_t length = p.length();
  const int64_t per_voxel = g.channels * length;
  const int64_t voxels = g.voxels();
  CUTS_GRID_STRIDE(i, total) {
    const int64_t k = i % length;
    const int64_t c = (i / length) % g.channels;
    const int64_t voxel = (i / per_voxel) % voxels;
    const int64_t b = i / (per_voxel * voxels);
    int64_t center[3];
    voxel_coords(g, voxel, center);
    int kz, ky, kx;
    patch_element(p, k, &kz, &ky, &kx);
    out[i] = images[b * g.image_stride() + c * voxels + patch_source_offset(g, p, center, kz, ky, kx)];
  }
}

template <class T>
__global__ void patches_at_centers_kernel(const T* __restrict__ images, Grid g, PatchShape p,
                                          const int64_t* __restrict__ centers, int64_t per_image,
                                          int64_t total, T* __restrict__ out) {
  const int64_t length = p.length();
  const int first = g.first_axis();
  CUTS_GRID_STRIDE(i, total) {
    const int64_t k = i % length;
    const int64_t c = (i / length) % g.channels;
    const int64_t sample = i / (g.channels * length);
    int64_t center[3] = {0, 0, 0};
    for (int a = 0; a < g.ndim; ++a) center[first + a] = centers[sample * g.ndim + a];
    int kz, ky, kx;
    patch_element(p, k, &kz, &ky, &kx);
    out[i] = images[(sample / per_image) * g.image_stride() + c * g.voxels() +
                    patch_source_offset(g, p, center, kz, ky, kx)];
  }
}

template <class T>
void launch(const ArrayView& images, const Grid& g, const PatchShape& p, const ArrayView* centers,
            const ArrayView& out, cudaStream_t stream) {
  const int64_t total = out.numel();
  if (centers) {
    NvtxRange range("patches_at_centers_kernel");
    patches_at_centers_kernel<T><<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(
        images.as<const T>(), g, p, centers->as<const int64_t>(), centers->shape[1], total,
        out.as<T>());
    CUTS_CHECK_LAUNCH(stream, "patches_at_centers_kernel");
  } else {
    NvtxRange range("patches_everywhere_kernel");
    patches_everywhere_kernel<T><<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(
        images.as<const T>(), g, p, total, out.as<T>());
    CUTS_CHECK_LAUNCH(stream, "patches_everywhere_kernel");
  }
}

}  // namespace

void extract_patches_cuda(const ArrayView& images, const Grid& grid, const PatchShape& patch,
                          const ArrayView* centers, const ArrayView& out, StreamHandle stream) {
  DeviceGuard guard(images.device_index);
  if (images.dtype == DType::Float64) {
    launch<double>(images, grid, patch, centers, out, as_cuda_stream(stream));
  } else {
    launch<float>(images, grid, patch, centers, out, as_cuda_stream(stream));
  }
}

}  // namespace cuts
