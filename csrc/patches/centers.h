// Validation of patch centres (host memory), used by the extract_patches front code.
#pragma once

#include <cstdint>
#include <sstream>

#include "core/grid.h"
#include "core/errors.h"

namespace cuts {

// Throws InvalidArgument for the first centre (of `count` rows of grid.ndim coordinates) that
// lies outside the image.
inline void check_centers_inside(const int64_t* centers, int64_t count, int64_t per_image,
                                 const Grid& g) {
  const int first = g.first_axis();
  for (int64_t i = 0; i < count; ++i) {
    for (int a = 0; a < g.ndim; ++a) {
      const int64_t v = centers[i * g.ndim + a];
      if (v < 0 || v >= g.extent[first + a]) {
        std::ostringstream s;
        s << "centers[" << i / per_image << ", " << i % per_image << "] coordinate " << a
          << " is " << v << ", outside the image extent " << g.extent[first + a];
        throw InvalidArgument(s.str());
      }
    }
  }
}

}  // namespace cuts
