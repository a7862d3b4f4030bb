// CPU extract_patches: OpenMP over output rows (every voxel) or over centres.
#include "cpu/dispatch_float.h"
#include "cuts/patches.h"

namespace cuts {
namespace {

// Copies the patch centred at `center` (all channels) of one image to `dst`, contiguous.
template <class T>
inline T* copy_patch(const T* image, const Grid& g, const PatchShape& p, const int64_t center[3],
                     T* dst) {
  for (int64_t c = 0; c < g.channels; ++c) {
    const T* plane = image + c * g.voxels();
    for (int kz = 0; kz < p.extent(0); ++kz)
      for (int ky = 0; ky < p.size; ++ky)
        for (int kx = 0; kx < p.size; ++kx)
          *dst++ = plane[patch_source_offset(g, p, center, kz, ky, kx)];
  }
  return dst;
}

template <class T>
void patches_everywhere(const T* images, const Grid& g, const PatchShape& p, int64_t batch,
                        T* out) {
  const int64_t rows_per_image = g.extent[0] * g.extent[1];
  const int64_t row_length = g.extent[2] * g.channels * p.length();
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < batch * rows_per_image; ++row) {
    const int64_t within = row % rows_per_image;
    int64_t center[3] = {within / g.extent[1], within % g.extent[1], 0};
    const T* image = images + (row / rows_per_image) * g.image_stride();
    T* dst = out + row * row_length;
    for (center[2] = 0; center[2] < g.extent[2]; ++center[2])
      dst = copy_patch(image, g, p, center, dst);
  }
}

template <class T>
void patches_at_centers(const T* images, const Grid& g, const PatchShape& p,
                        const int64_t* centers, int64_t batch, int64_t per_image, T* out) {
  const int64_t patch_values = g.channels * p.length();
  const int first = g.first_axis();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < batch * per_image; ++i) {
    int64_t center[3] = {0, 0, 0};
    for (int a = 0; a < g.ndim; ++a) center[first + a] = centers[i * g.ndim + a];
    copy_patch(images + (i / per_image) * g.image_stride(), g, p, center, out + i * patch_values);
  }
}

}  // namespace

void extract_patches_cpu(const ArrayView& images, const Grid& grid, const PatchShape& patch,
                         const ArrayView* centers, const ArrayView& out) {
  const int64_t batch = images.shape[0];
  dispatch_float(images.dtype, [&](auto zero) {
    using T = decltype(zero);
    if (centers) {
      patches_at_centers(images.as<const T>(), grid, patch, centers->as<const int64_t>(), batch,
                         centers->shape[1], out.as<T>());
    } else {
      patches_everywhere(images.as<const T>(), grid, patch, batch, out.as<T>());
    }
  });
}

}  // namespace cuts
