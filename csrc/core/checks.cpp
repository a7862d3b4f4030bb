#include "core/checks.h"

#include <sstream>

#include "core/build_info.h"
#include "core/errors.h"

namespace cuts {

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
  }
  return "unknown";
}

const char* device_name(Device device) { return device == Device::CUDA ? "cuda" : "cpu"; }

std::string shape_string(const ArrayView& a) {
  std::ostringstream s;
  s << "[";
  for (int i = 0; i < a.rank(); ++i) s << (i ? ", " : "") << a.shape[i];
  s << "]";
  return s.str();
}

void check_rank(const ArrayView& a, std::initializer_list<int> ranks, const char* name,
                const char* layout) {
  for (int r : ranks)
    if (a.rank() == r) return;
  std::ostringstream s;
  s << name << " must have rank ";
  int i = 0;
  for (int r : ranks) s << (i++ ? " or " : "") << r;
  s << " (" << layout << "), got shape " << shape_string(a);
  throw InvalidArgument(s.str());
}

void check_float(const ArrayView& a, const char* name) {
  if (a.dtype != DType::Float32 && a.dtype != DType::Float64)
    throw InvalidArgument(std::string(name) + " must be float32 or float64, got " +
                          dtype_name(a.dtype));
}

void check_dtype(const ArrayView& a, DType dtype, const char* name) {
  if (a.dtype != dtype)
    throw InvalidArgument(std::string(name) + " must be " + dtype_name(dtype) + ", got " +
                          dtype_name(a.dtype));
}

void check_same_device(const ArrayView& a, const ArrayView& reference, const char* name,
                       const char* reference_name) {
  if (a.device != reference.device || a.device_index != reference.device_index) {
    std::ostringstream s;
    s << name << " must be on the same device as " << reference_name << " ("
      << device_name(reference.device) << ":" << reference.device_index << "), got "
      << device_name(a.device) << ":" << a.device_index;
    throw InvalidArgument(s.str());
  }
}

void check_shape(const ArrayView& a, const std::vector<int64_t>& shape, const char* name) {
  if (a.shape != shape) {
    ArrayView expected;
    expected.shape = shape;
    throw InvalidArgument(std::string(name) + " must have shape " + shape_string(expected) +
                          ", got " + shape_string(a));
  }
}

Grid image_grid(const ArrayView& images) {
  Grid g;
  g.ndim = images.rank() - 2;
  g.channels = images.shape[1];
  for (int i = 0; i < g.ndim; ++i) g.extent[3 - g.ndim + i] = images.shape[2 + i];
  return g;
}

PatchShape checked_patch(int size, const Grid& grid, int min_size, const char* name) {
  if (size < min_size || size % 2 == 0)
    throw InvalidArgument(std::string(name) + " must be an odd integer >= " +
                          std::to_string(min_size) + ", got " + std::to_string(size));
  for (int axis = grid.first_axis(); axis < 3; ++axis)
    if (grid.extent[axis] < size)
      throw InvalidArgument(std::string(name) + " (" + std::to_string(size) +
                            ") is larger than the image: spatial extent " +
                            std::to_string(grid.extent[axis]) + " along axis " +
                            std::to_string(axis - grid.first_axis() + 2));
  PatchShape p;
  p.size = size;
  p.ndim = grid.ndim;
  return p;
}

void check_device_usable(const ArrayView& a, const char* name) {
  if (a.device == Device::CUDA) require_cuda(name);
}

}  // namespace cuts
