// The members of the engine interface that every backend shares.
#include "condense/engine.h"

#include <cmath>
#include <string>

#include "condense/lanczos.h"
#include "condense/spectrum_blocks.h"
#include "core/errors.h"

namespace cuts {

void Condenser::set_weights(const std::vector<double>& weights) {
  if (static_cast<int64_t>(weights.size()) != size())
    throw InvalidArgument("weights must hold one value per point (" + std::to_string(size()) +
                          "), got " + std::to_string(weights.size()));
  for (double w : weights)
    if (!(std::isfinite(w) && w > 0))
      throw InvalidArgument("weights must be positive and finite, got " + std::to_string(w));
  assign_weights(weights);
}

SpectrumBlocks Condenser::spectrum_blocks(int64_t exact_limit) const {
  return cuts::spectrum_blocks(kernel_graph(), exact_limit);
}

LanczosCoefficients Condenser::lanczos(const std::vector<double>& probes, int64_t columns,
                                       int64_t steps) const {
  return host_lanczos(*this, probes, columns, steps);
}

}  // namespace cuts
