// The block layout of a pattern, built on the GPU by a layout kernel that the
// compiler generated (attnc::emitKernelSource: the pattern's device
// functions, runtime/kernels/attnc_layout.cuh and an extern "C" wrapper). For
// every (head, query tile) it lists the FULL and the PARTIAL key tiles in
// ascending order, as the CPU builder (attnc::layout::buildLayout) classifies
// them from the same interval twin.
#pragma once

#include "attn/Bundle.h"
#include "attn/Driver.h"
#include "attn/KernelCache.h"
#include "attn/Module.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attn {

// The run-time sizes a pattern reads (attnc_shape on the device).
// `batch` bounds the batch index b for patterns that read it: a tile is FULL
// (EMPTY) only when it is for every b in [0, batch).
struct LayoutShape {
  int64_t numHeads = 1, seqQ = 1, seqK = 1, headDim = 64;
  int64_t batch = 1;
};

// A row-major host tensor bound to a tensor parameter of the pattern, given
// in the pattern's slot order (KernelSource::tensorSlots). At most 8, of
// rank at most 4 (ATTNC_MAX_TENSORS, ATTNC_MAX_RANK).
struct HostTensorArg {
  const void *data = nullptr;
  std::size_t elementBytes = 0;
  std::vector<int64_t> dims;
};

// A device array bound to a tensor parameter of the pattern (row-major, of
// the element type the pattern declares; dims as the pattern declares them).
struct PatternTensor {
  CUdeviceptr data = 0;
  std::vector<int64_t> dims;
};

struct GpuLayout;
struct DeviceTensors;

// Which side a layout's rows are: query tiles listing key tiles (the forward
// and dQ), or key tiles listing query tiles (dK and dV).
enum class LayoutOrder { ByQuery, ByKey };

// A layout kept on the device, where the kernels read it. The same rows as
// GpuLayout, compact: row r's tiles are tiles[start[r], start[r + 1]), the
// first partialCount[r] of them PARTIAL, the others FULL, so that memory
// grows with the tiles listed, not with rows x cols. The buffers are shared
// by copies.
struct DeviceLayout {
  int64_t numHeads = 0, rows = 0, cols = 0;
  int64_t blockQ = 0, blockK = 0;
  LayoutOrder order = LayoutOrder::ByQuery;
  std::shared_ptr<DeviceBuffer> start, partialCount, tiles; // int64 rows + 1, int32 rows, int32
  // The integer tensors' run summaries the layout kernel read (it may still
  // be running when buildOnDevice returns).
  std::vector<std::shared_ptr<DeviceBuffer>> summaries;
  // The heads whose rows were left empty (int32 per head), if any.
  std::shared_ptr<DeviceBuffer> skipHeads;

  GpuLayout download() const;
};

struct GpuLayout {
  int64_t numHeads = 0, rows = 0, cols = 0; // rows: query tiles, cols: key tiles
  int64_t blockQ = 0, blockK = 0;           // (ByKey: rows are key tiles)
  LayoutOrder order = LayoutOrder::ByQuery;
  // Row r = h * rows + t: the counts of query tile t of head h, and its tile
  // indices at [r * cols, r * cols + count) (each row has room for cols: the
  // device's compact lists spread out, for tests).
  std::vector<int32_t> fullCount, partialCount;
  std::vector<int32_t> full, partial;
  double kernelMs = 0; // the build, waited for, measured on the host

  std::vector<int32_t> fullTiles(int64_t h, int64_t t) const;
  std::vector<int32_t> partialTiles(int64_t h, int64_t t) const;
};

// A compiled and loaded layout kernel: compiled once (through `cache`, for the
// GPU's architecture), run for any shape and tile sizes.
class LayoutKernel {
public:
  // source: a whole CUDA translation unit that includes attnc_layout.cuh;
  // kernelName: its extern "C" wrapper; tensorTypes: the element types of
  // the pattern's tensors, in slot order (integer tensors are summarized per
  // run before the layout kernel reads ranges of them). Throws attn::Error
  // (NVRTC's log, or "no CUDA driver/GPU found: ..." without a GPU).
  LayoutKernel(const std::string &source, const std::string &kernelName,
               std::vector<ElementType> tensorTypes, KernelCache &cache);
  // The layout kernel of a module already loaded (with the forward kernel).
  LayoutKernel(std::shared_ptr<const Module> module, const std::string &kernelName,
               std::vector<ElementType> tensorTypes);

  // Throws attn::Error for sizes below 1 or too many or too large tensors.
  // Copies `tensors` to the device, builds, waits and downloads.
  GpuLayout build(const LayoutShape &shape, int64_t blockQ, int64_t blockK,
                  const std::vector<HostTensorArg> &tensors,
                  LayoutOrder order = LayoutOrder::ByQuery) const;

  // Builds on `stream` from tensors already on the device: waits once for the
  // number of tiles (to size the lists), not for the lists. `skipHeads`, when
  // given, holds an int32 per query head: the rows of the heads where it is
  // nonzero stay empty (ByQuery only: the forward runs them otherwise).
  DeviceLayout buildOnDevice(const LayoutShape &shape, int64_t blockQ, int64_t blockK,
                             const std::vector<PatternTensor> &tensors, CUstream stream,
                             LayoutOrder order = LayoutOrder::ByQuery,
                             std::shared_ptr<DeviceBuffer> skipHeads = nullptr) const;

private:
  // Fills `device`'s summary pointers; `layout` keeps the buffers.
  void summarize(const std::vector<PatternTensor> &tensors, DeviceTensors &device,
                 DeviceLayout &layout, CUstream stream) const;

  std::shared_ptr<const Module> module_;
  CUfunction function_;
  std::vector<ElementType> tensorTypes_;
};

} // namespace attn
