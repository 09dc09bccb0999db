// Interval transfer functions: exhaustively sound on small ranges, exact
// where the function is monotone, and widening on overflow.
#include "attnc/Dialect/Attn/IntervalMath.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>

namespace {

using namespace attnc::attn::interval;
using attnc::attn::floorDiv;

constexpr int64_t kLo = -7, kHi = 7;

/// Every interval [lo, hi] inside [kLo, kHi].
std::vector<Range> allRanges() {
  std::vector<Range> ranges;
  for (int64_t lo = kLo; lo <= kHi; ++lo)
    for (int64_t hi = lo; hi <= kHi; ++hi)
      ranges.push_back({lo, hi});
  return ranges;
}

/// Checks `lifted` contains f(a, b) for all a, b; returns how often it is tight.
int checkBinary(const std::function<Range(Range, Range)> &lifted,
                const std::function<std::optional<int64_t>(int64_t, int64_t)> &f) {
  int tight = 0;
  for (Range a : allRanges())
    for (Range b : allRanges()) {
      Range r = lifted(a, b);
      int64_t seenLo = std::numeric_limits<int64_t>::max();
      int64_t seenHi = std::numeric_limits<int64_t>::min();
      for (int64_t x = a.lo; x <= a.hi; ++x)
        for (int64_t y = b.lo; y <= b.hi; ++y)
          if (auto v = f(x, y)) {
            EXPECT_LE(r.lo, *v) << "a=[" << a.lo << "," << a.hi << "] b=[" << b.lo << ","
                                << b.hi << "]";
            EXPECT_GE(r.hi, *v) << "a=[" << a.lo << "," << a.hi << "] b=[" << b.lo << ","
                                << b.hi << "]";
            seenLo = std::min(seenLo, *v);
            seenHi = std::max(seenHi, *v);
          }
      tight += r.lo == seenLo && r.hi == seenHi;
    }
  return tight;
}

int64_t pyDiv(int64_t a, int64_t b) { return floorDiv(a, b); }

TEST(IntervalMath, ArithmeticIsSoundAndExact) {
  size_t pairs = allRanges().size() * allRanges().size();
  EXPECT_EQ(checkBinary(add, [](int64_t a, int64_t b) { return a + b; }), int(pairs));
  EXPECT_EQ(checkBinary(sub, [](int64_t a, int64_t b) { return a - b; }), int(pairs));
  EXPECT_EQ(checkBinary(mul, [](int64_t a, int64_t b) { return a * b; }), int(pairs));
  EXPECT_EQ(checkBinary(min, [](int64_t a, int64_t b) { return std::min(a, b); }), int(pairs));
  EXPECT_EQ(checkBinary(max, [](int64_t a, int64_t b) { return std::max(a, b); }), int(pairs));
}

TEST(IntervalMath, FloorDivisionAndModuloAreSound) {
  auto div = [](int64_t a, int64_t b) -> std::optional<int64_t> {
    if (b == 0)
      return std::nullopt;
    return pyDiv(a, b);
  };
  auto mod = [](int64_t a, int64_t b) -> std::optional<int64_t> {
    if (b == 0)
      return std::nullopt;
    return a - b * pyDiv(a, b); // Python's a % b
  };
  EXPECT_GT(checkBinary(floordiv, div), 0);
  EXPECT_GT(checkBinary(floormod, mod), 0);
  // Within one period of a single divisor the modulo is exact.
  Range r = floormod({17, 19}, {8, 8});
  EXPECT_EQ(r.lo, 1);
  EXPECT_EQ(r.hi, 3);
  r = floormod({-3, -1}, {8, 8});
  EXPECT_EQ(r.lo, 5);
  EXPECT_EQ(r.hi, 7);
  r = floormod({6, 9}, {8, 8});
  EXPECT_EQ(r.lo, 0);
  EXPECT_EQ(r.hi, 7);
}

TEST(IntervalMath, UnaryFunctionsAreSoundAndExact) {
  for (Range a : allRanges()) {
    Range n = neg(a), m = attnc::attn::interval::abs(a);
    EXPECT_EQ(n.lo, -a.hi);
    EXPECT_EQ(n.hi, -a.lo);
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = 0;
    for (int64_t x = a.lo; x <= a.hi; ++x) {
      lo = std::min(lo, std::abs(x));
      hi = std::max(hi, std::abs(x));
    }
    EXPECT_EQ(m.lo, lo);
    EXPECT_EQ(m.hi, hi);
  }
}

TEST(IntervalMath, ComparisonsAnswerMayBeTrueAndMayBeFalseExactly) {
  for (Range a : allRanges())
    for (Range b : allRanges()) {
      bool lt[2] = {}, le[2] = {}, eq[2] = {};
      for (int64_t x = a.lo; x <= a.hi; ++x)
        for (int64_t y = b.lo; y <= b.hi; ++y) {
          lt[x < y] = true;
          le[x <= y] = true;
          eq[x == y] = true;
        }
      Truth t = lessThan(a, b);
      EXPECT_EQ(t.mayBeTrue, lt[1]);
      EXPECT_EQ(t.mayBeFalse, lt[0]);
      t = lessEqual(a, b);
      EXPECT_EQ(t.mayBeTrue, le[1]);
      EXPECT_EQ(t.mayBeFalse, le[0]);
      t = equal(a, b);
      EXPECT_EQ(t.mayBeTrue, eq[1]);
      EXPECT_EQ(t.mayBeFalse, eq[0]);
    }
}

TEST(IntervalMath, OverflowWidensToTheFullRange) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  Range r = add({kMax - 1, kMax}, {0, 2});
  EXPECT_EQ(r.lo, kMin);
  EXPECT_EQ(r.hi, kMax);
  r = mul({1, int64_t(1) << 40}, {1, int64_t(1) << 40});
  EXPECT_EQ(r.lo, kMin);
  r = floordiv({kMin, 0}, {-1, -1});
  EXPECT_EQ(r.hi, kMax);
  r = neg({kMin, 0});
  EXPECT_EQ(r.lo, kMin);
  r = floordiv({0, 10}, {-1, 1});
  EXPECT_EQ(r.lo, kMin);
  EXPECT_EQ(r.hi, kMax);
}

} // namespace
