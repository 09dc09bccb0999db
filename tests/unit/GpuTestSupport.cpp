//===- GpuTestSupport.cpp -------------------------------------------------===//
#include "GpuTestSupport.h"

namespace attnc::test {
namespace {

/// The key tiles of one row of the CPU layout that are of `kind`, ascending.
std::vector<int32_t> cpuTiles(const layout::Layout &cpu, int64_t h, int64_t row,
                              layout::TileKind kind) {
  std::vector<int32_t> tiles;
  for (int64_t col = 0; col < cpu.cols; ++col)
    if (cpu.at(h, row, col) == kind)
      tiles.push_back(static_cast<int32_t>(col));
  return tiles;
}

} // namespace

int64_t countLayoutMismatches(const layout::Layout &cpu, const ::attn::GpuLayout &gpu,
                              const std::string &where) {
  EXPECT_EQ(gpu.rows, cpu.rows) << where;
  EXPECT_EQ(gpu.cols, cpu.cols) << where;
  if (gpu.rows != cpu.rows || gpu.cols != cpu.cols)
    return 1;
  int64_t mismatches = 0;
  for (int64_t h = 0; h < cpu.numHeads; ++h)
    for (int64_t row = 0; row < cpu.rows; ++row) {
      bool same = gpu.fullTiles(h, row) == cpuTiles(cpu, h, row, layout::TileKind::Full) &&
                  gpu.partialTiles(h, row) == cpuTiles(cpu, h, row, layout::TileKind::Partial);
      if (!same && ++mismatches <= 5)
        ADD_FAILURE() << where << ": head " << h << ", query tile " << row
                      << " differs from the CPU layout";
    }
  return mismatches;
}

} // namespace attnc::test
