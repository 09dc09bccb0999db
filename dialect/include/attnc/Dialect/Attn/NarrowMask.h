//===- NarrowMask.h - Whether a pattern's mask fits in 32 bits ------------===//
//
// The mask of a pattern (its attn.set and attn.attend regions, which
// attnc_<p>_attends evaluates, and its attn.component regions, parts of them)
// computes with i64, the language's integers.
// Under the limits below, interval arithmetic (IntervalMath.h) bounds every
// integer value of those regions over all problems. When every bound lies
// within int32, no value can wrap in 32 bits, so the mask computes the same
// in 32-bit arithmetic: the code generator then emits it that way.
//
// The same holds for the per-pair value functions (attn.bias, attn.score,
// attn.score_grad, attn.tensor_grad), each on its own: they run once per
// attended pair, where 64-bit integer arithmetic and 64-bit-to-float
// conversions cost as much as the softmax's exponential.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc/Dialect/Attn/AttnOps.h"

#include "llvm/ADT/DenseMap.h"

#include <string>

namespace attnc::attn {

/// The problems the proof covers. The runtime rejects larger ones
/// (attn::checkProblem in runtime/lib/Attention.cpp holds the same numbers).
struct NarrowLimits {
  static constexpr int64_t kMaxSeq = int64_t(1) << 29;       // Nq, Nk; i < Nq, j < Nk
  static constexpr int64_t kMaxHeads = int64_t(1) << 16;     // H; h < H
  static constexpr int64_t kMaxHeadDim = 1024;               // D
  static constexpr int64_t kMaxBatchIndex = int64_t(1) << 20; // b
};

/// The unit attribute attn-narrow-mask puts on a pattern whose mask is narrow.
constexpr const char *kNarrowMaskAttr = "attn.narrow_mask";
/// The unit attribute it puts on a narrow per-pair value op (bias, score,
/// score_grad, tensor_grad).
constexpr const char *kNarrowAttr = "attn.narrow";

struct MaskRanges {
  /// A bound of every i64 value of the mask regions, block arguments
  /// included, for every problem within NarrowLimits.
  llvm::DenseMap<mlir::Value, interval::Range> bounds;
  /// Why the mask is not narrow (the first value beyond int32); empty when
  /// it is.
  std::string whyNot;
  bool narrow() const { return whyNot.empty(); }
};

/// Bounds the mask of `pattern`. Causality must be explicit
/// (attn-make-causal-explicit) and parameters specialized, else the mask is
/// not narrow. Integer loads from i32 tensors may be any int32; loads from
/// i64 tensors, and anything else without a transfer function, are unbounded.
MaskRanges analyzeMaskRanges(PatternOp pattern);

/// Whether `op` is a per-pair value op (bias, score, score_grad,
/// tensor_grad): one whose region attn-narrow-mask bounds on its own.
bool isPairValueOp(mlir::Operation *op);

/// Bounds the region of the per-pair value op `op` of `pattern`, under the
/// same limits and rules as the mask. Its float values need no bound.
MaskRanges analyzeValueRanges(PatternOp pattern, mlir::Operation &op);

} // namespace attnc::attn
