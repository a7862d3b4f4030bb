// The CUDA condensation engine's union-find kernels (condense_cuda.cu, which alone includes this
// file, through CudaCondenser::components): the blocks of the kernel graph and the entries of
// the small ones (CudaCondenser::spectrum_blocks, the device side of
// condense/spectrum_blocks.h), and the groups of a merge (CudaCondenser::merge, the device side
// of condense/groups.h). Every kernel is a grid-stride loop over independent items, so
// tests/support/host_emulation runs them on the host against brute force.
#pragma once

#include <cstdint>

#include "core/cuda/grid_stride.h"

namespace cuts {
namespace {

// Union-find on the device whose roots are the smallest index of their set (the numbering of
// condense/groups.h): a root is only ever hooked under a smaller root, so parent[i] <= i
// always, and the one root left in a component is its smallest member. Path halving writes an
// ancestor into a non-root's parent; racing writes can only leave a longer path, never a wrong
// one, so they need no atomics. Hooks are compare-and-swaps on roots. Parents are read through
// L2 (__ldcg): an SM's L1 is not kept coherent with other SMs' writes, and a stale root there
// would make unite() retry forever.
__device__ __forceinline__ int32_t find_root(int32_t* parent, int32_t x) {
  int32_t p = __ldcg(parent + x);
  while (p != x) {
    const int32_t grandparent = __ldcg(parent + p);
    if (grandparent != p) parent[x] = grandparent;
    x = p;
    p = grandparent;
  }
  return x;
}

__device__ __forceinline__ void unite(int32_t* parent, int32_t a, int32_t b) {
  while (true) {
    a = find_root(parent, a);
    b = find_root(parent, b);
    if (a == b) return;
    if (a > b) {
      const int32_t t = a;
      a = b;
      b = t;
    }
    if (atomicCAS(parent + b, b, a) == b) return;  // else b was hooked meanwhile: retry
  }
}

__global__ void init_parent_kernel(int64_t m, int32_t* __restrict__ parent) {
  CUTS_GRID_STRIDE(i, m)
    parent[i] = static_cast<int32_t>(i);
}

// Joins the two ends of every pair of the (symmetric) graph, each pair from its smaller row.
__global__ void union_edges_kernel(const int64_t* __restrict__ row_ptr,
                                   const int32_t* __restrict__ cols, int64_t m,
                                   int32_t* parent) {
  CUTS_GRID_STRIDE(i, m)
    for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e)
      if (cols[e] > i) unite(parent, static_cast<int32_t>(i), cols[e]);
}

// Joins every listed pair (neighbour lists as CSR: offsets [M + 1], cols, dist) closer than
// `threshold`, strictly: the merge rule (condense/groups.h). NaN joins nothing.
__global__ void union_close_pairs_kernel(const int64_t* __restrict__ offsets,
                                         const int64_t* __restrict__ cols,
                                         const double* __restrict__ dist, double threshold,
                                         int64_t m, int32_t* parent) {
  CUTS_GRID_STRIDE(i, m)
    for (int64_t e = offsets[i]; e < offsets[i + 1]; ++e)
      if (dist[e] < threshold)
        unite(parent, static_cast<int32_t>(i), static_cast<int32_t>(cols[e]));
}

// After union_edges_kernel or union_close_pairs_kernel: parent[i] <- the root of i;
// is_root[i] = 1 for roots (is_root [M + 1], its last entry 0, becomes the blocks' numbering
// after an exclusive scan). The walk to the root writes nothing: path halving here would let
// thread j, walking through i, overwrite i's root with an ancestor after thread i wrote it
// (block_kernel would then number i by a non-root). Thread i is the only writer of parent[i],
// and other threads read either its old parent or its root, both ancestors.
__global__ void roots_kernel(int64_t m, int32_t* parent, int64_t* __restrict__ is_root) {
  CUTS_GRID_STRIDE(i, m) {
    int32_t root = static_cast<int32_t>(i);
    for (int32_t up = __ldcg(parent + root); up != root; up = __ldcg(parent + root)) root = up;
    parent[i] = root;
    is_root[i] = root == i ? 1 : 0;
  }
}

// block[i] = the number of roots before i's root (blocks numbered by smallest member), and the
// points per block counted into sizes [B] (zeroed; counted as unsigned, the same bits).
__global__ void block_kernel(const int32_t* __restrict__ root, const int64_t* __restrict__ first,
                             int64_t m, int64_t* __restrict__ block, int64_t* __restrict__ sizes) {
  CUTS_GRID_STRIDE(i, m) {
    const int64_t b = first[root[i]];
    block[i] = b;
    atomicAdd(reinterpret_cast<unsigned long long*>(sizes + b), 1ull);
  }
}

// The sort key of each row for small_block_rows' order: (block size, block) for rows of blocks
// of 2..exact_limit points, all ones (sorted last) for the others; `small` counts the former.
__global__ void small_row_key_kernel(const int64_t* __restrict__ block,
                                     const int64_t* __restrict__ sizes, int64_t m,
                                     int64_t exact_limit, unsigned long long* __restrict__ keys,
                                     int64_t* __restrict__ rows,
                                     unsigned long long* __restrict__ small) {
  CUTS_GRID_STRIDE(i, m) {
    const int64_t size = sizes[block[i]];
    const bool listed = size >= 2 && size <= exact_limit;
    keys[i] = listed ? (static_cast<unsigned long long>(size) << 32) |
                           static_cast<unsigned long long>(block[i])
                     : ~0ull;
    rows[i] = i;
    if (listed) atomicAdd(small, 1ull);
  }
}

// lengths[r] = the entries of the r-th listed row (lengths [R + 1], its last entry 0).
__global__ void row_length_kernel(const int64_t* __restrict__ row_ptr,
                                  const int64_t* __restrict__ rows, int64_t count,
                                  int64_t* __restrict__ lengths) {
  CUTS_GRID_STRIDE(r, count)
    lengths[r] = row_ptr[rows[r] + 1] - row_ptr[rows[r]];
}

// The entries of the listed rows, row after row from `offsets` (the scanned lengths), each
// row's columns ascending as the graph stores them.
__global__ void small_entries_kernel(const int64_t* __restrict__ row_ptr,
                                     const int32_t* __restrict__ cols,
                                     const double* __restrict__ values,
                                     const int64_t* __restrict__ rows,
                                     const int64_t* __restrict__ offsets, int64_t count,
                                     int32_t* __restrict__ out_rows,
                                     int32_t* __restrict__ out_cols,
                                     double* __restrict__ out_values) {
  CUTS_GRID_STRIDE(r, count) {
    const int64_t row = rows[r];
    int64_t at = offsets[r];
    for (int64_t e = row_ptr[row]; e < row_ptr[row + 1]; ++e, ++at) {
      out_rows[at] = static_cast<int32_t>(row);
      out_cols[at] = cols[e];
      out_values[at] = values[e];
    }
  }
}

}  // namespace
}  // namespace cuts
