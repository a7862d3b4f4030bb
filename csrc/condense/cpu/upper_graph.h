// The CPU engine's kernel graph: the symmetric S stored once per pair. Row i holds S_ij for
// j > i only (int32 column, float64 value: 12 bytes a pair), the diagonal is kept apart, and the
// products read every pair from both of its rows' sides. A full CSR holds each pair twice with
// int64 columns (32 bytes a pair): the dense kernels of large images' embeddings then fit in
// well under half the memory.
//
// The products visit each output row's terms in ascending column order, exactly as a CSR row
// loop does: the same operations in the same order as the CUDA engine's CSR products (which
// tests/test_condense_cuda.py checks where a GPU runs), and independent of the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "condense/cpu/page_allocator.h"
#include "condense/cpu/parallel.h"
#include "condense/spectrum_blocks.h"

namespace cuts {

struct UpperGraph {
  // Rows come in blocks of consecutive rows, each in its own exactly-sized arrays, so that
  // blocks are built in parallel with no second copy of the graph.
  static constexpr int64_t kRowsPerBlock = 256;

  struct Block {
    std::vector<int64_t> row_ptr;  // [rows + 1], offsets into this block's arrays
    std::vector<int32_t, PageAllocator<int32_t>> cols;  // ascending in a row, all above the row
    std::vector<double, PageAllocator<double>> values;  // S_ij
  };

  struct Row {
    const int32_t* cols;
    const double* values;
    int64_t length;
  };

  std::vector<double> diagonal;  // [M] S_ii
  std::vector<Block> blocks;     // [ceil(M / kRowsPerBlock)]

  int64_t size() const { return static_cast<int64_t>(diagonal.size()); }
  int64_t pairs() const;
  Row row(int64_t i) const {
    const Block& b = blocks[i / kRowsPerBlock];
    const int64_t local = i % kRowsPerBlock, begin = b.row_ptr[local];
    return {b.cols.data() + begin, b.values.data() + begin, b.row_ptr[local + 1] - begin};
  }
};

// The graph of M rows with `diagonal` [M], whose row i (j > i, columns ascending, values
// nonzero) `fill_row(i, cols, values)` appends to the two vectors. Blocks are filled in parallel.
template <class FillRow>
UpperGraph build_upper_graph(std::vector<double> diagonal, FillRow&& fill_row) {
  UpperGraph g;
  const int64_t m = static_cast<int64_t>(diagonal.size());
  g.diagonal = std::move(diagonal);
  const int64_t blocks = (m + UpperGraph::kRowsPerBlock - 1) / UpperGraph::kRowsPerBlock;
  g.blocks.resize(blocks);
#pragma omp parallel if (m >= kMinParallelRows)
  {
    std::vector<int32_t> cols;  // one block's rows, then copied to exactly-sized arrays
    std::vector<double> values;
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t lo = b * UpperGraph::kRowsPerBlock;
      const int64_t hi = std::min(m, lo + UpperGraph::kRowsPerBlock);
      UpperGraph::Block& block = g.blocks[b];
      block.row_ptr.assign(hi - lo + 1, 0);
      cols.clear();
      values.clear();
      for (int64_t i = lo; i < hi; ++i) {
        fill_row(i, cols, values);
        block.row_ptr[i - lo + 1] = static_cast<int64_t>(cols.size());
      }
      block.cols.assign(cols.begin(), cols.end());
      block.values.assign(values.begin(), values.end());
    }
  }
  return g;
}

// Y = A V for V and Y row-major float64 [M, width]: y_j = sum_k A_jk v_k summed in ascending k
// from 0, as a CSR row loop sums it, with A_jk = S_jk (kValue) or S_jk / D_j, divided per entry
// (kDividedByDegree: P = D^-1 S, `degree` holding D; unused for kValue).
enum class Coefficient { kValue, kDividedByDegree };
void symmetric_product(const UpperGraph& g, Coefficient coef, const std::vector<double>& degree,
                       const double* v, int64_t width, double* y);

// S V in float32 for V, Y [M, kFloatWidth] row-major (wider blocks go through in slices of this
// width): the stochastic spectrum estimate's products, whose random probes carry far more error
// than float32's rounding. Each row's sums stay in registers, and gathering a float row costs
// half a float64 one. The width is the estimate's number of probes
// (cuts_ext/condensation/spectrum.py).
constexpr int64_t kFloatWidth = 12;
void symmetric_product_float32(const UpperGraph& g, const float* v, float* y);

// D, the row sums of S, in ascending column order.
std::vector<double> row_sums(const UpperGraph& g);

// The full rows of S (entries below the diagonal, the diagonal, entries above; columns
// ascending) of the rows listed in `order`, in that order, as (row, col, value) triplets.
template <class Index>
void full_rows(const UpperGraph& g, const std::vector<int64_t>& order, std::vector<Index>* rows,
               std::vector<Index>* cols, std::vector<double>* values);

// The blocks of S and the full rows of those of 2..exact_limit points (condense/spectrum_blocks.h),
// given D.
SpectrumBlocks spectrum_blocks(const UpperGraph& g, std::vector<double> degree,
                               int64_t exact_limit);

}  // namespace cuts
