//===- GpuTestSupport.cpp -------------------------------------------------===//
#include "GpuTestSupport.h"

#include <algorithm>

namespace attnc::test {
namespace {

/// The tiles of `kind` of one row of the CPU layout, ascending: the key
/// tiles of query tile `row` or, by key, the query tiles of key tile `row`.
std::vector<int32_t> cpuTiles(const layout::Layout &cpu, int64_t h, int64_t row,
                              layout::TileKind kind, ::attn::LayoutOrder order) {
  bool byKey = order == ::attn::LayoutOrder::ByKey;
  std::vector<int32_t> tiles;
  for (int64_t other = 0; other < (byKey ? cpu.rows : cpu.cols); ++other)
    if ((byKey ? cpu.at(h, other, row) : cpu.at(h, row, other)) == kind)
      tiles.push_back(static_cast<int32_t>(other));
  return tiles;
}

} // namespace

int64_t countLayoutMismatches(const layout::Layout &cpu, const ::attn::GpuLayout &gpu,
                              const std::string &where,
                              const std::vector<int32_t> &emptyHeads) {
  bool byKey = gpu.order == ::attn::LayoutOrder::ByKey;
  int64_t rows = byKey ? cpu.cols : cpu.rows, cols = byKey ? cpu.rows : cpu.cols;
  EXPECT_EQ(gpu.rows, rows) << where;
  EXPECT_EQ(gpu.cols, cols) << where;
  if (gpu.rows != rows || gpu.cols != cols)
    return 1;
  int64_t mismatches = 0;
  for (int64_t h = 0; h < cpu.numHeads; ++h)
    for (int64_t row = 0; row < rows; ++row) {
      bool empty = std::count(emptyHeads.begin(), emptyHeads.end(), h) != 0;
      auto expected = [&](layout::TileKind kind) {
        return empty ? std::vector<int32_t>() : cpuTiles(cpu, h, row, kind, gpu.order);
      };
      bool same = gpu.fullTiles(h, row) == expected(layout::TileKind::Full) &&
                  gpu.partialTiles(h, row) == expected(layout::TileKind::Partial);
      if (!same && ++mismatches <= 5)
        ADD_FAILURE() << where << ": head " << h << (byKey ? ", key tile " : ", query tile ")
                      << row << " differs from the CPU layout";
    }
  return mismatches;
}

} // namespace attnc::test
