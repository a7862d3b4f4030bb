// Front of coarsen: validation, the public NVTX range, the SLIC passes on the features' device
// and the connectivity stage on the host.
#include "coarsen/coarsen.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "coarsen/coarsen_kernels.h"
#include "core/build_info.h"
#include "core/checks.h"
#include "core/errors.h"
#include "core/finite.h"
#include "core/nvtx.h"

namespace cuts {
namespace {

void check_arguments(const ArrayView& features, const std::vector<int64_t>& spatial,
                     const ArrayView* foreground, const CoarsenOptions& o,
                     const ArrayView& labels) {
  if (spatial.size() != 2 && spatial.size() != 3)
    throw InvalidArgument("spatial_shape must have 2 or 3 entries ([H, W] or [D, H, W]), got " +
                          std::to_string(spatial.size()));
  int64_t n = 1;
  for (int64_t s : spatial) {
    if (s < 1) throw InvalidArgument("spatial_shape entries must be >= 1");
    n *= s;
  }
  check_rank(features, {2}, "features", "[N, F]: F features of each of N voxels");
  check_float(features, "features");
  if (features.shape[0] != n || features.shape[1] < 1)
    throw InvalidArgument("features must have shape [N, F] with N = prod(spatial_shape) = " +
                          std::to_string(n) + " and F >= 1, got " + shape_string(features));
  if (n >= std::numeric_limits<int32_t>::max())
    throw InvalidArgument("features has " + std::to_string(n) + " voxels; int32 labels hold "
                          "fewer than 2^31");
  if (foreground) {
    check_dtype(*foreground, DType::UInt8, "foreground");
    check_shape(*foreground, {n}, "foreground");
    check_same_device(*foreground, features, "foreground", "features");
  }
  check_dtype(labels, DType::Int32, "labels");
  check_shape(labels, {n}, "labels");
  check_same_device(labels, features, "labels", "features");
  if (o.max_points < 1)
    throw InvalidArgument("max_points must be >= 1, got " + std::to_string(o.max_points));
  if (!(o.compactness >= 0) || !std::isfinite(o.compactness))
    throw InvalidArgument("compactness must be finite and >= 0");
  if (o.iterations < 1)
    throw InvalidArgument("iterations must be >= 1, got " + std::to_string(o.iterations));
}

}  // namespace

Coarsening coarsen(const ArrayView& features, const std::vector<int64_t>& spatial,
                   const ArrayView* foreground, const CoarsenOptions& options,
                   const ArrayView& labels, StreamHandle stream) {
  NvtxRange range("cuts_ext.coarsen");
  check_arguments(features, spatial, foreground, options, labels);
  check_device_usable(features, "features");
  require_finite(features, "features", stream);
  const int64_t feature_count = features.shape[1];
  const int64_t extent[3] = {spatial.size() == 3 ? spatial[0] : 1, spatial[spatial.size() - 2],
                             spatial.back()};
  const bool cuda = features.device == Device::CUDA;

  // The plan reads the mask on the host: on a GPU, one copy of its N bytes.
  std::vector<uint8_t> mask_copy;
  const uint8_t* mask = foreground ? foreground->as<const uint8_t>() : nullptr;
#ifdef CUTS_WITH_CUDA
  if (cuda && foreground) {
    mask_copy.resize(static_cast<size_t>(features.shape[0]));
    copy_to_host_cuda(*foreground, mask_copy.data(), stream);
    mask = mask_copy.data();
  }
#endif
  const SlicPlan plan = plan_seeds(extent, static_cast<int>(spatial.size()), mask,
                                   options.max_points, options.compactness);

  // SLIC on the device; the connectivity stage on the host, over a host copy of the labels
  // (the output itself on the CPU). On a GPU the component and final sums run on the device
  // from the labels copied back, so only O(N) labels and O(K * F) sums cross.
  std::vector<int32_t> label_copy;
  int32_t* host_labels = labels.as<int32_t>();
  auto sums = [&](int32_t count) {
#ifdef CUTS_WITH_CUDA
    if (cuda) {
      copy_to_device_cuda(host_labels, labels, stream);
      return label_sums_cuda(features, labels, count, plan.foreground, stream);
    }
#endif
    return label_sums_cpu(features, host_labels, count);
  };
  if (cuda) {
#ifdef CUTS_WITH_CUDA
    slic_cuda(features, foreground, plan, options.iterations, labels, stream);
    label_copy.resize(static_cast<size_t>(features.shape[0]));
    copy_to_host_cuda(labels, label_copy.data(), stream);
    host_labels = label_copy.data();
#endif
  } else {
    slic_cpu(features, mask, plan, options.iterations, host_labels);
  }
  const int32_t components = split_connected(host_labels, extent);
  Coarsening out;
  out.count = merge_regions(host_labels, extent, sums(components), feature_count,
                            options.max_points, plan.seeds, plan.foreground);
  LabelSums final_sums = sums(out.count);
  out.counts = std::move(final_sums.counts);
  out.means = std::move(final_sums.sums);
  for (int32_t k = 0; k < out.count; ++k)
    for (int64_t j = 0; j < feature_count; ++j)
      out.means[k * feature_count + j] /= double(out.counts[k]);
  return out;
}

}  // namespace cuts
