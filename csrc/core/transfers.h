// A tally of host <-> device copies, kept by a device engine so that tests can hold it to the
// bytes per step its design promises (csrc/condense/engine.h, Condenser::transfers).
#pragma once

#include <cstdint>

namespace cuts {

struct TransferCounts {
  int64_t to_device_bytes = 0;
  int64_t to_host_bytes = 0;
  int64_t copies = 0;

  void to_device(int64_t bytes) {
    to_device_bytes += bytes;
    ++copies;
  }
  void to_host(int64_t bytes) {
    to_host_bytes += bytes;
    ++copies;
  }
};

}  // namespace cuts
