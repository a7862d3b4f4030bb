// A counter-based random stream: draw n of stream s depends only on (seed, s, n), never on
// global state, thread scheduling or the device, so the CPU and the GPU draw the same numbers
// and every sample can be drawn independently in parallel.
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace cuts {

// SplitMix64's finaliser: a bijective 64-bit mix with full avalanche.
CUTS_HD uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

CUTS_HD uint64_t mul_high64(uint64_t a, uint64_t b) {
#if defined(__CUDA_ARCH__)
  return __umul64hi(a, b);
#else
  return static_cast<uint64_t>((static_cast<unsigned __int128>(a) * b) >> 64);
#endif
}

class CounterRandom {
 public:
  CUTS_HD CounterRandom(uint64_t seed, uint64_t stream)
      : key_(mix64(mix64(seed) ^ (stream * 0xD1B54A32D192ED03ull))), counter_(0) {}

  CUTS_HD uint64_t next() { return mix64(key_ + 0x9E3779B97F4A7C15ull * (++counter_)); }

  // Uniform integer in [lo, hi), hi > lo (the range of Python's randrange). The multiply-high
  // map has a bias below 2^-50 for the ranges used here, far under any observable effect.
  CUTS_HD int64_t uniform(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(mul_high64(next(), static_cast<uint64_t>(hi - lo)));
  }

 private:
  uint64_t key_;
  uint64_t counter_;
};

}  // namespace cuts
