// The neighbour search of the CPU condensation engine: points sorted by their first coordinate
// (the first principal component after PCA). A pair within radius r is within r on that axis
// too, so a query scans only the window of ranks whose key is within r of its own. The points
// are copied in rank order and interleaved in groups of kLanes, so that a window is a
// contiguous stream and one SIMD instruction advances kLanes distances at once.
#pragma once

#include <cstdint>
#include <vector>

namespace cuts {

struct Sweep {
  static constexpr int64_t kLanes = 4;  // doubles per AVX2 register

  std::vector<int64_t> order;  // [M] point index at each rank
  std::vector<int64_t> rank;   // [M] rank of each point
  std::vector<double> key;     // [M] first coordinate at each rank, ascending
  // [ceil(M / kLanes), C, kLanes]: feature k of the point at rank q is at
  // lanes[((q / kLanes) * C + k) * kLanes + q % kLanes]; the padding past M is +infinity.
  std::vector<double> lanes;
  int64_t dims;

  Sweep(const std::vector<double>& x, int64_t m, int64_t c);

  // The ranks [first, last) whose key differs from `centre` by at most r, as the difference
  // rounds (so the window never loses a pair that the distance test would keep).
  void window(double centre, double r, int64_t* first, int64_t* last) const;

  // Squared distances from `xi` [C] to the kLanes points of lane group g, each summed over
  // k = 0..C-1 in order exactly as squared_distance_bounded (condense/kernel.h) sums it. The sums
  // stop together once every lane exceeds `bound`; a lane above `bound` then holds some value
  // above it, a lane at or below it its exact distance.
  void group_distances(const double* xi, int64_t group, double bound, double* d2) const;
};

}  // namespace cuts
