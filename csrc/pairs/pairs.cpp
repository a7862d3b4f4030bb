// Front of sample_pairs: validation, the public NVTX range, and routing to the device.
#include "pairs/pairs.h"

#include <cmath>
#include <string>

#include "core/checks.h"
#include "core/dispatch_float.h"
#include "core/errors.h"
#include "core/finite.h"
#include "core/nvtx.h"
#include "pairs/pairs_kernels.h"
#include "pairs/ssim.h"

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
  // SSIM averages over channels: with none it is 0 / 0 and every anchor would silently take
  // its fallback positive.
  require(q.grid.channels >= 1, "images must have at least one channel, got shape with C = 0");
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
  require_finite(images, "images", stream);
  if (images.device == Device::CUDA) {
#ifdef CUTS_WITH_CUDA
    sample_pairs_cuda(images, q, anchors, positives, stream);
#endif
  } else {
    sample_pairs_cpu(images, q, anchors, positives);
  }
}

std::vector<double> patch_ssim_of_pairs(const ArrayView& images, int size, double data_range,
                                        const ArrayView& pairs) {
  check_rank(images, {4, 5}, "images", kImageLayout);
  check_float(images, "images");
  const Grid g = image_grid(images);
  const PatchShape p = checked_patch(size, g, 3, "size");
  check_rank(pairs, {2}, "pairs", "[M, 1 + 2d]: image index, centre a, centre b");
  check_dtype(pairs, DType::Int64, "pairs");
  require(images.device == Device::CPU && pairs.device == Device::CPU,
          "patch_ssim_of_pairs runs on CPU arrays only");
  require(pairs.shape[1] == 1 + 2 * g.ndim, "pairs must have 1 + 2d columns");
  const int64_t* rows = pairs.as<const int64_t>();
  std::vector<double> result(pairs.shape[0]);
  for (int64_t m = 0; m < pairs.shape[0]; ++m) {
    const int64_t* row = rows + m * pairs.shape[1];
    int64_t a[3] = {0, 0, 0}, b[3] = {0, 0, 0};
    for (int i = 0; i < g.ndim; ++i) {
      a[g.first_axis() + i] = row[1 + i];
      b[g.first_axis() + i] = row[1 + g.ndim + i];
    }
    require(row[0] >= 0 && row[0] < images.shape[0], "pairs: image index out of range");
    dispatch_float(images.dtype, [&](auto zero) {
      using T = decltype(zero);
      result[m] = patch_ssim(images.as<const T>() + row[0] * g.image_stride(), g, p, a, b,
                             ssim_constants(data_range));
    });
  }
  return result;
}

}  // namespace cuts
