// The error types of the C++ core. The bindings turn each into one Python exception:
//   InvalidArgument -> ValueError    (a caller's mistake: shape, dtype, value, size)
//   DeviceError     -> RuntimeError  (a device or runtime failure: CUDA missing, launch failed)
//   OutOfMemory     -> MemoryError   (an allocation failed; the message gives the size asked for)
// Messages name the argument and what was expected.
#pragma once

#include <stdexcept>
#include <string>

namespace cuts {

struct InvalidArgument : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct DeviceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OutOfMemory : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace cuts
