// Just enough of CUDA to compile grid-stride kernels as host code: one "thread" whose stride is
// 1 walks every item, in order. Atomics and L2 loads become plain accesses (nothing runs
// concurrently). Kernels that need a block of cooperating threads (shared-memory reductions)
// cannot run this way and are not included.
#pragma once

#include <cmath>
#include <cstdint>

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__

struct HostDim {
  unsigned x;
};
inline HostDim blockIdx{0}, threadIdx{0}, blockDim{1}, gridDim{1};

inline int32_t __ldcg(const int32_t* p) { return *p; }
inline int atomicCAS(int* address, int compare, int value) {
  const int old = *address;
  if (old == compare) *address = value;
  return old;
}
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
  const unsigned long long old = *address;
  *address += value;
  return old;
}
using std::fabs;
using std::sqrt;
