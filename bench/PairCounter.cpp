//===- PairCounter.cpp - Counting attended pairs on the GPU ---------------===//
#include "PairCounter.h"

#include "CountKernel.h"

#include "attn/KernelArgs.h"

#include <algorithm>
#include <tuple>

namespace attnc::bench {
namespace {

constexpr int64_t kMaxGridY = 65535;

std::string compile(const attn::Bundle &bundle) {
  return attn::defaultKernelCache()
      .get(countKernelRequest(bundle, "sm_" + std::to_string(attn::deviceInfo().computeCapability)))
      .bytes;
}

/// A zeroed counter per head, the launch, and the counts read back.
std::vector<uint64_t> countPerHead(attn::CUfunction function, attn::Dim3 grid, int64_t heads,
                                   std::vector<void *> params) {
  attn::DeviceBuffer counts(heads * sizeof(uint64_t));
  counts.fillBytes(0);
  attn::CUdeviceptr pointer = counts.pointer();
  params.push_back(&pointer);
  attn::launchAndWait(function, grid, {kCountThreads}, params.data());
  std::vector<uint64_t> host(heads);
  counts.download(host.data());
  return host;
}

} // namespace

PairCounter::PairCounter(const attn::Bundle &bundle)
    : module_(compile(bundle)), layoutPairs_(module_.function("attnc_bench_layout_pairs")),
      allPairs_(module_.function("attnc_bench_all_pairs")) {}

std::vector<uint64_t>
PairCounter::countLayout(const attn::BlockLayout &layout, int64_t headDim,
                         const std::vector<attn::PatternTensor> &tensors) const {
  const attn::Problem &problem = layout.problem();
  const attn::DeviceLayout &device = layout.deviceLayout();
  attn::DeviceShape shape{problem.heads, problem.seqQ, problem.seqK, headDim};
  attn::DeviceTensors list = attn::describeTensors(tensors);
  attn::DeviceTileLists lists = attn::deviceTileLists(device);
  int64_t blockQ = device.blockQ, blockK = device.blockK, batch = problem.batch;
  attn::Dim3 grid{static_cast<unsigned>(device.numHeads * device.rows),
                  static_cast<unsigned>(std::min(batch, kMaxGridY))};
  std::vector<uint64_t> counts = countPerHead(layoutPairs_, grid, problem.heads,
                                              {&shape, &list, &lists, &blockQ, &blockK, &batch});
  // Heads that run through their components have empty rows in the
  // forward's layout: their pairs are counted one by one (so --check does
  // not test their tile lists; ComponentListsTest does, on the CPU).
  std::vector<int32_t> componentHeads = layout.componentHeads();
  if (!componentHeads.empty()) {
    std::vector<uint64_t> all = countAllPairs(problem, headDim, tensors);
    for (int32_t h : componentHeads)
      counts[h] = all[h];
  }
  return counts;
}

std::vector<uint64_t>
PairCounter::countAllPairs(const attn::Problem &problem, int64_t headDim,
                           const std::vector<attn::PatternTensor> &tensors) const {
  attn::DeviceShape shape{problem.heads, problem.seqQ, problem.seqK, headDim};
  attn::DeviceTensors list = attn::describeTensors(tensors);
  int64_t batch = problem.batch;
  attn::Dim3 grid{static_cast<unsigned>(attn::detail::ceilDiv(problem.seqQ, kCountThreads)),
                  static_cast<unsigned>(problem.heads)};
  return countPerHead(allPairs_, grid, problem.heads, {&shape, &list, &batch});
}

TileCounts countTiles(const attn::BlockLayout &layout) {
  const attn::DeviceLayout &device = layout.deviceLayout();
  std::vector<int64_t> start(device.start->size() / sizeof(int64_t));
  std::vector<int32_t> partial(device.partialCount->size() / sizeof(int32_t));
  device.start->download(start.data());
  device.partialCount->download(partial.data());
  TileCounts counts;
  for (int32_t count : partial)
    counts.partial += count;
  counts.full = start.back() - counts.partial;
  std::tie(counts.componentFull, counts.componentPartial) = layout.componentTiles();
  return counts;
}

uint64_t sum(const std::vector<uint64_t> &values) {
  uint64_t total = 0;
  for (uint64_t value : values)
    total += value;
  return total;
}

} // namespace attnc::bench
