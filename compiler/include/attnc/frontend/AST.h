//===- AST.h - Syntax tree of .pattern files ------------------------------===//
//
// The parser builds it, Sema resolves names and fills in types (inserting
// explicit int->float conversions), and the interpreter and later MLIRGen
// read it. Expressions use one node type with a kind tag: the language is
// small and every consumer walks all kinds anyway.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc/frontend/Diagnostics.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attnc::ast {

/// Types of expression values. Tensors are not values: they are only read.
enum class Type { Error, Int, Float, Bool };
const char *toString(Type type);

enum class ElemType { I32, I64, F32 };
const char *toString(ElemType type);
/// The expression type of an element read from a tensor.
Type valueType(ElemType type);

/// The predefined names.
enum class Builtin {
  I,     // query position
  J,     // key position
  Head,  // h: head index
  Batch, // b: batch index
  NumHeads, // H
  SeqQ,  // Nq
  SeqK,  // Nk
  HeadDim, // D
  Score, // the incoming score, only inside `score = ...`
};
const char *spelling(Builtin builtin);

/// What an expression's value may vary with (bit set).
enum Dependence : unsigned {
  DependsOnBatch = 1u << 0,
  DependsOnHead = 1u << 1,
  DependsOnQuery = 1u << 2,
  DependsOnKey = 1u << 3,
  DependsOnScore = 1u << 4,
  DependsOnShape = 1u << 5,  // H, Nq, Nk or D
  DependsOnTensor = 1u << 6, // reads a tensor parameter
};

enum class UnaryOp { Neg, Not };
enum class BinaryOp {
  Add, Sub, Mul, Div, Mod,
  Eq, Ne, Lt, Le, Gt, Ge,
  And, Or,
};
const char *spelling(UnaryOp op);
const char *spelling(BinaryOp op);
bool isComparison(BinaryOp op);
bool isLogical(BinaryOp op);

enum class Callee {
  Min, Max, Abs, Exp, Log, Tanh, Sqrt, ToFloat, ToInt, AlibiSlope,
};
const char *spelling(Callee callee);

struct Param;
struct Stmt;

enum class ExprKind {
  IntLit, FloatLit, BoolLit,
  BuiltinRef, // i, j, h, b, H, Nq, Nk, D, score
  ParamRef,   // an int/float/bool parameter
  ValueRef,   // a `let` or `set` declared earlier
  TensorLoad, // t[e, ...]
  Unary, Binary,
  Select,     // c ? a : b
  Call,
  Convert,    // implicit conversion inserted by Sema
  Error,      // stands in for an expression that failed to parse
};

struct Expr {
  ExprKind kind;
  SourceRange range;
  Type type = Type::Error;   // set by Sema
  unsigned deps = 0;        // Dependence bits, set by Sema
  unsigned depth = 1;       // nesting depth of this tree
  unsigned expandedDepth = 1; // depth with let/set references expanded (Sema)

  int64_t intValue = 0;
  double floatValue = 0;
  bool boolValue = false;
  Builtin builtin = Builtin::I;
  UnaryOp unaryOp = UnaryOp::Neg;
  BinaryOp binaryOp = BinaryOp::Add;
  Callee callee = Callee::Min;
  std::string name;  // identifier as written, for references and calls
  SourceRange nameRange;
  const Param *param = nullptr; // ParamRef, TensorLoad (set by Sema)
  const Stmt *value = nullptr;  // ValueRef (set by Sema)
  std::vector<std::unique_ptr<Expr>> operands;

  Expr(ExprKind kind, SourceRange range) : kind(kind), range(range) {}
};
using ExprPtr = std::unique_ptr<Expr>;

/// A literal written as a parameter default or bound with -D.
struct Literal {
  Type type = Type::Error;
  int64_t intValue = 0;
  double floatValue = 0;
  bool boolValue = false;
};

enum class ParamKind { Int, Float, Bool, Tensor };
const char *toString(ParamKind kind);

struct Param {
  unsigned index = 0; // position in the parameter list
  std::string name;
  SourceRange nameRange;
  SourceRange typeRange;
  ParamKind kind = ParamKind::Int;
  ElemType elemType = ElemType::I32;   // tensors
  std::vector<ExprPtr> dims;           // tensors: sizes, int expressions
  std::optional<Literal> defaultValue; // scalars
  SourceRange defaultRange;
};

enum class StmtKind { Causal, Let, Set, Attend, Heads, Bias, Score, Scale };
const char *keyword(StmtKind kind);

struct HeadEntry {
  std::string name;
  SourceRange range;
  const Stmt *set = nullptr; // set by Sema
};

struct Stmt {
  StmtKind kind;
  SourceRange range;         // the keyword
  std::string name;          // let / set
  SourceRange nameRange;
  ExprPtr value;             // let, set, attend, bias, score, scale
  std::vector<HeadEntry> heads;
  unsigned index = 0;        // let/set: slot among the pattern's values (Sema)
  bool broken = false;       // a syntax error cut it short; its value is not checked

  Stmt(StmtKind kind, SourceRange range) : kind(kind), range(range) {}
};

struct Pattern {
  std::string name;
  SourceRange nameRange;
  std::vector<std::unique_ptr<Param>> params;
  std::vector<std::unique_ptr<Stmt>> stmts;

  // Filled in by Sema: the statement of each kind, or null.
  const Stmt *causal = nullptr;
  const Stmt *attend = nullptr;
  const Stmt *heads = nullptr;
  const Stmt *bias = nullptr;
  const Stmt *score = nullptr;
  const Stmt *scale = nullptr;
  unsigned numValues = 0; // let + set statements

  const Param *findParam(std::string_view name) const;
};

struct File {
  std::vector<std::unique_ptr<Pattern>> patterns;
  const Pattern *findPattern(std::string_view name) const;
};

} // namespace attnc::ast
