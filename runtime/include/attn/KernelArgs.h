// Host mirrors of the structs that generated kernels take by value
// (attnc_builtins.cuh): a launch copies their bytes, so the layouts must match
// field for field. For programs that launch their own kernels over a bundle's
// source (the benchmark's pair counter), as the runtime does.
#pragma once

#include "attn/Driver.h"
#include "attn/Layout.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace attn {

constexpr std::size_t kMaxTensors = 8; // ATTNC_MAX_TENSORS
constexpr std::size_t kMaxRank = 4;    // ATTNC_MAX_RANK

struct DeviceShape { // attnc_shape
  int64_t H, Nq, Nk, D;
};

struct DeviceTensor { // attnc_tensor
  CUdeviceptr data;
  int64_t dims[kMaxRank];
  CUdeviceptr summary; // for the layout kernel only (LayoutKernel fills it)
};

struct DeviceTensors { // attnc_tensors
  DeviceTensor t[kMaxTensors];
};

static_assert(sizeof(DeviceTensors) == kMaxTensors * (8 + 8 * kMaxRank + 8));

struct DeviceTensorGrads { // attnc_tensor_grads
  CUdeviceptr g[kMaxTensors]; // attnc_grad_word * (fixed point), row-major; 0 for none
};

static_assert(sizeof(DeviceTensorGrads) == kMaxTensors * 8);

// Throws attn::Error for more than kMaxTensors tensors or a rank above kMaxRank.
DeviceTensors describeTensors(const std::vector<PatternTensor> &tensors);

struct DeviceTileLists { // attnc_tile_lists (attnc_mma.cuh)
  CUdeviceptr start, partialCount, tiles;
  int64_t rows, cols;
  CUdeviceptr fullRange; // 0: every tile is listed
};

static_assert(sizeof(DeviceTileLists) == 6 * 8);

inline DeviceTileLists deviceTileLists(const DeviceLayout &layout) {
  return {layout.start->pointer(), layout.partialCount->pointer(), layout.tiles->pointer(),
          layout.rows, layout.cols, 0};
}

namespace detail {
inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
} // namespace detail

} // namespace attn
