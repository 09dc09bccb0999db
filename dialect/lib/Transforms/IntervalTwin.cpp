//===- IntervalTwin.cpp - Interval abstraction of sets --------------------===//
//
// Abstract interpretation of a set's region, written out as IR: the twin of
// an i64 value v is a pair (lo, hi) with lo <= v <= hi for every (b, h, i, j)
// of the tile; the twin of an i1 value p is a pair (mayBeTrue, mayBeFalse).
// Every transfer function over-approximates, so a twin can only err toward
// "maybe".
//
//===----------------------------------------------------------------------===//
#include "attnc/Dialect/Attn/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

namespace attnc::attn {
#define GEN_PASS_DEF_ATTNINTERVALTWIN
#include "Passes.h.inc"
} // namespace attnc::attn

using namespace mlir;
using namespace attnc::attn;

namespace {

/// The abstraction of one value of the set's region.
struct Twin {
  enum Kind { Interval, Truth, Unknown } kind = Unknown;
  Value first, second; // (lo, hi) or (mayBeTrue, mayBeFalse)
};

class TwinBuilder {
public:
  TwinBuilder(OpBuilder &builder, Location loc) : b_(builder), loc_(loc) {}

  /// Fills `bounds` with the twin of `set`'s region.
  void build(Region &set, BoundsOp bounds) {
    Block &block = bounds.getBody().emplaceBlock();
    for (unsigned k = 0; k < 2 * kNumIndexArgs; ++k)
      block.addArgument(b_.getI64Type(), loc_);
    b_.setInsertionPointToEnd(&block);
    Block &source = set.front();
    for (unsigned k = 0; k < kNumIndexArgs; ++k)
      twins_[source.getArgument(k)] = {Twin::Interval, block.getArgument(2 * k),
                                      block.getArgument(2 * k + 1)};
    for (Operation &op : source) {
      if (auto yield = dyn_cast<YieldOp>(op)) {
        Twin result = truthOf(yield.getValues()[0]);
        b_.create<YieldOp>(loc_, ValueRange{result.first, result.second});
        return;
      }
      if (op.getNumResults() == 1)
        twins_[op.getResult(0)] = twinOf(op);
    }
  }

private:
  // ---- constants and helpers ----------------------------------------------
  Value i64(int64_t v) { return b_.create<arith::ConstantOp>(loc_, b_.getI64IntegerAttr(v)); }
  Value i1(bool v) { return b_.create<arith::ConstantOp>(loc_, b_.getBoolAttr(v)); }
  Twin interval(Value lo, Value hi) { return {Twin::Interval, lo, hi}; }
  Twin truth(Value mayBeTrue, Value mayBeFalse) { return {Twin::Truth, mayBeTrue, mayBeFalse}; }
  // Operands are built in separate statements throughout, so that the IR's
  // order does not depend on the C++ compiler's argument evaluation order.
  Twin top() {
    Value lo = i64(std::numeric_limits<int64_t>::min());
    return interval(lo, i64(std::numeric_limits<int64_t>::max()));
  }
  Twin maybe() {
    Value yes = i1(true);
    return truth(yes, yes);
  }
  /// (a && b) || (c && d)
  Value orOfAnds(Value a, Value b, Value c, Value d) {
    Value first = andI(a, b);
    return orI(first, andI(c, d));
  }
  Value andI(Value a, Value c) { return b_.create<arith::AndIOp>(loc_, a, c); }
  Value orI(Value a, Value c) { return b_.create<arith::OrIOp>(loc_, a, c); }
  Value notI(Value a) { return b_.create<arith::XOrIOp>(loc_, a, i1(true)); }

  /// The interval of an integer operand (the whole range if it has none).
  Twin intervalOf(Value v) {
    Twin t = twins_.lookup(v);
    return t.kind == Twin::Interval ? t : top();
  }
  Twin truthOf(Value v) {
    Twin t = twins_.lookup(v);
    return t.kind == Twin::Truth ? t : maybe();
  }

  Twin lift(RangeFn fn, ArrayRef<Value> operands) {
    SmallVector<Value> bounds;
    for (Value operand : operands) {
      Twin t = intervalOf(operand);
      bounds.push_back(t.first);
      bounds.push_back(t.second);
    }
    auto op = b_.create<IntRangeOp>(loc_, b_.getI64Type(), b_.getI64Type(), fn, bounds);
    return interval(op.getLo(), op.getHi());
  }

  Twin compare(arith::CmpIPredicate predicate, Value lhs, Value rhs) {
    static const std::pair<arith::CmpIPredicate, CmpFn> table[] = {
        {arith::CmpIPredicate::eq, CmpFn::eq},  {arith::CmpIPredicate::ne, CmpFn::ne},
        {arith::CmpIPredicate::slt, CmpFn::lt}, {arith::CmpIPredicate::sle, CmpFn::le},
        {arith::CmpIPredicate::sgt, CmpFn::gt}, {arith::CmpIPredicate::sge, CmpFn::ge}};
    for (auto [from, to] : table) {
      if (from != predicate)
        continue;
      if (lhs.getType().isInteger(1))
        return compareTruths(to, truthOf(lhs), truthOf(rhs));
      Twin a = intervalOf(lhs), c = intervalOf(rhs);
      auto op = b_.create<CmpRangeOp>(loc_, b_.getI1Type(), b_.getI1Type(), to, a.first,
                                      a.second, c.first, c.second);
      return truth(op.getMayBeTrue(), op.getMayBeFalse());
    }
    return maybe(); // unsigned predicates: not produced by MLIRGen
  }

  /// == and != of two i1 values, from their truth pairs.
  Twin compareTruths(CmpFn fn, Twin a, Twin c) {
    if (fn != CmpFn::eq && fn != CmpFn::ne)
      return maybe();
    Twin equal = truthOfXor(a, c);
    std::swap(equal.first, equal.second);
    return fn == CmpFn::eq ? equal : truth(equal.second, equal.first);
  }

  /// a != b for i1 values: true when one may be true while the other may be false.
  Twin truthOfXor(Twin a, Twin c) {
    Value mayBeTrue = orOfAnds(a.first, c.second, a.second, c.first);
    Value mayBeFalse = orOfAnds(a.first, c.first, a.second, c.second);
    return truth(mayBeTrue, mayBeFalse);
  }

  Twin select(Value condition, Value whenTrue, Value whenFalse) {
    Twin c = truthOf(condition);
    if (whenTrue.getType().isInteger(1)) {
      Twin a = truthOf(whenTrue), d = truthOf(whenFalse);
      Value mayBeTrue = orOfAnds(c.first, a.first, c.second, d.first);
      Value mayBeFalse = orOfAnds(c.first, a.second, c.second, d.second);
      return truth(mayBeTrue, mayBeFalse);
    }
    if (!whenTrue.getType().isInteger(64))
      return {};
    // Only the arms the condition can reach contribute to the hull.
    Twin a = intervalOf(whenTrue), d = intervalOf(whenFalse);
    Value onlyTrue = notI(c.second), onlyFalse = notI(c.first);
    auto pick = [&](Value ifTrue, Value ifFalse, Value both) {
      Value v = b_.create<arith::SelectOp>(loc_, onlyFalse, ifFalse, both);
      return b_.create<arith::SelectOp>(loc_, onlyTrue, ifTrue, v).getResult();
    };
    Value lo = b_.create<arith::MinSIOp>(loc_, a.first, d.first);
    Value hi = b_.create<arith::MaxSIOp>(loc_, a.second, d.second);
    Value pickedLo = pick(a.first, d.first, lo);
    return interval(pickedLo, pick(a.second, d.second, hi));
  }

  Twin tensorRange(TensorLoadOp load) {
    if (!load.getType().isInteger(64))
      return {};
    SmallVector<Value> bounds;
    for (Value index : load.getIndices()) {
      Twin t = intervalOf(index);
      bounds.push_back(t.first);
      bounds.push_back(t.second);
    }
    auto op = b_.create<TensorRangeOp>(loc_, b_.getI64Type(), b_.getI64Type(),
                                       load.getTensorAttr(), bounds);
    return interval(op.getLo(), op.getHi());
  }

  // ---- one operation ------------------------------------------------------
  Twin twinOf(Operation &op) {
    Value result = op.getResult(0);
    if (auto c = dyn_cast<arith::ConstantOp>(op)) {
      if (auto v = dyn_cast<IntegerAttr>(c.getValue())) {
        if (result.getType().isInteger(1)) {
          Value mayBeTrue = i1(v.getInt() != 0);
          return truth(mayBeTrue, i1(v.getInt() == 0));
        }
        Value point = i64(v.getInt());
        return interval(point, point);
      }
      return {};
    }
    if (isa<DimOp, GetParamOp>(op) && result.getType().isInteger(64)) {
      Value point = b_.clone(op)->getResult(0);
      return interval(point, point);
    }
    if (auto get = dyn_cast<GetParamOp>(op); get && result.getType().isInteger(1)) {
      Value value = b_.clone(op)->getResult(0);
      return truth(value, notI(value));
    }
    if (std::optional<RangeFn> fn = liftedRangeFn(&op))
      return lift(*fn, SmallVector<Value>(op.getOperands()));
    return llvm::TypeSwitch<Operation *, Twin>(&op)
        .Case([&](arith::CmpIOp o) { return compare(o.getPredicate(), o.getLhs(), o.getRhs()); })
        .Case([&](arith::CmpFOp) { return maybe(); })
        .Case([&](arith::AndIOp o) -> Twin {
          Twin a = truthOf(o.getLhs()), c = truthOf(o.getRhs());
          Value mayBeTrue = andI(a.first, c.first);
          return truth(mayBeTrue, orI(a.second, c.second));
        })
        .Case([&](arith::OrIOp o) -> Twin {
          Twin a = truthOf(o.getLhs()), c = truthOf(o.getRhs());
          Value mayBeTrue = orI(a.first, c.first);
          return truth(mayBeTrue, andI(a.second, c.second));
        })
        .Case([&](arith::XOrIOp o) {
          return truthOfXor(truthOf(o.getLhs()), truthOf(o.getRhs()));
        })
        .Case([&](arith::SelectOp o) {
          return select(o.getCondition(), o.getTrueValue(), o.getFalseValue());
        })
        .Case([&](arith::ExtUIOp o) -> Twin {
          Twin t = truthOf(o.getIn());
          Value zero = i64(0), one = i64(1);
          Value lo = b_.create<arith::SelectOp>(loc_, t.second, zero, one);
          Value hi = b_.create<arith::SelectOp>(loc_, t.first, one, zero);
          return interval(lo, hi);
        })
        .Case([&](TensorLoadOp o) { return tensorRange(o); })
        .Default([&](Operation *) -> Twin {
          // Anything else (floats, conversions from float): no information.
          if (result.getType().isInteger(1))
            return maybe();
          if (result.getType().isInteger(64))
            return top();
          return {};
        });
  }

  OpBuilder &b_;
  Location loc_;
  llvm::DenseMap<Value, Twin> twins_;
};

struct IntervalTwin : attnc::attn::impl::AttnIntervalTwinBase<IntervalTwin> {
  void runOnOperation() override {
    PatternOp pattern = getOperation();
    for (BoundsOp old : llvm::make_early_inc_range(pattern.getBodyBlock().getOps<BoundsOp>()))
      old.erase();
    SmallVector<Operation *> sets;
    for (Operation &op : pattern.getBodyBlock())
      if (isa<SetOp, AttendOp>(op))
        sets.push_back(&op);
    for (Operation *op : sets) {
      OpBuilder builder(op->getContext());
      builder.setInsertionPointAfter(op);
      FlatSymbolRefAttr of;
      if (auto set = dyn_cast<SetOp>(op))
        of = FlatSymbolRefAttr::get(set.getSymNameAttr());
      auto bounds = builder.create<BoundsOp>(op->getLoc(), of);
      TwinBuilder(builder, op->getLoc()).build(op->getRegion(0), bounds);
    }
  }
};

} // namespace
