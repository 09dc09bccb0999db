//===- Sema.cpp -----------------------------------------------------------===//
#include "attnc/frontend/Sema.h"
#include "attnc/frontend/Parser.h"

#include <map>
#include <set>

namespace attnc {
namespace {

using namespace ast;

/// Names a user may not declare: predefined names, functions and keywords.
bool isReserved(std::string_view name) {
  static const std::set<std::string_view> reserved = {
      "i", "j", "h", "b", "H", "Nq", "Nk", "D", "score",
      "min", "max", "abs", "exp", "log", "tanh", "sqrt", "float", "int", "alibi_slope",
      "pattern", "causal", "let", "set", "attend", "heads", "bias", "scale",
      "bool", "tensor", "true", "false"};
  return reserved.count(name) != 0;
}

/// What a reserved name stands for, to make the error self-explanatory.
std::string reservedMeaning(std::string_view name) {
  static const std::map<std::string_view, const char *> meanings = {
      {"i", "the query position"}, {"j", "the key position"}, {"h", "the head index"},
      {"b", "the batch index"},    {"H", "the number of heads"}, {"Nq", "the query length"},
      {"Nk", "the key length"},    {"D", "the head dimension"},
      {"score", "the incoming score"}};
  auto it = meanings.find(name);
  if (it != meanings.end())
    return std::string(" (") + it->second + ")";
  return "";
}

/// "an int", "a float", "a bool", "a tensor".
std::string withArticle(const char *noun) {
  return std::string(noun[0] == 'i' ? "an " : "a ") + noun;
}

bool isNumeric(Type type) { return type == Type::Int || type == Type::Float; }

const char *describeValue(const Stmt &stmt) {
  return stmt.kind == StmtKind::Set ? "set" : "let";
}

/// Where an expression appears decides which names it may use.
enum class Context {
  TensorDim, // sizes of a tensor parameter: int params, H, Nq, Nk, D
  Statement, // any statement but `score`
  Score,     // `score = ...`: may also use `score`
};

class PatternChecker {
public:
  PatternChecker(Pattern &pattern, DiagnosticEngine &diags)
      : pattern_(pattern), diags_(diags) {}

  void run() {
    checkParams();
    for (auto &stmt : pattern_.stmts) {
      if (diags_.shouldStop())
        return;
      checkStatement(*stmt);
    }
    warnUnusedValues();
  }

private:
  // ---- parameters ----------------------------------------------------------
  void checkParams() {
    std::map<std::string, const Param *> seen;
    for (auto &param : pattern_.params) {
      if (isReserved(param->name)) {
        diags_.error(param->nameRange, "'" + param->name +
                                           "' is a reserved name" + reservedMeaning(param->name) +
                                           " and cannot name a parameter");
      } else if (auto [it, inserted] = seen.emplace(param->name, param.get()); !inserted) {
        diags_.error(param->nameRange, "duplicate parameter '" + param->name + "'");
        diags_.note(it->second->nameRange, "previous declaration is here");
      }
      checkDefault(*param);
      for (auto &dim : param->dims) {
        Type type = check(dim, Context::TensorDim);
        if (type != Type::Int && type != Type::Error)
          diags_.error(dim->range, std::string("a tensor dimension must be an int, found ") +
                                       toString(type));
      }
    }
  }

  void checkDefault(Param &param) {
    if (!param.defaultValue)
      return;
    Literal &value = *param.defaultValue;
    bool ok = (param.kind == ParamKind::Int && value.type == Type::Int) ||
              (param.kind == ParamKind::Float && isNumeric(value.type)) ||
              (param.kind == ParamKind::Bool && value.type == Type::Bool);
    if (!ok) {
      diags_.error(param.defaultRange, std::string("default value of ") + toString(param.kind) +
                                           " parameter '" + param.name + "' is " +
                                           withArticle(toString(value.type)));
      return;
    }
    if (param.kind == ParamKind::Float && value.type == Type::Int) {
      value.floatValue = static_cast<double>(value.intValue);
      value.type = Type::Float;
    }
  }

  // ---- statements ----------------------------------------------------------
  void checkStatement(Stmt &stmt) {
    switch (stmt.kind) {
    case StmtKind::Causal:
      claimUnique(pattern_.causal, stmt);
      return;
    case StmtKind::Let:
    case StmtKind::Set:
      checkValueDecl(stmt);
      return;
    case StmtKind::Attend:
      if (claimUnique(pattern_.attend, stmt))
        checkExclusive(pattern_.heads, stmt);
      requireType(stmt, Type::Bool, check(stmt.value, Context::Statement));
      return;
    case StmtKind::Heads:
      if (claimUnique(pattern_.heads, stmt))
        checkExclusive(pattern_.attend, stmt);
      checkHeadList(stmt);
      return;
    case StmtKind::Bias:
      claimUnique(pattern_.bias, stmt);
      checkNumericToFloat(stmt, Context::Statement);
      return;
    case StmtKind::Score:
      claimUnique(pattern_.score, stmt);
      checkNumericToFloat(stmt, Context::Score);
      return;
    case StmtKind::Scale:
      claimUnique(pattern_.scale, stmt);
      checkNumericToFloat(stmt, Context::Statement);
      checkScaleIsConstant(stmt);
      return;
    }
  }

  /// Records the one statement of a kind; reports a second one.
  bool claimUnique(const Stmt *&slot, const Stmt &stmt) {
    if (slot) {
      diags_.error(stmt.range, std::string("duplicate '") + keyword(stmt.kind) +
                                   "' statement");
      diags_.note(slot->range, "previous one is here");
      return false;
    }
    slot = &stmt;
    return true;
  }

  void checkExclusive(const Stmt *other, const Stmt &stmt) {
    if (!other)
      return;
    diags_.error(stmt.range, "a pattern cannot have both 'attend' and 'heads': 'heads' "
                             "already gives each head its set");
    diags_.note(other->range, std::string("'") + keyword(other->kind) + "' is here");
  }

  void checkValueDecl(Stmt &stmt) {
    if (stmt.broken) {
      // Already reported; uses of an <error> value report nothing more.
      stmt.value->type = Type::Error;
      used_.insert(stmt.name);
    } else {
      Type type = check(stmt.value, Context::Statement);
      if (stmt.kind == StmtKind::Set && type != Type::Bool && type != Type::Error) {
        requireType(stmt, Type::Bool, type);
        stmt.value->type = Type::Error; // reported; its uses report nothing more
      }
    }
    if (isReserved(stmt.name)) {
      diags_.error(stmt.nameRange, "'" + stmt.name + "' is a reserved name" +
                                       reservedMeaning(stmt.name) + " and cannot be "
                                                     "declared with '" + keyword(stmt.kind) + "'");
      return;
    }
    if (const Param *param = pattern_.findParam(stmt.name)) {
      diags_.error(stmt.nameRange, "'" + stmt.name + "' is already declared as a parameter");
      diags_.note(param->nameRange, "parameter declared here");
      return;
    }
    if (auto it = values_.find(stmt.name); it != values_.end()) {
      diags_.error(stmt.nameRange, "redefinition of '" + stmt.name + "'");
      diags_.note(it->second->nameRange, "previous definition is here");
      return;
    }
    stmt.index = pattern_.numValues++;
    values_.emplace(stmt.name, &stmt);
  }

  void requireType(const Stmt &stmt, Type expected, Type actual) {
    if (actual == expected || actual == Type::Error)
      return;
    std::string what = stmt.kind == StmtKind::Set ? "set '" + stmt.name + "'"
                                                  : std::string("'") + keyword(stmt.kind) + "'";
    diags_.error(stmt.value->range, "the value of " + what + " must be a " +
                                        toString(expected) + " expression, found " +
                                        toString(actual));
  }

  void checkNumericToFloat(Stmt &stmt, Context context) {
    Type type = check(stmt.value, context);
    if (type == Type::Error)
      return;
    if (!isNumeric(type)) {
      diags_.error(stmt.value->range, std::string("the value of '") + keyword(stmt.kind) +
                                          "' must be numeric, found " + toString(type));
      return;
    }
    toFloat(stmt.value);
  }

  void checkScaleIsConstant(const Stmt &stmt) {
    static const std::pair<unsigned, const char *> varying[] = {
        {DependsOnQuery, "the query position 'i'"}, {DependsOnKey, "the key position 'j'"},
        {DependsOnHead, "the head 'h'"},           {DependsOnBatch, "the batch index 'b'"},
        {DependsOnTensor, "a tensor parameter"}};
    for (const auto &[bit, what] : varying) {
      if (stmt.value->deps & bit) {
        diags_.error(stmt.value->range, std::string("'scale' must not depend on ") + what +
                                            ": it is one number for the whole pattern "
                                            "(use 'bias' or 'score' for per-pair terms)");
        return;
      }
    }
  }

  void checkHeadList(Stmt &stmt) {
    for (HeadEntry &entry : stmt.heads) {
      auto it = values_.find(entry.name);
      if (it != values_.end() && it->second->kind == StmtKind::Set) {
        entry.set = it->second;
        used_.insert(entry.name);
        continue;
      }
      if (it != values_.end()) {
        used_.insert(entry.name);
        diags_.error(entry.range, "'" + entry.name + "' is a 'let', not a 'set'; 'heads' "
                                                     "lists sets");
        diags_.note(it->second->nameRange, "'" + entry.name + "' is defined here");
      } else if (pattern_.findParam(entry.name)) {
        diags_.error(entry.range, "'" + entry.name + "' is a parameter, not a set");
      } else {
        reportUnknownName(entry.name, entry.range, /*setsOnly=*/true);
      }
    }
  }

  void warnUnusedValues() {
    for (const auto &stmt : pattern_.stmts)
      if ((stmt->kind == StmtKind::Let || stmt->kind == StmtKind::Set) &&
          values_.count(stmt->name) && values_.at(stmt->name) == stmt.get() &&
          !used_.count(stmt->name) && stmt->value->type != Type::Error)
        diags_.warning(stmt->nameRange, std::string(describeValue(*stmt)) + " '" +
                                            stmt->name + "' is never used");
  }

  // ---- expressions ---------------------------------------------------------
  Type check(ExprPtr &expr, Context context) {
    Type type = checkNode(expr, context);
    Expr &e = *expr;
    // Conversions inserted below this node count toward its depth.
    for (const auto &operand : e.operands) {
      e.depth = std::max(e.depth, operand->depth + 1);
      e.expandedDepth = std::max(e.expandedDepth, operand->expandedDepth + 1);
    }
    if (type != Type::Error && e.expandedDepth > kMaxExpandedDepth) {
      diags_.error(e.range, "expression is nested too deeply once 'let' and 'set' "
                            "definitions are expanded (the limit is " +
                                std::to_string(kMaxExpandedDepth) + " levels)");
      type = Type::Error;
    }
    e.type = type;
    return type;
  }

  /// Operands first, then the node; fills deps and expandedDepth.
  Type checkNode(ExprPtr &expr, Context context) {
    Expr &e = *expr;
    for (auto &operand : e.operands) {
      check(operand, context);
      e.deps |= operand->deps;
      e.expandedDepth = std::max(e.expandedDepth, operand->expandedDepth + 1);
    }
    for (auto &operand : e.operands)
      if (operand->type == Type::Error)
        return Type::Error;
    switch (e.kind) {
    case ExprKind::IntLit: return Type::Int;
    case ExprKind::FloatLit: return Type::Float;
    case ExprKind::BoolLit: return Type::Bool;
    case ExprKind::BuiltinRef: return checkBuiltin(e, context);
    case ExprKind::ValueRef: return checkName(e, context);
    case ExprKind::ParamRef: return e.type;
    case ExprKind::TensorLoad: return checkTensorLoad(e, context);
    case ExprKind::Unary: return checkUnary(e);
    case ExprKind::Binary: return checkBinary(e);
    case ExprKind::Select: return checkSelect(e);
    case ExprKind::Call: return checkCall(e);
    case ExprKind::Convert: return e.type;
    case ExprKind::Error: return Type::Error;
    }
    return Type::Error;
  }

  Type checkBuiltin(Expr &e, Context context) {
    switch (e.builtin) {
    case Builtin::I: e.deps |= DependsOnQuery; break;
    case Builtin::J: e.deps |= DependsOnKey; break;
    case Builtin::Head: e.deps |= DependsOnHead; break;
    case Builtin::Batch: e.deps |= DependsOnBatch; break;
    case Builtin::Score: e.deps |= DependsOnScore; break;
    default: e.deps |= DependsOnShape; return Type::Int;
    }
    if (context == Context::TensorDim) {
      diags_.error(e.range, "'" + e.name + "' cannot be used in a tensor dimension; "
                                           "dimensions may use int parameters, H, Nq, Nk and D");
      return Type::Error;
    }
    if (e.builtin == Builtin::Score) {
      if (context != Context::Score) {
        diags_.error(e.range, "'score' can only be used in a 'score' statement");
        return Type::Error;
      }
      return Type::Float;
    }
    return Type::Int;
  }

  Type checkName(Expr &e, Context context) {
    if (const Param *param = pattern_.findParam(e.name)) {
      if (param->kind == ParamKind::Tensor) {
        diags_.error(e.range, "tensor parameter '" + e.name + "' must be indexed, as in '" +
                                  e.name + "[i]'");
        return Type::Error;
      }
      if (context == Context::TensorDim && param->kind != ParamKind::Int) {
        diags_.error(e.range, std::string("tensor dimensions may only use int parameters; '") +
                                  e.name + "' is " + withArticle(toString(param->kind)));
        return Type::Error;
      }
      e.kind = ExprKind::ParamRef;
      e.param = param;
      return param->kind == ParamKind::Int ? Type::Int
             : param->kind == ParamKind::Float ? Type::Float
                                               : Type::Bool;
    }
    if (context == Context::TensorDim) {
      diags_.error(e.range, "unknown name '" + e.name + "' in a tensor dimension; dimensions "
                            "may use int parameters, H, Nq, Nk and D");
      return Type::Error;
    }
    auto it = values_.find(e.name);
    if (it == values_.end()) {
      reportUnknownName(e.name, e.range, /*setsOnly=*/false);
      return Type::Error;
    }
    const Stmt &decl = *it->second;
    used_.insert(e.name);
    e.value = &decl;
    e.deps = decl.value->deps;
    e.expandedDepth = decl.value->expandedDepth + 1;
    return decl.value->type;
  }

  void reportUnknownName(const std::string &name, SourceRange range, bool setsOnly) {
    // Past the error limit nothing is printed: skip the search for a hint,
    // which costs time in proportion to the declarations.
    if (diags_.shouldStop())
      return;
    for (const auto &stmt : pattern_.stmts) {
      // Only a definition further down explains the miss; one above failed
      // to declare and was already reported.
      if ((stmt->kind == StmtKind::Let || stmt->kind == StmtKind::Set) &&
          stmt->name == name && stmt->nameRange.begin > range.begin) {
        diags_.error(range, "'" + name + "' is used before its definition");
        used_.insert(name);
        diags_.note(stmt->nameRange, "'" + name + "' is defined here");
        return;
      }
    }
    std::vector<std::string> candidates;
    for (const auto &[valueName, stmt] : values_)
      if (!setsOnly || stmt->kind == StmtKind::Set)
        candidates.push_back(valueName);
    if (!setsOnly)
      for (const auto &param : pattern_.params)
        candidates.push_back(param->name);
    std::string hint = closestMatch(name, candidates);
    std::string what = setsOnly ? "undeclared set '" : "use of undeclared name '";
    diags_.error(range, what + name + "'" +
                            (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
  }

  Type checkTensorLoad(Expr &e, Context context) {
    const Param *param = pattern_.findParam(e.name);
    if (!param) {
      auto value = values_.find(e.name);
      if (value != values_.end()) {
        used_.insert(e.name);
        diags_.error(e.nameRange, "'" + e.name + "' is a '" + keyword(value->second->kind) +
                                      "', not a tensor, and cannot be indexed");
      }
      else if (isReserved(e.name))
        diags_.error(e.nameRange, "'" + e.name + "'" + reservedMeaning(e.name) +
                                      " is not a tensor and cannot be indexed");
      else
        reportUnknownName(e.name, e.nameRange, /*setsOnly=*/false);
      return Type::Error;
    }
    if (param->kind != ParamKind::Tensor) {
      diags_.error(e.nameRange, "'" + e.name + "' is " + withArticle(toString(param->kind)) +
                                    " parameter, not a tensor, and cannot be indexed");
      return Type::Error;
    }
    if (context == Context::TensorDim) {
      diags_.error(e.range, "tensor dimensions cannot read tensors");
      return Type::Error;
    }
    if (e.operands.size() != param->dims.size()) {
      diags_.error(e.range, "tensor '" + e.name + "' has " +
                                std::to_string(param->dims.size()) + " dimension" +
                                (param->dims.size() == 1 ? "" : "s") + " but is indexed with " +
                                std::to_string(e.operands.size()) +
                                (e.operands.size() == 1 ? " index" : " indices"));
      return Type::Error;
    }
    for (auto &index : e.operands) {
      if (index->type != Type::Int) {
        diags_.error(index->range, std::string("a tensor index must be an int, found ") +
                                       toString(index->type));
        return Type::Error;
      }
    }
    e.param = param;
    e.deps |= DependsOnTensor;
    return valueType(param->elemType);
  }

  Type checkUnary(Expr &e) {
    Type operand = e.operands[0]->type;
    if (e.unaryOp == UnaryOp::Neg) {
      if (isNumeric(operand))
        return operand;
      diags_.error(e.range, std::string("cannot negate a ") + toString(operand) +
                                (operand == Type::Bool ? "; did you mean '!'?" : ""));
      return Type::Error;
    }
    if (operand == Type::Bool)
      return Type::Bool;
    diags_.error(e.range, std::string("operator '!' needs a bool operand, found ") +
                              toString(operand));
    return Type::Error;
  }

  Type checkBinary(Expr &e) {
    Type lhs = e.operands[0]->type, rhs = e.operands[1]->type;
    BinaryOp op = e.binaryOp;
    auto mismatch = [&](const char *needs) {
      diags_.error(e.nameRange, std::string("operator '") + spelling(op) + "' " + needs +
                                    ", found " + toString(lhs) + " and " + toString(rhs));
      return Type::Error;
    };
    if (isLogical(op)) {
      if (lhs == Type::Bool && rhs == Type::Bool)
        return Type::Bool;
      return mismatch("needs bool operands");
    }
    if (isComparison(op)) {
      bool equality = op == BinaryOp::Eq || op == BinaryOp::Ne;
      if (equality && lhs == Type::Bool && rhs == Type::Bool)
        return Type::Bool;
      if (!isNumeric(lhs) || !isNumeric(rhs))
        return mismatch(equality ? "needs two numbers or two bools" : "needs numeric operands");
      promoteOperands(e);
      return Type::Bool;
    }
    if (!isNumeric(lhs) || !isNumeric(rhs))
      return mismatch("needs numeric operands");
    if (op == BinaryOp::Mod && (lhs != Type::Int || rhs != Type::Int))
      return mismatch("needs int operands");
    return promoteOperands(e);
  }

  Type checkSelect(Expr &e) {
    if (e.operands[0]->type != Type::Bool) {
      diags_.error(e.operands[0]->range,
                   std::string("the condition of '?:' must be a bool, found ") +
                       toString(e.operands[0]->type));
      return Type::Error;
    }
    Type a = e.operands[1]->type, b = e.operands[2]->type;
    if (a == b)
      return a;
    if (isNumeric(a) && isNumeric(b)) {
      toFloat(e.operands[1]);
      toFloat(e.operands[2]);
      return Type::Float;
    }
    diags_.error(e.range, std::string("the branches of '?:' have incompatible types ") +
                              toString(a) + " and " + toString(b));
    return Type::Error;
  }

  Type checkCall(Expr &e) {
    unsigned arity = e.callee == Callee::Min || e.callee == Callee::Max ||
                             e.callee == Callee::AlibiSlope
                         ? 2
                         : 1;
    if (e.operands.size() != arity) {
      diags_.error(e.range, "'" + e.name + "' takes " + std::to_string(arity) + " argument" +
                                (arity == 1 ? "" : "s") + ", but " +
                                std::to_string(e.operands.size()) +
                                (e.operands.size() == 1 ? " was given" : " were given"));
      return Type::Error;
    }
    for (auto &arg : e.operands) {
      bool converts = e.callee == Callee::ToFloat || e.callee == Callee::ToInt;
      if (!isNumeric(arg->type) && !(converts && arg->type == Type::Bool)) {
        diags_.error(arg->range, "argument of '" + e.name + "' must be numeric, found " +
                                     toString(arg->type));
        return Type::Error;
      }
    }
    switch (e.callee) {
    case Callee::Min:
    case Callee::Max:
      return promoteOperands(e);
    case Callee::Abs:
      return e.operands[0]->type;
    case Callee::Exp:
    case Callee::Log:
    case Callee::Tanh:
    case Callee::Sqrt:
      toFloat(e.operands[0]);
      return Type::Float;
    case Callee::ToFloat:
      return Type::Float;
    case Callee::ToInt:
      return Type::Int;
    case Callee::AlibiSlope:
      for (auto &arg : e.operands) {
        if (arg->type != Type::Int) {
          diags_.error(arg->range, "arguments of 'alibi_slope' are ints (a head and a head "
                                   "count), found " + std::string(toString(arg->type)));
          return Type::Error;
        }
      }
      return Type::Float;
    }
    return Type::Error;
  }

  /// Both operands become float if either is; returns the common type.
  Type promoteOperands(Expr &e) {
    bool anyFloat = false;
    for (auto &operand : e.operands)
      anyFloat |= operand->type == Type::Float;
    if (!anyFloat)
      return Type::Int;
    for (auto &operand : e.operands)
      toFloat(operand);
    return Type::Float;
  }

  static void toFloat(ExprPtr &expr) {
    if (expr->type != Type::Int)
      return;
    auto convert = std::make_unique<Expr>(ExprKind::Convert, expr->range);
    convert->type = Type::Float;
    convert->deps = expr->deps;
    convert->depth = expr->depth + 1;
    convert->expandedDepth = expr->expandedDepth + 1;
    convert->operands.push_back(std::move(expr));
    expr = std::move(convert);
  }

  Pattern &pattern_;
  DiagnosticEngine &diags_;
  std::map<std::string, const Stmt *> values_; // let/set declared so far
  std::set<std::string> used_;
};

} // namespace

bool analyze(ast::File &file, DiagnosticEngine &diags) {
  unsigned errorsBefore = diags.errorCount();
  std::map<std::string, const ast::Pattern *> names;
  for (auto &pattern : file.patterns) {
    if (diags.shouldStop())
      break;
    if (auto [it, inserted] = names.emplace(pattern->name, pattern.get()); !inserted) {
      diags.error(pattern->nameRange, "redefinition of pattern '" + pattern->name + "'");
      diags.note(it->second->nameRange, "previous definition is here");
    }
    PatternChecker(*pattern, diags).run();
  }
  return diags.errorCount() == errorsBefore && !diags.shouldStop();
}

} // namespace attnc
