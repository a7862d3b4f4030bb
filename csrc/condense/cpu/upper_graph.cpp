#include "condense/cpu/upper_graph.h"

#include <type_traits>

#include "condense/groups.h"

namespace cuts {
namespace {

// Rows of Y computed together: while the rows above them are scanned for the entries that land
// in them, these rows of Y (about 512 KB) stay in L2.
int64_t output_block_rows(int64_t row_bytes) {
  return std::clamp<int64_t>((512 << 10) / std::max<int64_t>(row_bytes, 1), 64, 8192);
}

// Output blocks are handed out in this many runs of consecutive blocks (fixed, so the work
// split is the same on any machine; each row of Y is computed the same way in any case).
constexpr int64_t kRuns = 16;

typedef float Float8 __attribute__((vector_size(32)));
typedef float Float4 __attribute__((vector_size(16)));

// y[0..n) += a x[0..n) in one explicit vector of n floats.
template <class Vector>
[[gnu::always_inline]] inline void add_scaled_vector(float* y, float a, const float* x) {
  Vector yv, xv;
  __builtin_memcpy(&yv, y, sizeof(Vector));
  __builtin_memcpy(&xv, x, sizeof(Vector));
  yv += a * xv;
  __builtin_memcpy(y, &yv, sizeof(Vector));
}

// y[0..w) += a x[0..w), with w = W when W > 0. A fixed width (floats, a multiple of 4) goes in
// explicit 8- and 4-float vectors: written as a loop, GCC unrolls it to scalar code, unable to
// rule out that y overlaps x.
template <class T, int64_t W>
[[gnu::always_inline]] inline void add_scaled(T* y, T a, const T* x, int64_t w) {
  if constexpr (W > 0) {
    static_assert(std::is_same_v<T, float> && W % 4 == 0, "fixed widths: floats, 4 at a time");
    int64_t q = 0;
    for (; q + 8 <= W; q += 8) add_scaled_vector<Float8>(y + q, a, x + q);
    for (; q < W; q += 4) add_scaled_vector<Float4>(y + q, a, x + q);
  } else {
    for (int64_t k = 0; k < w; ++k) y[k] += a * x[k];
  }
}

// Rows [lo, hi) of Y = A V (see symmetric_product) for V, Y [M, width] of T, width = W when
// W > 0 (row i's sums are then held in registers), else `width`. Row j's terms below the
// diagonal are the entries (i, j) of rows i < j, so scanning rows in ascending order adds them in
// ascending i, and they are all in when row j itself is reached and adds its diagonal and its
// own entries. `next[i]` is where row i's entries with columns >= lo start (for rows i < lo); it
// is moved to the first column >= hi, for the next block. Inlined into the clones below.
template <class T, int64_t W>
[[gnu::always_inline]] inline void product_rows(const UpperGraph& g, bool divide,
                                                const double* degree, const T* v, int64_t width,
                                                int64_t lo, int64_t hi, int32_t* next, T* y) {
  const int64_t w = W > 0 ? W : width;
  auto coef = [&](double s, int64_t row) { return static_cast<T>(divide ? s / degree[row] : s); };
  std::fill(y + lo * w, y + hi * w, T(0));
  for (int64_t i = 0; i < lo; ++i) {
    const UpperGraph::Row r = g.row(i);
    if (next[i] >= r.length || r.cols[next[i]] >= hi) continue;
    const T* vi = v + i * w;
    int64_t e = next[i];
    for (; e < r.length && r.cols[e] < hi; ++e) {
      const T a = coef(r.values[e], r.cols[e]);
      add_scaled<T, W>(y + r.cols[e] * w, a, vi, w);
    }
    next[i] = static_cast<int32_t>(e);
  }
  T held[W > 0 ? W : 1];
  for (int64_t i = lo; i < hi; ++i) {
    const UpperGraph::Row r = g.row(i);
    const T* vi = v + i * w;
    T* yi = W > 0 ? held : y + i * w;
    if constexpr (W > 0) std::copy(y + i * w, y + i * w + W, held);
    const T diagonal = coef(g.diagonal[i], i);
    add_scaled<T, W>(yi, diagonal, vi, w);
    // Columns ascend, so the entries whose row j is in this block come first: for those, this
    // is also one of row j's terms below the diagonal.
    int64_t e = 0;
    for (; e < r.length && r.cols[e] < hi; ++e) {
      const int64_t j = r.cols[e];
      add_scaled<T, W>(yi, coef(r.values[e], i), v + j * w, w);
      add_scaled<T, W>(y + j * w, coef(r.values[e], j), vi, w);
    }
    next[i] = static_cast<int32_t>(e);
    for (; e < r.length; ++e) add_scaled<T, W>(yi, coef(r.values[e], i), v + r.cols[e] * w, w);
    if constexpr (W > 0) std::copy(held, held + W, y + i * w);
  }
}

// Cloned for AVX2 without FMA, with a run-time choice (the wheel targets baseline x86-64): in
// float64 every lane rounds as the scalar code and the CUDA engine do.
__attribute__((target_clones("avx2", "default")))
void product_rows_float64(const UpperGraph& g, bool divide, const double* degree, const double* v,
                          int64_t width, int64_t lo, int64_t hi, int32_t* next, double* y) {
  product_rows<double, 0>(g, divide, degree, v, width, lo, hi, next, y);
}

// Always kFloatWidth wide (`width` is not read).
__attribute__((target_clones("avx2", "default")))
void product_rows_float32(const UpperGraph& g, bool divide, const double* degree, const float* v,
                          int64_t width, int64_t lo, int64_t hi, int32_t* next, float* y) {
  product_rows<float, kFloatWidth>(g, divide, degree, v, width, lo, hi, next, y);
}

// Y = A V over all rows: output blocks in runs of consecutive blocks, each run starting every
// row's cursor by a binary search and then advancing it block by block.
template <class T, class Rows>
void product(const UpperGraph& g, Coefficient coef, const std::vector<double>& degree, const T* v,
             int64_t width, T* y, Rows&& rows_of) {
  const int64_t m = g.size(), rows = output_block_rows(width * static_cast<int64_t>(sizeof(T)));
  const int64_t blocks = (m + rows - 1) / rows, runs = std::min(blocks, kRuns);
  const bool divide = coef == Coefficient::kDividedByDegree;
#pragma omp parallel if (m >= kMinParallelRows)
  {
    std::vector<int32_t> next(m);  // per row, the first entry not yet added (see product_rows)
#pragma omp for schedule(dynamic, 1)
    for (int64_t run = 0; run < runs; ++run) {
      const int64_t first = blocks * run / runs, last = blocks * (run + 1) / runs;
      const int64_t lo = first * rows;
      for (int64_t i = 0; i < lo; ++i) {
        const UpperGraph::Row r = g.row(i);
        next[i] = static_cast<int32_t>(std::lower_bound(r.cols, r.cols + r.length, lo) - r.cols);
      }
      for (int64_t b = first; b < last; ++b)
        rows_of(g, divide, degree.data(), v, width, b * rows, std::min(m, (b + 1) * rows),
                next.data(), y);
    }
  }
}

}  // namespace

int64_t UpperGraph::pairs() const {
  int64_t total = 0;
  for (const Block& b : blocks) total += static_cast<int64_t>(b.cols.size());
  return total;
}

void symmetric_product(const UpperGraph& g, Coefficient coef, const std::vector<double>& degree,
                       const double* v, int64_t width, double* y) {
  product(g, coef, degree, v, width, y, product_rows_float64);
}

void symmetric_product_float32(const UpperGraph& g, const float* v, float* y) {
  product(g, Coefficient::kValue, {}, v, kFloatWidth, y, product_rows_float32);
}

std::vector<double> row_sums(const UpperGraph& g) {
  const std::vector<double> ones(g.size(), 1.0);  // s * 1.0 == s: the plain sum of the row
  std::vector<double> sums(g.size());
  symmetric_product(g, Coefficient::kValue, {}, ones.data(), 1, sums.data());
  return sums;
}

template <class Index>
void full_rows(const UpperGraph& g, const std::vector<int64_t>& order, std::vector<Index>* rows,
               std::vector<Index>* cols, std::vector<double>* values) {
  const int64_t m = g.size();
  constexpr int64_t kNotListed = -1;
  // Row j's entries below the diagonal are the pairs (i, j) stored in rows i < j: count them to
  // place every listed row, then write them through a cursor as rows are visited in order.
  std::vector<int64_t> start(m, kNotListed), below(m, 0);
  for (int64_t i : order) start[i] = 0;
  for (int64_t i = 0; i < m; ++i) {
    const UpperGraph::Row r = g.row(i);
    for (int64_t e = 0; e < r.length; ++e)
      if (start[r.cols[e]] != kNotListed) ++below[r.cols[e]];
  }
  int64_t end = 0;
  for (int64_t i : order) {
    start[i] = end;
    end += below[i] + 1 + g.row(i).length;
  }
  rows->resize(end);
  cols->resize(end);
  values->resize(end);
  auto put = [&](int64_t at, int64_t row, int64_t col, double value) {
    (*rows)[at] = static_cast<Index>(row);
    (*cols)[at] = static_cast<Index>(col);
    (*values)[at] = value;
  };
  for (int64_t i = 0; i < m; ++i) {
    const bool listed = start[i] != kNotListed;
    const UpperGraph::Row r = g.row(i);
    // Rows < i have written row i's entries below the diagonal, moving start[i] past them.
    int64_t own = start[i];
    if (listed) put(own++, i, i, g.diagonal[i]);
    for (int64_t e = 0; e < r.length; ++e) {
      const int64_t j = r.cols[e];
      if (listed) put(own++, i, j, r.values[e]);
      if (start[j] != kNotListed) put(start[j]++, j, i, r.values[e]);
    }
  }
}

template void full_rows(const UpperGraph&, const std::vector<int64_t>&, std::vector<int64_t>*,
                        std::vector<int64_t>*, std::vector<double>*);
template void full_rows(const UpperGraph&, const std::vector<int64_t>&, std::vector<int32_t>*,
                        std::vector<int32_t>*, std::vector<double>*);

SpectrumBlocks spectrum_blocks(const UpperGraph& g, std::vector<double> degree,
                               int64_t exact_limit) {
  const int64_t m = g.size();
  SpectrumBlocks out;
  out.edges = m + 2 * g.pairs();
  out.degree = std::move(degree);
  SmallestRootSets sets(m);
  for (int64_t i = 0; i < m; ++i) {
    const UpperGraph::Row r = g.row(i);
    for (int64_t e = 0; e < r.length; ++e) sets.join(i, r.cols[e]);
  }
  assign_blocks(sets, &out);
  full_rows(g, small_block_rows(out.block, out.sizes, exact_limit), &out.rows, &out.cols,
            &out.values);
  return out;
}

}  // namespace cuts
