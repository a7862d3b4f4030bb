// The CUB algorithms of the CUDA condensation engine (condense_cuda.cu, which alone includes
// this file), each run through run_cub (core/cuda/cuda_utils.h) in an NVTX range named `name`,
// its scratch storage from the engine's pool.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_segmented_sort.cuh>

#include "core/cuda/cuda_utils.h"
#include "core/errors.h"

namespace cuts {
namespace {

// The number of bits holding values 0..max_value (at least 1), the radix sort's end_bit.
int bits_for(uint64_t max_value) {
  int bits = 1;
  while (bits < 64 && (max_value >> bits) != 0) ++bits;
  return bits;
}

// Before CCCL 3.0 (the CUDA 12 toolkits, which the wheels may be built with), DeviceScan and
// DeviceSegmentedSort take their counts as int and would narrow a larger one silently (a scan
// or sort of the wrong length). Such builds refuse it instead; CCCL 3 counts in 64 bits.
void require_cub_count(const char* name, int64_t count) {
#if CUB_VERSION < 300000
  if (count > std::numeric_limits<int>::max())
    throw OutOfMemory(std::string(name) + ": " + std::to_string(count) +
                      " items, more than the CUB of this build (CUDA 12) can count; condense "
                      "fewer points or use a build made with CUDA 13");
#else
  (void)name;
  (void)count;
#endif
}

// data[0..items) <- its exclusive prefix sum, in place.
void exclusive_sum(const char* name, int64_t* data, int64_t items, cudaStream_t stream,
                   cudaMemPool_t pool) {
  require_cub_count(name, items);
  run_cub(name, stream, [&](void* temp, size_t& bytes) {
    return cub::DeviceScan::ExclusiveSum(temp, bytes, data, data, items, stream);
  }, pool);
}

// Sorts `items` doubles ascending (all 64 bits); the result is keys.Current().
void sort_keys(const char* name, cub::DoubleBuffer<double>& keys, int64_t items,
               cudaStream_t stream, cudaMemPool_t pool) {
  run_cub(name, stream, [&](void* temp, size_t& bytes) {
    return cub::DeviceRadixSort::SortKeys(temp, bytes, keys, items, 0, 64, stream);
  }, pool);
}

// Sorts `items` (key, value) pairs by the key's bits [0, end_bit); the results are
// keys.Current() and values.Current().
template <class Key, class Value>
void sort_pairs(const char* name, cub::DoubleBuffer<Key>& keys, cub::DoubleBuffer<Value>& values,
                int64_t items, int end_bit, cudaStream_t stream, cudaMemPool_t pool) {
  run_cub(name, stream, [&](void* temp, size_t& bytes) {
    return cub::DeviceRadixSort::SortPairs(temp, bytes, keys, values, items, 0, end_bit, stream);
  }, pool);
}

// Sorts the (key, value) pairs of each segment [offsets[s], offsets[s + 1]) by key, from
// keys_in / values_in into keys_out / values_out.
template <class Key, class Value>
void sort_segments(const char* name, const Key* keys_in, Key* keys_out, const Value* values_in,
                   Value* values_out, int64_t items, int64_t segments, const int64_t* offsets,
                   cudaStream_t stream, cudaMemPool_t pool) {
  require_cub_count(name, items);
  require_cub_count(name, segments);
  run_cub(name, stream, [&](void* temp, size_t& bytes) {
    return cub::DeviceSegmentedSort::SortPairs(temp, bytes, keys_in, keys_out, values_in,
                                               values_out, items, segments, offsets, offsets + 1,
                                               stream);
  }, pool);
}

}  // namespace
}  // namespace cuts
