// Per-pair math of diffusion condensation, shared by the CPU and CUDA engines: distances in the
// order scipy's cdist sums them (so the kernels see bit-identical distances to the dense
// reference), the alpha-decay affinity, and the radius beyond which it is dropped.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace cuts {

// Squared distance of two rows, summed over k = 0..dims-1 in order, giving up as soon as the
// partial sum exceeds `bound` (the result is then some value > bound). Rows are in PCA order,
// largest variance first, so far pairs are rejected after a few terms.
CUTS_HD double squared_distance_bounded(const double* a, const double* b, int64_t dims,
                                        double bound) {
  double sum = 0.0;
  for (int64_t k = 0; k < dims; ++k) {
    const double d = a[k] - b[k];
    sum += d * d;
    if (sum > bound) return sum;
  }
  return sum;
}

// exp(-(d / bandwidth)^decay), or 0 below `thresh` (the reference drops those entries). For
// decay >= 40 and d / bandwidth < 0.39, (d / bandwidth)^decay < 4.4e-17 < 2^-54, where the
// correctly rounded exp is exactly 1: pow and exp are skipped for what is most pairs of a dense
// kernel, with the same result.
CUTS_HD double alpha_decay(double distance, double bandwidth, double decay, double thresh) {
  const double ratio = distance / bandwidth;
  const double k = (decay >= 40.0 && ratio < 0.39) ? 1.0 : exp(-pow(ratio, decay));
  return k < thresh ? 0.0 : k;
}

// The distance beyond which alpha_decay is below `thresh`: bandwidth * ln(1/thresh)^(1/decay)
// (about 1.0571 bandwidths for the reference 1e-4 and 40), widened by a relative 1e-9 so that
// rounding never drops a pair whose affinity is just above `thresh`: list membership only has
// to be a superset, the affinity itself decides.
CUTS_HD double kernel_support(double bandwidth, double decay, double thresh) {
  return bandwidth * pow(log(1.0 / thresh), 1.0 / decay) * (1.0 + 1e-9);
}

// S_ij, the symmetrised kernel entry of two points at distance d, both kernels in one rule: each
// direction's affinity k_ij = alpha_decay(d, b_i) (thresholded on its own bandwidth) weights the
// other end by its cluster size, K'_ij = k_ij w_j, and S = (K' + K'^T) / 2 (docs/method.md,
// "Weighted points"). For the fixed kernel b_i = b_j; with unit weights (every point its own
// cluster) this is (k_ij + k_ji) / 2 bit for bit, since x * 1.0 == x. Symmetric in (i, j) bit
// for bit: the two products are added either way round.
CUTS_HD double weighted_affinity(double k_ij, double k_ji, double w_i, double w_j) {
  return (k_ij * w_j + k_ji * w_i) / 2.0;
}

// How smallest_pair_distances (both engines) bounds its search for the `count` smallest of the
// m (m - 1) / 2 pair distances: if j points each have k other points within a radius, at least
// j k / 2 distinct pairs lie within it (a pair is seen from its two ends at most). So the j-th
// smallest of the points' k-th-neighbour distances holds `count` pairs for k = ceil(2 count / m)
// and j = ceil(2 count / k) <= m; listing every pair within it finds the `count` smallest. k is
// 1 (the nearest neighbour) while count <= m / 2 and grows past it, so that a million points,
// whose merge threshold needs half a million pairs, never list all of theirs.
// Needs 1 <= count <= m (m - 1) / 2, which keeps k <= m - 1.
struct PairSearch {
  int64_t k;     // the neighbour rank whose distances are taken
  int64_t rank;  // j - 1: the 0-based position of the radius among them, ascending
};

inline PairSearch pair_search(int64_t count, int64_t m) {
  const int64_t k = (2 * count + m - 1) / m;
  return {k, (2 * count + k - 1) / k - 1};
}

}  // namespace cuts
