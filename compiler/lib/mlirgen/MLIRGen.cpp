//===- MLIRGen.cpp --------------------------------------------------------===//
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/Dialect/Attn/AttnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

#include <map>

namespace attnc {
namespace {

using namespace ast;
using namespace mlir;

class Generator {
public:
  Generator(MLIRContext &context, const SourceFile &source, const interp::ParamValues &bound)
      : builder_(&context), source_(source), bound_(bound) {}

  OwningOpRef<ModuleOp> run(const File &file, const Pattern *only) {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc({0, 0}));
    builder_.setInsertionPointToEnd(module->getBody());
    for (const auto &pattern : file.patterns)
      if (!only || pattern.get() == only)
        emitPattern(*pattern);
    return module;
  }

private:
  // ---- types and locations -------------------------------------------------
  Location loc(SourceRange range) {
    auto [line, column] = source_.lineAndColumn(range.begin);
    return FileLineColLoc::get(builder_.getContext(), source_.name(), line, column);
  }
  mlir::Type typeOf(ast::Type type) {
    switch (type) {
    case ast::Type::Int: return builder_.getI64Type();
    case ast::Type::Float: return builder_.getF32Type();
    default: return builder_.getI1Type();
    }
  }
  TypedAttr literalAttr(const Literal &literal) {
    switch (literal.type) {
    case ast::Type::Int: return builder_.getI64IntegerAttr(literal.intValue);
    case ast::Type::Float: return builder_.getF32FloatAttr(static_cast<float>(literal.floatValue));
    default: return builder_.getBoolAttr(literal.boolValue);
    }
  }

  // ---- declarations --------------------------------------------------------
  void emitPattern(const Pattern &pattern) {
    auto op = builder_.create<attn::PatternOp>(loc(pattern.nameRange), pattern.name);
    OpBuilder::InsertionGuard guard(builder_);
    builder_.setInsertionPointToEnd(&op.getBodyBlock());
    for (const auto &param : pattern.params)
      emitParam(*param);
    for (const auto &stmt : pattern.stmts)
      emitStatement(*stmt);
  }

  void emitParam(const Param &param) {
    Location location = loc(param.nameRange);
    if (param.kind == ParamKind::Tensor) {
      mlir::Type element = param.elemType == ElemType::F32 ? mlir::Type(builder_.getF32Type())
                           : param.elemType == ElemType::I64
                               ? mlir::Type(builder_.getI64Type())
                               : mlir::Type(builder_.getI32Type());
      auto op = builder_.create<attn::TensorParamOp>(location, param.name, element);
      Block &block = op.getDims().emplaceBlock();
      OpBuilder::InsertionGuard guard(builder_);
      builder_.setInsertionPointToEnd(&block);
      SmallVector<Value> sizes;
      for (const auto &dim : param.dims)
        sizes.push_back(emitExpr(*dim, block));
      builder_.create<attn::YieldOp>(location, sizes);
      return;
    }
    ast::Type type = param.kind == ParamKind::Int     ? ast::Type::Int
                     : param.kind == ParamKind::Float ? ast::Type::Float
                                                      : ast::Type::Bool;
    TypedAttr value;
    if (auto it = bound_.find(param.name); it != bound_.end())
      value = literalAttr(it->second);
    else if (param.defaultValue)
      value = literalAttr(*param.defaultValue);
    builder_.create<attn::ParamOp>(location, param.name, typeOf(type), value);
  }

  void emitStatement(const Stmt &stmt) {
    Location location = loc(stmt.range);
    switch (stmt.kind) {
    case StmtKind::Causal:
      builder_.create<attn::CausalOp>(location);
      return;
    case StmtKind::Let:
      return; // inlined where it is used
    case StmtKind::Set:
      fillRegion(builder_.create<attn::SetOp>(location, builder_.getStringAttr(stmt.name)),
                 *stmt.value, Indices::BHIJ);
      return;
    case StmtKind::Attend:
      fillRegion(builder_.create<attn::AttendOp>(location), *stmt.value, Indices::BHIJ);
      return;
    case StmtKind::Heads: {
      SmallVector<Attribute> sets;
      for (const HeadEntry &entry : stmt.heads)
        sets.push_back(FlatSymbolRefAttr::get(builder_.getContext(), entry.name));
      builder_.create<attn::HeadsOp>(location, builder_.getArrayAttr(sets));
      return;
    }
    case StmtKind::Bias:
      fillRegion(builder_.create<attn::BiasOp>(location), *stmt.value, Indices::BHIJ);
      return;
    case StmtKind::Score:
      fillRegion(builder_.create<attn::ScoreOp>(location), *stmt.value, Indices::BHIJScore);
      return;
    case StmtKind::Scale:
      fillRegion(builder_.create<attn::ScaleOp>(location), *stmt.value, Indices::None);
      return;
    }
  }

  enum class Indices { None, BHIJ, BHIJScore };

  /// Gives an element-function op its region, which computes `value`.
  template <typename OpT>
  void fillRegion(OpT op, const Expr &value, Indices indices) {
    Location location = op.getLoc();
    Block &block = op.getBody().emplaceBlock();
    if (indices != Indices::None)
      for (unsigned k = 0; k < attn::kNumIndexArgs; ++k)
        block.addArgument(builder_.getI64Type(), location);
    if (indices == Indices::BHIJScore)
      block.addArgument(builder_.getF32Type(), location);
    OpBuilder::InsertionGuard guard(builder_);
    builder_.setInsertionPointToEnd(&block);
    values_.clear();
    Value result = emitExpr(value, block);
    builder_.create<attn::YieldOp>(location, result);
  }

  // ---- expressions ---------------------------------------------------------
  Value constantInt(Location location, int64_t value) {
    return builder_.create<arith::ConstantOp>(location, builder_.getI64IntegerAttr(value));
  }

  Value emitExpr(const Expr &e, Block &block) {
    Location location = loc(e.range);
    switch (e.kind) {
    case ExprKind::IntLit: return constantInt(location, e.intValue);
    case ExprKind::FloatLit:
      return builder_.create<arith::ConstantOp>(
          location, builder_.getF32FloatAttr(static_cast<float>(e.floatValue)));
    case ExprKind::BoolLit:
      return builder_.create<arith::ConstantOp>(location, builder_.getBoolAttr(e.boolValue));
    case ExprKind::BuiltinRef: return emitBuiltin(e, block, location);
    case ExprKind::ParamRef:
      return builder_.create<attn::GetParamOp>(
          location, typeOf(e.type), FlatSymbolRefAttr::get(builder_.getContext(), e.name));
    case ExprKind::ValueRef: {
      auto it = values_.find(e.value);
      if (it != values_.end())
        return it->second;
      Value value = emitExpr(*e.value->value, block);
      values_.emplace(e.value, value);
      return value;
    }
    case ExprKind::TensorLoad: {
      SmallVector<Value> indices;
      for (const auto &index : e.operands)
        indices.push_back(emitExpr(*index, block));
      return builder_.create<attn::TensorLoadOp>(
          location, typeOf(e.type), FlatSymbolRefAttr::get(builder_.getContext(), e.name),
          indices);
    }
    case ExprKind::Unary: return emitUnary(e, block, location);
    case ExprKind::Binary: return emitBinary(e, block, location);
    case ExprKind::Select: {
      Value condition = emitExpr(*e.operands[0], block);
      Value whenTrue = emitExpr(*e.operands[1], block);
      Value whenFalse = emitExpr(*e.operands[2], block);
      return builder_.create<arith::SelectOp>(location, condition, whenTrue, whenFalse);
    }
    case ExprKind::Call: return emitCall(e, block, location);
    case ExprKind::Convert:
      return builder_.create<arith::SIToFPOp>(location, builder_.getF32Type(),
                                              emitExpr(*e.operands[0], block));
    case ExprKind::Error: break;
    }
    llvm_unreachable("MLIRGen on an expression that failed to check");
  }

  Value emitBuiltin(const Expr &e, Block &block, Location location) {
    switch (e.builtin) {
    case Builtin::Batch: return block.getArgument(0);
    case Builtin::Head: return block.getArgument(1);
    case Builtin::I: return block.getArgument(2);
    case Builtin::J: return block.getArgument(3);
    case Builtin::Score: return block.getArgument(4);
    case Builtin::NumHeads: return builder_.create<attn::DimOp>(location, builder_.getI64Type(), attn::ShapeDim::H);
    case Builtin::SeqQ: return builder_.create<attn::DimOp>(location, builder_.getI64Type(), attn::ShapeDim::Nq);
    case Builtin::SeqK: return builder_.create<attn::DimOp>(location, builder_.getI64Type(), attn::ShapeDim::Nk);
    case Builtin::HeadDim: return builder_.create<attn::DimOp>(location, builder_.getI64Type(), attn::ShapeDim::D);
    }
    llvm_unreachable("unknown builtin");
  }

  Value emitUnary(const Expr &e, Block &block, Location location) {
    Value operand = emitExpr(*e.operands[0], block);
    if (e.unaryOp == UnaryOp::Not) {
      Value one = builder_.create<arith::ConstantOp>(location, builder_.getBoolAttr(true));
      return builder_.create<arith::XOrIOp>(location, operand, one);
    }
    if (e.type == ast::Type::Float)
      return builder_.create<arith::NegFOp>(location, operand);
    return builder_.create<arith::SubIOp>(location, constantInt(location, 0), operand);
  }

  Value emitBinary(const Expr &e, Block &block, Location location) {
    Value lhs = emitExpr(*e.operands[0], block);
    Value rhs = emitExpr(*e.operands[1], block);
    ast::Type operandType = e.operands[0]->type;
    bool isFloat = operandType == ast::Type::Float;
    switch (e.binaryOp) {
    case BinaryOp::Add:
      return isFloat ? Value(builder_.create<arith::AddFOp>(location, lhs, rhs))
                     : Value(builder_.create<arith::AddIOp>(location, lhs, rhs));
    case BinaryOp::Sub:
      return isFloat ? Value(builder_.create<arith::SubFOp>(location, lhs, rhs))
                     : Value(builder_.create<arith::SubIOp>(location, lhs, rhs));
    case BinaryOp::Mul:
      return isFloat ? Value(builder_.create<arith::MulFOp>(location, lhs, rhs))
                     : Value(builder_.create<arith::MulIOp>(location, lhs, rhs));
    case BinaryOp::Div:
      return isFloat ? Value(builder_.create<arith::DivFOp>(location, lhs, rhs))
                     : Value(builder_.create<arith::FloorDivSIOp>(location, lhs, rhs));
    case BinaryOp::Mod:
      return builder_.create<attn::FloorModOp>(location, builder_.getI64Type(), lhs, rhs);
    case BinaryOp::And:
      return builder_.create<arith::AndIOp>(location, lhs, rhs);
    case BinaryOp::Or:
      return builder_.create<arith::OrIOp>(location, lhs, rhs);
    default:
      return emitComparison(e.binaryOp, isFloat, lhs, rhs, location);
    }
  }

  Value emitComparison(BinaryOp op, bool isFloat, Value lhs, Value rhs, Location location) {
    static const std::pair<arith::CmpIPredicate, arith::CmpFPredicate> predicates[] = {
        {arith::CmpIPredicate::eq, arith::CmpFPredicate::OEQ},
        {arith::CmpIPredicate::ne, arith::CmpFPredicate::UNE},
        {arith::CmpIPredicate::slt, arith::CmpFPredicate::OLT},
        {arith::CmpIPredicate::sle, arith::CmpFPredicate::OLE},
        {arith::CmpIPredicate::sgt, arith::CmpFPredicate::OGT},
        {arith::CmpIPredicate::sge, arith::CmpFPredicate::OGE}};
    auto [intPredicate, floatPredicate] =
        predicates[static_cast<int>(op) - static_cast<int>(BinaryOp::Eq)];
    if (isFloat)
      return builder_.create<arith::CmpFOp>(location, floatPredicate, lhs, rhs);
    return builder_.create<arith::CmpIOp>(location, intPredicate, lhs, rhs);
  }

  Value emitCall(const Expr &e, Block &block, Location location) {
    SmallVector<Value> args;
    for (const auto &operand : e.operands)
      args.push_back(emitExpr(*operand, block));
    ast::Type argType = e.operands[0]->type;
    bool isFloat = argType == ast::Type::Float;
    switch (e.callee) {
    case Callee::Min:
    case Callee::Max: {
      // The interpreter's meaning: min(a, b) = a <= b ? a : b, max likewise
      // with >=, which also fixes what a NaN operand gives.
      BinaryOp op = e.callee == Callee::Min ? BinaryOp::Le : BinaryOp::Ge;
      Value takeFirst = emitComparison(op, e.type == ast::Type::Float, args[0], args[1], location);
      return builder_.create<arith::SelectOp>(location, takeFirst, args[0], args[1]);
    }
    case Callee::Abs:
      return isFloat ? Value(builder_.create<math::AbsFOp>(location, args[0]))
                     : Value(builder_.create<math::AbsIOp>(location, args[0]));
    case Callee::Exp: return builder_.create<math::ExpOp>(location, args[0]);
    case Callee::Log: return builder_.create<math::LogOp>(location, args[0]);
    case Callee::Tanh: return builder_.create<math::TanhOp>(location, args[0]);
    case Callee::Sqrt: return builder_.create<math::SqrtOp>(location, args[0]);
    case Callee::ToFloat:
      if (isFloat)
        return args[0];
      if (argType == ast::Type::Bool)
        return builder_.create<arith::UIToFPOp>(location, builder_.getF32Type(), args[0]);
      return builder_.create<arith::SIToFPOp>(location, builder_.getF32Type(), args[0]);
    case Callee::ToInt:
      if (isFloat)
        return builder_.create<arith::FPToSIOp>(location, builder_.getI64Type(), args[0]);
      if (argType == ast::Type::Bool)
        return builder_.create<arith::ExtUIOp>(location, builder_.getI64Type(), args[0]);
      return args[0];
    case Callee::AlibiSlope:
      return builder_.create<attn::AlibiSlopeOp>(location, builder_.getF32Type(), args[0], args[1]);
    }
    llvm_unreachable("unknown callee");
  }

  OpBuilder builder_;
  const SourceFile &source_;
  const interp::ParamValues &bound_;
  /// let/set values already emitted in the current region.
  std::map<const Stmt *, Value> values_;
};

} // namespace

void registerAttncDialects(DialectRegistry &registry) {
  registry.insert<attn::AttnDialect, arith::ArithDialect, math::MathDialect>();
}

OwningOpRef<ModuleOp> mlirGen(MLIRContext &context, const File &file, const SourceFile &source,
                              const Pattern *only, const interp::ParamValues &bound) {
  DialectRegistry registry;
  registerAttncDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
  return Generator(context, source, bound).run(file, only);
}

} // namespace attnc
