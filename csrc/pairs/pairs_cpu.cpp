// CPU sample_pairs: OpenMP over the B * S pairs, each from its own random stream.
#include "core/dispatch_float.h"
#include "pairs/pairs_kernels.h"

namespace cuts {

void sample_pairs_cpu(const ArrayView& images, const PairSamplerParams& params,
                      const ArrayView& anchors, const ArrayView& positives) {
  const int64_t pairs = anchors.shape[0] * anchors.shape[1];
  const int d = params.grid.ndim;
  int64_t* anchor_out = anchors.as<int64_t>();
  int64_t* positive_out = positives.as<int64_t>();
  dispatch_float(images.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* data = images.as<const T>();
    // A training batch has ~100 pairs, each a short computation: below a few hundred, waking
    // the thread team costs more than it saves (and stalls when the cores are busy elsewhere).
#pragma omp parallel for schedule(dynamic, 16) if (pairs >= 512)
    for (int64_t i = 0; i < pairs; ++i)
      sample_pair(data, params, i, anchor_out + i * d, positive_out + i * d);
  });
}

}  // namespace cuts
