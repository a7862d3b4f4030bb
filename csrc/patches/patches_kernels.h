// The backends of extract_patches (patches.h), called by its front once the arguments are
// validated and the centres checked: `centers` may be null (a patch at every voxel).
#pragma once

#include "core/array.h"
#include "core/grid.h"

namespace cuts {

// patches_cpu.cpp: OpenMP over output rows or over centres.
void extract_patches_cpu(const ArrayView& images, const Grid& grid, const PatchShape& patch,
                         const ArrayView* centers, const ArrayView& out);
#ifdef CUTS_WITH_CUDA
// patches_cuda.cu: one thread per output element, on `stream`.
void extract_patches_cuda(const ArrayView& images, const Grid& grid, const PatchShape& patch,
                          const ArrayView* centers, const ArrayView& out, StreamHandle stream);
#endif

}  // namespace cuts
