// Front of sample_pairs: validation, the public NVTX range, and routing to the device.
#include "cuts/pairs.h"

#include <cmath>
#include <string>

#include "cuts/checks.h"
#include "cuts/errors.h"
#include "cuts/nvtx.h"

namespace cuts {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw InvalidArgument(message);
}

PairSamplerParams check_arguments(const ArrayView& images, const PairOptions& o) {
  check_rank(images, {4, 5}, "images", kImageLayout);
  check_float(images, "images");
  PairSamplerParams q;
  q.grid = image_grid(images);
  // SSIM needs a sample variance, so a patch of at least two voxels: P >= 3.
  q.patch = checked_patch(o.size, q.grid, 3, "size");
  require(o.n_anchors >= 1, "n_anchors must be >= 1, got " + std::to_string(o.n_anchors));
  require(o.radius >= 1, "radius must be >= 1, got " + std::to_string(o.radius));
  require(o.attempts >= 0, "attempts must be >= 0, got " + std::to_string(o.attempts));
  require(std::isfinite(o.ssim_min) && o.ssim_min >= -1.0 && o.ssim_min <= 1.0,
          "ssim_min must be a number in [-1, 1], got " + std::to_string(o.ssim_min));
  require(std::isfinite(o.data_range) && o.data_range > 0.0,
          "data_range must be a positive number, got " + std::to_string(o.data_range));
  q.samples_per_image = o.n_anchors;
  q.radius = o.radius;
  q.attempts = o.attempts;
  q.ssim_min = o.ssim_min;
  q.ssim = ssim_constants(o.data_range);
  q.seed = o.seed;
  return q;
}

}  // namespace

std::vector<int64_t> sample_pairs_shape(const ArrayView& images, const PairOptions& options) {
  const PairSamplerParams q = check_arguments(images, options);
  return {images.shape[0], options.n_anchors, q.grid.ndim};
}

void sample_pairs(const ArrayView& images, const PairOptions& options, const ArrayView& anchors,
                  const ArrayView& positives, StreamHandle stream) {
  NvtxRange range("cuts_ext.sample_pairs");
  const PairSamplerParams q = check_arguments(images, options);
  const std::vector<int64_t> shape = sample_pairs_shape(images, options);
  for (const auto* out : {&anchors, &positives}) {
    const char* name = out == &anchors ? "anchors" : "positives";
    check_shape(*out, shape, name);
    check_dtype(*out, DType::Int64, name);
    check_same_device(*out, images, name, "images");
  }
  check_device_usable(images, "images");
  if (anchors.numel() == 0) return;
  if (images.device == Device::CUDA) {
#ifdef CUTS_WITH_CUDA
    if (!all_finite_cuda(images, stream))
      throw InvalidArgument("images must be finite: found NaN or Inf");
    sample_pairs_cuda(images, q, anchors, positives, stream);
#else
    (void)stream;  // unreachable: check_device_usable rejects CUDA arrays in a CPU-only build
#endif
  } else {
    if (!all_finite_cpu(images)) throw InvalidArgument("images must be finite: found NaN or Inf");
    sample_pairs_cpu(images, q, anchors, positives);
  }
}

}  // namespace cuts
