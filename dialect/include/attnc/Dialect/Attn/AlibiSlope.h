//===- AlibiSlope.h - ALiBi's per-head slopes -----------------------------===//
//
// Plain C++ (no MLIR), shared by the dialect's folder and the reference
// interpreter so that both compute bit-identical slopes.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>

namespace attnc::attn {

/// ALiBi's slope for head `h` of `numHeads`, computed as the paper's reference
/// code does (Press et al., 2022): a geometric sequence from 2^(-8/H); for H
/// not a power of two, the slopes of the closest lower power of two followed by
/// every other slope of the next power of two. Requires 0 <= h < numHeads.
double alibiSlopeValue(int64_t h, int64_t numHeads);

} // namespace attnc::attn
