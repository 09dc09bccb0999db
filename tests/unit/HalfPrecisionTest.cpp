// Host conversions of `attnc run` (tools/attnc/HalfPrecision.h): round to
// nearest even, subnormals, overflow to infinity and NaN, as the GPU's
// __float2bfloat16_rn and __float2half_rn do.
#include "HalfPrecision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

using namespace attnc;

namespace {

float fromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

TEST(HalfPrecision, Bf16RoundsToNearestEven) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBf16(-0.0f), 0x8000);
  EXPECT_EQ(floatToBf16(fromBits(0x3f808000)), 0x3f80); // halfway, to the even 0x3f80
  EXPECT_EQ(floatToBf16(fromBits(0x3f818000)), 0x3f82); // halfway, to the even 0x3f82
  EXPECT_EQ(floatToBf16(fromBits(0x3f808001)), 0x3f81); // above halfway
  EXPECT_EQ(floatToBf16(fromBits(0x3f807fff)), 0x3f80); // below halfway
}

TEST(HalfPrecision, Bf16InfinityAndNaN) {
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(std::nanf("")))));
  // A NaN whose payload lies only in the dropped bits must not become infinity.
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(fromBits(0x7f800001)))));
  EXPECT_EQ(bf16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(bf16ToFloat(0xc040), -3.0f);
}

TEST(HalfPrecision, HalfNormalsRoundToNearestEven) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);     // halfway, to even
  EXPECT_EQ(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02); // halfway, to even
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -12)), 0x3c00);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14)), 0x0400); // the smallest normal
  EXPECT_EQ(floatToHalf(2047.0f), 0x67ff); // the widest mantissa
}

TEST(HalfPrecision, HalfOverflowAndNaN) {
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.99f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // halfway to 65536: to even, infinity
  EXPECT_EQ(floatToHalf(1e10f), 0x7c00);
  EXPECT_EQ(floatToHalf(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(std::nanf("")))));
  EXPECT_TRUE(std::isinf(halfToFloat(0x7c00)));
}

TEST(HalfPrecision, HalfSubnormals) {
  float unit = std::ldexp(1.0f, -24); // the smallest subnormal half
  EXPECT_EQ(floatToHalf(unit), 0x0001);
  EXPECT_EQ(floatToHalf(unit / 2), 0x0000);             // halfway, to even zero
  EXPECT_EQ(floatToHalf(unit / 2 * 1.0001f), 0x0001);   // just above halfway
  EXPECT_EQ(floatToHalf(-unit / 2 * 1.0001f), 0x8001);
  EXPECT_EQ(floatToHalf(1.5f * unit), 0x0002);          // halfway, to even
  EXPECT_EQ(floatToHalf(2.5f * unit), 0x0002);          // halfway, to even
  EXPECT_EQ(floatToHalf(1023.5f * unit), 0x0400);       // rounds up into the normals
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(halfToFloat(0x0001), unit);
  EXPECT_EQ(halfToFloat(0x83ff), -1023 * unit);
}

TEST(HalfPrecision, EveryHalfRoundTrips) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = halfToFloat(static_cast<uint16_t>(bits));
    if (std::isnan(value))
      EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(value)))) << bits;
    else
      EXPECT_EQ(floatToHalf(value), bits) << bits;
  }
}

} // namespace
