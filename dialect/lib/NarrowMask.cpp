//===- NarrowMask.cpp -----------------------------------------------------===//
#include "attnc/Dialect/Attn/NarrowMask.h"

#include "llvm/ADT/TypeSwitch.h"

#include <limits>

using namespace mlir;

namespace attnc::attn {
namespace {

constexpr interval::Range kInt32{std::numeric_limits<int32_t>::min(),
                                 std::numeric_limits<int32_t>::max()};

bool withinInt32(interval::Range r) { return r.lo >= kInt32.lo && r.hi <= kInt32.hi; }

/// The index arguments b, h, i, j of an element region.
constexpr interval::Range kIndexRanges[kNumIndexArgs] = {
    {0, NarrowLimits::kMaxBatchIndex},
    {0, NarrowLimits::kMaxHeads - 1},
    {0, NarrowLimits::kMaxSeq - 1},
    {0, NarrowLimits::kMaxSeq - 1}};

interval::Range dimRange(ShapeDim dim) {
  switch (dim) {
  case ShapeDim::H: return {1, NarrowLimits::kMaxHeads};
  case ShapeDim::Nq:
  case ShapeDim::Nk: return {1, NarrowLimits::kMaxSeq};
  case ShapeDim::D: return {1, NarrowLimits::kMaxHeadDim};
  }
  return interval::kFull;
}

class MaskAnalysis {
public:
  explicit MaskAnalysis(PatternOp pattern) : pattern_(pattern) {}

  MaskRanges runOnMask() {
    if (pattern_.getUnique<CausalOp>()) {
      result_.whyNot = "attn.causal is not explicit yet";
      return std::move(result_);
    }
    for (Operation &op : pattern_.getBodyBlock())
      if (isa<SetOp, AttendOp, ComponentOp>(op))
        analyze(op);
    return std::move(result_);
  }

  MaskRanges runOn(Operation &element) {
    analyze(element);
    return std::move(result_);
  }

private:
  void analyze(Operation &element) {
    Block &block = element.getRegion(0).front();
    for (auto [k, arg] : llvm::enumerate(block.getArguments()))
      record(arg, k < kNumIndexArgs ? kIndexRanges[k] : interval::kFull, element);
    for (Operation &op : block)
      for (Value result : op.getResults())
        record(result, rangeOf(op), element);
  }

  /// Keeps the bound of an integer value; remembers the first that is not
  /// narrow.
  void record(Value value, interval::Range range, Operation &element) {
    Type type = value.getType();
    if (type.isInteger(1) || type.isF32())
      return;
    if (!type.isInteger(64)) {
      fail(value, element, "has a type other than i1, i64 and f32");
      return;
    }
    result_.bounds[value] = range;
    if (!withinInt32(range))
      fail(value, element,
           "may reach [" + std::to_string(range.lo) + ", " + std::to_string(range.hi) + "]");
  }

  void fail(Value value, Operation &element, const std::string &what) {
    if (!result_.whyNot.empty())
      return;
    std::string where = element.getName().getStringRef().str();
    if (auto set = dyn_cast<SetOp>(element))
      where += " @" + set.getSymName().str();
    if (auto component = dyn_cast<ComponentOp>(element))
      where += " #" + std::to_string(component.getIndex());
    std::string name = "an argument";
    if (Operation *def = value.getDefiningOp())
      name = "'" + def->getName().getStringRef().str() + "'";
    result_.whyNot = name + " in " + where + " " + what;
  }

  interval::Range operand(Value v) const {
    auto it = result_.bounds.find(v);
    return it == result_.bounds.end() ? interval::kFull : it->second;
  }

  interval::Range rangeOf(Operation &op) const {
    if (std::optional<RangeFn> fn = liftedRangeFn(&op)) {
      interval::Range a = operand(op.getOperand(0));
      interval::Range b = op.getNumOperands() > 1 ? operand(op.getOperand(1)) : a;
      return applyRangeFn(*fn, a, b);
    }
    return llvm::TypeSwitch<Operation *, interval::Range>(&op)
        .Case([](arith::ConstantOp c) {
          auto v = dyn_cast<IntegerAttr>(c.getValue());
          return v ? interval::Range{v.getInt(), v.getInt()} : interval::kFull;
        })
        .Case([](DimOp dim) { return dimRange(dim.getDim()); })
        .Case([&](arith::SelectOp s) {
          interval::Range a = operand(s.getTrueValue()), b = operand(s.getFalseValue());
          return interval::Range{std::min(a.lo, b.lo), std::max(a.hi, b.hi)};
        })
        .Case([](arith::ExtUIOp e) {
          return e.getIn().getType().isInteger(1) ? interval::Range{0, 1} : interval::kFull;
        })
        .Case([&](TensorLoadOp load) {
          auto tensor =
              dyn_cast_or_null<TensorParamOp>(SymbolTable::lookupSymbolIn(pattern_, load.getTensorAttr()));
          return tensor && tensor.getElementType().isInteger(32) ? kInt32 : interval::kFull;
        })
        // Parameters not specialized, conversions from float, anything else.
        .Default([](Operation *) { return interval::kFull; });
  }

  PatternOp pattern_;
  MaskRanges result_;
};

} // namespace

MaskRanges analyzeMaskRanges(PatternOp pattern) { return MaskAnalysis(pattern).runOnMask(); }

bool isPairValueOp(Operation *op) {
  return isa<BiasOp, ScoreOp, ScoreGradOp, TensorGradOp>(op);
}

MaskRanges analyzeValueRanges(PatternOp pattern, Operation &op) {
  assert(isPairValueOp(&op) && "not a per-pair value op");
  return MaskAnalysis(pattern).runOn(op);
}

} // namespace attnc::attn
