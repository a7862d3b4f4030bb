// Front of extract_patches: validation, the public NVTX range, and routing to the device.
#include "patches/patches.h"

#include <string>
#include <vector>

#include "core/build_info.h"
#include "core/checks.h"
#include "core/errors.h"
#include "core/nvtx.h"
#include "patches/centers.h"
#include "patches/patches_kernels.h"

namespace cuts {
namespace {

struct Geometry {
  Grid grid;
  PatchShape patch;
};

Geometry check_arguments(const ArrayView& images, int size, const ArrayView* centers) {
  check_rank(images, {4, 5}, "images", kImageLayout);
  check_float(images, "images");
  Geometry geo{image_grid(images), {}};
  geo.patch = checked_patch(size, geo.grid, 1, "size");
  if (centers) {
    check_rank(*centers, {3}, "centers", "[B, S, d]: d coordinates of S centres per image");
    check_dtype(*centers, DType::Int64, "centers");
    check_same_device(*centers, images, "centers", "images");
    if (centers->shape[0] != images.shape[0] || centers->shape[2] != geo.grid.ndim)
      throw InvalidArgument("centers must have shape [B, S, " + std::to_string(geo.grid.ndim) +
                            "] with B = " + std::to_string(images.shape[0]) +
                            " to match images, got " + shape_string(*centers));
  }
  return geo;
}

}  // namespace

std::vector<int64_t> extract_patches_shape(const ArrayView& images, int size,
                                           const ArrayView* centers) {
  const Geometry geo = check_arguments(images, size, centers);
  std::vector<int64_t> shape{images.shape[0]};
  if (centers) {
    shape.push_back(centers->shape[1]);
  } else {
    shape.insert(shape.end(), images.shape.begin() + 2, images.shape.end());
  }
  shape.push_back(geo.grid.channels);
  for (int i = 0; i < geo.grid.ndim; ++i) shape.push_back(size);
  return shape;
}

void extract_patches(const ArrayView& images, int size, const ArrayView* centers,
                     const ArrayView& out, StreamHandle stream) {
  NvtxRange range("cuts_ext.extract_patches");
  const Geometry geo = check_arguments(images, size, centers);
  check_shape(out, extract_patches_shape(images, size, centers), "out");
  check_dtype(out, images.dtype, "out");
  check_same_device(out, images, "out", "images");
  check_device_usable(images, "images");
  if (out.numel() == 0) return;
  if (centers) {
    // Centres out of range are a caller's mistake, reported before any kernel runs; on a GPU
    // that costs one small copy of the B x S x d coordinates to the host.
    std::vector<int64_t> host_copy;
    const int64_t* coords = centers->as<const int64_t>();
    if (centers->device == Device::CUDA) {
#ifdef CUTS_WITH_CUDA
      host_copy.resize(centers->numel());
      copy_to_host_cuda(*centers, host_copy.data(), stream);
      coords = host_copy.data();
#endif
    }
    check_centers_inside(coords, centers->shape[0] * centers->shape[1], centers->shape[1],
                         geo.grid);
  }
  if (images.device == Device::CUDA) {
#ifdef CUTS_WITH_CUDA
    extract_patches_cuda(images, geo.grid, geo.patch, centers, out, stream);
#else
    (void)stream;  // unreachable: check_device_usable rejects CUDA arrays in a CPU-only build
#endif
  } else {
    extract_patches_cpu(images, geo.grid, geo.patch, centers, out);
  }
}

}  // namespace cuts
