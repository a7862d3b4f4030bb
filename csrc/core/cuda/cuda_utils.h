// CUDA plumbing for the .cu files: error checks that become C++ exceptions (never an abort),
// a device guard, the one stream-ordered device array type with its host <-> device copies, a
// runner for CUB algorithms and launch sizes.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/array.h"
#include "core/errors.h"
#include "core/nvtx.h"
#include "core/transfers.h"

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

// A memory pool of one device that keeps what is freed into it for reuse until it is destroyed
// (release threshold: unlimited). The device's default pool, at threshold 0, hands freed memory
// back at every synchronisation, so an engine that synchronises each iteration would map new
// memory for every array of every iteration; from its own pool, arrays after the first
// iteration reuse memory it already holds.
class DevicePool {
 public:
  explicit DevicePool(int device) {
    cudaMemPoolProps props = {};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    CUTS_CUDA_CHECK(cudaMemPoolCreate(&pool_, &props));
    uint64_t keep = UINT64_MAX;
    const cudaError_t err =
        cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep);
    if (err != cudaSuccess) {
      cudaMemPoolDestroy(pool_);
      CUTS_CUDA_CHECK(err);
    }
  }
  // Outstanding allocations keep the pool's memory until they are freed (CUDA's rule), so the
  // owner may free its arrays in stream order before or after this.
  ~DevicePool() {
    if (pool_ != nullptr && cudaMemPoolDestroy(pool_) != cudaSuccess) cudaGetLastError();
  }
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  cudaMemPool_t get() const { return pool_; }

 private:
  cudaMemPool_t pool_ = nullptr;
};

// A device array allocated and freed in the order of `stream` (from `pool`, else the device's
// default pool); movable, empty when default-constructed or of size 0. Allocation failures
// become OutOfMemory naming `what` and the bytes asked for.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(int64_t count, cudaStream_t stream, const char* what, cudaMemPool_t pool = nullptr)
      : stream_(stream) {
    if (count < 0) throw InvalidArgument(std::string("negative size for ") + what);
    if (count == 0) return;
    if (static_cast<uint64_t>(count) > SIZE_MAX / sizeof(T))
      throw OutOfMemory(std::string("CUDA out of memory: ") + what + " would need more than " +
                        std::to_string(SIZE_MAX) + " bytes");
    const size_t bytes = static_cast<size_t>(count) * sizeof(T);
    void** target = reinterpret_cast<void**>(&data_);
    const cudaError_t err = pool != nullptr ? cudaMallocFromPoolAsync(target, bytes, pool, stream)
                                            : cudaMallocAsync(target, bytes, stream);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      data_ = nullptr;
      throw OutOfMemory("CUDA out of memory: could not allocate " + std::to_string(bytes) +
                        " bytes for " + what);
    }
    CUTS_CUDA_CHECK(err);
  }
  ~DeviceArray() { release(); }
  DeviceArray(DeviceArray&& other) noexcept { steal(other); }
  DeviceArray& operator=(DeviceArray&& other) noexcept {
    if (this != &other) {
      release();
      steal(other);
    }
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return data_; }

  // Frees in stream order; never throws (it runs in destructors).
  void release() noexcept {
    if (data_ != nullptr && cudaFreeAsync(data_, stream_) != cudaSuccess) cudaGetLastError();
    data_ = nullptr;
  }

 private:
  void steal(DeviceArray& other) noexcept {
    data_ = other.data_;
    stream_ = other.stream_;
    other.data_ = nullptr;
  }

  T* data_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

// Copies `count` values from the device to a new host vector and waits for the copy; `tally`,
// if given, counts it.
template <class T>
std::vector<T> to_host(const T* src, int64_t count, cudaStream_t stream,
                       TransferCounts* tally = nullptr) {
  std::vector<T> out(static_cast<size_t>(count));
  if (tally != nullptr) tally->to_host(count * static_cast<int64_t>(sizeof(T)));
  if (count > 0)
    CUTS_CUDA_CHECK(cudaMemcpyAsync(out.data(), src, static_cast<size_t>(count) * sizeof(T),
                                    cudaMemcpyDeviceToHost, stream));
  CUTS_CUDA_CHECK(cudaStreamSynchronize(stream));
  return out;
}

// Copies one value from the device to the host and waits for the copy (counted in `tally`).
template <class T>
T scalar_to_host(const T* src, cudaStream_t stream, TransferCounts* tally = nullptr) {
  T value{};
  if (tally != nullptr) tally->to_host(sizeof(T));
  CUTS_CUDA_CHECK(cudaMemcpyAsync(&value, src, sizeof(T), cudaMemcpyDeviceToHost, stream));
  CUTS_CUDA_CHECK(cudaStreamSynchronize(stream));
  return value;
}

// A device copy of `values` (an array named `what` in an OutOfMemory message; counted in
// `tally`; from `pool` if given).
template <class T>
DeviceArray<T> to_device(const std::vector<T>& values, cudaStream_t stream, const char* what,
                         TransferCounts* tally = nullptr, cudaMemPool_t pool = nullptr) {
  DeviceArray<T> out(static_cast<int64_t>(values.size()), stream, what, pool);
  if (tally != nullptr) tally->to_device(static_cast<int64_t>(values.size() * sizeof(T)));
  if (!values.empty())
    CUTS_CUDA_CHECK(cudaMemcpyAsync(out.get(), values.data(), values.size() * sizeof(T),
                                    cudaMemcpyHostToDevice, stream));
  // Pageable source: wait, so that `values` may go away whatever the driver does.
  CUTS_CUDA_CHECK(cudaStreamSynchronize(stream));
  return out;
}

// Runs a CUB device algorithm in an NVTX range: a size query, scratch storage in stream order
// (from `pool` if given), the call. `call(void* temp, size_t& bytes)` returns the cudaError_t of
// the CUB function.
template <class Call>
void run_cub(const char* name, cudaStream_t stream, Call&& call, cudaMemPool_t pool = nullptr) {
  NvtxRange range(name);
  size_t bytes = 0;
  cuda_check(call(nullptr, bytes), name, __FILE__, __LINE__);
  // At least one byte: CUB takes a null scratch pointer for a size query.
  DeviceArray<unsigned char> temp(static_cast<int64_t>(std::max<size_t>(bytes, 1)), stream,
                                  "CUB scratch storage", pool);
  cuda_check(call(temp.get(), bytes), name, __FILE__, __LINE__);
  CUTS_CHECK_LAUNCH(stream, name);
}

inline cudaStream_t as_cuda_stream(StreamHandle stream) { return static_cast<cudaStream_t>(stream); }

constexpr int kThreadsPerBlock = 256;

// Blocks for a grid-stride loop over n items (capped: the loop covers the rest).
inline unsigned int blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<unsigned int>(blocks < (1 << 20) ? (blocks > 0 ? blocks : 1) : (1 << 20));
}

}  // namespace cuts
