//===- ForwardMode.cpp - Forward-mode differentiation of element ops -----===//
//
// Walking the ops in order, each op whose operands carry a tangent gets the
// ops of its tangent right after it, so every tangent is defined before the
// ops that use it, as the primal values are.
//
//===----------------------------------------------------------------------===//
#include "ForwardMode.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace attnc::attn {

Value floatConstant(OpBuilder &builder, Location loc, double value) {
  return builder.create<arith::ConstantOp>(loc, builder.getF32FloatAttr(value));
}

Value Differentiator::tangentOrZero(OpBuilder &builder, Location loc, Value value) {
  if (Value t = tangent(value))
    return t;
  return floatConstant(builder, loc, 0.0);
}

LogicalResult Differentiator::run(ArrayRef<Operation *> ops) {
  // The seed's tangent 1, where the seed is defined.
  OpBuilder builder(seed_.getContext());
  if (Operation *def = seed_.getDefiningOp())
    builder.setInsertionPointAfter(def);
  else
    builder.setInsertionPointToStart(cast<BlockArgument>(seed_).getOwner());
  tangents_[seed_] = floatConstant(builder, seed_.getLoc(), 1.0);
  for (Operation *op : ops)
    if (failed(differentiate(*op)))
      return failure();
  return success();
}

LogicalResult Differentiator::differentiate(Operation &op) {
  if (op.getNumResults() != 1 || llvm::none_of(op.getOperands(), [&](Value operand) {
        return static_cast<bool>(tangent(operand));
      }))
    return success();
  Value result = op.getResult(0);
  // Integers and booleans are piecewise constant in the seed: no tangent.
  if (!result.getType().isF32())
    return success();
  OpBuilder builder(op.getContext());
  builder.setInsertionPointAfter(&op);
  FailureOr<Value> t = tangentOf(builder, op);
  if (failed(t))
    return op.emitOpError("cannot be differentiated with respect to ") << wrt_;
  tangents_[result] = *t;
  return success();
}

// Operands' tangents are materialized before the ops that use them, in a
// fixed order (C++ leaves the order of argument evaluation open, and the IR
// must not depend on the host compiler).
FailureOr<Value> Differentiator::tangentOf(OpBuilder &builder, Operation &op) {
  Location loc = op.getLoc();
  Value result = op.getResult(0);
  auto t = [&](Value v) { return tangentOrZero(builder, loc, v); };
  auto mul = [&](Value a, Value b) -> Value { return builder.create<arith::MulFOp>(loc, a, b); };
  auto div = [&](Value a, Value b) -> Value { return builder.create<arith::DivFOp>(loc, a, b); };
  auto sub = [&](Value a, Value b) -> Value { return builder.create<arith::SubFOp>(loc, a, b); };
  auto add = [&](Value a, Value b) -> Value { return builder.create<arith::AddFOp>(loc, a, b); };
  auto neg = [&](Value a) -> Value { return builder.create<arith::NegFOp>(loc, a); };
  return llvm::TypeSwitch<Operation *, FailureOr<Value>>(&op)
      // An operand without a tangent is a symbolic zero: its terms are left
      // out instead of computed as x * 0, which costs every kernel that
      // evaluates the derivative and is NaN, not 0, for an infinite x.
      .Case([&](arith::AddFOp o) -> Value {
        Value ta = tangent(o.getLhs()), tb = tangent(o.getRhs());
        if (!ta || !tb)
          return ta ? ta : tb;
        return add(ta, tb);
      })
      .Case([&](arith::SubFOp o) -> Value {
        Value ta = tangent(o.getLhs()), tb = tangent(o.getRhs());
        if (!tb)
          return ta;
        return ta ? sub(ta, tb) : neg(tb);
      })
      .Case([&](arith::NegFOp o) -> Value { return neg(t(o.getOperand())); })
      .Case([&](arith::MulFOp o) -> Value {
        // (a b)' = a' b + a b'
        Value ta = tangent(o.getLhs()), tb = tangent(o.getRhs());
        Value left = ta ? mul(ta, o.getRhs()) : Value();
        Value right = tb ? mul(o.getLhs(), tb) : Value();
        if (!left || !right)
          return left ? left : right;
        return add(left, right);
      })
      .Case([&](arith::DivFOp o) -> Value {
        // (a / b)' = (a' - (a / b) b') / b
        Value ta = tangent(o.getLhs()), tb = tangent(o.getRhs());
        if (!tb)
          return div(ta, o.getRhs());
        Value scaled = mul(result, tb);
        return div(ta ? sub(ta, scaled) : neg(scaled), o.getRhs());
      })
      .Case([&](math::TanhOp o) -> Value {
        // tanh' = 1 - tanh²
        Value one = floatConstant(builder, loc, 1.0);
        Value sech2 = sub(one, mul(result, result));
        return mul(sech2, t(o.getOperand()));
      })
      .Case([&](math::ExpOp o) -> Value { return mul(result, t(o.getOperand())); })
      .Case([&](math::LogOp o) -> Value { return div(t(o.getOperand()), o.getOperand()); })
      .Case([&](math::SqrtOp o) -> Value {
        // sqrt' = 1 / (2 sqrt)
        Value ta = t(o.getOperand());
        Value two = floatConstant(builder, loc, 2.0);
        return div(ta, mul(two, result));
      })
      .Case([&](math::AbsFOp o) -> Value {
        // The derivative of the side taken; at 0, that of a >= 0.
        Value a = o.getOperand();
        Value zero = floatConstant(builder, loc, 0.0);
        Value negative =
            builder.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLT, a, zero);
        Value ta = t(a);
        return builder.create<arith::SelectOp>(loc, negative, neg(ta), ta);
      })
      .Case([&](arith::SelectOp o) -> Value {
        Value whenTrue = t(o.getTrueValue());
        Value whenFalse = t(o.getFalseValue());
        return builder.create<arith::SelectOp>(loc, o.getCondition(), whenTrue, whenFalse);
      })
      .Default([](Operation *) { return failure(); });
}

} // namespace attnc::attn
