// CPU extract_patches: OpenMP over output rows (every voxel) or over centres.
#include <vector>

#include "core/dispatch_float.h"
#include "patches/patches_kernels.h"

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

// Every output row (b, z, y) is W patches, written in order. Per row, the source row of each
// (channel, kz, ky) is found once; per x, the columns come from one clamped-column table, and
// away from the left and right borders they are simply x - r .. x + r.
template <class T>
void patches_everywhere(const T* images, const Grid& g, const PatchShape& p, int64_t batch,
                        T* out) {
  const int64_t rows_per_image = g.extent[0] * g.extent[1];
  const int64_t width = g.extent[2];
  const int r = p.radius();
  const int sources = static_cast<int>(g.channels) * p.extent(0) * p.size;
  std::vector<int64_t> column(width + p.size - 1);  // column[x + kx] = clamped x + kx - r
  for (int64_t i = 0; i < static_cast<int64_t>(column.size()); ++i)
    column[i] = clamp_index(i - r, width);
#pragma omp parallel
  {
    std::vector<const T*> source(sources);
#pragma omp for schedule(static)
    for (int64_t row = 0; row < batch * rows_per_image; ++row) {
      const int64_t within = row % rows_per_image;
      // Centre x = 0 with kx = r reads column 0: the start of each clamped source row.
      const int64_t row_centre[3] = {within / g.extent[1], within % g.extent[1], 0};
      const T* image = images + (row / rows_per_image) * g.image_stride();
      int n = 0;
      for (int64_t c = 0; c < g.channels; ++c)
        for (int kz = 0; kz < p.extent(0); ++kz)
          for (int ky = 0; ky < p.size; ++ky)
            source[n++] = image + c * g.voxels() + patch_source_offset(g, p, row_centre, kz, ky, r);
      T* dst = out + row * width * sources * p.size;
      for (int64_t x = 0; x < width; ++x) {
        const bool interior = x >= r && x + r < width;
        const int64_t* cols = column.data() + x;
        for (int s = 0; s < sources; ++s) {
          const T* src = source[s];
          if (interior) {
            for (int kx = 0; kx < p.size; ++kx) dst[kx] = src[x - r + kx];
          } else {
            for (int kx = 0; kx < p.size; ++kx) dst[kx] = src[cols[kx]];
          }
          dst += p.size;
        }
      }
    }
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
