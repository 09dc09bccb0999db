//===- GpuForwardChecks.h - Checks of a forward's O and LSE ---------------===//
//
// What the forward GPU tests (GpuForwardTest, GpuComponentsTest) check of
// the outputs they download: that every element was written, and that O and
// LSE match a reference within the dtype's tolerance.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ReferenceAttention.h"

#include "attn/attn.h"

#include <cstdint>
#include <vector>

namespace attnc::test {

/// No poison left in O or LSE, and a row with LSE = -inf (no key) is all zeros.
void expectEveryElementWritten(const std::vector<float> &o, const std::vector<float> &lse,
                               int64_t headDim);

/// The relative error of O a forward in `dtype` may have: 2e-2 for bf16,
/// 5e-3 for fp16.
double oTolerance(::attn::DType dtype);

/// ‖O - ref‖ / ‖ref‖ over the reference's rows within the dtype's tolerance;
/// LSE within 1e-2 relative (absolute below 1), -inf exactly where the
/// reference has it. `o` and `lse` are [B, H, seqQ(, D)].
void expectMatchesReference(::attn::DType dtype, const std::vector<float> &o,
                            const std::vector<float> &lse, int64_t seqQ,
                            const ReferenceOutput &ref);

} // namespace attnc::test
