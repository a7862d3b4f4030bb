// The backends of coarsen (coarsen.h), called by its front once the arguments are validated and
// the seeds planned (seeds.h). Each backend runs the SLIC passes and the label sums on its device;
// the connectivity stage (regions.h) runs on the host for both.
#pragma once

#include <cstdint>

#include "coarsen/regions.h"
#include "coarsen/seeds.h"
#include "core/array.h"

namespace cuts {

// coarsen_cpu.cpp (OpenMP). slic_cpu writes the SLIC labels [N] (-1 on the background) of
// `features` [N, F] after `iterations` passes; label_sums_cpu sums the features of each label
// 0..count-1 of `labels` [N] in voxel order. Both are independent of the thread count.
void slic_cpu(const ArrayView& features, const uint8_t* mask, const SlicPlan& plan,
              int iterations, int32_t* labels);
LabelSums label_sums_cpu(const ArrayView& features, const int32_t* labels, int32_t count);

#ifdef CUTS_WITH_CUDA
// coarsen_cuda.cu: the same on `stream`, for device `features`, `mask` (uint8, may be null) and
// `labels` (int32 [N]); label_sums_cuda returns host vectors, identical to label_sums_cpu's.
void slic_cuda(const ArrayView& features, const ArrayView* mask, const SlicPlan& plan,
               int iterations, const ArrayView& labels, StreamHandle stream);
LabelSums label_sums_cuda(const ArrayView& features, const ArrayView& labels, int32_t count,
                          int64_t foreground, StreamHandle stream);
// Copies host `src` over the whole device array `dst` and waits for the copy.
void copy_to_device_cuda(const void* src, const ArrayView& dst, StreamHandle stream);
#endif

}  // namespace cuts
