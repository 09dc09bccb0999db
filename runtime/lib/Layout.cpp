#include "attn/Layout.h"

#include "attn/Error.h"
#include "attn/Kernels.h"

#include <chrono>
#include <memory>

namespace attn {
namespace {

// Host mirrors of the kernel's by-value arguments (attnc_builtins.cuh,
// attnc_layout.cuh): the launch copies their bytes, so the layouts must match.
constexpr std::size_t kMaxTensors = 8; // ATTNC_MAX_TENSORS
constexpr std::size_t kMaxRank = 4;    // ATTNC_MAX_RANK
constexpr unsigned kWarpsPerBlock = 8; // ATTNC_LAYOUT_WARPS_PER_BLOCK

struct DeviceShape {
  int64_t H, Nq, Nk, D;
};

struct DeviceTensor {
  CUdeviceptr data;
  int64_t dims[kMaxRank];
};

struct DeviceTensors {
  DeviceTensor t[kMaxTensors];
};

struct LayoutArgs {
  DeviceShape shape;
  int64_t blockQ, blockK, rows, cols;
  CUdeviceptr fullCount, partialCount, full, partial;
};

static_assert(sizeof(DeviceTensors) == kMaxTensors * (8 + 8 * kMaxRank));
static_assert(sizeof(LayoutArgs) == 4 * 8 + 4 * 8 + 4 * 8);

std::string compileForDevice(const std::string &source, KernelCache &cache) {
  CompileRequest request;
  request.name = "layout.cu";
  request.source = source;
  request.headers = kernelHeaders();
  request.arch = "sm_" + std::to_string(deviceInfo().computeCapability);
  return cache.get(request).bytes;
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Copies the tensors to the device; `buffers` keeps them alive for the launch.
DeviceTensors uploadTensors(const std::vector<HostTensorArg> &tensors,
                            std::vector<std::unique_ptr<DeviceBuffer>> &buffers) {
  if (tensors.size() > kMaxTensors)
    throw Error("a layout kernel takes at most " + std::to_string(kMaxTensors) + " tensors");
  DeviceTensors device{};
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const HostTensorArg &tensor = tensors[k];
    if (tensor.dims.size() > kMaxRank)
      throw Error("a tensor of a layout kernel has rank at most " + std::to_string(kMaxRank));
    std::size_t bytes = tensor.elementBytes;
    for (std::size_t d = 0; d < tensor.dims.size(); ++d) {
      bytes *= static_cast<std::size_t>(tensor.dims[d]);
      device.t[k].dims[d] = tensor.dims[d];
    }
    if (bytes == 0) // an empty tensor is never read: a null pointer serves
      continue;
    buffers.push_back(std::make_unique<DeviceBuffer>(bytes));
    buffers.back()->upload(tensor.data);
    device.t[k].data = buffers.back()->pointer();
  }
  return device;
}

std::vector<int32_t> download(const DeviceBuffer &buffer) {
  std::vector<int32_t> host(buffer.size() / sizeof(int32_t));
  buffer.download(host.data());
  return host;
}

std::vector<int32_t> tilesOf(const std::vector<int32_t> &tiles, const std::vector<int32_t> &count,
                             int64_t row, int64_t cols) {
  auto begin = tiles.begin() + row * cols;
  return {begin, begin + count[row]};
}

} // namespace

std::vector<int32_t> GpuLayout::fullTiles(int64_t h, int64_t t) const {
  return tilesOf(full, fullCount, h * rows + t, cols);
}

std::vector<int32_t> GpuLayout::partialTiles(int64_t h, int64_t t) const {
  return tilesOf(partial, partialCount, h * rows + t, cols);
}

LayoutKernel::LayoutKernel(const std::string &source, const std::string &kernelName,
                           KernelCache &cache)
    : module_(compileForDevice(source, cache)), function_(module_.function(kernelName.c_str())) {}

GpuLayout LayoutKernel::build(const LayoutShape &shape, int64_t blockQ, int64_t blockK,
                              const std::vector<HostTensorArg> &tensors) const {
  if (blockQ < 1 || blockK < 1 || shape.numHeads < 1 || shape.seqQ < 1 || shape.seqK < 1)
    throw Error("layout sizes, heads and tile sizes must be at least 1");
  GpuLayout layout;
  layout.numHeads = shape.numHeads;
  layout.rows = ceilDiv(shape.seqQ, blockQ);
  layout.cols = ceilDiv(shape.seqK, blockK);
  layout.blockQ = blockQ;
  layout.blockK = blockK;
  std::size_t rowCount = static_cast<std::size_t>(shape.numHeads * layout.rows);
  std::size_t tileCount = rowCount * static_cast<std::size_t>(layout.cols);
  DeviceBuffer fullCount(rowCount * sizeof(int32_t)), partialCount(rowCount * sizeof(int32_t));
  DeviceBuffer full(tileCount * sizeof(int32_t)), partial(tileCount * sizeof(int32_t));
  // Slots past a row's count are never written: zero them so that the
  // downloaded lists are deterministic as a whole.
  full.fillBytes(0);
  partial.fillBytes(0);

  std::vector<std::unique_ptr<DeviceBuffer>> tensorBuffers;
  DeviceTensors deviceTensors = uploadTensors(tensors, tensorBuffers);
  LayoutArgs args{{shape.numHeads, shape.seqQ, shape.seqK, shape.headDim},
                  blockQ,
                  blockK,
                  layout.rows,
                  layout.cols,
                  fullCount.pointer(),
                  partialCount.pointer(),
                  full.pointer(),
                  partial.pointer()};
  void *params[] = {&args, &deviceTensors};
  Dim3 grid{static_cast<unsigned>(ceilDiv(static_cast<int64_t>(rowCount), kWarpsPerBlock))};
  Dim3 block{32 * kWarpsPerBlock};
  auto start = std::chrono::steady_clock::now();
  launchAndWait(function_, grid, block, params);
  layout.kernelMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  layout.fullCount = download(fullCount);
  layout.partialCount = download(partialCount);
  layout.full = download(full);
  layout.partial = download(partial);
  return layout;
}

} // namespace attn
