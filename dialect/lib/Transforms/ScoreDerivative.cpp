//===- ScoreDerivative.cpp - d score / ds by forward-mode differentiation -===//
//
// The score region is cloned into attn.score_grad and differentiated in
// %score (ForwardMode.h); the region then yields the tangent of the value
// the score region yields.
//
//===----------------------------------------------------------------------===//
#include "ForwardMode.h"
#include "attnc/Dialect/Attn/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"

namespace attnc::attn {
#define GEN_PASS_DEF_ATTNSCOREDERIVATIVE
#include "Passes.h.inc"
} // namespace attnc::attn

using namespace mlir;
using namespace attnc::attn;

namespace {

constexpr unsigned kScoreArg = 4;

/// Adds the tangent ops to the block and makes it yield d score / ds.
LogicalResult differentiateScore(Block &block) {
  auto yield = cast<YieldOp>(block.getTerminator());
  SmallVector<Operation *> ops =
      llvm::map_to_vector(block.without_terminator(), [](Operation &op) { return &op; });
  Differentiator differentiator(block.getArgument(kScoreArg), "the score");
  if (failed(differentiator.run(ops)))
    return failure();
  OpBuilder builder(yield);
  yield->setOperand(0, differentiator.tangentOrZero(builder, yield.getLoc(),
                                                    yield.getValues()[0]));
  return success();
}

struct ScoreDerivative : attnc::attn::impl::AttnScoreDerivativeBase<ScoreDerivative> {
  void runOnOperation() override {
    PatternOp pattern = getOperation();
    ScoreOp score = pattern.getUnique<ScoreOp>();
    if (!score || pattern.getUnique<ScoreGradOp>())
      return;
    OpBuilder builder(score->getContext());
    builder.setInsertionPointAfter(score);
    auto grad = builder.create<ScoreGradOp>(score.getLoc());
    IRMapping mapping;
    score.getBody().cloneInto(&grad.getBody(), mapping);
    if (failed(differentiateScore(grad.getBodyBlock())))
      return signalPassFailure();
  }
};

} // namespace
