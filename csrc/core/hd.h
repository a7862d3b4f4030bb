// CUTS_HD marks functions compiled for both the host and, under nvcc, the device, so the CPU and
// CUDA kernels share one definition of every per-element computation.
#pragma once

#if defined(__CUDACC__)
#define CUTS_HD __host__ __device__ __forceinline__
#else
#define CUTS_HD inline
#endif
