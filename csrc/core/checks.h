// Argument checks shared by every operation. Each throws InvalidArgument with a message that
// names the argument and says what was expected and what was given.
#pragma once

#include <initializer_list>
#include <string>

#include "core/array.h"
#include "core/grid.h"

namespace cuts {

std::string shape_string(const ArrayView& a);

// `layout` describes the expected axes, e.g. "[B, S, d]".
void check_rank(const ArrayView& a, std::initializer_list<int> ranks, const char* name,
                const char* layout);
// The layout of an image batch, for check_rank.
constexpr const char* kImageLayout = "[B, C, H, W] for 2-D images, [B, C, D, H, W] for 3-D volumes";
void check_float(const ArrayView& a, const char* name);
void check_dtype(const ArrayView& a, DType dtype, const char* name);
void check_same_device(const ArrayView& a, const ArrayView& reference, const char* name,
                       const char* reference_name);
void check_shape(const ArrayView& a, const std::vector<int64_t>& shape, const char* name);

// The spatial grid of an image batch [B, C, H, W] / [B, C, D, H, W] (rank already checked).
Grid image_grid(const ArrayView& images);

// A patch size valid for `grid`: odd, >= min_size, and within every spatial extent.
PatchShape checked_patch(int size, const Grid& grid, int min_size, const char* name);

// Runs on the array's device: throws DeviceError if it is a CUDA array and CUDA cannot run now.
void check_device_usable(const ArrayView& a, const char* name);

}  // namespace cuts
