//===- IntervalMath.h - Transfer functions of interval twins --------------===//
//
// Plain C++ (no MLIR): the meaning of attn.int_range, attn.cmp_range and
// attn.tensor_range, shared by the CPU evaluator and (as device code) the
// GPU layout kernel. Intervals are inclusive; any result that could overflow
// i64, and any division by an interval holding 0, widens to the full range.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc/Dialect/Attn/IntegerMath.h"

#include <cstdint>
#include <limits>

namespace attnc::attn::interval {

struct Range {
  int64_t lo, hi;
};

constexpr Range kFull{std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};

/// The smallest interval holding four values (the corners of a product of
/// two intervals).
inline Range hull(const int64_t (&corners)[4]) {
  Range r{corners[0], corners[0]};
  for (int64_t c : corners) {
    r.lo = c < r.lo ? c : r.lo;
    r.hi = c > r.hi ? c : r.hi;
  }
  return r;
}

inline Range add(Range a, Range b) {
  int64_t lo, hi;
  if (__builtin_add_overflow(a.lo, b.lo, &lo) || __builtin_add_overflow(a.hi, b.hi, &hi))
    return kFull;
  return {lo, hi};
}

inline Range sub(Range a, Range b) {
  int64_t lo, hi;
  if (__builtin_sub_overflow(a.lo, b.hi, &lo) || __builtin_sub_overflow(a.hi, b.lo, &hi))
    return kFull;
  return {lo, hi};
}

inline Range mul(Range a, Range b) {
  int64_t corners[4];
  if (__builtin_mul_overflow(a.lo, b.lo, &corners[0]) ||
      __builtin_mul_overflow(a.lo, b.hi, &corners[1]) ||
      __builtin_mul_overflow(a.hi, b.lo, &corners[2]) ||
      __builtin_mul_overflow(a.hi, b.hi, &corners[3]))
    return kFull;
  return hull(corners);
}

/// With the divisor of one sign, floor(a / b) is monotone in each argument,
/// so the extremes are at the corners.
inline Range floordiv(Range a, Range b) {
  if (b.lo <= 0 && b.hi >= 0)
    return kFull;
  if ((a.lo == kFull.lo) && (b.lo == -1 || b.hi == -1))
    return kFull; // INT64_MIN / -1 overflows
  int64_t corners[4] = {floorDiv(a.lo, b.lo), floorDiv(a.lo, b.hi), floorDiv(a.hi, b.lo),
                        floorDiv(a.hi, b.hi)};
  return hull(corners);
}

inline Range floormod(Range a, Range b) {
  if (b.lo <= 0 && b.hi >= 0)
    return kFull;
  if (b.lo == b.hi && a.lo > kFull.lo && a.hi < kFull.hi) {
    // One divisor: exact while the dividend stays within one period.
    int64_t d = b.lo;
    if (floorDiv(a.lo, d) == floorDiv(a.hi, d)) {
      int64_t x = floorMod(a.lo, d), y = floorMod(a.hi, d);
      return {x < y ? x : y, x < y ? y : x};
    }
  }
  if (b.lo > 0) {
    if (a.lo >= 0 && a.hi < b.lo)
      return a; // a mod b == a for 0 <= a < b
    return {0, b.hi - 1};
  }
  return {b.lo + 1, 0};
}

inline Range min(Range a, Range b) {
  return {a.lo < b.lo ? a.lo : b.lo, a.hi < b.hi ? a.hi : b.hi};
}

inline Range max(Range a, Range b) {
  return {a.lo > b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi};
}

inline Range neg(Range a) {
  if (a.lo == kFull.lo)
    return kFull;
  return {-a.hi, -a.lo};
}

inline Range abs(Range a) {
  if (a.lo >= 0)
    return a;
  if (a.lo == kFull.lo)
    return kFull;
  if (a.hi <= 0)
    return {-a.hi, -a.lo};
  return {0, -a.lo > a.hi ? -a.lo : a.hi};
}

/// Whether `a op b` may be true and may be false for a in a, b in b.
struct Truth {
  bool mayBeTrue, mayBeFalse;
};

inline Truth lessThan(Range a, Range b) { return {a.lo < b.hi, a.hi >= b.lo}; }
inline Truth lessEqual(Range a, Range b) { return {a.lo <= b.hi, a.hi > b.lo}; }
inline Truth equal(Range a, Range b) {
  bool overlap = a.lo <= b.hi && b.lo <= a.hi;
  bool samePoint = a.lo == a.hi && b.lo == b.hi && a.lo == b.lo;
  return {overlap, !samePoint};
}

} // namespace attnc::attn::interval
