#include "condense/lanczos.h"

#include <cmath>
#include <string>

#include "core/errors.h"

namespace cuts {
namespace {

// sums[k] = sum over rows i (in order) of a[i, k] * b[i, k] for row-major [m, columns] blocks.
void column_dots(const std::vector<double>& a, const std::vector<double>& b, int64_t m,
                 int64_t columns, std::vector<double>* sums) {
  sums->assign(columns, 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t k = 0; k < columns; ++k) (*sums)[k] += a[i * columns + k] * b[i * columns + k];
}

}  // namespace

void check_lanczos_arguments(const std::vector<double>& probes, int64_t m, int64_t columns,
                             int64_t steps) {
  if (columns < 1 || static_cast<int64_t>(probes.size()) != m * columns)
    throw InvalidArgument("lanczos: the probe block must be [M, columns] with columns >= 1 (M = " +
                          std::to_string(m) + ")");
  if (steps < 0) throw InvalidArgument("lanczos: steps must be >= 0, got " + std::to_string(steps));
  std::vector<double> norms;
  column_dots(probes, probes, m, columns, &norms);
  for (double norm : norms)
    if (!(std::isfinite(norm) && norm > 0))
      throw InvalidArgument("lanczos: every probe column must be finite and nonzero");
}

LanczosCoefficients host_lanczos(const Condenser& engine, const std::vector<double>& probes,
                                 int64_t columns, int64_t steps) {
  const int64_t m = engine.size();
  check_lanczos_arguments(probes, m, columns, steps);
  LanczosCoefficients out;
  out.alphas.assign(steps * columns, 0.0);
  out.betas.assign(steps * columns, 0.0);
  std::vector<double> norms, q(probes), q_prev(m * columns, 0.0), beta(columns, 0.0), alpha;
  column_dots(probes, probes, m, columns, &norms);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t k = 0; k < columns; ++k) q[i * columns + k] /= std::sqrt(norms[k]);
  for (int64_t j = 0; j < steps; ++j) {
    std::vector<double> w = engine.gram_product(q, columns);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t k = 0; k < columns; ++k) w[i * columns + k] -= beta[k] * q_prev[i * columns + k];
    column_dots(q, w, m, columns, &alpha);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t k = 0; k < columns; ++k) w[i * columns + k] -= alpha[k] * q[i * columns + k];
    column_dots(w, w, m, columns, &beta);
    for (int64_t k = 0; k < columns; ++k) {
      beta[k] = std::sqrt(beta[k]);
      out.alphas[j * columns + k] = alpha[k];
      out.betas[j * columns + k] = beta[k];
    }
    q_prev.swap(q);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t k = 0; k < columns; ++k)
        q[i * columns + k] = w[i * columns + k] / (beta[k] > 0 ? beta[k] : 1.0);
  }
  return out;
}

}  // namespace cuts
