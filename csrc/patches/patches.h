// extract_patches: the P^d patch centred on every voxel of a batch, or on given centres, with
// the image edge replicated beyond the border.
//
//   images   [B, C, H, W] or [B, C, D, H, W]; float32 or float64; CPU or CUDA
//   size     P: odd, >= 1, no larger than any spatial extent
//   centers  optional [B, S, d] int64 on the images' device: (y, x) or (z, y, x), each inside
//            the image
//   out      images' dtype and device:
//              no centres:   [B, H, W, C, P, P]     or [B, D, H, W, C, P, P, P]
//              with centres: [B, S, C, P, P]        or [B, S, C, P, P, P]
//
// extract_patches_shape validates the arguments and returns the shape of `out`.
#pragma once

#include <vector>

#include "core/grid.h"
#include "core/array.h"

namespace cuts {

std::vector<int64_t> extract_patches_shape(const ArrayView& images, int size,
                                           const ArrayView* centers);
void extract_patches(const ArrayView& images, int size, const ArrayView* centers,
                     const ArrayView& out, StreamHandle stream);

// Device implementations: arguments already validated; `centers` may be null. They throw
// InvalidArgument when a centre lies outside the image.
void extract_patches_cpu(const ArrayView& images, const Grid& grid, const PatchShape& patch,
                         const ArrayView* centers, const ArrayView& out);
#ifdef CUTS_WITH_CUDA
void extract_patches_cuda(const ArrayView& images, const Grid& grid, const PatchShape& patch,
                          const ArrayView* centers, const ArrayView& out, StreamHandle stream);
#endif

}  // namespace cuts
