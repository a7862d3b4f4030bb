// The Lanczos recurrence behind the stochastic spectrum estimate
// (cuts_ext/condensation/spectrum.py), on the host: the CPU engine's Condenser::lanczos.
#pragma once

#include <cstdint>
#include <vector>

#include "condense/engine.h"

namespace cuts {

// Throws InvalidArgument unless `probes` is an [M, columns] block (columns >= 1) of finite
// values with no zero column and steps >= 0.
void check_lanczos_arguments(const std::vector<double>& probes, int64_t m, int64_t columns,
                             int64_t steps);

// Condenser::lanczos through engine.gram_product, every column sum over the rows in order.
LanczosCoefficients host_lanczos(const Condenser& engine, const std::vector<double>& probes,
                                 int64_t columns, int64_t steps);

}  // namespace cuts
