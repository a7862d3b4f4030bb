// The finiteness check on the host, and its routing on the device.
#include <string>

#include "core/dispatch_float.h"
#include "core/errors.h"
#include "core/finite.h"

namespace cuts {

bool all_finite_cpu(const ArrayView& values) {
  const int64_t n = values.numel();
  int64_t bad = 0;
  dispatch_float(values.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* v = values.as<const T>();
    // x - x is 0 for every finite x and NaN for NaN and +-Inf; unlike std::isfinite, the
    // compiler vectorises it.
#pragma omp parallel for reduction(+ : bad) schedule(static) if (n >= (1 << 18))
    for (int64_t i = 0; i < n; ++i) bad += (v[i] - v[i]) != T(0);
  });
  return bad == 0;
}

void require_finite(const ArrayView& values, const char* name, StreamHandle stream) {
  bool finite = true;
  if (values.device == Device::CUDA) {
#ifdef CUTS_WITH_CUDA
    finite = all_finite_cuda(values, stream);
#endif
  } else {
    finite = all_finite_cpu(values);
  }
  (void)stream;  // a CPU-only build never holds CUDA arrays (the fronts reject them first)
  if (!finite) throw InvalidArgument(std::string(name) + " must be finite: found NaN or Inf");
}

}  // namespace cuts
