//===- Evaluator.cpp ------------------------------------------------------===//
#include "attnc/Dialect/Attn/Evaluator.h"
#include "attnc/Dialect/Attn/IntegerMath.h"
#include "attnc/Dialect/Attn/IntervalMath.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;

namespace attnc::attn {
namespace {

std::optional<bool> compareInts(arith::CmpIPredicate predicate, int64_t a, int64_t b) {
  switch (predicate) {
  case arith::CmpIPredicate::eq: return a == b;
  case arith::CmpIPredicate::ne: return a != b;
  case arith::CmpIPredicate::slt: return a < b;
  case arith::CmpIPredicate::sle: return a <= b;
  case arith::CmpIPredicate::sgt: return a > b;
  case arith::CmpIPredicate::sge: return a >= b;
  default: return std::nullopt;
  }
}

std::optional<bool> compareFloats(arith::CmpFPredicate predicate, float a, float b) {
  switch (predicate) {
  case arith::CmpFPredicate::OEQ: return a == b;
  case arith::CmpFPredicate::UNE: return a != b;
  case arith::CmpFPredicate::OLT: return a < b;
  case arith::CmpFPredicate::OLE: return a <= b;
  case arith::CmpFPredicate::OGT: return a > b;
  case arith::CmpFPredicate::OGE: return a >= b;
  default: return std::nullopt;
  }
}

Scalar fromAttr(TypedAttr attr) {
  Scalar s;
  if (auto integer = dyn_cast<IntegerAttr>(attr)) {
    s.i = integer.getType().isInteger(1) ? integer.getValue().getZExtValue()
                                         : integer.getValue().getSExtValue();
    s.b = s.i != 0;
  } else if (auto real = dyn_cast<FloatAttr>(attr)) {
    s.f = static_cast<float>(real.getValueAsDouble());
  }
  return s;
}

/// Smallest and largest element over a box of indices, clipped to the shape.
interval::Range tensorBox(const TensorData &tensor, ValueRange bounds,
                          const llvm::DenseMap<Value, Scalar> &values) {
  size_t rank = tensor.shape.size();
  std::vector<int64_t> lo(rank), hi(rank);
  for (size_t k = 0; k < rank; ++k) {
    lo[k] = std::max<int64_t>(values.lookup(bounds[2 * k]).i, 0);
    hi[k] = std::min<int64_t>(values.lookup(bounds[2 * k + 1]).i, tensor.shape[k] - 1);
    if (lo[k] > hi[k])
      return interval::kFull;
  }
  interval::Range r{std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()};
  std::vector<int64_t> index = lo;
  while (true) {
    int64_t offset = 0;
    for (size_t k = 0; k < rank; ++k)
      offset = offset * tensor.shape[k] + index[k];
    int64_t v = tensor.elementType.isInteger(64) ? static_cast<const int64_t *>(tensor.data)[offset]
                                                 : static_cast<const int32_t *>(tensor.data)[offset];
    r.lo = std::min(r.lo, v);
    r.hi = std::max(r.hi, v);
    size_t k = rank;
    while (k > 0 && index[k - 1] == hi[k - 1]) {
      index[k - 1] = lo[k - 1];
      --k;
    }
    if (k == 0)
      return r;
    ++index[k - 1];
  }
}

/// Row-major offset of the element at `indices`, or none when an index is
/// out of range.
std::optional<int64_t> elementOffset(const TensorData &tensor, ValueRange indices,
                                     const llvm::DenseMap<Value, Scalar> &values) {
  int64_t offset = 0;
  for (auto [k, index] : llvm::enumerate(indices)) {
    int64_t value = values.lookup(index).i;
    if (k >= tensor.shape.size() || value < 0 || value >= tensor.shape[k])
      return std::nullopt;
    offset = offset * tensor.shape[k] + value;
  }
  return offset;
}

} // namespace

PatternEvaluator::PatternEvaluator(PatternOp pattern, Sizes sizes,
                                   std::map<std::string, TensorData> tensors)
    : pattern_(pattern), sizes_(sizes), tensors_(std::move(tensors)) {}

FailureOr<SmallVector<Scalar>> PatternEvaluator::run(Region &region, ArrayRef<Scalar> arguments,
                                                     Observer observe,
                                                     ArrayRef<double *> grads) {
  Block &block = region.front();
  if (block.getNumArguments() != arguments.size())
    return failure();
  llvm::DenseMap<Value, Scalar> values;
  auto set = [&](Value v, const Scalar &s) {
    values[v] = s;
    if (observe)
      observe(v, s);
  };
  for (auto [arg, value] : llvm::zip(block.getArguments(), arguments))
    set(arg, value);
  for (Operation &op : block) {
    if (auto yield = dyn_cast<YieldOp>(op)) {
      SmallVector<Scalar> results;
      for (Value v : yield.getValues())
        results.push_back(values.lookup(v));
      return results;
    }
    if (auto accumulate = dyn_cast<GradAccumulateOp>(op)) {
      if (failed(accumulateGrad(accumulate, values, grads)))
        return failure();
      continue;
    }
    if (isa<IntRangeOp, CmpRangeOp, TensorRangeOp>(op)) {
      FailureOr<std::pair<Scalar, Scalar>> results = evalRange(op, values);
      if (failed(results))
        return failure();
      set(op.getResult(0), results->first);
      set(op.getResult(1), results->second);
      continue;
    }
    FailureOr<Scalar> result = evalOp(op, values);
    if (failed(result))
      return failure();
    set(op.getResult(0), *result);
  }
  return failure();
}

FailureOr<std::pair<Scalar, Scalar>>
PatternEvaluator::evalRange(Operation &op, const llvm::DenseMap<Value, Scalar> &values) {
  using namespace interval;
  auto rangeAt = [&](ValueRange bounds, unsigned k) {
    return Range{values.lookup(bounds[2 * k]).i, values.lookup(bounds[2 * k + 1]).i};
  };
  auto ints = [](Range r) {
    Scalar lo, hi;
    lo.i = r.lo;
    hi.i = r.hi;
    return std::make_pair(lo, hi);
  };
  if (auto lifted = dyn_cast<IntRangeOp>(op)) {
    ValueRange bounds = lifted.getBounds();
    Range a = rangeAt(bounds, 0);
    Range b = bounds.size() == 4 ? rangeAt(bounds, 1) : a;
    return ints(applyRangeFn(lifted.getFn(), a, b));
  }
  if (auto cmp = dyn_cast<CmpRangeOp>(op)) {
    Range a{values.lookup(cmp.getAlo()).i, values.lookup(cmp.getAhi()).i};
    Range b{values.lookup(cmp.getBlo()).i, values.lookup(cmp.getBhi()).i};
    Truth t = applyCmpFn(cmp.getPredicate(), a, b);
    Scalar mayBeTrue, mayBeFalse;
    mayBeTrue.b = t.mayBeTrue;
    mayBeTrue.i = t.mayBeTrue;
    mayBeFalse.b = t.mayBeFalse;
    mayBeFalse.i = t.mayBeFalse;
    return std::make_pair(mayBeTrue, mayBeFalse);
  }
  auto range = cast<TensorRangeOp>(op);
  auto it = tensors_.find(range.getTensor().str());
  if (it == tensors_.end())
    return range.emitOpError("tensor is not bound");
  return ints(tensorBox(it->second, range.getBounds(), values));
}

FailureOr<Scalar> PatternEvaluator::evalOp(Operation &op,
                                           const llvm::DenseMap<Value, Scalar> &values) {
  if (op.getNumResults() != 1)
    return op.emitOpError("cannot be evaluated: expected one result");
  if (op.getDialect() && isa<AttnDialect>(op.getDialect()))
    return evalAttnOp(op, values);
  return evalArith(op, values);
}

FailureOr<Scalar> PatternEvaluator::evalAttnOp(Operation &op,
                                               const llvm::DenseMap<Value, Scalar> &values) {
  auto get = [&](Value v) { return values.lookup(v); };
  Scalar r;
  if (auto dim = dyn_cast<DimOp>(op)) {
    switch (dim.getDim()) {
    case ShapeDim::H: r.i = sizes_.numHeads; break;
    case ShapeDim::Nq: r.i = sizes_.seqQ; break;
    case ShapeDim::Nk: r.i = sizes_.seqK; break;
    case ShapeDim::D: r.i = sizes_.headDim; break;
    }
    return r;
  }
  if (auto read = dyn_cast<GetParamOp>(op)) {
    auto param = cast<ParamOp>(mlir::SymbolTable::lookupSymbolIn(pattern_, read.getParamAttr().getAttr()));
    if (!param.getDefaultValueAttr())
      return read.emitOpError("parameter has no value");
    return fromAttr(param.getDefaultValueAttr());
  }
  if (auto mod = dyn_cast<FloorModOp>(op)) {
    int64_t divisor = get(mod.getRhs()).i;
    if (divisor == 0)
      return mod.emitOpError("modulo by zero");
    r.i = floorMod(get(mod.getLhs()).i, divisor);
    return r;
  }
  if (auto slope = dyn_cast<AlibiSlopeOp>(op)) {
    int64_t h = get(slope.getHead()).i, n = get(slope.getNumHeads()).i;
    if (n < 1 || n > (int64_t(1) << 30) || h < 0 || h >= n)
      return slope.emitOpError("needs 0 <= h < H <= 2^30");
    r.f = static_cast<float>(alibiSlopeValue(h, n));
    return r;
  }
  if (auto load = dyn_cast<TensorLoadOp>(op)) {
    auto it = tensors_.find(load.getTensor().str());
    if (it == tensors_.end())
      return load.emitOpError("tensor is not bound");
    const TensorData &tensor = it->second;
    std::optional<int64_t> found = elementOffset(tensor, load.getIndices(), values);
    if (!found)
      return load.emitOpError("index out of range");
    int64_t offset = *found;
    if (tensor.elementType.isF32())
      r.f = static_cast<const float *>(tensor.data)[offset];
    else if (tensor.elementType.isInteger(64))
      r.i = static_cast<const int64_t *>(tensor.data)[offset];
    else
      r.i = static_cast<const int32_t *>(tensor.data)[offset];
    return r;
  }
  return op.emitOpError("cannot be evaluated");
}

FailureOr<Scalar> PatternEvaluator::evalArith(Operation &op,
                                              const llvm::DenseMap<Value, Scalar> &values) {
  auto get = [&](unsigned k) { return values.lookup(op.getOperand(k)); };
  auto integer = [](int64_t v) { Scalar s; s.i = v; return s; };
  auto real = [](float v) { Scalar s; s.f = v; return s; };
  auto boolean = [](bool v) { Scalar s; s.b = v; s.i = v; return s; };
  return llvm::TypeSwitch<Operation *, FailureOr<Scalar>>(&op)
      .Case([&](arith::ConstantOp c) { return fromAttr(cast<TypedAttr>(c.getValue())); })
      .Case([&](arith::AddIOp) { return integer(wrapAdd(get(0).i, get(1).i)); })
      .Case([&](arith::SubIOp) { return integer(wrapSub(get(0).i, get(1).i)); })
      .Case([&](arith::MulIOp) { return integer(wrapMul(get(0).i, get(1).i)); })
      .Case([&](arith::FloorDivSIOp d) -> FailureOr<Scalar> {
        if (get(1).i == 0)
          return d.emitOpError("division by zero");
        return integer(floorDiv(get(0).i, get(1).i));
      })
      .Case([&](arith::MinSIOp) { return integer(std::min(get(0).i, get(1).i)); })
      .Case([&](arith::MaxSIOp) { return integer(std::max(get(0).i, get(1).i)); })
      .Case([&](arith::AndIOp) { return boolean(get(0).b && get(1).b); })
      .Case([&](arith::OrIOp) { return boolean(get(0).b || get(1).b); })
      .Case([&](arith::XOrIOp) { return boolean(get(0).b != get(1).b); })
      .Case([&](arith::CmpIOp c) -> FailureOr<Scalar> {
        std::optional<bool> result = c.getLhs().getType().isInteger(1)
                                         ? compareInts(c.getPredicate(), get(0).b, get(1).b)
                                         : compareInts(c.getPredicate(), get(0).i, get(1).i);
        if (!result)
          return c.emitOpError("predicate cannot be evaluated");
        return boolean(*result);
      })
      .Case([&](arith::CmpFOp c) -> FailureOr<Scalar> {
        std::optional<bool> result = compareFloats(c.getPredicate(), get(0).f, get(1).f);
        if (!result)
          return c.emitOpError("predicate cannot be evaluated");
        return boolean(*result);
      })
      .Case([&](arith::SelectOp) { return get(0).b ? get(1) : get(2); })
      .Case([&](arith::SIToFPOp) { return real(static_cast<float>(get(0).i)); })
      .Case([&](arith::UIToFPOp) { return real(get(0).b ? 1.0f : 0.0f); })
      .Case([&](arith::FPToSIOp c) -> FailureOr<Scalar> {
        float v = get(0).f;
        if (!(std::fabs(v) < 9223372036854775808.0f))
          return c.emitOpError("float out of the i64 range");
        return integer(static_cast<int64_t>(v));
      })
      .Case([&](arith::ExtUIOp) { return integer(get(0).b ? 1 : 0); })
      .Case([&](arith::AddFOp) { return real(get(0).f + get(1).f); })
      .Case([&](arith::SubFOp) { return real(get(0).f - get(1).f); })
      .Case([&](arith::MulFOp) { return real(get(0).f * get(1).f); })
      .Case([&](arith::DivFOp) { return real(get(0).f / get(1).f); })
      .Case([&](arith::NegFOp) { return real(-get(0).f); })
      .Case([&](math::AbsIOp) {
        int64_t v = get(0).i;
        return integer(v < 0 ? wrapNeg(v) : v);
      })
      .Case([&](math::AbsFOp) { return real(std::fabs(get(0).f)); })
      .Case([&](math::ExpOp) { return real(std::exp(get(0).f)); })
      .Case([&](math::LogOp) { return real(std::log(get(0).f)); })
      .Case([&](math::TanhOp) { return real(std::tanh(get(0).f)); })
      .Case([&](math::SqrtOp) { return real(std::sqrt(get(0).f)); })
      .Default([&](Operation *other) -> FailureOr<Scalar> {
        return other->emitOpError("cannot be evaluated");
      });
}

namespace {

/// The arguments (b, h, i, j) of an element region, then `floats` (the
/// score; value and d_logit).
SmallVector<Scalar, 6> pairArguments(int64_t b, int64_t h, int64_t i, int64_t j,
                                     ArrayRef<float> floats = {}) {
  SmallVector<Scalar, 6> args(kNumIndexArgs);
  args[0].i = b;
  args[1].i = h;
  args[2].i = i;
  args[3].i = j;
  for (float f : floats)
    args.emplace_back().f = f;
  return args;
}

} // namespace

FailureOr<Scalar> PatternEvaluator::evalIndexed(Region &region, int64_t b, int64_t h,
                                                int64_t i, int64_t j) {
  SmallVector<Scalar, 6> args = pairArguments(b, h, i, j);
  FailureOr<SmallVector<Scalar>> results = run(region, args);
  if (failed(results))
    return failure();
  return (*results)[0];
}

FailureOr<bool> PatternEvaluator::attends(int64_t b, int64_t h, int64_t i, int64_t j) {
  if (pattern_.getUnique<CausalOp>() && j > i + (sizes_.seqK - sizes_.seqQ))
    return false;
  Region *set = nullptr;
  if (HeadsOp heads = pattern_.getUnique<HeadsOp>()) {
    auto name = cast<FlatSymbolRefAttr>(heads.getSets()[h % heads.getSets().size()]);
    set = &cast<SetOp>(mlir::SymbolTable::lookupSymbolIn(pattern_, name.getAttr())).getBody();
  } else if (AttendOp attend = pattern_.getUnique<AttendOp>()) {
    set = &attend.getBody();
  }
  if (!set)
    return true;
  FailureOr<Scalar> result = evalIndexed(*set, b, h, i, j);
  if (failed(result))
    return failure();
  return result->b;
}

FailureOr<PatternEvaluator::HeadTwin> PatternEvaluator::twinOf(int64_t h) {
  if (pattern_.getUnique<CausalOp>())
    return pattern_.emitOpError("still holds attn.causal; run attn-make-causal-explicit");
  Region *set = nullptr;
  FlatSymbolRefAttr name;
  if (HeadsOp heads = pattern_.getUnique<HeadsOp>()) {
    name = cast<FlatSymbolRefAttr>(heads.getSets()[h % heads.getSets().size()]);
    set = &cast<SetOp>(mlir::SymbolTable::lookupSymbolIn(pattern_, name.getAttr())).getBody();
  } else if (AttendOp attend = pattern_.getUnique<AttendOp>()) {
    set = &attend.getBody();
  } else {
    return HeadTwin{}; // every key
  }
  HeadTwin result;
  for (BoundsOp bounds : pattern_.getBodyBlock().getOps<BoundsOp>())
    if (bounds.getOfAttr() == name)
      result.twin = bounds;
  if (!result.twin)
    return pattern_.emitOpError("has no interval twin; run attn-interval-twin");
  // Arguments 1 (h) of the set, 2 and 3 (h_lo, h_hi) of the twin.
  Block &twinBlock = result.twin.getBodyBlock();
  result.perHead = !set->getArgument(1).use_empty() || !twinBlock.getArgument(2).use_empty() ||
                   !twinBlock.getArgument(3).use_empty();
  return result;
}

FailureOr<std::pair<bool, bool>> PatternEvaluator::classify(int64_t h, int64_t iLo,
                                                           int64_t iHi, int64_t jLo,
                                                           int64_t jHi) {
  FailureOr<HeadTwin> twin = twinOf(h);
  if (failed(twin))
    return failure();
  return classify(*twin, h, iLo, iHi, jLo, jHi);
}

FailureOr<std::pair<bool, bool>> PatternEvaluator::classify(const HeadTwin &twin, int64_t h,
                                                           int64_t iLo, int64_t iHi,
                                                           int64_t jLo, int64_t jHi) {
  if (!twin.twin)
    return std::make_pair(true, false); // every key
  Scalar args[2 * kNumIndexArgs];
  int64_t bounds[2 * kNumIndexArgs] = {0, 0, h, h, iLo, iHi, jLo, jHi};
  for (unsigned k = 0; k < 2 * kNumIndexArgs; ++k)
    args[k].i = bounds[k];
  BoundsOp op = twin.twin;
  FailureOr<SmallVector<Scalar>> results = run(op.getBody(), args);
  if (failed(results))
    return failure();
  return std::make_pair((*results)[0].b, (*results)[1].b);
}

FailureOr<float> PatternEvaluator::bias(int64_t b, int64_t h, int64_t i, int64_t j) {
  BiasOp op = pattern_.getUnique<BiasOp>();
  if (!op)
    return 0.0f;
  FailureOr<Scalar> result = evalIndexed(op.getBody(), b, h, i, j);
  if (failed(result))
    return failure();
  return result->f;
}

FailureOr<float> PatternEvaluator::evalScoreRegion(Region &region, float s, int64_t b,
                                                   int64_t h, int64_t i, int64_t j) {
  SmallVector<Scalar, 6> args = pairArguments(b, h, i, j, {s});
  FailureOr<SmallVector<Scalar>> results = run(region, args);
  if (failed(results))
    return failure();
  return (*results)[0].f;
}

FailureOr<float> PatternEvaluator::score(float s, int64_t b, int64_t h, int64_t i, int64_t j) {
  ScoreOp op = pattern_.getUnique<ScoreOp>();
  if (!op)
    return s;
  return evalScoreRegion(op.getBody(), s, b, h, i, j);
}

FailureOr<float> PatternEvaluator::scoreGrad(float s, int64_t b, int64_t h, int64_t i,
                                             int64_t j) {
  if (!pattern_.getUnique<ScoreOp>())
    return 1.0f;
  ScoreGradOp op = pattern_.getUnique<ScoreGradOp>();
  if (!op)
    return failure();
  return evalScoreRegion(op.getBody(), s, b, h, i, j);
}

std::optional<unsigned> PatternEvaluator::tensorSlot(StringRef name) {
  unsigned slot = 0;
  for (TensorParamOp tensor : pattern_.getBodyBlock().getOps<TensorParamOp>()) {
    if (tensor.getSymName() == name)
      return slot;
    ++slot;
  }
  return std::nullopt;
}

LogicalResult PatternEvaluator::accumulateGrad(GradAccumulateOp op,
                                               const llvm::DenseMap<Value, Scalar> &values,
                                               ArrayRef<double *> grads) {
  std::optional<unsigned> slot = tensorSlot(op.getTensor());
  auto it = tensors_.find(op.getTensor().str());
  if (!slot || it == tensors_.end())
    return op.emitOpError("tensor is not bound");
  if (*slot >= grads.size())
    return op.emitOpError("has no gradient array for tensor slot ") << *slot;
  // An index out of range read 0, which depends on no element.
  std::optional<int64_t> offset = elementOffset(it->second, op.getIndices(), values);
  if (grads[*slot] && offset)
    grads[*slot][*offset] += values.lookup(op.getAmount()).f;
  return success();
}

LogicalResult PatternEvaluator::tensorGrad(float value, float dLogit, int64_t b, int64_t h,
                                           int64_t i, int64_t j, ArrayRef<double *> grads) {
  TensorGradOp op = pattern_.getUnique<TensorGradOp>();
  if (!op)
    return success(); // bias and score read no float tensor
  return run(op.getBody(), pairArguments(b, h, i, j, {value, dLogit}), {}, grads);
}

FailureOr<float> PatternEvaluator::scale() {
  ScaleOp op = pattern_.getUnique<ScaleOp>();
  if (!op)
    return static_cast<float>(1.0 / std::sqrt(static_cast<double>(sizes_.headDim)));
  FailureOr<SmallVector<Scalar>> results = run(op.getBody(), {});
  if (failed(results))
    return failure();
  return (*results)[0].f;
}

} // namespace attnc::attn
