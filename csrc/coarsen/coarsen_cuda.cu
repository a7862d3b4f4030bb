// CUDA coarsen: the SLIC passes and the label sums on the device, in the order of the CPU
// backend. Voxels are sorted by label with a stable radix sort (keys: labels, -1 first; values:
// voxel indices in order), so each label's voxels are in voxel order; one thread per (label,
// column) then adds them sequentially, as coarsen_cpu.cpp does. Compiled with --fmad=false, the
// distances (slic.h) and sums round as on the CPU, so both backends give the same labels.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "coarsen/coarsen_kernels.h"
#include "coarsen/slic.h"
#include "core/cuda/cuda_utils.h"
#include "core/cuda/grid_stride.h"
#include "core/errors.h"
#include "core/nvtx.h"

namespace cuts {
namespace {

// One value of a label's sum (feature j, or coordinate j < 3 when `positions`) for voxel `voxel`,
// as sums_kernel reads it.
template <class T>
__device__ __forceinline__ double sum_term(const T* features, int64_t feature_count,
                                           int64_t voxel, int64_t j, bool positions,
                                           const SlicGrid& g) {
  if (!positions) return double(features[voxel * feature_count + j]);
  if (j >= 3) return double(features[voxel * feature_count + j - 3]);
  int64_t c[3];
  g.coords(voxel, c);
  return double(c[j]);
}

__global__ void initial_labels_kernel(const uint8_t* __restrict__ mask, SlicGrid g,
                                      const int32_t* __restrict__ cell_centre,
                                      int32_t* __restrict__ labels) {
  CUTS_GRID_STRIDE(v, g.voxels()) {
    int64_t c[3];
    g.coords(v, c);
    labels[v] = (mask && !mask[v]) ? -1 : cell_centre[g.cell_of(c)];
  }
}

template <class T>
__global__ void assign_kernel(const T* __restrict__ features, int64_t feature_count, SlicGrid g,
                              const int32_t* __restrict__ cell_centre,
                              const double* __restrict__ centres, int32_t* __restrict__ labels) {
  CUTS_GRID_STRIDE(v, g.voxels()) {
    if (labels[v] >= 0)
      labels[v] = nearest_centre(features + v * feature_count, feature_count, v, g, cell_centre,
                                 centres);
  }
}

__global__ void iota_kernel(int64_t n, int32_t* __restrict__ out) {
  CUTS_GRID_STRIDE(i, n) { out[i] = static_cast<int32_t>(i); }
}

__global__ void count_kernel(const int32_t* __restrict__ labels, int64_t n,
                             int32_t* __restrict__ counts) {
  CUTS_GRID_STRIDE(v, n) {
    if (labels[v] >= 0) atomicAdd(counts + labels[v], 1);
  }
}

// Thread (k, j): column j of label k's row, summed over its voxels in voxel order (`order` from
// `first`, the background's -1 keys sorted before); with `divide` the mean, and a label without
// voxels keeps its row.
template <class T>
__global__ void sums_kernel(const T* __restrict__ features, int64_t feature_count, SlicGrid g,
                            const int32_t* __restrict__ order, const int32_t* __restrict__ counts,
                            const int64_t* __restrict__ offsets, int64_t first, int32_t count,
                            int64_t width, bool positions, bool divide, double* __restrict__ out) {
  CUTS_GRID_STRIDE(i, int64_t(count) * width) {
    const int64_t k = i / width, j = i % width;
    const int64_t voxels = counts[k];
    if (divide && voxels == 0) continue;
    const int32_t* mine = order + first + offsets[k];
    double s = 0;
    for (int64_t t = 0; t < voxels; ++t)
      s += sum_term(features, feature_count, int64_t(mine[t]), j, positions, g);
    out[i] = divide ? s / double(voxels) : s;
  }
}

// Device scratch for the label sums over N voxels and `count` labels.
struct SortBuffers {
  DeviceArray<int32_t> keys, order, iota;
  DeviceArray<int32_t> counts;
  DeviceArray<int64_t> offsets;

  SortBuffers(int64_t n, int32_t count, cudaStream_t stream)
      : keys(n, stream, "coarsen sorted labels"), order(n, stream, "coarsen voxel order"),
        iota(n, stream, "coarsen voxel indices"),
        counts(count, stream, "coarsen label counts"),
        offsets(count, stream, "coarsen label offsets") {
    iota_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(n, iota.get());
    CUTS_CHECK_LAUNCH(stream, "iota_kernel");
  }
};

// Row k of `out` [count, width] (device): label k's sums or means, as sums_by_label on the CPU.
template <class T>
void sums_by_label(const T* features, int64_t feature_count, const SlicGrid& g,
                   const int32_t* labels, int32_t count, int64_t foreground, bool positions,
                   bool divide, SortBuffers& b, double* out, cudaStream_t stream) {
  const int64_t n = g.voxels();
  const int num = static_cast<int>(n);
  run_cub("coarsen sort by label", stream, [&](void* temp, size_t& bytes) {
    return cub::DeviceRadixSort::SortPairs(temp, bytes, labels, b.keys.get(), b.iota.get(),
                                           b.order.get(), num, 0, 32, stream);
  });
  CUTS_CUDA_CHECK(cudaMemsetAsync(b.counts.get(), 0, sizeof(int32_t) * count, stream));
  count_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(labels, n, b.counts.get());
  CUTS_CHECK_LAUNCH(stream, "count_kernel");
  run_cub("coarsen label offsets", stream, [&](void* temp, size_t& bytes) {
    return cub::DeviceScan::ExclusiveSum(temp, bytes, b.counts.get(), b.offsets.get(), count,
                                         stream);
  });
  const int64_t width = positions ? centre_width(feature_count) : feature_count;
  NvtxRange range("coarsen sums_kernel");
  sums_kernel<T><<<blocks_for(count * width), kThreadsPerBlock, 0, stream>>>(
      features, feature_count, g, b.order.get(), b.counts.get(), b.offsets.get(), n - foreground,
      count, width, positions, divide, out);
  CUTS_CHECK_LAUNCH(stream, "sums_kernel");
}

template <class T>
void slic(const ArrayView& features, const ArrayView* mask, const SlicPlan& plan,
          int iterations, int32_t* labels, cudaStream_t stream) {
  const SlicGrid& g = plan.grid;
  const int64_t feature_count = features.shape[1], n = g.voxels();
  const T* f = features.as<const T>();
  DeviceArray<int32_t> cell_centre = to_device(plan.cell_centre, stream, "coarsen cell centres");
  DeviceArray<double> centres(plan.seeds * centre_width(feature_count), stream,
                              "coarsen centres");
  SortBuffers buffers(n, plan.seeds, stream);
  initial_labels_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(
      mask ? mask->as<const uint8_t>() : nullptr, g, cell_centre.get(), labels);
  CUTS_CHECK_LAUNCH(stream, "initial_labels_kernel");
  for (int pass = 0; pass < iterations; ++pass) {
    sums_by_label(f, feature_count, g, labels, plan.seeds, plan.foreground, true, true, buffers,
                  centres.get(), stream);
    NvtxRange range("coarsen assign_kernel");
    assign_kernel<T><<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(
        f, feature_count, g, cell_centre.get(), centres.get(), labels);
    CUTS_CHECK_LAUNCH(stream, "assign_kernel");
  }
  CUTS_CUDA_CHECK(cudaStreamSynchronize(stream));  // before the host-side buffers go away
}

}  // namespace

void slic_cuda(const ArrayView& features, const ArrayView* mask, const SlicPlan& plan,
               int iterations, const ArrayView& labels, StreamHandle stream) {
  DeviceGuard guard(features.device_index);
  if (features.dtype == DType::Float64) {
    slic<double>(features, mask, plan, iterations, labels.as<int32_t>(), as_cuda_stream(stream));
  } else {
    slic<float>(features, mask, plan, iterations, labels.as<int32_t>(), as_cuda_stream(stream));
  }
}

LabelSums label_sums_cuda(const ArrayView& features, const ArrayView& labels, int32_t count,
                          int64_t foreground, StreamHandle stream) {
  DeviceGuard guard(features.device_index);
  const cudaStream_t s = as_cuda_stream(stream);
  const int64_t feature_count = features.shape[1], n = features.shape[0];
  SlicGrid g;  // only its voxel count matters: no positions are summed
  g.extent[2] = n;
  SortBuffers buffers(n, count, s);
  DeviceArray<double> sums(count * feature_count, s, "coarsen label sums");
  if (features.dtype == DType::Float64) {
    sums_by_label(features.as<const double>(), feature_count, g, labels.as<const int32_t>(),
                  count, foreground, false, false, buffers, sums.get(), s);
  } else {
    sums_by_label(features.as<const float>(), feature_count, g, labels.as<const int32_t>(),
                  count, foreground, false, false, buffers, sums.get(), s);
  }
  LabelSums out;
  out.sums = to_host(sums.get(), count * feature_count, s);
  const std::vector<int32_t> counts = to_host(buffers.counts.get(), count, s);
  out.counts.assign(counts.begin(), counts.end());
  return out;
}

void copy_to_device_cuda(const void* src, const ArrayView& dst, StreamHandle stream) {
  DeviceGuard guard(dst.device_index);
  const cudaStream_t s = as_cuda_stream(stream);
  CUTS_CUDA_CHECK(cudaMemcpyAsync(dst.data, src, dst.numel() * dtype_size(dst.dtype),
                                  cudaMemcpyHostToDevice, s));
  CUTS_CUDA_CHECK(cudaStreamSynchronize(s));
}

}  // namespace cuts
