//===- AST.cpp - Names of AST enums ---------------------------------------===//
#include "attnc/frontend/AST.h"

namespace attnc::ast {

const char *toString(Type type) {
  switch (type) {
  case Type::Error: return "<error>";
  case Type::Int: return "int";
  case Type::Float: return "float";
  case Type::Bool: return "bool";
  }
  return "?";
}

const char *toString(ElemType type) {
  switch (type) {
  case ElemType::I32: return "i32";
  case ElemType::I64: return "i64";
  case ElemType::F32: return "f32";
  }
  return "?";
}

Type valueType(ElemType type) {
  return type == ElemType::F32 ? Type::Float : Type::Int;
}

const char *spelling(Builtin builtin) {
  switch (builtin) {
  case Builtin::I: return "i";
  case Builtin::J: return "j";
  case Builtin::Head: return "h";
  case Builtin::Batch: return "b";
  case Builtin::NumHeads: return "H";
  case Builtin::SeqQ: return "Nq";
  case Builtin::SeqK: return "Nk";
  case Builtin::HeadDim: return "D";
  case Builtin::Score: return "score";
  }
  return "?";
}

const char *spelling(UnaryOp op) { return op == UnaryOp::Neg ? "-" : "!"; }

const char *spelling(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add: return "+";
  case BinaryOp::Sub: return "-";
  case BinaryOp::Mul: return "*";
  case BinaryOp::Div: return "/";
  case BinaryOp::Mod: return "%";
  case BinaryOp::Eq: return "==";
  case BinaryOp::Ne: return "!=";
  case BinaryOp::Lt: return "<";
  case BinaryOp::Le: return "<=";
  case BinaryOp::Gt: return ">";
  case BinaryOp::Ge: return ">=";
  case BinaryOp::And: return "&&";
  case BinaryOp::Or: return "||";
  }
  return "?";
}

bool isComparison(BinaryOp op) {
  return op >= BinaryOp::Eq && op <= BinaryOp::Ge;
}

bool isLogical(BinaryOp op) { return op == BinaryOp::And || op == BinaryOp::Or; }

const char *spelling(Callee callee) {
  switch (callee) {
  case Callee::Min: return "min";
  case Callee::Max: return "max";
  case Callee::Abs: return "abs";
  case Callee::Exp: return "exp";
  case Callee::Log: return "log";
  case Callee::Tanh: return "tanh";
  case Callee::Sqrt: return "sqrt";
  case Callee::ToFloat: return "float";
  case Callee::ToInt: return "int";
  case Callee::AlibiSlope: return "alibi_slope";
  }
  return "?";
}

const char *toString(ParamKind kind) {
  switch (kind) {
  case ParamKind::Int: return "int";
  case ParamKind::Float: return "float";
  case ParamKind::Bool: return "bool";
  case ParamKind::Tensor: return "tensor";
  }
  return "?";
}

const char *keyword(StmtKind kind) {
  switch (kind) {
  case StmtKind::Causal: return "causal";
  case StmtKind::Let: return "let";
  case StmtKind::Set: return "set";
  case StmtKind::Attend: return "attend";
  case StmtKind::Heads: return "heads";
  case StmtKind::Bias: return "bias";
  case StmtKind::Score: return "score";
  case StmtKind::Scale: return "scale";
  }
  return "?";
}

const Param *Pattern::findParam(std::string_view name) const {
  for (const auto &param : params)
    if (param->name == name)
      return param.get();
  return nullptr;
}

const Pattern *File::findPattern(std::string_view name) const {
  for (const auto &pattern : patterns)
    if (pattern->name == name)
      return pattern.get();
  return nullptr;
}

} // namespace attnc::ast
