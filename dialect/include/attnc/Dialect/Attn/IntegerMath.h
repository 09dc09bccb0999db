//===- IntegerMath.h - The language's 64-bit integer operations -----------===//
//
// Plain C++ (no MLIR): one definition of the integer semantics, used by the
// reference interpreter, the IR evaluator, the folders and the interval math.
// Arithmetic wraps around (two's complement) instead of being undefined, and
// `/` and `%` are Python's floor division and floor modulo.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>

namespace attnc::attn {

inline int64_t wrapAdd(int64_t a, int64_t b) { return int64_t(uint64_t(a) + uint64_t(b)); }
inline int64_t wrapSub(int64_t a, int64_t b) { return int64_t(uint64_t(a) - uint64_t(b)); }
inline int64_t wrapMul(int64_t a, int64_t b) { return int64_t(uint64_t(a) * uint64_t(b)); }
inline int64_t wrapNeg(int64_t a) { return int64_t(0 - uint64_t(a)); }

/// Python's a // b. The caller has ruled out b == 0; INT64_MIN // -1 wraps.
inline int64_t floorDiv(int64_t a, int64_t b) {
  if (b == -1)
    return wrapNeg(a);
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/// Python's a % b: the result has the sign of b. The caller has ruled out b == 0.
inline int64_t floorMod(int64_t a, int64_t b) {
  if (b == -1)
    return 0;
  int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

} // namespace attnc::attn
