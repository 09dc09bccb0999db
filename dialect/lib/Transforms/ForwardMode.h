//===- ForwardMode.h - Forward-mode differentiation of element ops -------===//
//
// Shared by attn-score-derivative (d score / d %score) and attn-tensor-grad
// (d logit / d element of a float tensor): both differentiate straight-line
// element ops with respect to one value, seeded with tangent 1.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "mlir/IR/Builders.h"

#include "llvm/ADT/DenseMap.h"

#include <string>

namespace attnc::attn {

/// Adds, after each op whose operands carry a tangent (a derivative with
/// respect to the seed), the ops of its own tangent.
class Differentiator {
public:
  /// `seed` is the variable, `wrt` what diagnostics call it ("the score").
  Differentiator(mlir::Value seed, std::string wrt) : seed_(seed), wrt_(std::move(wrt)) {}

  /// Differentiates `ops`, in order, all in the block of the seed (ops before
  /// the seed pass through: no operand of theirs has a tangent). Takes the
  /// list rather than walking the block, so that several runs over the same
  /// ops never differentiate each other's tangent ops. Fails, on the op, for a
  /// float op of the seed without
  /// a rule: + - * / and negation; tanh, exp, log, sqrt, abs; select (the
  /// derivative of the branch taken, so min/max too). Integers and booleans
  /// are piecewise constant: no tangent.
  mlir::LogicalResult run(llvm::ArrayRef<mlir::Operation *> ops);

  /// The tangent of `value`: null when it does not depend on the seed.
  mlir::Value tangent(mlir::Value value) const { return tangents_.lookup(value); }
  /// The tangent of `value`, as a value (0 when it does not depend on the seed).
  mlir::Value tangentOrZero(mlir::OpBuilder &builder, mlir::Location loc, mlir::Value value);

private:
  mlir::LogicalResult differentiate(mlir::Operation &op);
  mlir::FailureOr<mlir::Value> tangentOf(mlir::OpBuilder &builder, mlir::Operation &op);

  mlir::Value seed_;
  std::string wrt_;
  llvm::DenseMap<mlir::Value, mlir::Value> tangents_;
};

/// An f32 constant.
mlir::Value floatConstant(mlir::OpBuilder &builder, mlir::Location loc, double value);

} // namespace attnc::attn
