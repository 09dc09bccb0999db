//===- MakeCausalExplicit.cpp - Fold attn.causal into the sets ------------===//
#include "attnc/Dialect/Attn/Passes.h"

#include "mlir/IR/Builders.h"

namespace attnc::attn {
#define GEN_PASS_DEF_ATTNMAKECAUSALEXPLICIT
#include "Passes.h.inc"
} // namespace attnc::attn

using namespace mlir;
using namespace attnc::attn;

namespace {

/// Emits `j <= i + (Nk - Nq)` before `at`, from the region's index arguments.
Value causalCondition(OpBuilder &builder, Location loc, Block &block) {
  Value i = block.getArgument(2), j = block.getArgument(3);
  Type i64 = builder.getI64Type();
  Value nk = builder.create<DimOp>(loc, i64, ShapeDim::Nk);
  Value nq = builder.create<DimOp>(loc, i64, ShapeDim::Nq);
  Value offset = builder.create<arith::SubIOp>(loc, nk, nq);
  Value last = builder.create<arith::AddIOp>(loc, i, offset);
  return builder.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sle, j, last);
}

/// Replaces the yielded predicate p of `block` with `causal && p`.
void intersectWithCausal(Block &block) {
  auto yield = cast<YieldOp>(block.getTerminator());
  OpBuilder builder(yield);
  Location loc = yield.getLoc();
  Value causal = causalCondition(builder, loc, block);
  Value both = builder.create<arith::AndIOp>(loc, causal, yield.getValues()[0]);
  yield->setOperand(0, both);
}

struct MakeCausalExplicit : attnc::attn::impl::AttnMakeCausalExplicitBase<MakeCausalExplicit> {
  void runOnOperation() override {
    PatternOp pattern = getOperation();
    CausalOp causal = pattern.getUnique<CausalOp>();
    if (!causal)
      return;
    bool hasSet = false;
    for (Operation &op : pattern.getBodyBlock()) {
      if (auto set = dyn_cast<SetOp>(op)) {
        intersectWithCausal(set.getBodyBlock());
        hasSet = true;
      } else if (auto attend = dyn_cast<AttendOp>(op)) {
        intersectWithCausal(attend.getBodyBlock());
        hasSet = true;
      }
    }
    if (!hasSet)
      createCausalAttend(causal);
    causal.erase();
  }

  /// A pattern whose only restriction is `causal` attends the causal set.
  void createCausalAttend(CausalOp causal) {
    OpBuilder builder(causal);
    Location loc = causal.getLoc();
    auto attend = builder.create<AttendOp>(loc);
    Block &block = attend.getBody().emplaceBlock();
    for (unsigned k = 0; k < kNumIndexArgs; ++k)
      block.addArgument(builder.getI64Type(), loc);
    builder.setInsertionPointToEnd(&block);
    Value condition = causalCondition(builder, loc, block);
    builder.create<YieldOp>(loc, condition);
  }
};

} // namespace
