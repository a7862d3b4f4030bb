#include "cpu/float_gram.h"

#include <algorithm>

#include "cpu/parallel.h"
#include "cuts/errors.h"

namespace cuts {
namespace {

// The columns of a block are padded to whole vectors of kWidth floats, so that each row's sums
// stay in registers: accumulating in memory would chain every entry's adds through a store and
// a reload (it ran no faster in float32 than in float64).
constexpr int64_t kWidth = 8;  // floats per AVX2 register
typedef float Vector __attribute__((vector_size(kWidth * sizeof(float))));

// dst_i = scale_i * sum_e S_e src_{col e} for every row i, over kChunks vectors of columns
// (src and dst [M, kChunks * kWidth]). Cloned for AVX2 with a run-time choice, since the wheel
// targets baseline x86-64.
template <int kChunks>
__attribute__((target_clones("avx2", "default")))
void pass(const int64_t* row_ptr, const int32_t* cols, const float* values, const float* scale,
          const float* src, int64_t m, float* dst) {
  constexpr int64_t stride = kChunks * kWidth;
#pragma omp parallel for schedule(dynamic, 256) if (m >= kMinParallelRows)
  for (int64_t i = 0; i < m; ++i) {
    Vector sum[kChunks] = {};
    for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e) {
      const float s = values[e];
      const float* x = src + static_cast<int64_t>(cols[e]) * stride;
      for (int c = 0; c < kChunks; ++c) {
        Vector column;
        __builtin_memcpy(&column, x + c * kWidth, sizeof(Vector));
        sum[c] += s * column;
      }
    }
    if (scale)
      for (int c = 0; c < kChunks; ++c) sum[c] *= scale[i];
    __builtin_memcpy(dst + i * stride, sum, sizeof(sum));
  }
}

// The padded block's product for 1..kMaxChunks vectors of columns (12 probes are two).
constexpr int64_t kMaxChunks = 4;
void pass_chunks(int64_t chunks, const int64_t* row_ptr, const int32_t* cols, const float* values,
                 const float* scale, const float* src, int64_t m, float* dst) {
  switch (chunks) {
    case 1: return pass<1>(row_ptr, cols, values, scale, src, m, dst);
    case 2: return pass<2>(row_ptr, cols, values, scale, src, m, dst);
    case 3: return pass<3>(row_ptr, cols, values, scale, src, m, dst);
    case 4: return pass<4>(row_ptr, cols, values, scale, src, m, dst);
    default: throw InvalidArgument("pass_chunks: more than kMaxChunks vectors");
  }
}

}  // namespace

FloatGram::FloatGram(const KernelGraph& graph)
    : row_ptr_(graph.row_ptr), cols_(graph.cols.size()), values_(graph.values.size()) {
  const int64_t m = static_cast<int64_t>(row_ptr_.size()) - 1;
  if (m >= (int64_t{1} << 31)) throw InvalidArgument("FloatGram: more than 2^31 points");
  inverse_degree2_.resize(m);
  // In parallel over rows: on a graph of tens of millions of entries a serial copy costs as
  // much as three products.
#pragma omp parallel for schedule(dynamic, 256) if (m >= kMinParallelRows)
  for (int64_t i = 0; i < m; ++i) {
    double degree = 0.0;
    for (int64_t e = row_ptr_[i]; e < row_ptr_[i + 1]; ++e) {
      cols_[e] = static_cast<int32_t>(graph.cols[e]);
      values_[e] = static_cast<float>(graph.values[e]);
      degree += graph.values[e];
    }
    inverse_degree2_[i] = static_cast<float>(1.0 / (degree * degree));
  }
}

std::vector<double> FloatGram::product(const std::vector<double>& v, int64_t columns) const {
  const int64_t m = static_cast<int64_t>(row_ptr_.size()) - 1;
  if (columns < 0 || static_cast<int64_t>(v.size()) != m * columns)
    throw InvalidArgument("gram_product: the block must have M * columns values");
  std::vector<double> result(m * columns);
  // Slices of up to kMaxChunks vectors of columns, each padded to whole vectors.
  for (int64_t first = 0; first < columns; first += kMaxChunks * kWidth) {
    const int64_t width = std::min(columns - first, kMaxChunks * kWidth);
    const int64_t chunks = (width + kWidth - 1) / kWidth, stride = chunks * kWidth;
    std::vector<float> block(m * stride, 0.0f), inner(m * stride), out(m * stride);
    for (int64_t i = 0; i < m; ++i)
      std::copy(v.begin() + i * columns + first, v.begin() + i * columns + first + width,
                block.begin() + i * stride);
    // inner = D^-2 S V, then out = S inner.
    pass_chunks(chunks, row_ptr_.data(), cols_.data(), values_.data(), inverse_degree2_.data(),
                block.data(), m, inner.data());
    pass_chunks(chunks, row_ptr_.data(), cols_.data(), values_.data(), nullptr, inner.data(), m,
                out.data());
    for (int64_t i = 0; i < m; ++i)
      std::copy(out.begin() + i * stride, out.begin() + i * stride + width,
                result.begin() + i * columns + first);
  }
  return result;
}

}  // namespace cuts
