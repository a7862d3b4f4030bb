// extract_patches: the P^d patch centred on every voxel of a batch, or on given centres, with
// the image edge replicated beyond the border. The operation's front: it validates the arguments
// and routes to the array's device (patches_kernels.h); only the bindings call it.
//
//   images   [B, C, H, W] or [B, C, D, H, W]; float32 or float64; CPU or CUDA
//   size     P: odd, >= 1, no larger than any spatial extent
//   centers  optional [B, S, d] int64 on the images' device: (y, x) or (z, y, x), each inside
//            the image
//   out      images' dtype and device:
//              no centres:   [B, H, W, C, P, P]     or [B, D, H, W, C, P, P, P]
//              with centres: [B, S, C, P, P]        or [B, S, C, P, P, P]
//   stream   CUDA arrays: the stream the kernel runs on (the centres are copied to the host and
//            checked first); ignored on the CPU, where OpenMP runs the copy
//
// extract_patches_shape validates the arguments and returns the shape of `out`. Both throw
// InvalidArgument for a malformed argument or a centre outside the image, DeviceError where a
// CUDA array cannot run here.
#pragma once

#include <cstdint>
#include <vector>

#include "core/array.h"

namespace cuts {

std::vector<int64_t> extract_patches_shape(const ArrayView& images, int size,
                                           const ArrayView* centers);
void extract_patches(const ArrayView& images, int size, const ArrayView* centers,
                     const ArrayView& out, StreamHandle stream);

}  // namespace cuts
