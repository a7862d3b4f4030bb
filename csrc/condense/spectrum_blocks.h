// What the choice of the diffusion time needs from the kernel graph
// (cuts_ext/condensation/spectrum.py), computed where the graph lives so that the Python layer
// never copies a graph of tens of millions of edges: P = D^-1 S is block diagonal over the
// connected components of S, small blocks are decomposed exactly from their few entries, large
// ones are only touched through the engine's products (Condenser::lanczos).
#pragma once

#include <cstdint>
#include <vector>

#include "condense/engine.h"
#include "condense/groups.h"

namespace cuts {

struct SpectrumBlocks {
  std::vector<int64_t> block;   // [M] the block of each point, numbered by smallest member
  std::vector<int64_t> sizes;   // [B] points per block
  std::vector<double> degree;   // [M] D, the row sums of S
  int64_t edges = 0;            // stored entries of S (self-loops included)
  // The entries S_ij of the rows in blocks of 2..exact_limit points (all the exact
  // decompositions need), rows in the order of small_block_rows, each row's columns ascending:
  // the entries of blocks of one size are then one slice.
  std::vector<int32_t> rows, cols;
  std::vector<double> values;
};

SpectrumBlocks spectrum_blocks(const KernelGraph& graph, int64_t exact_limit);

// Sets `block` and `sizes` of `out` from the union of the kernel graph's pairs.
void assign_blocks(SmallestRootSets& sets, SpectrumBlocks* out);

// The rows of the blocks of 2..exact_limit points, ordered by the size of their block, then
// their block, then their index; `block` and `sizes` as in SpectrumBlocks.
std::vector<int64_t> small_block_rows(const std::vector<int64_t>& block,
                                      const std::vector<int64_t>& sizes, int64_t exact_limit);

}  // namespace cuts
