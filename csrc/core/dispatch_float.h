// Calls body(T{}) with T = float or double according to a validated float dtype.
#pragma once

#include "core/array.h"

namespace cuts {

template <class Body>
void dispatch_float(DType dtype, Body&& body) {
  if (dtype == DType::Float64) {
    body(double{});
  } else {
    body(float{});
  }
}

}  // namespace cuts
