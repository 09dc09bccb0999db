//===- NarrowMask.cpp - Tag what fits in 32 bits: mask, per-pair values ---===//
#include "attnc/Dialect/Attn/NarrowMask.h"
#include "attnc/Dialect/Attn/Passes.h"

namespace attnc::attn {
#define GEN_PASS_DEF_ATTNNARROWMASK
#include "Passes.h.inc"
} // namespace attnc::attn

using namespace mlir;
using namespace attnc::attn;

namespace {

struct NarrowMask : attnc::attn::impl::AttnNarrowMaskBase<NarrowMask> {
  void runOnOperation() override {
    PatternOp pattern = getOperation();
    if (analyzeMaskRanges(pattern).narrow())
      pattern->setAttr(kNarrowMaskAttr, UnitAttr::get(&getContext()));
    else
      pattern->removeAttr(kNarrowMaskAttr);
    for (Operation &op : pattern.getBodyBlock()) {
      if (!isPairValueOp(&op))
        continue;
      if (analyzeValueRanges(pattern, op).narrow())
        op.setAttr(kNarrowAttr, UnitAttr::get(&getContext()));
      else
        op.removeAttr(kNarrowAttr);
    }
    markAllAnalysesPreserved();
  }
};

} // namespace
