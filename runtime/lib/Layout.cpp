#include "attn/Layout.h"

#include "attn/Error.h"
#include "attn/KernelArgs.h"
#include "attn/Kernels.h"


#include <algorithm>
#include <chrono>
#include <memory>

namespace attn {
namespace {

using detail::ceilDiv;

constexpr unsigned kWarpsPerBlock = 8; // ATTNC_LAYOUT_WARPS_PER_BLOCK

// Mirrors attnc_layout_args (attnc_layout.cuh).
struct LayoutArgs {
  DeviceShape shape;
  int64_t batchHi, blockQ, blockK, byKey, rows, cols;
  CUdeviceptr partialCount, start, tiles, skipHead;
};

static_assert(sizeof(LayoutArgs) == 4 * 8 + 6 * 8 + 4 * 8);

constexpr const char *kScanKernel = "attnc_layout_scan";
constexpr unsigned kScanThreads = 1024;

std::string compileForDevice(const std::string &source, KernelCache &cache) {
  CompileRequest request;
  request.name = "layout.cu";
  request.source = source;
  request.headers = kernelHeaders();
  request.arch = "sm_" + std::to_string(deviceInfo().computeCapability);
  return cache.get(request).bytes;
}

/// Copies host tensors to the device; `buffers` keeps them alive.
std::vector<PatternTensor> uploadTensors(const std::vector<HostTensorArg> &tensors,
                                           std::vector<std::unique_ptr<DeviceBuffer>> &buffers) {
  std::vector<PatternTensor> device;
  for (const HostTensorArg &tensor : tensors) {
    std::size_t bytes = tensor.elementBytes;
    for (int64_t dim : tensor.dims)
      bytes *= static_cast<std::size_t>(dim);
    device.push_back({0, tensor.dims});
    if (bytes == 0) // an empty tensor is never read: a null pointer serves
      continue;
    buffers.push_back(std::make_unique<DeviceBuffer>(bytes));
    buffers.back()->upload(tensor.data);
    device.back().data = buffers.back()->pointer();
  }
  return device;
}

template <typename T> std::vector<T> download(const DeviceBuffer &buffer) {
  std::vector<T> host(buffer.size() / sizeof(T));
  buffer.download(host.data());
  return host;
}

std::vector<int32_t> tilesOf(const std::vector<int32_t> &tiles, const std::vector<int32_t> &count,
                             int64_t row, int64_t cols) {
  auto begin = tiles.begin() + row * cols;
  return {begin, begin + count[row]};
}

} // namespace

DeviceTensors describeTensors(const std::vector<PatternTensor> &tensors) {
  if (tensors.size() > kMaxTensors)
    throw Error("a pattern takes at most " + std::to_string(kMaxTensors) + " tensors");
  DeviceTensors device{};
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    if (tensors[k].dims.size() > kMaxRank)
      throw Error("a pattern tensor has rank at most " + std::to_string(kMaxRank));
    device.t[k].data = tensors[k].data;
    for (std::size_t d = 0; d < tensors[k].dims.size(); ++d)
      device.t[k].dims[d] = tensors[k].dims[d];
  }
  return device;
}

std::vector<int32_t> GpuLayout::fullTiles(int64_t h, int64_t t) const {
  return tilesOf(full, fullCount, h * rows + t, cols);
}

std::vector<int32_t> GpuLayout::partialTiles(int64_t h, int64_t t) const {
  return tilesOf(partial, partialCount, h * rows + t, cols);
}

LayoutKernel::LayoutKernel(const std::string &source, const std::string &kernelName,
                           std::vector<ElementType> tensorTypes, KernelCache &cache)
    : LayoutKernel(std::make_shared<const Module>(compileForDevice(source, cache)), kernelName,
                   std::move(tensorTypes)) {}

LayoutKernel::LayoutKernel(std::shared_ptr<const Module> module, const std::string &kernelName,
                           std::vector<ElementType> tensorTypes)
    : module_(std::move(module)), function_(module_->function(kernelName.c_str())),
      tensorTypes_(std::move(tensorTypes)) {}

void LayoutKernel::summarize(const std::vector<PatternTensor> &tensors, DeviceTensors &device,
                             DeviceLayout &layout, CUstream stream) const {
  constexpr int64_t kRun = 16; // ATTNC_SUMMARY_BLOCK
  constexpr unsigned kThreads = 256;
  for (std::size_t k = 0; k < tensors.size() && k < tensorTypes_.size(); ++k) {
    const PatternTensor &tensor = tensors[k];
    if (tensorTypes_[k] == ElementType::F32 || !tensor.data || tensor.dims.empty())
      continue;
    int64_t length = tensor.dims.back(), rows = 1;
    for (std::size_t d = 0; d + 1 < tensor.dims.size(); ++d)
      rows *= tensor.dims[d];
    int64_t runs = rows * ceilDiv(length, kRun);
    if (runs == 0)
      continue;
    // A run's smallest and largest element, as two int64.
    auto summary =
        std::make_shared<DeviceBuffer>(static_cast<std::size_t>(runs) * 2 * sizeof(int64_t));
    CUdeviceptr out = summary->pointer();
    void *params[] = {&device.t[k], &rows, &length, &out};
    const char *name = tensorTypes_[k] == ElementType::I32 ? "attnc_tensor_summary_i32"
                                                          : "attnc_tensor_summary_i64";
    launch(module_->function(name), Dim3{static_cast<unsigned>(ceilDiv(runs, kThreads))},
           Dim3{kThreads}, params, 0, stream);
    device.t[k].summary = out;
    layout.summaries.push_back(std::move(summary));
  }
}

DeviceLayout LayoutKernel::buildOnDevice(const LayoutShape &shape, int64_t blockQ,
                                         int64_t blockK,
                                         const std::vector<PatternTensor> &tensors,
                                         CUstream stream, LayoutOrder order,
                                         std::shared_ptr<DeviceBuffer> skipHeads) const {
  if (blockQ < 1 || blockK < 1 || shape.numHeads < 1 || shape.seqQ < 1 || shape.seqK < 1 ||
      shape.batch < 1)
    throw Error("layout sizes, heads, batch and tile sizes must be at least 1");
  DeviceTensors deviceTensors = describeTensors(tensors);
  DeviceLayout layout;
  layout.numHeads = shape.numHeads;
  layout.order = order;
  int64_t queryTiles = ceilDiv(shape.seqQ, blockQ), keyTiles = ceilDiv(shape.seqK, blockK);
  bool byKey = order == LayoutOrder::ByKey;
  layout.rows = byKey ? keyTiles : queryTiles;
  layout.cols = byKey ? queryTiles : keyTiles;
  layout.blockQ = blockQ;
  layout.blockK = blockK;
  summarize(tensors, deviceTensors, layout, stream);
  std::size_t rowCount = static_cast<std::size_t>(shape.numHeads * layout.rows);
  layout.partialCount = std::make_shared<DeviceBuffer>(rowCount * sizeof(int32_t));
  layout.start = std::make_shared<DeviceBuffer>((rowCount + 1) * sizeof(int64_t));
  LayoutArgs args{{shape.numHeads, shape.seqQ, shape.seqK, shape.headDim},
                  shape.batch - 1,
                  blockQ,
                  blockK,
                  byKey ? 1 : 0,
                  layout.rows,
                  layout.cols,
                  layout.partialCount->pointer(),
                  layout.start->pointer(),
                  0,
                  skipHeads ? skipHeads->pointer() : 0};
  layout.skipHeads = std::move(skipHeads);
  void *params[] = {&args, &deviceTensors};
  Dim3 grid{static_cast<unsigned>(ceilDiv(static_cast<int64_t>(rowCount), kWarpsPerBlock))};
  Dim3 block{32 * kWarpsPerBlock};
  launch(function_, grid, block, params, 0, stream); // counts
  CUdeviceptr start = layout.start->pointer();
  int64_t rows = static_cast<int64_t>(rowCount);
  void *scanParams[] = {&start, &rows};
  launch(module_->function(kScanKernel), Dim3{1}, Dim3{kScanThreads}, scanParams, 0, stream);
  int64_t total = 0;
  check(driver().cuStreamSynchronize(stream), "cuStreamSynchronize");
  check(driver().cuMemcpyDtoH(&total, start + rowCount * sizeof(int64_t), sizeof(total)),
        "cuMemcpyDtoH");
  layout.tiles = std::make_shared<DeviceBuffer>(std::max<int64_t>(total, 1) * sizeof(int32_t));
  args.tiles = layout.tiles->pointer();
  launch(function_, grid, block, params, 0, stream); // lists
  return layout;
}

GpuLayout DeviceLayout::download() const {
  GpuLayout host;
  host.numHeads = numHeads;
  host.rows = rows;
  host.cols = cols;
  host.blockQ = blockQ;
  host.blockK = blockK;
  host.order = order;
  check(driver().cuCtxSynchronize(), "cuCtxSynchronize");
  std::vector<int64_t> starts = attn::download<int64_t>(*start);
  host.partialCount = attn::download<int32_t>(*partialCount);
  std::vector<int32_t> lists = attn::download<int32_t>(*tiles);
  int64_t rowCount = numHeads * rows;
  host.fullCount.resize(rowCount);
  host.full.assign(rowCount * cols, 0);
  host.partial.assign(rowCount * cols, 0);
  for (int64_t row = 0; row < rowCount; ++row) {
    int32_t partials = host.partialCount[row];
    host.fullCount[row] = static_cast<int32_t>(starts[row + 1] - starts[row]) - partials;
    auto begin = lists.begin() + starts[row];
    std::copy(begin, begin + partials, host.partial.begin() + row * cols);
    std::copy(begin + partials, begin + partials + host.fullCount[row],
              host.full.begin() + row * cols);
  }
  return host;
}

GpuLayout LayoutKernel::build(const LayoutShape &shape, int64_t blockQ, int64_t blockK,
                              const std::vector<HostTensorArg> &tensors,
                              LayoutOrder order) const {
  std::vector<std::unique_ptr<DeviceBuffer>> tensorBuffers;
  std::vector<PatternTensor> deviceTensors = uploadTensors(tensors, tensorBuffers);
  auto start = std::chrono::steady_clock::now();
  DeviceLayout device = buildOnDevice(shape, blockQ, blockK, deviceTensors, nullptr, order);
  check(driver().cuStreamSynchronize(nullptr), "cuStreamSynchronize");
  double kernelMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  GpuLayout layout = device.download();
  layout.kernelMs = kernelMs;
  return layout;
}

} // namespace attn
