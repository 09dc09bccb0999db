//===- AttnOps.cpp - Verifiers, builders and folders ----------------------===//
#include "attnc/Dialect/Attn/AttnOps.h"
#include "attnc/Dialect/Attn/IntegerMath.h"
#include "attnc/Dialect/Attn/IntervalMath.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace attnc::attn;

#include "AttnOpsEnums.cpp.inc"

#define GET_OP_CLASSES
#include "AttnOps.cpp.inc"

//===----------------------------------------------------------------------===//
// PatternOp
//===----------------------------------------------------------------------===//

void PatternOp::build(OpBuilder &builder, OperationState &state, StringRef name) {
  state.addAttribute(mlir::SymbolTable::getSymbolAttrName(), builder.getStringAttr(name));
  state.addRegion()->emplaceBlock();
}

LogicalResult PatternOp::verify() {
  Operation *seen[8] = {};
  auto slotOf = [](Operation &op) -> int {
    return isa<CausalOp>(op)      ? 0
           : isa<AttendOp>(op)    ? 1
           : isa<HeadsOp>(op)     ? 2
           : isa<BiasOp>(op)      ? 3
           : isa<ScoreOp>(op)     ? 4
           : isa<ScaleOp>(op)     ? 5
           : isa<ScoreGradOp>(op) ? 6
           : isa<TensorGradOp>(op) ? 7
                                   : -1;
  };
  for (Operation &op : getBodyBlock()) {
    int slot = slotOf(op);
    if (slot < 0)
      continue;
    if (seen[slot])
      return op.emitOpError("may appear at most once in a pattern")
                 .attachNote(seen[slot]->getLoc())
             << "previous one is here";
    seen[slot] = &op;
  }
  if (seen[1] && seen[2])
    return emitOpError("cannot hold both 'attn.attend' and 'attn.heads'");
  return success();
}

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

namespace {

bool isScalarParamType(Type type) {
  return type.isInteger(64) || type.isF32() || type.isInteger(1);
}

/// The declaration `name` in the pattern around `op`, if it is an OpT.
template <typename OpT>
OpT lookupInPattern(Operation *op, FlatSymbolRefAttr name) {
  auto pattern = op->getParentOfType<PatternOp>();
  if (!pattern)
    return OpT();
  return dyn_cast_or_null<OpT>(mlir::SymbolTable::lookupSymbolIn(pattern, name.getAttr()));
}

/// The `attn.tensor_param` that `op` names, or an error on `op`.
FailureOr<TensorParamOp> lookupTensor(Operation *op, FlatSymbolRefAttr name) {
  auto tensor = lookupInPattern<TensorParamOp>(op, name);
  if (!tensor)
    return op->emitOpError("'") << name.getValue()
                                << "' is not an 'attn.tensor_param' of the enclosing pattern";
  return tensor;
}

/// One index per dimension of `tensor`, or an error on `op`.
LogicalResult verifyIndexCount(Operation *op, TensorParamOp tensor, ValueRange indices) {
  if (indices.size() != tensor.getRank())
    return op->emitOpError("tensor '") << tensor.getSymName() << "' has " << tensor.getRank()
                                       << " dimensions but " << indices.size()
                                       << " indices are given";
  return success();
}

} // namespace

LogicalResult ParamOp::verify() {
  if (!isScalarParamType(getType()))
    return emitOpError("type must be i64, f32 or i1, got ") << getType();
  if (auto value = getDefaultValueAttr(); value && value.getType() != getType())
    return emitOpError("default value of type ")
           << value.getType() << " does not match the parameter type " << getType();
  return success();
}

unsigned TensorParamOp::getRank() {
  return getDims().front().getTerminator()->getNumOperands();
}

LogicalResult TensorParamOp::verify() {
  Type element = getElementType();
  if (!element.isInteger(32) && !element.isInteger(64) && !element.isF32())
    return emitOpError("element type must be i32, i64 or f32, got ") << element;
  auto yield = dyn_cast<YieldOp>(getDims().front().getTerminator());
  if (!yield || yield.getValues().empty())
    return emitOpError("dims region must yield at least one size");
  for (Value size : yield.getValues())
    if (!size.getType().isInteger(64))
      return emitOpError("sizes must be i64, got ") << size.getType();
  return success();
}

LogicalResult HeadsOp::verify() {
  if (getSets().empty())
    return emitOpError("needs at least one set");
  for (Attribute attr : getSets()) {
    auto name = dyn_cast<FlatSymbolRefAttr>(attr);
    if (!name || !lookupInPattern<SetOp>(*this, name))
      return emitOpError("'") << attr << "' does not name an 'attn.set' of this pattern";
  }
  return success();
}

std::vector<std::string> HeadsOp::getSetNames() {
  std::vector<std::string> names;
  for (Attribute set : getSets())
    names.push_back(cast<FlatSymbolRefAttr>(set).getValue().str());
  return names;
}

StringRef HeadsOp::getSetOf(int64_t h) {
  return cast<FlatSymbolRefAttr>(getSets()[h % getSets().size()]).getValue();
}

//===----------------------------------------------------------------------===//
// Element functions
//===----------------------------------------------------------------------===//

namespace {

/// Checks that `op`'s region takes `args` and yields one value of `result`.
LogicalResult verifyElementRegion(Operation *op, Region &region, TypeRange args,
                                  Type result) {
  Block &block = region.front();
  if (TypeRange(block.getArgumentTypes()) != args)
    return op->emitOpError("region must take arguments (")
           << args << "), got (" << block.getArgumentTypes() << ")";
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return op->emitOpError("region must end with 'attn.yield'");
  if (yield.getValues().size() != 1 || yield.getValues()[0].getType() != result)
    return op->emitOpError("region must yield one value of type ") << result;
  return success();
}

SmallVector<Type> indexTypes(MLIRContext *context, bool withScore) {
  SmallVector<Type> types(kNumIndexArgs, IntegerType::get(context, 64));
  if (withScore)
    types.push_back(Float32Type::get(context));
  return types;
}

template <typename OpT>
Value yieldedValue(OpT op) {
  return cast<YieldOp>(op.getBodyBlock().getTerminator()).getValues()[0];
}

} // namespace

LogicalResult SetOp::verify() {
  return verifyElementRegion(*this, getBody(), indexTypes(getContext(), false),
                             IntegerType::get(getContext(), 1));
}
LogicalResult AttendOp::verify() {
  return verifyElementRegion(*this, getBody(), indexTypes(getContext(), false),
                             IntegerType::get(getContext(), 1));
}
LogicalResult BiasOp::verify() {
  return verifyElementRegion(*this, getBody(), indexTypes(getContext(), false),
                             Float32Type::get(getContext()));
}
LogicalResult ScoreOp::verify() {
  return verifyElementRegion(*this, getBody(), indexTypes(getContext(), true),
                             Float32Type::get(getContext()));
}
LogicalResult ScoreGradOp::verify() {
  return verifyElementRegion(*this, getBody(), indexTypes(getContext(), true),
                             Float32Type::get(getContext()));
}
LogicalResult ScaleOp::verify() {
  return verifyElementRegion(*this, getBody(), TypeRange(), Float32Type::get(getContext()));
}

/// Names the region arguments %b, %h, %i, %j (and %score) in printed IR.
static void nameIndexArguments(Region &region, OpAsmSetValueNameFn setName) {
  static const char *const names[] = {"b", "h", "i", "j", "score"};
  for (BlockArgument arg : region.getArguments())
    if (arg.getArgNumber() < 5)
      setName(arg, names[arg.getArgNumber()]);
}

void SetOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setName) {
  nameIndexArguments(region, setName);
}
void AttendOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setName) {
  nameIndexArguments(region, setName);
}
void BiasOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setName) {
  nameIndexArguments(region, setName);
}
void ScoreOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setName) {
  nameIndexArguments(region, setName);
}
void ScoreGradOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setName) {
  nameIndexArguments(region, setName);
}
void ScaleOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setName) {
  nameIndexArguments(region, setName);
}

Value SetOp::getYielded() { return yieldedValue(*this); }
Value AttendOp::getYielded() { return yieldedValue(*this); }
Value BiasOp::getYielded() { return yieldedValue(*this); }
Value ScoreOp::getYielded() { return yieldedValue(*this); }
Value ScoreGradOp::getYielded() { return yieldedValue(*this); }
Value ScaleOp::getYielded() { return yieldedValue(*this); }

//===----------------------------------------------------------------------===//
// Tensor gradients
//===----------------------------------------------------------------------===//

LogicalResult TensorGradOp::verify() {
  SmallVector<Type> args = indexTypes(getContext(), true);
  args.push_back(Float32Type::get(getContext()));
  Block &block = getBodyBlock();
  if (TypeRange(block.getArgumentTypes()) != TypeRange(args))
    return emitOpError("region must take (b, h, i, j, value, d_logit): four i64, two f32");
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield || !yield.getValues().empty())
    return emitOpError("region must end with an 'attn.yield' of nothing");
  return success();
}

void TensorGradOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setName) {
  static const char *const names[] = {"b", "h", "i", "j", "value", "d_logit"};
  for (BlockArgument arg : region.getArguments())
    if (arg.getArgNumber() < 6)
      setName(arg, names[arg.getArgNumber()]);
}

LogicalResult GradAccumulateOp::verify() {
  FailureOr<TensorParamOp> found = lookupTensor(*this, getTensorAttr());
  if (failed(found))
    return failure();
  TensorParamOp tensor = *found;
  if (!tensor.getElementType().isF32())
    return emitOpError("tensor '") << getTensor() << "' has " << tensor.getElementType()
                                   << " elements: only f32 tensors have gradients";
  if (failed(verifyIndexCount(*this, tensor, getIndices())))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Builtins
//===----------------------------------------------------------------------===//

LogicalResult GetParamOp::verify() {
  auto param = lookupInPattern<ParamOp>(*this, getParamAttr());
  if (!param)
    return emitOpError("'") << getParam() << "' is not an 'attn.param' of the enclosing pattern";
  if (param.getType() != getType())
    return emitOpError("result type ") << getType() << " does not match parameter type "
                                       << param.getType();
  return success();
}

LogicalResult TensorLoadOp::verify() {
  FailureOr<TensorParamOp> found = lookupTensor(*this, getTensorAttr());
  if (failed(found))
    return failure();
  TensorParamOp tensor = *found;
  if (failed(verifyIndexCount(*this, tensor, getIndices())))
    return failure();
  Type expected = tensor.getElementType().isF32() ? Type(Float32Type::get(getContext()))
                                                  : Type(IntegerType::get(getContext(), 64));
  if (getType() != expected)
    return emitOpError("result type must be ") << expected;
  return success();
}

OpFoldResult AlibiSlopeOp::fold(FoldAdaptor adaptor) {
  auto head = dyn_cast_or_null<IntegerAttr>(adaptor.getHead());
  auto numHeads = dyn_cast_or_null<IntegerAttr>(adaptor.getNumHeads());
  if (!head || !numHeads)
    return {};
  int64_t h = head.getInt(), n = numHeads.getInt();
  if (n < 1 || n > (int64_t(1) << 30) || h < 0 || h >= n)
    return {};
  return FloatAttr::get(Float32Type::get(getContext()),
                        static_cast<float>(alibiSlopeValue(h, n)));
}

OpFoldResult FloorModOp::fold(FoldAdaptor adaptor) {
  auto lhs = dyn_cast_or_null<IntegerAttr>(adaptor.getLhs());
  auto rhs = dyn_cast_or_null<IntegerAttr>(adaptor.getRhs());
  if (rhs && (rhs.getInt() == 1 || rhs.getInt() == -1))
    return IntegerAttr::get(getType(), 0);
  if (!lhs || !rhs || rhs.getInt() == 0)
    return {};
  return IntegerAttr::get(getType(), floorMod(lhs.getInt(), rhs.getInt()));
}

//===----------------------------------------------------------------------===//
// Interval twins
//===----------------------------------------------------------------------===//

LogicalResult BoundsOp::verify() {
  if (auto of = getOfAttr(); of && !lookupInPattern<SetOp>(*this, of))
    return emitOpError("'") << of << "' does not name an 'attn.set' of this pattern";
  Block &block = getBodyBlock();
  SmallVector<Type> args(2 * kNumIndexArgs, IntegerType::get(getContext(), 64));
  if (TypeRange(block.getArgumentTypes()) != TypeRange(args))
    return emitOpError("region must take the bounds of b, h, i, j: eight i64");
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  Type i1 = IntegerType::get(getContext(), 1);
  if (!yield || yield.getValues().size() != 2 || yield.getValues()[0].getType() != i1 ||
      yield.getValues()[1].getType() != i1)
    return emitOpError("region must yield two i1: may be true, may be false");
  return success();
}

void BoundsOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setName) {
  static const char *const names[] = {"b_lo", "b_hi", "h_lo", "h_hi",
                                      "i_lo", "i_hi", "j_lo", "j_hi"};
  for (BlockArgument arg : region.getArguments())
    if (arg.getArgNumber() < 8)
      setName(arg, names[arg.getArgNumber()]);
}

static bool isUnary(RangeFn fn) { return fn == RangeFn::neg || fn == RangeFn::abs; }

LogicalResult IntRangeOp::verify() {
  unsigned expected = isUnary(getFn()) ? 2 : 4;
  if (getBounds().size() != expected)
    return emitOpError("'") << stringifyRangeFn(getFn()) << "' takes " << expected
                            << " bounds, got " << getBounds().size();
  return success();
}

LogicalResult TensorRangeOp::verify() {
  FailureOr<TensorParamOp> found = lookupTensor(*this, getTensorAttr());
  if (failed(found))
    return failure();
  TensorParamOp tensor = *found;
  if (!tensor.getElementType().isInteger(32) && !tensor.getElementType().isInteger(64))
    return emitOpError("needs an integer tensor");
  if (getBounds().size() != 2 * tensor.getRank())
    return emitOpError("needs two bounds per dimension of '") << getTensor() << "'";
  return success();
}

namespace {

/// The constant i64 values of `attrs`, if all are constants.
std::optional<SmallVector<int64_t>> constantInts(ArrayRef<Attribute> attrs) {
  SmallVector<int64_t> values;
  for (Attribute attr : attrs) {
    auto integer = dyn_cast_or_null<IntegerAttr>(attr);
    if (!integer)
      return std::nullopt;
    values.push_back(integer.getInt());
  }
  return values;
}

} // namespace

interval::Range attnc::attn::applyRangeFn(RangeFn fn, interval::Range a, interval::Range b) {
  using namespace interval;
  switch (fn) {
  case RangeFn::add: return add(a, b);
  case RangeFn::sub: return sub(a, b);
  case RangeFn::mul: return mul(a, b);
  case RangeFn::floordiv: return floordiv(a, b);
  case RangeFn::floormod: return floormod(a, b);
  case RangeFn::min: return interval::min(a, b);
  case RangeFn::max: return interval::max(a, b);
  case RangeFn::neg: return neg(a);
  case RangeFn::abs: return interval::abs(a);
  }
  return kFull;
}

std::optional<RangeFn> attnc::attn::liftedRangeFn(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::optional<RangeFn>>(op)
      .Case([](arith::AddIOp) { return RangeFn::add; })
      .Case([](arith::SubIOp) { return RangeFn::sub; })
      .Case([](arith::MulIOp) { return RangeFn::mul; })
      .Case([](arith::FloorDivSIOp) { return RangeFn::floordiv; })
      .Case([](FloorModOp) { return RangeFn::floormod; })
      .Case([](arith::MinSIOp) { return RangeFn::min; })
      .Case([](arith::MaxSIOp) { return RangeFn::max; })
      .Case([](math::AbsIOp) { return RangeFn::abs; })
      .Default([](Operation *) { return std::nullopt; });
}

interval::Truth attnc::attn::applyCmpFn(CmpFn fn, interval::Range a, interval::Range b) {
  using namespace interval;
  switch (fn) {
  case CmpFn::eq: return equal(a, b);
  case CmpFn::ne: {
    Truth t = equal(a, b);
    return {t.mayBeFalse, t.mayBeTrue};
  }
  case CmpFn::lt: return lessThan(a, b);
  case CmpFn::le: return lessEqual(a, b);
  case CmpFn::gt: return lessThan(b, a);
  case CmpFn::ge: return lessEqual(b, a);
  }
  return {true, true};
}

LogicalResult IntRangeOp::fold(FoldAdaptor adaptor, SmallVectorImpl<OpFoldResult> &results) {
  std::optional<SmallVector<int64_t>> v = constantInts(adaptor.getBounds());
  if (!v || v->size() != getBounds().size())
    return failure();
  interval::Range a{(*v)[0], (*v)[1]};
  interval::Range b = v->size() == 4 ? interval::Range{(*v)[2], (*v)[3]} : a;
  interval::Range r = applyRangeFn(getFn(), a, b);
  Type i64 = IntegerType::get(getContext(), 64);
  results.push_back(IntegerAttr::get(i64, r.lo));
  results.push_back(IntegerAttr::get(i64, r.hi));
  return success();
}

LogicalResult CmpRangeOp::fold(FoldAdaptor adaptor, SmallVectorImpl<OpFoldResult> &results) {
  std::optional<SmallVector<int64_t>> v = constantInts(
      {adaptor.getAlo(), adaptor.getAhi(), adaptor.getBlo(), adaptor.getBhi()});
  if (!v)
    return failure();
  interval::Truth t =
      applyCmpFn(getPredicate(), {(*v)[0], (*v)[1]}, {(*v)[2], (*v)[3]});
  Builder builder(getContext());
  results.push_back(builder.getBoolAttr(t.mayBeTrue));
  results.push_back(builder.getBoolAttr(t.mayBeFalse));
  return success();
}

//===----------------------------------------------------------------------===//
// Disjoint components
//===----------------------------------------------------------------------===//

LogicalResult ComponentOp::verify() {
  if (auto of = getOfAttr(); of && !lookupInPattern<SetOp>(*this, of))
    return emitOpError("'") << of << "' does not name an 'attn.set' of this pattern";
  if (failed(verifyElementRegion(*this, getBody(), indexTypes(getContext(), false),
                                 IntegerType::get(getContext(), 1))))
    return failure();
  // I64Attr reads back as uint64_t: compare the signed values.
  auto signedOf = [](std::optional<uint64_t> v) -> std::optional<int64_t> {
    return v ? std::optional<int64_t>(static_cast<int64_t>(*v)) : std::nullopt;
  };
  if (static_cast<int64_t>(getIndex()) < 0)
    return emitOpError("index must be non-negative");
  if (static_cast<int64_t>(getClasses()) < 1)
    return emitOpError("classes must be at least 1");
  for (ArrayRef<int64_t> map : {getQueryMap(), getKeyMap()}) {
    if (map.size() != 5)
      return emitOpError("a tile map is [base, base_step, inner, outer_stride, inner_stride]");
    if (map[2] < 1 || map[3] < 1 || map[4] < 0)
      return emitOpError("a tile map needs inner >= 1, outer_stride >= 1, inner_stride >= 0");
  }
  if (auto window = signedOf(getWindow()); window && *window < 1)
    return emitOpError("window must be at least 1");
  if (auto distance = signedOf(getMinDistance()); distance && *distance < 1)
    return emitOpError("min_distance must be at least 1");
  if (auto blocks = signedOf(getEarlierBlocks())) {
    // Only causal bounds the keys to earlier blocks, and only these forms
    // keep an interval of keys per row under that bound.
    if (*blocks < 1)
      return emitOpError("earlier_blocks must be at least 1");
    if (!getCausal() ||
        (getForm() != ComponentForm::column_range && getForm() != ComponentForm::same_block))
      return emitOpError("earlier_blocks needs causal and a column_range or same_block form");
  }
  std::optional<int64_t> l = signedOf(getModulus());
  bool needsModulus = getForm() != ComponentForm::contiguous;
  if (needsModulus != l.has_value())
    return emitOpError("'modulus' is required by, and only by, forms other than contiguous");
  if (l && *l < 1)
    return emitOpError("modulus must be at least 1");
  bool residue = getForm() == ComponentForm::residue_diagonal;
  if (residue != getResidue().has_value())
    return emitOpError("'residue' is required by, and only by, residue_diagonal");
  if (residue && (*signedOf(getResidue()) < 0 || *signedOf(getResidue()) >= *l))
    return emitOpError("residue must lie in [0, modulus)");
  bool range = getForm() == ComponentForm::column_range;
  if (range != (getLo().has_value() && getHi().has_value()) ||
      (!range && (getLo() || getHi())))
    return emitOpError("'lo' and 'hi' are required by, and only by, column_range");
  if (range && !(0 <= *signedOf(getLo()) && *signedOf(getLo()) < *signedOf(getHi()) && *signedOf(getHi()) <= *l))
    return emitOpError("column range must satisfy 0 <= lo < hi <= modulus");
  if ((residue && static_cast<int64_t>(getClasses()) != *l) || (!residue && getClasses() != 1))
    return emitOpError("residue_diagonal has 'modulus' classes, other forms one");
  return success();
}

void ComponentOp::getAsmBlockArgumentNames(Region &region, OpAsmSetValueNameFn setName) {
  nameIndexArguments(region, setName);
}

Value ComponentOp::getYielded() { return yieldedValue(*this); }
