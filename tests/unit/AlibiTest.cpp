// ALiBi slopes (shared by the interpreter and the dialect's folder) against
// the paper's closed form and its reference code's printed values.
#include "attnc/Dialect/Attn/AlibiSlope.h"

#include <gtest/gtest.h>

#include <cmath>

namespace {

/// Written from the paper's description, independently of the implementation:
/// with p the largest power of two <= H, heads k < p get 2^(-8(k+1)/p) and the
/// rest take every other slope of 2p heads: 2^(-8(2(k-p)+1)/(2p)).
double expectedSlope(int64_t k, int64_t numHeads) {
  int64_t p = 1;
  while (2 * p <= numHeads)
    p *= 2;
  if (k < p)
    return std::exp2(-8.0 * double(k + 1) / double(p));
  return std::exp2(-8.0 * double(2 * (k - p) + 1) / double(2 * p));
}

TEST(AlibiSlopes, MatchPaperFormulaForOneTo32Heads) {
  for (int64_t heads = 1; heads <= 32; ++heads)
    for (int64_t k = 0; k < heads; ++k)
      EXPECT_NEAR(attnc::attn::alibiSlopeValue(k, heads), expectedSlope(k, heads),
                  1e-12 * expectedSlope(k, heads))
          << "H=" << heads << " h=" << k;
}

TEST(AlibiSlopes, MatchValuesPrintedByTheReferenceCode) {
  // get_slopes(8) and get_slopes(12) as printed by the paper's Python code.
  const double eight[] = {0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625};
  for (int k = 0; k < 8; ++k)
    EXPECT_DOUBLE_EQ(attnc::attn::alibiSlopeValue(k, 8), eight[k]);
  const double twelve[] = {0.5,      0.25,       0.125,       0.0625,
                           0.03125,  0.015625,   0.0078125,   0.00390625,
                           0.7071067811865476, 0.35355339059327384,
                           0.17677669529663692, 0.08838834764831849};
  for (int k = 0; k < 12; ++k)
    EXPECT_DOUBLE_EQ(attnc::attn::alibiSlopeValue(k, 12), twelve[k]);
}

} // namespace
