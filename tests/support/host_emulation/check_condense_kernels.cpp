// The CUDA condensation engine's grid-stride kernels (graph_kernels.cuh, block_kernels.cuh,
// step_kernels.cuh), compiled as host code through cuda_shim.h and run on random inputs against
// brute force: the sorted-sweep k-th neighbour distances and radius lists, a fixed kernel's
// graph and degrees, diffusion and the spectrum's products on it, a merge (its union-find
// groups against condense/groups.h's, the members, means and weights), the union-find blocks,
// the small-block rows and entries. Built and run by
// tests/test_cuda_kernels_on_host.py. Prints one line per failure (at most 20) and exits 1 if
// there was any.
#include "cuda_shim.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "condense/cuda/block_kernels.cuh"
#include "condense/cuda/graph_kernels.cuh"
#include "condense/cuda/step_kernels.cuh"
#include "condense/groups.h"

namespace {

using cuts::squared_distance_bounded;

int failures = 0;

void fail(const char* what, int64_t m, int64_t detail) {
  if (failures++ < 20) std::printf("%s: m = %ld, at %ld\n", what, long(m), long(detail));
}

// In-place exclusive prefix sum, as cub::DeviceScan::ExclusiveSum computes it.
template <class T>
void exclusive_sum(std::vector<T>& v) {
  T total = 0;
  for (T& value : v) {
    const T own = value;
    value = total;
    total += own;
  }
}

struct Points {
  int64_t m, c;
  std::vector<double> x;                    // [M, C]
  std::vector<double> key, xs;              // the sweep, as sort_points builds it
  std::vector<int64_t> order;
};

Points random_points(std::mt19937_64& gen, int trial) {
  Points p;
  p.m = 50 + static_cast<int64_t>(gen() % 400);
  p.c = 1 + static_cast<int64_t>(gen() % 6);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  p.x.resize(p.m * p.c);
  for (double& v : p.x) v = uniform(gen);
  for (int64_t i = 0; i < p.m; i += 7) p.x[i * p.c] = p.x[((i * 13) % p.m) * p.c];  // tied keys
  if (trial % 5 == 0)  // a duplicated point
    std::copy(p.x.begin() + 5 * p.c, p.x.begin() + 6 * p.c, p.x.begin() + 3 * p.c);
  p.key.resize(p.m);
  p.order.resize(p.m);
  cuts::sweep_keys_kernel(p.x.data(), p.m, p.c, p.key.data(), p.order.data());
  // The device's stable radix sort of the keys.
  std::stable_sort(p.order.begin(), p.order.end(),
                   [&](int64_t a, int64_t b) { return p.key[a] < p.key[b]; });
  std::vector<double> sorted(p.m);
  for (int64_t q = 0; q < p.m; ++q) sorted[q] = p.key[p.order[q]];
  p.key = sorted;
  p.xs.resize(p.m * p.c);
  cuts::gather_rows_kernel(p.x.data(), p.order.data(), p.m, p.c, p.xs.data());
  return p;
}

void check_kth_distances(const Points& p) {
  for (int k : {1, 5, 30}) {
    std::vector<double> out(p.m);
    cuts::sweep_kth_distance_kernel<32>(p.xs.data(), p.key.data(), p.order.data(), p.m, p.c, k,
                                        out.data());
    for (int64_t i = 0; i < p.m; ++i) {
      std::vector<double> all;
      for (int64_t j = 0; j < p.m; ++j)
        if (j != i) all.push_back(squared_distance_bounded(&p.x[i * p.c], &p.x[j * p.c], p.c,
                                                           INFINITY));
      std::sort(all.begin(), all.end());
      const double expected = k <= static_cast<int64_t>(all.size()) ? std::sqrt(all[k - 1])
                                                                      : INFINITY;
      if (out[i] != expected) fail("k-th neighbour distance", p.m, i);
    }
  }
}

void check_radius_lists(const Points& p, std::mt19937_64& gen) {
  std::uniform_real_distribution<double> uniform(0.05, 0.55);
  std::vector<double> radius(p.m);
  for (double& r : radius) r = uniform(gen);
  for (int variant = 0; variant < 3; ++variant) {  // per-point radii; one radius; only j > i
    const bool only_greater = variant == 2;
    const double* per_point = variant == 0 ? radius.data() : nullptr;
    const double scalar = 0.3;
    std::vector<int64_t> offsets(p.m + 1, 0);
    cuts::sweep_within_radius_kernel<false>(p.xs.data(), p.key.data(), p.order.data(), p.m, p.c,
                                            per_point, scalar, only_greater, offsets.data(),
                                            nullptr, nullptr);
    exclusive_sum(offsets);
    std::vector<int64_t> cols(offsets[p.m]);
    std::vector<double> dist(offsets[p.m]);
    cuts::sweep_within_radius_kernel<true>(p.xs.data(), p.key.data(), p.order.data(), p.m, p.c,
                                           per_point, scalar, only_greater, offsets.data(),
                                           cols.data(), dist.data());
    for (int64_t i = 0; i < p.m; ++i) {
      // The brute-force kernel's conditions, which are the CPU engine's.
      const double r = (per_point ? per_point[i] : scalar) * (1.0 + 1e-9);
      std::set<std::pair<int64_t, double>> expected, got;
      for (int64_t j = 0; j < p.m; ++j) {
        if (j == i || (only_greater && j < i)) continue;
        if (!(std::fabs(p.x[j * p.c] - p.x[i * p.c]) <= r)) continue;
        const double d2 = squared_distance_bounded(&p.x[i * p.c], &p.x[j * p.c], p.c, r * r);
        if (d2 <= r * r) expected.insert({j, std::sqrt(d2)});
      }
      for (int64_t e = offsets[i]; e < offsets[i + 1]; ++e) got.insert({cols[e], dist[e]});
      if (got != expected || static_cast<int64_t>(got.size()) != offsets[i + 1] - offsets[i])
        fail("radius list", p.m, i);
    }
  }
}

// Diffusion (P = D^-1 S, then P x) and the two passes of the spectrum's product S D^-2 S V on
// a graph, against the same sums written out row by row in column order.
void check_products(const Points& p, const std::vector<int64_t>& row_ptr,
                    const std::vector<int32_t>& cols, const std::vector<double>& values,
                    const std::vector<double>& degree) {
  const int64_t m = p.m, c = p.c, entries = row_ptr[m];
  std::vector<double> transition(entries), next(m * c);
  cuts::transition_kernel(row_ptr.data(), values.data(), m, transition.data());
  cuts::diffuse_kernel(row_ptr.data(), cols.data(), transition.data(), p.x.data(), m, c,
                       next.data());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t k = 0; k < c; ++k) {
      double sum = 0.0;
      for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e)
        sum += values[e] / degree[i] * p.x[cols[e] * c + k];
      if (next[i * c + k] != sum) fail("diffusion", m, i);
    }
  const int64_t columns = 3;
  std::vector<double> v(m * columns), inner(m * columns), out(m * columns);
  for (int64_t t = 0; t < m * columns; ++t) v[t] = std::sin(0.37 * static_cast<double>(t));
  cuts::gram_pass_kernel(row_ptr.data(), cols.data(), values.data(), v.data(), m, columns, true,
                         inner.data());
  cuts::gram_pass_kernel(row_ptr.data(), cols.data(), values.data(), inner.data(), m, columns,
                         false, out.data());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t k = 0; k < columns; ++k) {
      double scaled = 0.0;
      for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e)
        scaled += values[e] * v[cols[e] * columns + k];
      if (inner[i * columns + k] != scaled / (degree[i] * degree[i])) fail("gram pass", m, i);
    }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t k = 0; k < columns; ++k) {
      double sum = 0.0;
      for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e)
        sum += values[e] * inner[cols[e] * columns + k];
      if (out[i * columns + k] != sum) fail("gram product", m, i);
    }
}

// A merge as CudaCondenser::merge runs it (pairs within the threshold, the device union-find,
// group numbering, members by a stable sort by group, means, weights, relabelling), against
// condense/groups.h's host union-find on the brute-force pairs and plain in-order sums.
void check_merge(const Points& p, std::mt19937_64& gen) {
  const int64_t m = p.m, c = p.c;
  const double threshold = std::uniform_real_distribution<double>(0.02, 0.4)(gen);
  std::vector<int64_t> lists(m + 1, 0);
  cuts::sweep_within_radius_kernel<false>(p.xs.data(), p.key.data(), p.order.data(), m, c,
                                          nullptr, threshold, true, lists.data(), nullptr,
                                          nullptr);
  exclusive_sum(lists);
  std::vector<int64_t> cols(lists[m]);
  std::vector<double> dist(lists[m]);
  cuts::sweep_within_radius_kernel<true>(p.xs.data(), p.key.data(), p.order.data(), m, c,
                                         nullptr, threshold, true, lists.data(), cols.data(),
                                         dist.data());
  std::vector<int32_t> root(m);
  std::vector<int64_t> first(m + 1, 0);
  cuts::init_parent_kernel(m, root.data());
  cuts::union_close_pairs_kernel(lists.data(), cols.data(), dist.data(), threshold, m,
                                 root.data());
  cuts::roots_kernel(m, root.data(), first.data());
  exclusive_sum(first);
  const int64_t groups = first[m];
  std::vector<int64_t> group(m), offsets(groups + 1, 0);
  cuts::block_kernel(root.data(), first.data(), m, group.data(), offsets.data());
  exclusive_sum(offsets);
  std::vector<int64_t> members(m);
  cuts::iota_kernel(m, members.data());
  std::stable_sort(members.begin(), members.end(),
                   [&](int64_t a, int64_t b) { return group[a] < group[b]; });  // radix sort

  std::vector<std::pair<int64_t, int64_t>> close;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = i + 1; j < m; ++j)
      if (std::sqrt(squared_distance_bounded(&p.x[i * c], &p.x[j * c], c, INFINITY)) <
          threshold)
        close.emplace_back(i, j);
  int64_t expected_groups = 0;
  const std::vector<int64_t> expected = cuts::components_by_smallest_member(m, close,
                                                                            &expected_groups);
  if (groups != expected_groups || group != expected) fail("merge groups", m, groups);
  if (groups != expected_groups) return;

  std::vector<double> weights(m), merged(groups * c), merged_weights(groups);
  for (int64_t i = 0; i < m; ++i) weights[i] = 1.0 + static_cast<double>(i % 5);
  cuts::merge_points_kernel(p.x.data(), members.data(), offsets.data(), groups, c,
                            merged.data());
  cuts::merge_weights_kernel(weights.data(), members.data(), offsets.data(), groups,
                             merged_weights.data());
  for (int64_t g = 0; g < groups; ++g) {
    double w = 0.0, count = 0.0;
    std::vector<double> sum(c, 0.0);
    for (int64_t i = 0; i < m; ++i)
      if (expected[i] == g) {
        for (int64_t k = 0; k < c; ++k) sum[k] += p.x[i * c + k];
        w += weights[i];
        count += 1.0;
      }
    for (int64_t k = 0; k < c; ++k)
      if (merged[g * c + k] != sum[k] / count) fail("merged point", m, g);
    if (merged_weights[g] != w) fail("merged weight", m, g);
  }
  std::vector<int64_t> cluster(2 * m);
  for (int64_t i = 0; i < 2 * m; ++i) cluster[i] = i % m;  // two original points per row
  cuts::relabel_kernel(group.data(), 2 * m, cluster.data());
  for (int64_t i = 0; i < 2 * m; ++i)
    if (cluster[i] != expected[i % m]) fail("relabel", m, i);
}

// The fixed kernel as CudaCondenser::fixed_kernel builds it (lists sorted by index, self-loops
// inserted, affinities, compaction, row pointers), against the dense definition.
void check_fixed_graph(const Points& p, std::mt19937_64& gen) {
  const double bandwidth = 0.2, decay = 40.0, thresh = 1e-4;
  const double support = cuts::kernel_support(bandwidth, decay, thresh);
  std::vector<double> weights(p.m);
  for (double& w : weights) w = 1.0 + static_cast<double>(gen() % 4);
  std::vector<int64_t> offsets(p.m + 1, 0);
  cuts::sweep_within_radius_kernel<false>(p.xs.data(), p.key.data(), p.order.data(), p.m, p.c,
                                          nullptr, support, false, offsets.data(), nullptr,
                                          nullptr);
  exclusive_sum(offsets);
  const int64_t listed = offsets[p.m];
  std::vector<int64_t> cols(listed);
  std::vector<double> dist(listed);
  cuts::sweep_within_radius_kernel<true>(p.xs.data(), p.key.data(), p.order.data(), p.m, p.c,
                                         nullptr, support, false, offsets.data(), cols.data(),
                                         dist.data());
  for (int64_t i = 0; i < p.m; ++i) {  // the segmented sort by column
    std::vector<std::pair<int64_t, double>> row;
    for (int64_t e = offsets[i]; e < offsets[i + 1]; ++e) row.push_back({cols[e], dist[e]});
    std::sort(row.begin(), row.end());
    for (size_t t = 0; t < row.size(); ++t) {
      cols[offsets[i] + t] = row[t].first;
      dist[offsets[i] + t] = row[t].second;
    }
  }
  const int64_t total = listed + p.m;
  std::vector<unsigned long long> keys(total);
  std::vector<double> d(total), values(total);
  std::vector<int64_t> position(total + 1, 0);
  cuts::emit_symmetric_kernel(offsets.data(), cols.data(), dist.data(), p.m, keys.data(),
                              d.data());
  const cuts::FixedAffinity affinity{bandwidth, weights.data(), decay, thresh};
  cuts::graph_values_kernel(keys.data(), d.data(), total, p.m, affinity, values.data(),
                            position.data());
  exclusive_sum(position);
  const int64_t entries = position[total];
  std::vector<int32_t> graph_cols(entries);
  std::vector<int64_t> row_ptr(p.m + 1);
  std::vector<double> graph_values(entries), degree(p.m);
  cuts::graph_scatter_kernel(keys.data(), values.data(), position.data(), total, p.m,
                             graph_cols.data(), graph_values.data());
  cuts::graph_row_ptr_kernel(keys.data(), position.data(), total, p.m, row_ptr.data());
  cuts::degree_kernel(row_ptr.data(), graph_values.data(), p.m, degree.data());
  for (int64_t i = 0; i < p.m; ++i) {
    std::vector<std::pair<int64_t, double>> expected, got;
    double expected_degree = 0.0;
    for (int64_t j = 0; j < p.m; ++j) {
      const double d2 = squared_distance_bounded(&p.x[i * p.c], &p.x[j * p.c], p.c, INFINITY);
      if (j != i && !(std::fabs(p.x[j * p.c] - p.x[i * p.c]) <= support * (1.0 + 1e-9))) continue;
      const double k = cuts::alpha_decay(std::sqrt(d2), bandwidth, decay, thresh);
      const double s = cuts::weighted_affinity(k, k, weights[i], weights[j]);
      if (s != 0.0) {
        expected.push_back({j, s});
        expected_degree += s;
      }
    }
    for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e)
      got.push_back({graph_cols[e], graph_values[e]});
    if (got != expected) fail("fixed kernel graph row", p.m, i);
    if (degree[i] != expected_degree) fail("degree", p.m, i);
  }
  check_products(p, row_ptr, graph_cols, graph_values, degree);
}

void check_blocks(int64_t m, std::mt19937_64& gen) {
  // A random symmetric graph with self-loops, as CSR with ascending columns.
  std::vector<std::set<int64_t>> neighbours(m);
  for (int64_t i = 0; i < m; ++i) neighbours[i].insert(i);
  const int64_t pairs = static_cast<int64_t>(gen() % (m + 1));
  for (int64_t e = 0; e < pairs; ++e) {
    const int64_t a = static_cast<int64_t>(gen() % m), b = static_cast<int64_t>(gen() % m);
    neighbours[a].insert(b);
    neighbours[b].insert(a);
  }
  std::vector<int64_t> row_ptr(m + 1, 0);
  std::vector<int32_t> cols;
  std::vector<double> values;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j : neighbours[i]) {
      cols.push_back(static_cast<int32_t>(j));
      values.push_back(0.5 + static_cast<double>((i + j) % 3));
    }
    row_ptr[i + 1] = static_cast<int64_t>(cols.size());
  }
  // What CudaCondenser::spectrum_blocks launches, in its order.
  std::vector<int32_t> root(m);
  std::vector<int64_t> first(m + 1, 0);
  cuts::init_parent_kernel(m, root.data());
  cuts::union_edges_kernel(row_ptr.data(), cols.data(), m, root.data());
  cuts::roots_kernel(m, root.data(), first.data());
  exclusive_sum(first);
  const int64_t blocks = first[m];
  std::vector<int64_t> block(m), sizes(blocks + 1, 0);
  cuts::block_kernel(root.data(), first.data(), m, block.data(), sizes.data());
  // Expected: components by a graph search, numbered by their smallest member.
  std::vector<int64_t> expected(m, -1);
  int64_t count = 0;
  for (int64_t s = 0; s < m; ++s) {
    if (expected[s] >= 0) continue;
    std::vector<int64_t> stack{s};
    expected[s] = count;
    while (!stack.empty()) {
      const int64_t v = stack.back();
      stack.pop_back();
      for (int64_t w : neighbours[v])
        if (expected[w] < 0) {
          expected[w] = count;
          stack.push_back(w);
        }
    }
    ++count;
  }
  if (blocks != count || block != expected) fail("blocks", m, blocks);
  for (int64_t b = 0; b < blocks; ++b)
    if (sizes[b] != std::count(expected.begin(), expected.end(), b))
      fail("block size", m, b);

  const int64_t limit = 1 + static_cast<int64_t>(gen() % 12);
  std::vector<unsigned long long> keys(m);
  std::vector<int64_t> rows(m);
  unsigned long long listed = 0;
  cuts::small_row_key_kernel(block.data(), sizes.data(), m, limit, keys.data(), rows.data(),
                             &listed);
  std::stable_sort(rows.begin(), rows.end(),
                   [&](int64_t a, int64_t b) { return keys[a] < keys[b]; });  // the radix sort
  rows.resize(listed);
  // small_block_rows (condense/spectrum_blocks.cpp): by block size, then block, then index.
  std::vector<int64_t> expected_rows;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t size = sizes[block[i]];
    if (size >= 2 && size <= limit) expected_rows.push_back(i);
  }
  std::stable_sort(expected_rows.begin(), expected_rows.end(), [&](int64_t a, int64_t b) {
    const auto sa = sizes[block[a]], sb = sizes[block[b]];
    return sa != sb ? sa < sb : block[a] < block[b];
  });
  if (rows != expected_rows) fail("small-block rows", m, limit);
  std::vector<int64_t> offsets(listed + 1, 0);
  cuts::row_length_kernel(row_ptr.data(), rows.data(), listed, offsets.data());
  exclusive_sum(offsets);
  std::vector<int32_t> entry_rows(offsets[listed]), entry_cols(offsets[listed]);
  std::vector<double> entry_values(offsets[listed]);
  cuts::small_entries_kernel(row_ptr.data(), cols.data(), values.data(), rows.data(),
                             offsets.data(), listed, entry_rows.data(), entry_cols.data(),
                             entry_values.data());
  int64_t at = 0;
  for (int64_t r : expected_rows)
    for (int64_t e = row_ptr[r]; e < row_ptr[r + 1]; ++e, ++at)
      if (entry_rows[at] != r || entry_cols[at] != cols[e] || entry_values[at] != values[e])
        fail("small-block entry", m, at);
  if (at != offsets[listed]) fail("small-block entry count", m, at);
}

}  // namespace

int main() {
  std::mt19937_64 gen(1);
  for (int trial = 0; trial < 30; ++trial) {
    const Points points = random_points(gen, trial);
    check_kth_distances(points);
    check_radius_lists(points, gen);
    check_fixed_graph(points, gen);
    check_merge(points, gen);
    check_blocks(points.m, gen);
  }
  std::printf("%d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
