#include "cuts/spectrum_blocks.h"

#include "cuts/groups.h"

namespace cuts {

SpectrumBlocks spectrum_blocks(const KernelGraph& graph, int64_t exact_limit) {
  const int64_t m = static_cast<int64_t>(graph.row_ptr.size()) - 1;
  SpectrumBlocks out;
  out.edges = static_cast<int64_t>(graph.cols.size());
  out.degree.assign(m, 0.0);
  SmallestRootSets sets(m);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t e = graph.row_ptr[i]; e < graph.row_ptr[i + 1]; ++e) {
      out.degree[i] += graph.values[e];  // in column order, as the engines sum D
      // S is symmetric: each pair is seen from both rows, so joining from one side suffices.
      if (graph.cols[e] > i) sets.join(i, graph.cols[e]);
    }
  int64_t blocks = 0;
  out.block = sets.components(&blocks);
  out.sizes.assign(blocks, 0);
  for (int64_t b : out.block) ++out.sizes[b];
  for (int64_t i = 0; i < m; ++i) {
    const int64_t size = out.sizes[out.block[i]];
    if (size < 2 || size > exact_limit) continue;
    for (int64_t e = graph.row_ptr[i]; e < graph.row_ptr[i + 1]; ++e) {
      out.rows.push_back(i);
      out.cols.push_back(graph.cols[e]);
      out.values.push_back(graph.values[e]);
    }
  }
  return out;
}

}  // namespace cuts
