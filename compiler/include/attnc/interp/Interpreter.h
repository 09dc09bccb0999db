//===- Interpreter.h - The reference meaning of a pattern -----------------===//
//
// A tree-walking evaluator over the checked AST. It defines what a pattern
// means and is the oracle for every other part of attnc, so it favors being
// obviously right over being fast: integers are 64-bit with floor division
// and modulo, floats are IEEE binary32 (as on the GPU, so that the compiled
// code can be exact), && || ?: short-circuit.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc/interp/Bindings.h"

#include <map>
#include <stdexcept>

namespace attnc::interp {

/// A run-time error of a pattern (division by zero, tensor index out of
/// range, bad alibi_slope arguments), located at the expression at fault.
class EvalError : public std::runtime_error {
public:
  EvalError(SourceRange range, const std::string &message)
      : std::runtime_error(message), range_(range) {}
  SourceRange range() const { return range_; }

private:
  SourceRange range_;
};

class Interpreter {
public:
  /// Checks that every scalar parameter has a value of the right type and
  /// every tensor parameter is bound with the right element type and shape.
  static llvm::Expected<Interpreter> create(const ast::Pattern &pattern, ParamValues params,
                                            const Shape &shape,
                                            std::map<std::string, HostTensor> tensors);

  /// The sizes of tensor parameter `param` for these values and shape.
  static llvm::Expected<std::vector<int64_t>> tensorShape(const ast::Pattern &pattern,
                                                          const ast::Param &param,
                                                          const ParamValues &params,
                                                          const Shape &shape);

  /// Whether query i of head h in batch b attends to key j.
  bool attends(int64_t b, int64_t h, int64_t i, int64_t j) const;
  /// The `bias` term of the pair (0 without one); not scaled.
  double bias(int64_t b, int64_t h, int64_t i, int64_t j) const;
  /// The `score` rewrite applied to `s` (the identity without one).
  double score(double s, int64_t b, int64_t h, int64_t i, int64_t j) const;
  /// The softmax scale: the `scale` statement, else 1/sqrt(D) rounded to
  /// binary32. Float results are binary32 values, widened to double.
  double scale() const;
  /// The full logit of a pair from its raw dot product q.k.
  double logit(double dot, int64_t b, int64_t h, int64_t i, int64_t j) const;

  const Shape &shape() const { return shape_; }
  const ast::Pattern &pattern() const { return *pattern_; }

private:
  struct Frame;
  struct Value {
    int64_t i = 0;
    float f = 0;
    bool b = false;
  };

  Interpreter(const ast::Pattern &pattern, const Shape &shape) : pattern_(&pattern), shape_(shape) {}

  static llvm::Expected<Interpreter> bindScalars(const ast::Pattern &pattern,
                                                 const ParamValues &params, const Shape &shape);
  llvm::Expected<std::vector<int64_t>> evalDims(const ast::Param &param) const;
  void checkPosition(int64_t b, int64_t h, int64_t i, int64_t j) const;
  Value eval(const ast::Expr &e, Frame &frame) const;
  Value evalBuiltin(const ast::Expr &e, const Frame &frame) const;
  Value evalValueRef(const ast::Expr &e, Frame &frame) const;
  Value evalTensorLoad(const ast::Expr &e, Frame &frame) const;
  Value evalBinary(const ast::Expr &e, Frame &frame) const;
  Value evalCall(const ast::Expr &e, Frame &frame) const;

  const ast::Pattern *pattern_;
  Shape shape_;
  std::vector<Value> params_;      // by Param::index
  std::vector<HostTensor> tensors_; // by Param::index
};

} // namespace attnc::interp
