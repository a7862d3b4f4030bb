// CUDA plumbing for the .cu files: error checks that become C++ exceptions (never an abort),
// a device guard, a stream-ordered scratch buffer and launch sizes.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/array.h"
#include "core/errors.h"

namespace cuts {

// Throws OutOfMemory for a failed allocation and DeviceError for any other CUDA error, with the
// failing call, the file and the line.
inline void cuda_check(cudaError_t err, const char* what, const char* file, int line) {
  if (err == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the GPU stays usable after we throw
  const std::string message = std::string(what) + " failed (" + file + ":" +
                              std::to_string(line) + "): " + cudaGetErrorString(err);
  if (err == cudaErrorMemoryAllocation) throw OutOfMemory("CUDA out of memory: " + message);
  throw DeviceError(message);
}

#define CUTS_CUDA_CHECK(expr) ::cuts::cuda_check((expr), #expr, __FILE__, __LINE__)

// After every launch. With CUTS_CUDA_SYNC=1 in the environment it also waits for the kernel, so
// an asynchronous fault is reported at the launch that caused it (a debugging aid).
inline void check_launch(cudaStream_t stream, const char* kernel, const char* file, int line) {
  cuda_check(cudaGetLastError(), kernel, file, line);
  static const bool sync_each_launch = [] {
    const char* v = std::getenv("CUTS_CUDA_SYNC");
    return v && v[0] == '1';
  }();
  if (sync_each_launch) cuda_check(cudaStreamSynchronize(stream), kernel, file, line);
}

#define CUTS_CHECK_LAUNCH(stream, kernel) ::cuts::check_launch((stream), (kernel), __FILE__, __LINE__)

// Makes `index` the current device for the scope, restoring the previous one after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index) {
    CUTS_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != index) CUTS_CUDA_CHECK(cudaSetDevice(index));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

// Scratch memory allocated and freed in stream order.
template <class T>
class StreamBuffer {
 public:
  StreamBuffer(int64_t count, cudaStream_t stream) : stream_(stream) {
    const size_t bytes = static_cast<size_t>(count) * sizeof(T);
    const cudaError_t err = cudaMallocAsync(reinterpret_cast<void**>(&data_), bytes, stream);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      throw OutOfMemory("CUDA out of memory: could not allocate " + std::to_string(bytes) +
                        " bytes of scratch memory");
    }
    CUTS_CUDA_CHECK(err);
  }
  ~StreamBuffer() { cudaFreeAsync(data_, stream_); }
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;
  T* get() const { return data_; }

 private:
  T* data_ = nullptr;
  cudaStream_t stream_;
};

inline cudaStream_t as_cuda_stream(StreamHandle stream) { return static_cast<cudaStream_t>(stream); }

constexpr int kThreadsPerBlock = 256;

// Blocks for a grid-stride loop over n items (capped: the loop covers the rest).
inline unsigned int blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<unsigned int>(blocks < (1 << 20) ? (blocks > 0 ? blocks : 1) : (1 << 20));
}

}  // namespace cuts
