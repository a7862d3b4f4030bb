// Front of the condensation engine: validation and the choice of device.
#include "condense/condense.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "core/checks.h"
#include "core/errors.h"

namespace cuts {

std::unique_ptr<Condenser> make_condenser(const ArrayView& points, double decay, double thresh,
                                          StreamHandle stream) {
  check_rank(points, {2}, "X", "[N, C]: N points of C features");
  check_float(points, "X");
  if (points.shape[0] > 0 && points.shape[1] == 0)
    throw InvalidArgument("X must have at least one feature column, got shape " +
                          shape_string(points));
  if (!(std::isfinite(decay) && decay > 0))
    throw InvalidArgument("decay must be a positive number, got " + std::to_string(decay));
  if (!(thresh > 0 && thresh < 1))
    throw InvalidArgument("thresh must be in (0, 1), got " + std::to_string(thresh));
  // Both engines store point indices as int32 (graph columns, union-find parents, labels).
  if (points.shape[0] > std::numeric_limits<int32_t>::max())
    throw InvalidArgument("the condensation engine takes at most 2^31 - 1 points, got " +
                          std::to_string(points.shape[0]));
  check_device_usable(points, "X");
  if (points.device == Device::CUDA) {
#ifdef CUTS_WITH_CUDA
    return make_condenser_cuda(points, decay, thresh, stream);
#else
    // Unreachable: check_device_usable rejects CUDA arrays in a CPU-only build.
    throw DeviceError("X is a CUDA array but cuts_ext was built without CUDA");
#endif
  }
  (void)stream;
  return make_condenser_cpu(points, decay, thresh);
}

}  // namespace cuts
