// A non-owning view of a dense, C-contiguous array living on the CPU or a CUDA device.
// The Python layer guarantees contiguity (copying only when the caller's data is not already
// contiguous) and keeps the owner alive for the duration of the call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cuts {

enum class DType { Float32, Float64, Int32, Int64, UInt8 };
enum class Device { CPU, CUDA };

const char* dtype_name(DType dtype);
inline int64_t dtype_size(DType dtype) {
  if (dtype == DType::UInt8) return 1;
  return (dtype == DType::Float32 || dtype == DType::Int32) ? 4 : 8;
}
const char* device_name(Device device);

struct ArrayView {
  void* data = nullptr;
  DType dtype = DType::Float32;
  Device device = Device::CPU;
  int device_index = 0;
  std::vector<int64_t> shape;

  int rank() const { return static_cast<int>(shape.size()); }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
  }
  template <class T>
  T* as() const { return static_cast<T*>(data); }
};

// An opaque CUDA stream handle (cudaStream_t) so that headers need no CUDA include; nullptr is
// the legacy default stream. Ignored on the CPU.
using StreamHandle = void*;

}  // namespace cuts
