//===- NarrowMask.cpp - Tag patterns whose mask fits in 32 bits -----------===//
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
    markAllAnalysesPreserved();
  }
};

} // namespace
