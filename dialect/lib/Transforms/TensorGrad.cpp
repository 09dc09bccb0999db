//===- TensorGrad.cpp - Gradients of float tensors read by bias and score -===//
//
// attn.tensor_grad recomputes the logit of a pair from %value (the scaled
// score before the bias) by inlining attn.bias and attn.score, then
// differentiates that logit once per f32 tensor load, seeded at the load
// (ForwardMode.h). Differentiating the whole chain at once is the chain rule
// of the brief, score'(value + bias) * d bias / dL for loads of the bias, and
// it needs no separate case for loads of the score.
//
//===----------------------------------------------------------------------===//
#include "ForwardMode.h"
#include "attnc/Dialect/Attn/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"

namespace attnc::attn {
#define GEN_PASS_DEF_ATTNTENSORGRAD
#include "Passes.h.inc"
} // namespace attnc::attn

using namespace mlir;
using namespace attnc::attn;

namespace {

constexpr unsigned kValueArg = 4;
constexpr unsigned kDLogitArg = 5;

bool isFloatLoad(Operation *op) {
  auto load = dyn_cast<TensorLoadOp>(op);
  return load && load.getType().isF32();
}

/// Whether `op` (a bias or score statement, or null) reads an f32 tensor.
bool readsFloatTensor(Operation *op) {
  if (!op)
    return false;
  return op->walk([](TensorLoadOp load) {
             return isFloatLoad(load) ? WalkResult::interrupt() : WalkResult::advance();
           })
      .wasInterrupted();
}

/// Clones the ops of the element region `region` at the builder's insertion
/// point, its arguments standing for `args`, and appends the clones to
/// `ops`. Returns the clone of the value the region yields.
Value inlineRegion(OpBuilder &builder, Region &region, ValueRange args,
                   SmallVectorImpl<Operation *> &ops) {
  IRMapping mapping;
  mapping.map(region.getArguments(), args);
  for (Operation &op : region.front().without_terminator())
    ops.push_back(builder.clone(op, mapping));
  return mapping.lookupOrDefault(cast<YieldOp>(region.front().getTerminator()).getValues()[0]);
}

/// The logit of the pair inside `block` (an attn.tensor_grad body):
/// score(value + bias), each part the identity when the pattern lacks it.
/// `ops` receives every op it creates, in order.
Value buildLogit(OpBuilder &builder, PatternOp pattern, Block &block,
                 SmallVectorImpl<Operation *> &ops) {
  ValueRange indices = block.getArguments().take_front(kNumIndexArgs);
  Value logit = block.getArgument(kValueArg);
  if (BiasOp bias = pattern.getUnique<BiasOp>()) {
    Value term = inlineRegion(builder, bias.getBody(), indices, ops);
    auto sum = builder.create<arith::AddFOp>(bias.getLoc(), logit, term);
    ops.push_back(sum);
    logit = sum;
  }
  if (ScoreOp score = pattern.getUnique<ScoreOp>()) {
    SmallVector<Value> args(indices);
    args.push_back(logit);
    logit = inlineRegion(builder, score.getBody(), args, ops);
  }
  return logit;
}

/// Before the terminator of `block`: for each f32 load among `ops`, adds
/// d_logit * d logit / d load at the load's indices. Loads the logit does not
/// depend on add nothing.
LogicalResult accumulateGradients(Block &block, ArrayRef<Operation *> ops, Value logit) {
  OpBuilder builder(block.getTerminator());
  Value dLogit = block.getArgument(kDLogitArg);
  for (Operation *op : ops) {
    if (!isFloatLoad(op))
      continue;
    auto load = cast<TensorLoadOp>(op);
    Differentiator differentiator(load.getResult(), "tensor '" + load.getTensor().str() + "'");
    if (failed(differentiator.run(ops)))
      return failure();
    Value derivative = differentiator.tangent(logit);
    if (!derivative)
      continue;
    Value amount = builder.create<arith::MulFOp>(load.getLoc(), dLogit, derivative);
    builder.create<GradAccumulateOp>(load.getLoc(), load.getTensorAttr(), load.getIndices(),
                                     amount);
  }
  return success();
}

struct TensorGrad : attnc::attn::impl::AttnTensorGradBase<TensorGrad> {
  void runOnOperation() override {
    PatternOp pattern = getOperation();
    if (pattern.getUnique<TensorGradOp>() ||
        !(readsFloatTensor(pattern.getUnique<BiasOp>()) ||
          readsFloatTensor(pattern.getUnique<ScoreOp>())))
      return;
    MLIRContext *context = pattern.getContext();
    OpBuilder builder(context);
    builder.setInsertionPointToEnd(&pattern.getBodyBlock());
    Location loc = pattern.getLoc();
    auto grad = builder.create<TensorGradOp>(loc);
    Type i64 = builder.getI64Type(), f32 = builder.getF32Type();
    SmallVector<Type> types = {i64, i64, i64, i64, f32, f32};
    Block *block = builder.createBlock(&grad.getBody(), {}, types,
                                       SmallVector<Location>(types.size(), loc));
    SmallVector<Operation *> ops;
    Value logit = buildLogit(builder, pattern, *block, ops);
    builder.create<YieldOp>(loc, ValueRange());
    if (failed(accumulateGradients(*block, ops, logit)))
      return signalPassFailure();
  }
};

} // namespace
