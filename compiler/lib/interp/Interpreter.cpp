//===- Interpreter.cpp ----------------------------------------------------===//
#include "attnc/interp/Interpreter.h"
#include "attnc/Dialect/Attn/AlibiSlope.h"
#include "attnc/Dialect/Attn/IntegerMath.h"
#include "attnc/frontend/ASTPrinter.h"

#include <cmath>
#include <optional>

namespace attnc::interp {

using namespace ast;
using attn::floorDiv;
using attn::floorMod;
using attn::wrapAdd;
using attn::wrapMul;
using attn::wrapNeg;
using attn::wrapSub;

namespace {

llvm::Error error(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s", message.c_str());
}

std::string formatShape(const std::vector<int64_t> &dims) {
  std::string text = "[";
  for (size_t k = 0; k < dims.size(); ++k)
    text += (k ? ", " : "") + std::to_string(dims[k]);
  return text + "]";
}

} // namespace

/// The indices of one evaluation, and the let/set values computed so far
/// (each is computed at most once per evaluation).
struct Interpreter::Frame {
  int64_t b = 0, h = 0, i = 0, j = 0;
  float score = 0;
  std::vector<std::optional<Value>> values;
};

llvm::Expected<Interpreter> Interpreter::bindScalars(const Pattern &pattern,
                                                     const ParamValues &params,
                                                     const Shape &shape) {
  if (shape.numHeads < 1 || shape.seqQ < 0 || shape.seqK < 0 || shape.headDim < 1)
    return error("invalid shape: H, D must be >= 1 and Nq, Nk >= 0");
  Interpreter interp(pattern, shape);
  interp.params_.resize(pattern.params.size());
  for (const auto &param : pattern.params) {
    if (param->kind == ParamKind::Tensor)
      continue;
    auto it = params.find(param->name);
    if (it == params.end())
      return error("parameter '" + param->name + "' of pattern '" + pattern.name +
                   "' has no value");
    const Literal &literal = it->second;
    Value &value = interp.params_[param->index];
    switch (param->kind) {
    case ParamKind::Int:
      if (literal.type != Type::Int)
        return error("parameter '" + param->name + "' is an int, got " +
                     formatLiteral(literal));
      value.i = literal.intValue;
      break;
    case ParamKind::Float:
      if (literal.type != Type::Float && literal.type != Type::Int)
        return error("parameter '" + param->name + "' is a float, got " +
                     formatLiteral(literal));
      value.f = literal.type == Type::Int ? static_cast<float>(literal.intValue)
                                          : static_cast<float>(literal.floatValue);
      break;
    case ParamKind::Bool:
      if (literal.type != Type::Bool)
        return error("parameter '" + param->name + "' is a bool, got " +
                     formatLiteral(literal));
      value.b = literal.boolValue;
      break;
    case ParamKind::Tensor:
      break;
    }
  }
  for (const auto &[name, literal] : params)
    if (!pattern.findParam(name))
      return error("pattern '" + pattern.name + "' has no parameter '" + name + "'");
  return interp;
}

llvm::Expected<std::vector<int64_t>> Interpreter::evalDims(const Param &param) const {
  std::vector<int64_t> dims;
  Frame frame;
  for (const auto &dim : param.dims) {
    int64_t size = 0;
    try {
      size = eval(*dim, frame).i;
    } catch (const EvalError &e) {
      return error("cannot size tensor '" + param.name + "': " + e.what());
    }
    if (size < 0)
      return error("tensor '" + param.name + "' would have a negative dimension (" +
                   std::to_string(size) + ")");
    dims.push_back(size);
  }
  return dims;
}

llvm::Expected<std::vector<int64_t>> Interpreter::tensorShape(const Pattern &pattern,
                                                              const Param &param,
                                                              const ParamValues &params,
                                                              const Shape &shape) {
  auto interp = bindScalars(pattern, params, shape);
  if (!interp)
    return interp.takeError();
  return interp->evalDims(param);
}

llvm::Expected<Interpreter> Interpreter::create(const Pattern &pattern, ParamValues params,
                                                const Shape &shape,
                                                std::map<std::string, HostTensor> tensors) {
  auto interp = bindScalars(pattern, params, shape);
  if (!interp)
    return interp.takeError();
  interp->tensors_.resize(pattern.params.size());
  for (const auto &param : pattern.params) {
    if (param->kind != ParamKind::Tensor)
      continue;
    auto it = tensors.find(param->name);
    if (it == tensors.end())
      return error("tensor parameter '" + param->name + "' of pattern '" + pattern.name +
                   "' is not bound; give it with --tensor " + param->name + "=FILE");
    auto dims = interp->evalDims(*param);
    if (!dims)
      return dims.takeError();
    const HostTensor &tensor = it->second;
    if (tensor.type != param->elemType)
      return error(std::string("tensor '") + param->name + "' must hold " +
                   toString(param->elemType) + ", got " + toString(tensor.type));
    if (tensor.shape != *dims)
      return error("tensor '" + param->name + "' must have shape " + formatShape(*dims) +
                   ", got " + formatShape(tensor.shape));
    int64_t elements = 1;
    for (int64_t d : *dims)
      elements *= d;
    if (!tensor.data && elements > 0)
      return error("tensor '" + param->name + "' has no data");
    interp->tensors_[param->index] = tensor;
  }
  for (const auto &[name, tensor] : tensors) {
    const Param *param = pattern.findParam(name);
    if (!param || param->kind != ParamKind::Tensor)
      return error("pattern '" + pattern.name + "' has no tensor parameter '" + name + "'");
  }
  return interp;
}

void Interpreter::checkPosition(int64_t b, int64_t h, int64_t i, int64_t j) const {
  if (b < 0 || h < 0 || h >= shape_.numHeads || i < 0 || i >= shape_.seqQ || j < 0 ||
      j >= shape_.seqK)
    throw EvalError({}, "position (b=" + std::to_string(b) + ", h=" + std::to_string(h) +
                            ", i=" + std::to_string(i) + ", j=" + std::to_string(j) +
                            ") is outside the shape H=" + std::to_string(shape_.numHeads) +
                            ", Nq=" + std::to_string(shape_.seqQ) +
                            ", Nk=" + std::to_string(shape_.seqK));
}

namespace {

/// Runs `evaluate`, adding the position to any EvalError it raises.
template <typename F>
auto atPosition(int64_t b, int64_t h, int64_t i, int64_t j, F evaluate) {
  try {
    return evaluate();
  } catch (const EvalError &e) {
    throw EvalError(e.range(), std::string(e.what()) + " (at b = " + std::to_string(b) +
                                   ", h = " + std::to_string(h) + ", i = " + std::to_string(i) +
                                   ", j = " + std::to_string(j) + ")");
  }
}

} // namespace

bool Interpreter::attends(int64_t b, int64_t h, int64_t i, int64_t j) const {
  checkPosition(b, h, i, j);
  if (pattern_->causal && j > i + (shape_.seqK - shape_.seqQ))
    return false;
  const Expr *set = nullptr;
  if (pattern_->heads) {
    const auto &heads = pattern_->heads->heads;
    set = heads[h % heads.size()].set->value.get();
  } else if (pattern_->attend) {
    set = pattern_->attend->value.get();
  }
  if (!set)
    return true;
  Frame frame{b, h, i, j, 0, {}};
  frame.values.resize(pattern_->numValues);
  return atPosition(b, h, i, j, [&] { return eval(*set, frame).b; });
}

double Interpreter::bias(int64_t b, int64_t h, int64_t i, int64_t j) const {
  checkPosition(b, h, i, j);
  if (!pattern_->bias)
    return 0;
  Frame frame{b, h, i, j, 0, {}};
  frame.values.resize(pattern_->numValues);
  return atPosition(b, h, i, j, [&] { return eval(*pattern_->bias->value, frame).f; });
}

double Interpreter::score(double s, int64_t b, int64_t h, int64_t i, int64_t j) const {
  checkPosition(b, h, i, j);
  if (!pattern_->score)
    return s;
  Frame frame{b, h, i, j, static_cast<float>(s), {}};
  frame.values.resize(pattern_->numValues);
  return atPosition(b, h, i, j, [&] { return eval(*pattern_->score->value, frame).f; });
}

double Interpreter::scale() const {
  if (!pattern_->scale)
    return static_cast<float>(1.0 / std::sqrt(static_cast<double>(shape_.headDim)));
  Frame frame;
  frame.values.resize(pattern_->numValues);
  return eval(*pattern_->scale->value, frame).f;
}

double Interpreter::logit(double dot, int64_t b, int64_t h, int64_t i, int64_t j) const {
  return score(scale() * dot + bias(b, h, i, j), b, h, i, j);
}

Interpreter::Value Interpreter::eval(const Expr &e, Frame &frame) const {
  Value v;
  switch (e.kind) {
  case ExprKind::IntLit: v.i = e.intValue; return v;
  case ExprKind::FloatLit: v.f = static_cast<float>(e.floatValue); return v;
  case ExprKind::BoolLit: v.b = e.boolValue; return v;
  case ExprKind::BuiltinRef: return evalBuiltin(e, frame);
  case ExprKind::ParamRef: return params_[e.param->index];
  case ExprKind::ValueRef: return evalValueRef(e, frame);
  case ExprKind::TensorLoad: return evalTensorLoad(e, frame);
  case ExprKind::Unary: {
    Value operand = eval(*e.operands[0], frame);
    if (e.unaryOp == UnaryOp::Not)
      v.b = !operand.b;
    else if (e.type == Type::Int)
      v.i = wrapNeg(operand.i);
    else
      v.f = -operand.f;
    return v;
  }
  case ExprKind::Binary: return evalBinary(e, frame);
  case ExprKind::Select:
    return eval(*e.operands[eval(*e.operands[0], frame).b ? 1 : 2], frame);
  case ExprKind::Call: return evalCall(e, frame);
  case ExprKind::Convert: v.f = static_cast<float>(eval(*e.operands[0], frame).i); return v;
  case ExprKind::Error: break;
  }
  throw EvalError(e.range, "cannot evaluate an expression that failed to check");
}

Interpreter::Value Interpreter::evalBuiltin(const Expr &e, const Frame &frame) const {
  Value v;
  switch (e.builtin) {
  case Builtin::I: v.i = frame.i; break;
  case Builtin::J: v.i = frame.j; break;
  case Builtin::Head: v.i = frame.h; break;
  case Builtin::Batch: v.i = frame.b; break;
  case Builtin::NumHeads: v.i = shape_.numHeads; break;
  case Builtin::SeqQ: v.i = shape_.seqQ; break;
  case Builtin::SeqK: v.i = shape_.seqK; break;
  case Builtin::HeadDim: v.i = shape_.headDim; break;
  case Builtin::Score: v.f = frame.score; break;
  }
  return v;
}

Interpreter::Value Interpreter::evalValueRef(const Expr &e, Frame &frame) const {
  std::optional<Value> &slot = frame.values[e.value->index];
  if (!slot)
    slot = eval(*e.value->value, frame);
  return *slot;
}

Interpreter::Value Interpreter::evalTensorLoad(const Expr &e, Frame &frame) const {
  const HostTensor &tensor = tensors_[e.param->index];
  int64_t offset = 0;
  for (size_t k = 0; k < e.operands.size(); ++k) {
    int64_t index = eval(*e.operands[k], frame).i;
    if (index < 0 || index >= tensor.shape[k])
      throw EvalError(e.operands[k]->range,
                      "index " + std::to_string(index) + " is out of range for dimension " +
                          std::to_string(k) + " of tensor '" + e.name + "' (size " +
                          std::to_string(tensor.shape[k]) + ")");
    offset = offset * tensor.shape[k] + index;
  }
  Value v;
  switch (tensor.type) {
  case ElemType::I32: v.i = static_cast<const int32_t *>(tensor.data)[offset]; break;
  case ElemType::I64: v.i = static_cast<const int64_t *>(tensor.data)[offset]; break;
  case ElemType::F32: v.f = static_cast<const float *>(tensor.data)[offset]; break;
  }
  return v;
}

Interpreter::Value Interpreter::evalBinary(const Expr &e, Frame &frame) const {
  Value v;
  if (isLogical(e.binaryOp)) {
    bool lhs = eval(*e.operands[0], frame).b;
    bool shortCircuit = e.binaryOp == BinaryOp::And ? !lhs : lhs;
    v.b = shortCircuit ? lhs : eval(*e.operands[1], frame).b;
    return v;
  }
  const Expr &lhsExpr = *e.operands[0];
  Value a = eval(lhsExpr, frame);
  Value b = eval(*e.operands[1], frame);
  Type operandType = lhsExpr.type;
  if (isComparison(e.binaryOp)) {
    auto compare = [&](auto x, auto y) {
      switch (e.binaryOp) {
      case BinaryOp::Eq: return x == y;
      case BinaryOp::Ne: return x != y;
      case BinaryOp::Lt: return x < y;
      case BinaryOp::Le: return x <= y;
      case BinaryOp::Gt: return x > y;
      default: return x >= y;
      }
    };
    v.b = operandType == Type::Int     ? compare(a.i, b.i)
          : operandType == Type::Float ? compare(a.f, b.f)
                                       : compare(a.b, b.b);
    return v;
  }
  if (operandType == Type::Float) {
    switch (e.binaryOp) {
    case BinaryOp::Add: v.f = a.f + b.f; break;
    case BinaryOp::Sub: v.f = a.f - b.f; break;
    case BinaryOp::Mul: v.f = a.f * b.f; break;
    default: v.f = a.f / b.f; break;
    }
    return v;
  }
  if ((e.binaryOp == BinaryOp::Div || e.binaryOp == BinaryOp::Mod) && b.i == 0)
    throw EvalError(e.range, std::string("integer ") +
                                 (e.binaryOp == BinaryOp::Div ? "division" : "modulo") +
                                 " by zero");
  switch (e.binaryOp) {
  case BinaryOp::Add: v.i = wrapAdd(a.i, b.i); break;
  case BinaryOp::Sub: v.i = wrapSub(a.i, b.i); break;
  case BinaryOp::Mul: v.i = wrapMul(a.i, b.i); break;
  case BinaryOp::Div: v.i = floorDiv(a.i, b.i); break;
  default: v.i = floorMod(a.i, b.i); break;
  }
  return v;
}

Interpreter::Value Interpreter::evalCall(const Expr &e, Frame &frame) const {
  Value v;
  Value a = eval(*e.operands[0], frame);
  Type argType = e.operands[0]->type;
  switch (e.callee) {
  case Callee::Min:
  case Callee::Max: {
    Value b = eval(*e.operands[1], frame);
    bool takeFirst = e.type == Type::Int ? (e.callee == Callee::Min ? a.i <= b.i : a.i >= b.i)
                                         : (e.callee == Callee::Min ? a.f <= b.f : a.f >= b.f);
    return takeFirst ? a : b;
  }
  case Callee::Abs:
    if (e.type == Type::Int)
      v.i = a.i < 0 ? wrapNeg(a.i) : a.i;
    else
      v.f = std::fabs(a.f);
    return v;
  case Callee::Exp: v.f = std::exp(a.f); return v;
  case Callee::Log: v.f = std::log(a.f); return v;
  case Callee::Tanh: v.f = std::tanh(a.f); return v;
  case Callee::Sqrt: v.f = std::sqrt(a.f); return v;
  case Callee::ToFloat:
    v.f = argType == Type::Int ? static_cast<float>(a.i) : argType == Type::Bool ? float(a.b) : a.f;
    return v;
  case Callee::ToInt:
    if (argType == Type::Float) {
      // Truncation toward zero; 2^63 is the first float out of range.
      if (!(a.f >= -9223372036854775808.0f && a.f < 9223372036854775808.0f))
        throw EvalError(e.range, "int() of a float that is NaN, infinite or out of the "
                                 "64-bit range");
      v.i = static_cast<int64_t>(a.f);
    } else {
      v.i = argType == Type::Bool ? int64_t(a.b) : a.i;
    }
    return v;
  case Callee::AlibiSlope: {
    int64_t heads = eval(*e.operands[1], frame).i;
    if (heads < 1 || heads > (int64_t(1) << 30) || a.i < 0 || a.i >= heads)
      throw EvalError(e.range, "alibi_slope(h, H) needs 1 <= H <= 2^30 and 0 <= h < H, got "
                               "h = " + std::to_string(a.i) + ", H = " + std::to_string(heads));
    v.f = static_cast<float>(attn::alibiSlopeValue(a.i, heads));
    return v;
  }
  }
  throw EvalError(e.range, "unknown function");
}

} // namespace attnc::interp
