//===- GpuForwardChecks.cpp -----------------------------------------------===//
#include "GpuForwardChecks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace attnc::test {
namespace {

constexpr int kReportedRows = 5;

bool lseMatches(double gpu, double ref) {
  if (std::isinf(ref) || std::isinf(gpu))
    return gpu == ref;
  return std::abs(gpu - ref) <= 1e-2 * std::max(1.0, std::abs(ref)); // false for NaN
}

} // namespace

void expectEveryElementWritten(const std::vector<float> &o, const std::vector<float> &lse,
                               int64_t headDim) {
  int64_t nanO = std::count_if(o.begin(), o.end(), [](float x) { return std::isnan(x); });
  int64_t nanLse = std::count_if(lse.begin(), lse.end(), [](float x) { return std::isnan(x); });
  EXPECT_EQ(nanO, 0) << "of " << o.size() << " O elements are NaN (unwritten or computed)";
  EXPECT_EQ(nanLse, 0) << "of " << lse.size() << " LSE elements are NaN";
  int64_t emptyRowsNotZero = 0;
  for (size_t row = 0; row < lse.size(); ++row) {
    if (lse[row] != -std::numeric_limits<float>::infinity())
      continue;
    auto begin = o.begin() + row * headDim;
    emptyRowsNotZero += std::any_of(begin, begin + headDim, [](float x) { return x != 0; });
  }
  EXPECT_EQ(emptyRowsNotZero, 0) << "rows with LSE = -inf have a nonzero O";
}

double oTolerance(::attn::DType dtype) { return dtype == ::attn::DType::BF16 ? 2e-2 : 5e-3; }


void expectMatchesReference(::attn::DType dtype, const std::vector<float> &o,
                            const std::vector<float> &lse, int64_t seqQ,
                            const ReferenceOutput &ref) {
  const int64_t D = ref.headDim, rows = static_cast<int64_t>(ref.rows.size());
  double errorSquared = 0, refSquared = 0, worst = -1;
  std::string worstWhere; // where |O - ref| is largest, to start debugging from
  int64_t lseMismatches = 0;
  for (int64_t b = 0; b < ref.batch; ++b)
    for (int64_t h = 0; h < ref.heads; ++h)
      for (int64_t r = 0; r < rows; ++r) {
        int64_t gpuRow = (b * ref.heads + h) * seqQ + ref.rows[r];
        int64_t refRow = ref.rowIndex(b, h, r);
        for (int64_t d = 0; d < D; ++d) {
          double diff = o[gpuRow * D + d] - ref.o[refRow * D + d];
          errorSquared += diff * diff;
          refSquared += ref.o[refRow * D + d] * ref.o[refRow * D + d];
          if (std::abs(diff) > worst) {
            worst = std::abs(diff);
            worstWhere = "b=" + std::to_string(b) + " h=" + std::to_string(h) +
                         " i=" + std::to_string(ref.rows[r]) + " d=" + std::to_string(d) +
                         ": GPU " + std::to_string(o[gpuRow * D + d]) + ", reference " +
                         std::to_string(ref.o[refRow * D + d]);
          }
        }
        if (!lseMatches(lse[gpuRow], ref.lse[refRow]) && ++lseMismatches <= kReportedRows)
          ADD_FAILURE() << "LSE of b=" << b << " h=" << h << " i=" << ref.rows[r] << ": GPU "
                        << lse[gpuRow] << ", reference " << ref.lse[refRow];
      }
  EXPECT_EQ(lseMismatches, 0) << "rows with a wrong LSE";
  if (refSquared == 0) {
    EXPECT_EQ(errorSquared, 0) << "the reference O is all zeros (no row attends a key)";
    return;
  }
  double relative = std::sqrt(errorSquared / refSquared);
  EXPECT_LE(relative, oTolerance(dtype)) << "relative error of O over " << ref.batch << "x"
                                         << ref.heads << "x" << rows << " rows; largest at "
                                         << worstWhere;
}

} // namespace attnc::test
