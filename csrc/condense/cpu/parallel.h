// When the CPU condensation engine's loops go parallel.
#pragma once

#include <cstdint>

namespace cuts {

// Below this many rows (points) a loop runs on one thread: its work is less than a parallel
// region's barrier costs, and when other processes load the cores a descheduled team thread
// stalls every barrier for a whole time slice, so that a small condensation runs far slower on
// several threads than on one.
constexpr int64_t kMinParallelRows = 1024;

}  // namespace cuts
