// The diffusion condensation engine (docs/method.md, "Stage 2"): the points being condensed,
// their cluster sizes, the cluster of every original point, and the current kernel graph, kept on
// one device for a whole run. This is what the backends implement: cpu/condense_cpu.cpp and
// cuda/condense_cuda.cu; the front (condense.h) picks one.
//
// Memory is O(N * C + edges): the kernel is a sparse graph of the pairs within its support
// radius (the alpha-decay affinity vanishes beyond ~1.06 bandwidths), never an N x N matrix;
// the CPU engine stores each pair once (cpu/upper_graph.h).
// Computation is in float64 whatever the input dtype.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/array.h"
#include "core/transfers.h"

namespace cuts {

// The symmetrised kernel S (self-loops included) as CSR, on the host: the input of the spectrum.
struct KernelGraph {
  std::vector<int64_t> row_ptr;  // [M + 1]
  std::vector<int64_t> cols;     // [E], ascending within each row
  std::vector<double> values;    // [E], S_ij
};

struct SpectrumBlocks;  // condense/spectrum_blocks.h

// The recurrence coefficients of a block Lanczos run (Condenser::lanczos), [steps, probes]
// row-major each.
struct LanczosCoefficients {
  std::vector<double> alphas;
  std::vector<double> betas;
};


class Condenser {
 public:
  virtual ~Condenser() = default;

  virtual int64_t size() const = 0;  // M, the current number of points (clusters)

  // Sets the cluster sizes of the current points (default 1 each), for pipelines that condense
  // points that stand for several: [M] positive finite values. Drops the kernel.
  void set_weights(const std::vector<double>& weights);
  virtual int64_t dims() const = 0;  // C

  // S = (K + K^T) / 2 with K_ij = exp(-(d_ij / b_i)^decay) w_j, b_i the distance from i to its
  // k-th nearest other point (raised to float64 epsilon), entries below thresh dropped before
  // the weighting, w_j the weight of point j (1 unless set_weights gave others). k >= 1.
  virtual void adaptive_kernel(int64_t k) = 0;
  // S = (K + K^T) / 2 with K_ij = exp(-(d_ij / eps)^decay) w_j, entries below thresh dropped
  // before the weighting, w_j the number of original points in cluster j.
  virtual void fixed_kernel(double eps) = 0;
  virtual KernelGraph kernel_graph() const = 0;
  // The blocks of the kernel graph and the entries of those of up to exact_limit points
  // (condense/spectrum_blocks.h). By default from a host copy of the graph.
  virtual SpectrumBlocks spectrum_blocks(int64_t exact_limit) const;
  // P^T P V = S D^-2 S V (P = D^-1 S; S is symmetric, so no transpose is formed) for a
  // row-major host block V [M, columns]: the product the stochastic spectrum estimate
  // iterates. The CPU engine computes it in float32 (cpu/upper_graph.h), the CUDA engine in
  // float64.
  virtual std::vector<double> gram_product(const std::vector<double>& v,
                                           int64_t columns) const = 0;
  // `steps` Lanczos steps on A = P^T P from each column of the probe block V (row-major host
  // [M, columns], no column zero), all columns together (docs/method.md, "Diffusion time"):
  // q_0 = v / |v|, q_-1 = 0, beta_-1 = 0, and for j = 0..steps-1
  //   w = A q_j - beta_{j-1} q_{j-1};  alpha_j = q_j . w;  w -= alpha_j q_j;
  //   beta_j = |w|;  q_{j+1} = w / beta_j (w itself when beta_j = 0).
  // Only the coefficients come back; the block and its products stay with the graph. By
  // default on the host through gram_product (condense/lanczos.cpp); the CUDA engine runs it
  // on the device in float64.
  virtual LanczosCoefficients lanczos(const std::vector<double>& probes, int64_t columns,
                                      int64_t steps) const;
  // X <- P^t X with P = D^-1 S, D the row sums of S, applied as t sparse products.
  virtual void diffuse(int64_t t) = 0;
  // The `count` smallest distances over all pairs i < j of the current points, ascending
  // (fewer when there are fewer pairs).
  virtual std::vector<double> smallest_pair_distances(int64_t count) = 0;
  // Joins every pair closer than `threshold` (strictly), transitively; each group becomes the
  // unweighted mean of its members, groups ordered by their smallest member. Returns the new M.
  virtual int64_t merge(double threshold) = 0;
  virtual std::vector<int32_t> labels() const = 0;   // [N]: the cluster of every original point
  virtual std::vector<double> points() const = 0;    // [M * C], row-major
  virtual std::vector<double> weights() const = 0;   // [M]
  // Host <-> device copies made since the engine was created (none on the CPU): what the
  // tests count to hold the CUDA engine to O(M) bytes per iteration.
  virtual TransferCounts transfers() const { return {}; }

 protected:
  virtual void assign_weights(const std::vector<double>& weights) = 0;  // validated by set_weights
};

// The backends, called by make_condenser (condense.h) with validated arguments: a condenser
// holding a float64 copy of `points` [N, C], each point its own cluster.
// cpu/condense_cpu.cpp: `points` in host memory.
std::unique_ptr<Condenser> make_condenser_cpu(const ArrayView& points, double decay,
                                              double thresh);
#ifdef CUTS_WITH_CUDA
// cuda/condense_cuda.cu: `points` in CUDA memory on device points.device_index; the engine
// keeps its arrays there and runs every step on `stream`, which must outlive it.
std::unique_ptr<Condenser> make_condenser_cuda(const ArrayView& points, double decay,
                                               double thresh, StreamHandle stream);
#endif

}  // namespace cuts
