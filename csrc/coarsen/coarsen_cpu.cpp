// CPU coarsen: the SLIC passes and the label sums, on OpenMP. Every label's sums are added in
// voxel order, whatever the thread count, through a stable counting sort of the voxels by label.
#include <algorithm>
#include <vector>

#ifdef CUTS_WITH_OPENMP
#include <omp.h>
#endif

#include "coarsen/coarsen_kernels.h"
#include "coarsen/slic.h"
#include "core/dispatch_float.h"

namespace cuts {
namespace {

int thread_count() {
#ifdef CUTS_WITH_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// The foreground voxels of `labels` [n] (label >= 0) grouped by label, in voxel order within each
// label: a stable counting sort, each thread counting and placing one contiguous chunk of voxels.
// start[k] .. start[k + 1] indexes label k's voxels in `order`.
void sort_by_label(const int32_t* labels, int64_t n, int32_t count, std::vector<int64_t>& order,
                   std::vector<int64_t>& start) {
  const int threads = thread_count();
  std::vector<int64_t> slot(static_cast<size_t>(threads) * count, 0);
  auto chunk = [&](int t) { return n * t / threads; };
#pragma omp parallel for schedule(static, 1) num_threads(threads)
  for (int t = 0; t < threads; ++t)
    for (int64_t v = chunk(t); v < chunk(t + 1); ++v)
      if (labels[v] >= 0) ++slot[int64_t(t) * count + labels[v]];
  start.assign(static_cast<size_t>(count) + 1, 0);
  int64_t position = 0;
  for (int32_t k = 0; k < count; ++k) {
    start[k] = position;
    for (int t = 0; t < threads; ++t) {
      const int64_t voxels = slot[int64_t(t) * count + k];
      slot[int64_t(t) * count + k] = position;
      position += voxels;
    }
  }
  start[count] = position;
  order.resize(static_cast<size_t>(position));
#pragma omp parallel for schedule(static, 1) num_threads(threads)
  for (int t = 0; t < threads; ++t)
    for (int64_t v = chunk(t); v < chunk(t + 1); ++v)
      if (labels[v] >= 0) order[slot[int64_t(t) * count + labels[v]]++] = v;
}

// Row k of `out` [count, width] becomes the sum over label k's voxels, in voxel order, of their
// coordinates (z, y, x; when `positions`) then features; with `divide`, the mean instead, and a
// label without voxels keeps its row.
template <class T>
void sums_by_label(const T* features, int64_t feature_count, const SlicGrid& g,
                   const int32_t* labels, int32_t count, bool positions, bool divide,
                   double* out, int64_t* counts) {
  std::vector<int64_t> order, start;
  sort_by_label(labels, g.voxels(), count, order, start);
  const int64_t width = positions ? centre_width(feature_count) : feature_count;
#pragma omp parallel
  {
    std::vector<double> acc(static_cast<size_t>(width));
#pragma omp for schedule(dynamic, 64)
    for (int32_t k = 0; k < count; ++k) {
      const int64_t voxels = start[k + 1] - start[k];
      if (counts) counts[k] = voxels;
      if (divide && voxels == 0) continue;
      std::fill(acc.begin(), acc.end(), 0.0);
      double* feature_acc = acc.data() + (positions ? 3 : 0);
      for (int64_t i = start[k]; i < start[k + 1]; ++i) {
        const int64_t v = order[i];
        if (positions) {
          int64_t c[3];
          g.coords(v, c);
          for (int a = 0; a < 3; ++a) acc[a] += double(c[a]);
        }
        const T* f = features + v * feature_count;
        for (int64_t j = 0; j < feature_count; ++j) feature_acc[j] += double(f[j]);
      }
      for (int64_t j = 0; j < width; ++j)
        out[k * width + j] = divide ? acc[j] / double(voxels) : acc[j];
    }
  }
}

template <class T>
void slic(const T* features, int64_t feature_count, const uint8_t* mask, const SlicPlan& plan,
          int iterations, int32_t* labels) {
  const SlicGrid& g = plan.grid;
  const int32_t* cell_centre = plan.cell_centre.data();
  // The first centres are the means of their cells' foreground voxels.
#pragma omp parallel for schedule(static)
  for (int64_t v = 0; v < g.voxels(); ++v) {
    int64_t c[3];
    g.coords(v, c);
    labels[v] = (mask && !mask[v]) ? -1 : cell_centre[g.cell_of(c)];
  }
  std::vector<double> centres(static_cast<size_t>(plan.seeds * centre_width(feature_count)));
  for (int pass = 0; pass < iterations; ++pass) {
    sums_by_label(features, feature_count, g, labels, plan.seeds, true, true, centres.data(),
                  nullptr);
#pragma omp parallel
    {
      // The voxel's features in float64 once, not once per candidate: the same values
      // (float -> double is exact), so the same distances as the CUDA kernel's.
      std::vector<double> f(static_cast<size_t>(feature_count));
#pragma omp for schedule(static)
      for (int64_t v = 0; v < g.voxels(); ++v) {
        if (labels[v] < 0) continue;
        std::copy(features + v * feature_count, features + (v + 1) * feature_count, f.begin());
        labels[v] = nearest_centre(f.data(), feature_count, v, g, cell_centre, centres.data());
      }
    }
  }
}

}  // namespace

void slic_cpu(const ArrayView& features, const uint8_t* mask, const SlicPlan& plan,
              int iterations, int32_t* labels) {
  dispatch_float(features.dtype, [&](auto zero) {
    using T = decltype(zero);
    slic(features.as<const T>(), features.shape[1], mask, plan, iterations, labels);
  });
}

LabelSums label_sums_cpu(const ArrayView& features, const int32_t* labels, int32_t count) {
  LabelSums out;
  const int64_t feature_count = features.shape[1];
  out.sums.resize(static_cast<size_t>(count * feature_count));
  out.counts.resize(static_cast<size_t>(count));
  SlicGrid g;  // only its voxel count matters: no positions are summed
  g.extent[2] = features.shape[0];
  dispatch_float(features.dtype, [&](auto zero) {
    using T = decltype(zero);
    sums_by_label(features.as<const T>(), feature_count, g, labels, count, false, false,
                  out.sums.data(), out.counts.data());
  });
  return out;
}

}  // namespace cuts
