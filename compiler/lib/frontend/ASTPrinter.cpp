//===- ASTPrinter.cpp -----------------------------------------------------===//
#include "attnc/frontend/ASTPrinter.h"

#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

namespace attnc {
namespace {

using namespace ast;

class Printer {
public:
  Printer(const SourceFile &source, const std::map<std::string, Literal> &bound,
          llvm::raw_ostream &os)
      : source_(source), bound_(bound), os_(os) {}

  void print(const Pattern &pattern) {
    os_ << "pattern " << pattern.name << ' ' << where(pattern.nameRange) << '\n';
    for (const auto &param : pattern.params)
      printParam(*param);
    for (const auto &stmt : pattern.stmts)
      printStmt(*stmt);
  }

private:
  std::string where(SourceRange range) const {
    auto [line, column] = source_.lineAndColumn(range.begin);
    return fmt::format("<{}:{}>", line, column);
  }

  void indent(unsigned depth) { os_.indent(2 * depth); }

  void printParam(const Param &param) {
    indent(1);
    os_ << "param " << param.name << " : " << toString(param.kind);
    if (param.kind == ParamKind::Tensor)
      os_ << '<' << toString(param.elemType) << ">[" << param.dims.size() << " dims]";
    if (auto it = bound_.find(param.name); it != bound_.end())
      os_ << " = " << formatLiteral(it->second) << " (bound)";
    else if (param.defaultValue)
      os_ << " = " << formatLiteral(*param.defaultValue);
    os_ << ' ' << where(param.nameRange) << '\n';
    for (const auto &dim : param.dims)
      printExpr(*dim, 2);
  }

  void printStmt(const Stmt &stmt) {
    indent(1);
    os_ << keyword(stmt.kind);
    if (!stmt.name.empty())
      os_ << ' ' << stmt.name;
    if (stmt.value)
      os_ << " : " << toString(stmt.value->type);
    for (size_t k = 0; k < stmt.heads.size(); ++k)
      os_ << (k == 0 ? " [" : ", ") << stmt.heads[k].name;
    if (!stmt.heads.empty())
      os_ << ']';
    os_ << ' ' << where(stmt.range) << '\n';
    if (stmt.value)
      printExpr(*stmt.value, 2);
  }

  void printExpr(const Expr &e, unsigned depth) {
    indent(depth);
    switch (e.kind) {
    case ExprKind::IntLit: os_ << "int " << e.intValue; break;
    case ExprKind::FloatLit: {
      Literal literal;
      literal.type = Type::Float;
      literal.floatValue = e.floatValue;
      os_ << "float " << formatLiteral(literal);
      break;
    }
    case ExprKind::BoolLit: os_ << "bool " << (e.boolValue ? "true" : "false"); break;
    case ExprKind::BuiltinRef: os_ << "builtin " << spelling(e.builtin); break;
    case ExprKind::ParamRef: os_ << "param " << e.name; break;
    case ExprKind::ValueRef:
      os_ << (e.value ? keyword(e.value->kind) : "name") << "-ref " << e.name;
      break;
    case ExprKind::TensorLoad: os_ << "load " << e.name; break;
    case ExprKind::Unary: os_ << "unary '" << spelling(e.unaryOp) << "'"; break;
    case ExprKind::Binary: os_ << "binary '" << spelling(e.binaryOp) << "'"; break;
    case ExprKind::Select: os_ << "select"; break;
    case ExprKind::Call: os_ << "call " << spelling(e.callee); break;
    case ExprKind::Convert: os_ << "convert"; break;
    case ExprKind::Error: os_ << "error"; break;
    }
    os_ << " : " << toString(e.type) << ' ' << where(e.range) << '\n';
    for (const auto &operand : e.operands)
      printExpr(*operand, depth + 1);
  }

  const SourceFile &source_;
  const std::map<std::string, Literal> &bound_;
  llvm::raw_ostream &os_;
};

} // namespace

std::string formatLiteral(const Literal &literal) {
  switch (literal.type) {
  case Type::Int: return std::to_string(literal.intValue);
  case Type::Float: {
    std::string text = fmt::format("{}", literal.floatValue);
    bool looksInt = text.find_first_of(".eEn") == std::string::npos;
    return looksInt ? text + ".0" : text;
  }
  case Type::Bool: return literal.boolValue ? "true" : "false";
  case Type::Error: break;
  }
  return "<error>";
}

void printAST(const Pattern &pattern, const SourceFile &source,
              const std::map<std::string, Literal> &bound, llvm::raw_ostream &os) {
  Printer(source, bound, os).print(pattern);
}

} // namespace attnc
