#include "condense/spectrum_blocks.h"

#include <algorithm>
#include <limits>
#include <string>

#include "condense/groups.h"
#include "core/errors.h"

namespace cuts {

void assign_blocks(SmallestRootSets& sets, SpectrumBlocks* out) {
  int64_t blocks = 0;
  out->block = sets.components(&blocks);
  out->sizes.assign(blocks, 0);
  for (int64_t b : out->block) ++out->sizes[b];
}

std::vector<int64_t> small_block_rows(const std::vector<int64_t>& block,
                                      const std::vector<int64_t>& sizes, int64_t exact_limit) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < static_cast<int64_t>(block.size()); ++i) {
    const int64_t size = sizes[block[i]];
    if (size >= 2 && size <= exact_limit) rows.push_back(i);
  }
  std::stable_sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) {
    const int64_t sa = sizes[block[a]], sb = sizes[block[b]];
    return sa != sb ? sa < sb : block[a] < block[b];
  });
  return rows;
}

SpectrumBlocks spectrum_blocks(const KernelGraph& graph, int64_t exact_limit) {
  const int64_t m = static_cast<int64_t>(graph.row_ptr.size()) - 1;
  if (m > std::numeric_limits<int32_t>::max())
    throw InvalidArgument("spectrum_blocks: at most 2^31 - 1 points, got " + std::to_string(m));
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
  assign_blocks(sets, &out);
  for (int64_t i : small_block_rows(out.block, out.sizes, exact_limit))
    for (int64_t e = graph.row_ptr[i]; e < graph.row_ptr[i + 1]; ++e) {
      out.rows.push_back(static_cast<int32_t>(i));
      out.cols.push_back(static_cast<int32_t>(graph.cols[e]));
      out.values.push_back(graph.values[e]);
    }
  return out;
}

}  // namespace cuts
