//===- CudaEmitter.cpp ----------------------------------------------------===//
//
// Each element region of a pattern becomes a func.func whose body is the
// region's ops, with attn builtins (and the arith/math ops that
// convert-arith-to-emitc does not know) replaced by emitc.call_opaque of the
// device helpers in runtime/kernels/attnc_builtins.cuh. Then arith and func are
// converted to emitc with MLIR's own patterns and printed by the C++ emitter.
// The per-head entry points are plain switches, written as text.
//
// A pattern that attn-narrow-mask proved narrow (attn.narrow_mask) gets its
// mask functions (sets and attend) in 32-bit integers: every i64 of those
// regions becomes i32, and attnc_<p>_attends converts its 64-bit indices once.
// Per-pair value functions (bias, score, score_grad, tensor_grad) marked
// attn.narrow likewise, converted by their members in attnc_<p>_elements.
//
//===----------------------------------------------------------------------===//
#include "attnc/codegen/CudaEmitter.h"
#include "attnc/Dialect/Attn/NarrowMask.h"

#include "attn/Bundle.h"

#include "mlir/Conversion/ArithToEmitC/ArithToEmitC.h"
#include "mlir/Conversion/FuncToEmitC/FuncToEmitC.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Target/Cpp/CppEmitter.h"
#include "mlir/Transforms/DialectConversion.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <fmt/format.h>

using namespace mlir;

namespace attnc {
namespace {

// The leading arguments of every generated function, as C++ types. Tensors are
// passed by reference: the descriptor is a few hundred bytes.
constexpr const char *kShapeType = "attnc_shape";
constexpr const char *kTensorsType = "const attnc_tensors &";
// attnc_<p>_tensor_grad alone also takes the gradients, after the tensors.
constexpr const char *kGradsType = "const attnc_tensor_grads &";
// What the helpers of two-valued ops return (see attnc_builtins.cuh).
constexpr const char *kRangeType = "attnc_range";
constexpr const char *kTruthType = "attnc_truth";

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// A tensor parameter as device code sees it: its slot in attnc_tensors and
/// the suffix of the helpers that read it.
struct TensorSlot {
  unsigned index;
  std::string suffix; // i32, i64 or f32
};

std::string typeSuffix(Type type) {
  if (type.isF32())
    return "f32";
  return "i" + std::to_string(type.getIntOrFloatBitWidth());
}

llvm::StringMap<TensorSlot> tensorSlots(attn::PatternOp pattern) {
  llvm::StringMap<TensorSlot> slots;
  for (attn::TensorParamOp tensor : pattern.getBodyBlock().getOps<attn::TensorParamOp>())
    slots[tensor.getSymName()] = {static_cast<unsigned>(slots.size()),
                                  typeSuffix(tensor.getElementType())};
  return slots;
}

/// The tensor parameters' names by slot (a StringMap is unordered).
std::vector<std::string> namesInSlotOrder(const llvm::StringMap<TensorSlot> &slots) {
  std::vector<std::string> names(slots.size());
  for (const auto &entry : slots)
    names[entry.second.index] = entry.getKey().str();
  return names;
}

/// One element region and the name of the function it becomes.
struct ElementFunction {
  std::string name;
  Region *body;
  /// Whether it is a mask function (a set or attend).
  bool mask = false;
};

/// attnc_<pattern>_: the prefix of every generated name.
std::string functionPrefix(attn::PatternOp pattern) {
  return "attnc_" + pattern.getSymName().str() + "_";
}

/// attnc_<pattern>_component<k>: the prefix of the functions of the k-th
/// attn.component of the pattern (counted over all its sets).
std::string componentPrefix(attn::PatternOp pattern, size_t k) {
  return functionPrefix(pattern) + "component" + std::to_string(k);
}

std::vector<ElementFunction> elementFunctions(attn::PatternOp pattern) {
  std::string prefix = functionPrefix(pattern);
  std::vector<ElementFunction> functions;
  size_t components = 0;
  for (Operation &op : pattern.getBodyBlock()) {
    if (isa<attn::ComponentOp>(op)) {
      // Its predicate; attnc_<p>_component<k>_attends wraps it (printComponentAttends).
      functions.push_back(
          {componentPrefix(pattern, components++) + "_predicate", &op.getRegion(0), true});
      continue;
    }
    std::optional<std::string> suffix =
        llvm::TypeSwitch<Operation *, std::optional<std::string>>(&op)
            .Case([](attn::SetOp set) { return "set_" + set.getSymName().str(); })
            .Case([](attn::AttendOp) { return "attend"; })
            .Case([](attn::BiasOp) { return "bias"; })
            .Case([](attn::ScoreOp) { return "score"; })
            .Case([](attn::ScoreGradOp) { return "score_grad"; })
            .Case([](attn::TensorGradOp) { return "tensor_grad"; })
            .Case([](attn::ScaleOp) { return "scale"; })
            .Case([](attn::BoundsOp bounds) {
              return "bounds_" + (bounds.getOf() ? bounds.getOf()->str() : "attend");
            })
            .Default([](Operation *) { return std::nullopt; });
    if (suffix)
      functions.push_back({prefix + *suffix, &op.getRegion(0), isa<attn::SetOp, attn::AttendOp>(op)});
  }
  return functions;
}

/// Clones one region into a func.func, lowering attn builtins on the way.
class FunctionBuilder {
public:
  FunctionBuilder(OpBuilder &builder, const llvm::StringMap<TensorSlot> &tensors)
      : builder_(builder), tensors_(tensors) {}

  /// With `narrow`, every i64 of the function becomes i32.
  LogicalResult build(const ElementFunction &element, bool narrow);

private:
  LogicalResult lower(Operation &op);
  LogicalResult lowerTensorOp(Operation &op, StringRef tensor, ValueRange indices);
  LogicalResult lowerGradAccumulate(attn::GradAccumulateOp op);
  /// The operands and `args` of a helper called as (tensors-like, slot,
  /// indices...): `first` is the attnc_tensors (or attnc_tensor_grads) value.
  std::pair<SmallVector<Value>, ArrayAttr> slotCall(Value first, unsigned slot,
                                                    ValueRange indices);
  /// Calls `callee` on values of the new function; `args` (emitc's `args`
  /// attribute) places literals among the operands.
  Value call(Location loc, Type result, StringRef callee, ValueRange operands,
             ArrayAttr args = {});
  /// Maps `op`'s two results to the fields of `both` (an attnc_range or
  /// attnc_truth), read with the helpers `first` and `second`.
  void mapPair(Operation &op, Value both, StringRef first, StringRef second);
  void finish(Location loc, ValueRange yielded);
  SmallVector<Value> mapped(ValueRange values) const;
  /// The type a value of the region has in the function.
  Type converted(Type type) const {
    return narrow_ && type.isInteger(64) ? builder_.getI32Type() : type;
  }
  /// Gives a cloned op its converted result types (constants their values).
  void convertResults(Operation *clone);

  OpBuilder &builder_;
  const llvm::StringMap<TensorSlot> &tensors_;
  IRMapping mapping_;
  Value shape_, tensorsArg_, gradsArg_;
  bool narrow_ = false;
};

Type opaque(OpBuilder &builder, StringRef cppType) {
  return emitc::OpaqueType::get(builder.getContext(), cppType);
}

LogicalResult FunctionBuilder::build(const ElementFunction &element, bool narrow) {
  narrow_ = narrow;
  Block &source = element.body->front();
  auto yield = cast<attn::YieldOp>(source.getTerminator());
  bool withGrads = isa<attn::TensorGradOp>(element.body->getParentOp());
  SmallVector<Type> inputs = {opaque(builder_, kShapeType), opaque(builder_, kTensorsType)};
  if (withGrads)
    inputs.push_back(opaque(builder_, kGradsType));
  const unsigned leading = inputs.size();
  for (Type type : source.getArgumentTypes())
    inputs.push_back(converted(type));
  // A twin yields two i1; C++ returns them as one attnc_truth. The tensor
  // gradients yield nothing: a void function.
  SmallVector<Type> results;
  for (Type type : yield.getValues().getTypes())
    results.push_back(converted(type));
  if (results.size() == 2)
    results = {opaque(builder_, kTruthType)};
  Location loc = element.body->getParentOp()->getLoc();
  auto fn = builder_.create<func::FuncOp>(loc, element.name,
                                          builder_.getFunctionType(inputs, results));
  Block *entry = fn.addEntryBlock();
  shape_ = entry->getArgument(0);
  tensorsArg_ = entry->getArgument(1);
  gradsArg_ = withGrads ? entry->getArgument(2) : Value();
  mapping_.clear();
  mapping_.map(source.getArguments(), entry->getArguments().drop_front(leading));
  OpBuilder::InsertionGuard guard(builder_);
  builder_.setInsertionPointToStart(entry);
  for (Operation &op : source.without_terminator())
    if (failed(lower(op)))
      return failure();
  finish(yield.getLoc(), yield.getValues());
  return success();
}

void FunctionBuilder::finish(Location loc, ValueRange yielded) {
  SmallVector<Value> values = mapped(yielded);
  if (values.size() == 2)
    values = {call(loc, opaque(builder_, kTruthType), "attnc_make_truth", values)};
  builder_.create<func::ReturnOp>(loc, values);
}

SmallVector<Value> FunctionBuilder::mapped(ValueRange values) const {
  return llvm::map_to_vector(values, [&](Value v) { return mapping_.lookup(v); });
}

Value FunctionBuilder::call(Location loc, Type result, StringRef callee, ValueRange operands,
                            ArrayAttr args) {
  return builder_.create<emitc::CallOpaqueOp>(loc, result, callee, operands, args).getResult(0);
}

void FunctionBuilder::mapPair(Operation &op, Value both, StringRef first, StringRef second) {
  for (auto [result, getter] : llvm::zip(op.getResults(), std::array{first, second}))
    mapping_.map(result, call(op.getLoc(), result.getType(), getter, both));
}

/// The device function of a one-result op whose C++ operator would not floor
/// or wrap, or that convert-arith-to-emitc leaves alone (math ops are CUDA's
/// float functions), for a result of type `type` (attnc_floordiv and
/// attnc_floormod are templates over the integer type); or empty.
std::string scalarHelper(Operation &op, Type type) {
  std::string integer = type && type.isIntOrFloat() ? typeSuffix(type) : "";
  return llvm::TypeSwitch<Operation *, std::string>(&op)
      .Case([](arith::FloorDivSIOp) { return "attnc_floordiv"; })
      .Case([](attn::FloorModOp) { return "attnc_floormod"; })
      .Case([&](arith::MinSIOp) { return "attnc_min_" + integer; })
      .Case([&](arith::MaxSIOp) { return "attnc_max_" + integer; })
      .Case([&](math::AbsIOp) { return "attnc_abs_" + integer; })
      .Case([](attn::AlibiSlopeOp) { return "attnc_alibi_slope"; })
      .Case([](math::AbsFOp) { return "fabsf"; })
      .Case([](math::ExpOp) { return "expf"; })
      .Case([](math::LogOp) { return "logf"; })
      .Case([](math::TanhOp) { return "tanhf"; })
      .Case([](math::SqrtOp) { return "sqrtf"; })
      .Default([](Operation *) { return std::string(); });
}

void FunctionBuilder::convertResults(Operation *clone) {
  if (!narrow_)
    return;
  for (Value result : clone->getResults())
    result.setType(converted(result.getType()));
  if (auto constant = dyn_cast<arith::ConstantOp>(clone))
    if (auto value = dyn_cast<IntegerAttr>(constant.getValue());
        value && value.getType() != constant.getType())
      constant.setValueAttr(IntegerAttr::get(constant.getType(), value.getInt()));
}

LogicalResult FunctionBuilder::lower(Operation &op) {
  Type resultType = op.getNumResults() == 1 ? converted(op.getResult(0).getType()) : Type();
  if (std::string callee = scalarHelper(op, resultType); !callee.empty()) {
    mapping_.map(op.getResult(0),
                 call(op.getLoc(), resultType, callee, mapped(op.getOperands())));
    return success();
  }
  if (auto dim = dyn_cast<attn::DimOp>(op)) {
    std::string kind = "ATTNC_DIM_" + StringRef(attn::stringifyShapeDim(dim.getDim())).upper();
    ArrayAttr args = builder_.getArrayAttr(
        {builder_.getIndexAttr(0), emitc::OpaqueAttr::get(builder_.getContext(), kind)});
    mapping_.map(dim.getResult(), call(op.getLoc(), resultType, "attnc_dim", shape_, args));
    return success();
  }
  if (auto range = dyn_cast<attn::IntRangeOp>(op)) {
    std::string callee = ("attnc_int_range_" + attn::stringifyRangeFn(range.getFn())).str();
    mapPair(op, call(op.getLoc(), opaque(builder_, kRangeType), callee, mapped(range.getBounds())),
            "attnc_range_lo", "attnc_range_hi");
    return success();
  }
  if (auto cmp = dyn_cast<attn::CmpRangeOp>(op)) {
    std::string callee = ("attnc_cmp_range_" + attn::stringifyCmpFn(cmp.getPredicate())).str();
    mapPair(op, call(op.getLoc(), opaque(builder_, kTruthType), callee, mapped(cmp.getOperands())),
            "attnc_truth_may_be_true", "attnc_truth_may_be_false");
    return success();
  }
  if (auto load = dyn_cast<attn::TensorLoadOp>(op))
    return lowerTensorOp(op, load.getTensor(), load.getIndices());
  if (auto accumulate = dyn_cast<attn::GradAccumulateOp>(op))
    return lowerGradAccumulate(accumulate);
  if (auto range = dyn_cast<attn::TensorRangeOp>(op))
    return lowerTensorOp(op, range.getTensor(), range.getBounds());
  if (isa<attn::GetParamOp>(op))
    return op.emitOpError("reads a parameter that specialization did not bind");
  if (op.getDialect() && isa<attn::AttnDialect, math::MathDialect>(op.getDialect()))
    return op.emitOpError("has no CUDA lowering");
  convertResults(builder_.clone(op, mapping_));
  return success();
}

/// attnc_tensor_load_<type>(tensors, slot, indices...) and
/// attnc_tensor_range_<type>(tensors, slot, lo0, hi0, ...).
LogicalResult FunctionBuilder::lowerTensorOp(Operation &op, StringRef tensor,
                                             ValueRange indices) {
  auto slot = tensors_.find(tensor);
  if (slot == tensors_.end())
    return op.emitOpError("reads an undeclared tensor");
  auto [operands, argsAttr] = slotCall(tensorsArg_, slot->second.index, indices);
  if (isa<attn::TensorLoadOp>(op)) {
    mapping_.map(op.getResult(0), call(op.getLoc(), converted(op.getResult(0).getType()),
                                       "attnc_tensor_load_" + slot->second.suffix, operands,
                                       argsAttr));
    return success();
  }
  mapPair(op,
          call(op.getLoc(), opaque(builder_, kRangeType),
               "attnc_tensor_range_" + slot->second.suffix, operands, argsAttr),
          "attnc_range_lo", "attnc_range_hi");
  return success();
}

std::pair<SmallVector<Value>, ArrayAttr>
FunctionBuilder::slotCall(Value first, unsigned slot, ValueRange indices) {
  SmallVector<Attribute> args = {builder_.getIndexAttr(0), builder_.getI32IntegerAttr(slot)};
  SmallVector<Value> operands = {first};
  for (Value index : mapped(indices)) {
    args.push_back(builder_.getIndexAttr(operands.size()));
    operands.push_back(index);
  }
  return {operands, builder_.getArrayAttr(args)};
}

/// attnc_grad_accumulate(attnc_tensor_grad(grads, slot),
/// attnc_tensor_offset_at(tensors, slot, indices...), amount): the offset is
/// -1 for an index out of range, which accumulates nothing.
LogicalResult FunctionBuilder::lowerGradAccumulate(attn::GradAccumulateOp op) {
  auto slot = tensors_.find(op.getTensor());
  if (slot == tensors_.end() || !gradsArg_)
    return op.emitOpError("accumulates into an undeclared tensor or outside attn.tensor_grad");
  Location loc = op.getLoc();
  unsigned index = slot->second.index;
  auto [gradOperands, gradArgs] = slotCall(gradsArg_, index, {});
  Value grad = call(loc, opaque(builder_, "attnc_grad_word *"), "attnc_tensor_grad",
                    gradOperands, gradArgs);
  auto [offsetOperands, offsetArgs] = slotCall(tensorsArg_, index, op.getIndices());
  Value offset = call(loc, builder_.getI64Type(), "attnc_tensor_offset_at", offsetOperands,
                      offsetArgs);
  builder_.create<emitc::CallOpaqueOp>(loc, TypeRange(), "attnc_grad_accumulate",
                                       ValueRange{grad, offset, mapping_.lookup(op.getAmount())});
  return success();
}

/// A comment line `// attnc: <function>, from <file:line:col>` before the
/// function, naming the statement it was generated from: attn::compileWithNvrtc
/// adds it to the log lines of compile errors inside the function.
void markOrigin(OpBuilder &builder, const ElementFunction &element) {
  Location loc = element.body->getParentOp()->getLoc();
  auto fileLoc = dyn_cast<FileLineColLoc>(loc);
  if (!fileLoc)
    return;
  std::string text = fmt::format("{}{}, from {}:{}:{}", ::attn::kSourceMarker, element.name,
                                 fileLoc.getFilename().str(), fileLoc.getLine(),
                                 fileLoc.getColumn());
  builder.create<emitc::VerbatimOp>(loc, text);
}

/// convert-arith-to-emitc and convert-func-to-emitc on the generated module.
LogicalResult convertToEmitC(ModuleOp module) {
  MLIRContext *context = module.getContext();
  TypeConverter types;
  types.addConversion([](Type type) { return type; });
  RewritePatternSet patterns(context);
  populateArithToEmitCPatterns(types, patterns);
  populateFuncToEmitCPatterns(patterns);
  ConversionTarget target(*context);
  target.addLegalDialect<emitc::EmitCDialect>();
  target.addIllegalDialect<arith::ArithDialect, func::FuncDialect>();
  return applyPartialConversion(module, target, std::move(patterns));
}

/// Marks every emitted function as an inlined device function; the C++
/// emitter prints `specifiers` before the return type.
void markDeviceFunctions(ModuleOp module) {
  Builder builder(module.getContext());
  ArrayAttr specifiers = builder.getStrArrayAttr({"__device__", "__forceinline__"});
  module.walk([&](emitc::FuncOp fn) { fn.setSpecifiersAttr(specifiers); });
}

// The leading parameters of every function, as the entry points declare and
// pass them.
constexpr const char *kCommonParams = "attnc_shape shape, const attnc_tensors &tensors";
constexpr const char *kCommonArgs = "shape, tensors";
/// The parameters of a pair, after kCommonParams.
constexpr const char *kPair = "int64_t b, int64_t h, int64_t i, int64_t j";

/// The set head `h` uses, as a function name suffix, for each head class; a
/// single entry "attend" when one set applies to every head; empty when every
/// pair is attended.
std::vector<std::string> headSets(attn::PatternOp pattern) {
  if (attn::HeadsOp heads = pattern.getUnique<attn::HeadsOp>())
    return heads.getSetNames();
  if (pattern.getUnique<attn::AttendOp>())
    return {"attend"};
  return {};
}

/// The arguments of a pair as a member of attnc_<p>_elements passes them to a
/// function that takes them in 32 bits (`narrow`) or 64.
std::string pairArgs(bool narrow) {
  return narrow ? "(int32_t)b, (int32_t)h, (int32_t)i, (int32_t)j" : "b, h, i, j";
}

/// Whether the per-pair value op `op` computes in 32 bits: it carries
/// attn.narrow (checked by emitCuda before anything is printed).
bool markedNarrow(Operation *op) { return op && op->hasAttr(attn::kNarrowAttr); }

/// A body that calls `function(set)` for the set of head h, or returns
/// `fallback` when no set applies.
std::string dispatchBody(const std::vector<std::string> &sets,
                         llvm::function_ref<std::string(const std::string &)> function,
                         const std::string &fallback) {
  if (sets.empty())
    return fmt::format("  return {};\n", fallback);
  if (sets.size() == 1)
    return fmt::format("  return {};\n", function(sets[0]));
  std::string body = fmt::format("  switch (h % {}) {{\n", sets.size());
  for (size_t k = 0; k + 1 < sets.size(); ++k)
    body += fmt::format("  case {}: return {};\n", k, function(sets[k]));
  body += fmt::format("  default: return {};\n  }}\n", function(sets.back()));
  return body;
}

/// A mask entry point `name`(shape, tensors, b, h, i, j) over 64-bit indices
/// whose body is `body`; a narrow mask takes its indices as int32_t,
/// converted once here.
void printMaskFunction(llvm::raw_ostream &os, const std::string &name, bool narrow,
                       const std::string &body) {
  const char *wide = narrow ? "_wide" : "";
  os << fmt::format("__device__ __forceinline__ bool {}({}, int64_t b{}, int64_t h{}, "
                    "int64_t i{}, int64_t j{}) {{\n",
                    name, kCommonParams, wide, wide, wide, wide);
  if (narrow)
    os << "  const int32_t b = (int32_t)b_wide, h = (int32_t)h_wide, i = (int32_t)i_wide, "
          "j = (int32_t)j_wide;\n";
  os << body << "}\n\n";
}

/// attnc_<p>_attends (the mask of a pair, causality included once the layout
/// pipeline made it explicit), attnc_<p>_component<k>_attends (the predicate
/// of each attn.component) and attnc_<p>_classify (the twin of the set of
/// head h over a tile, for every batch index in [0, b_hi]).
void printEntryPoints(attn::PatternOp pattern, bool narrow, llvm::raw_ostream &os) {
  std::string prefix = functionPrefix(pattern);
  std::vector<std::string> sets = headSets(pattern);
  auto setName = [](const std::string &set) { return set == "attend" ? set : "set_" + set; };
  printMaskFunction(os, prefix + "attends", narrow,
                    dispatchBody(sets,
                                 [&](const std::string &set) {
                                   return fmt::format("{}{}({}, b, h, i, j)", prefix,
                                                      setName(set), kCommonArgs);
                                 },
                                 "true"));
  size_t components = llvm::range_size(pattern.getBodyBlock().getOps<attn::ComponentOp>());
  for (size_t k = 0; k < components; ++k)
    printMaskFunction(os, componentPrefix(pattern, k) + "_attends", narrow,
                      fmt::format("  return {}_predicate({}, b, h, i, j);\n",
                                  componentPrefix(pattern, k), kCommonArgs));
  os << fmt::format("__device__ __forceinline__ attnc_truth {}classify({}, int64_t b_hi, "
                    "int64_t h, int64_t i_lo, int64_t i_hi, int64_t j_lo, int64_t j_hi) {{\n",
                    prefix, kCommonParams)
     << dispatchBody(sets,
                     [&](const std::string &set) {
                       return fmt::format("{}bounds_{}({}, 0, b_hi, h, h, i_lo, i_hi, j_lo, j_hi)",
                                          prefix, set, kCommonArgs);
                     },
                     "attnc_make_truth(true, false)")
     << "}\n";
}

void printPreamble(attn::PatternOp pattern, const llvm::StringMap<TensorSlot> &tensors,
                   llvm::raw_ostream &os) {
  os << "// Generated by attnc from pattern '" << pattern.getSymName()
     << "'. Device code: compile with NVRTC or nvcc.\n"
     << "#include \"" << kCudaBuiltinsHeader << "\"\n\n";
  if (tensors.empty())
    return;
  std::vector<std::string> names = namesInSlotOrder(tensors);
  os << "// Slots of the tensor parameters in attnc_tensors::t.\nenum {\n";
  for (size_t k = 0; k < names.size(); ++k)
    os << fmt::format("  attnc_{}_tensor_{} = {},\n", pattern.getSymName().str(), names[k], k);
  os << "};\n\n";
}

/// One float member of attnc_<p>_elements over a pair (and the incoming
/// score when `takesScore`): the pattern's function `name` when it has one,
/// else `identity`.
void printPairMember(llvm::raw_ostream &os, const std::string &prefix, const char *name,
                     bool present, bool narrow, bool takesScore, const char *identity) {
  os << fmt::format("  static __device__ __forceinline__ float {}({}, {}{}) {{\n"
                    "    return {};\n  }}\n",
                    name, kCommonParams, kPair, takesScore ? ", float score" : "",
                    present ? fmt::format("(float){}{}({}, {}{})", prefix, name, kCommonArgs,
                                          pairArgs(narrow), takesScore ? ", score" : "")
                            : std::string(identity));
}

/// attnc_<p>_elements: what the forward and backward kernels ask of a
/// pattern, with the identity where the pattern has no bias, score or scale
/// statement.
void printElements(attn::PatternOp pattern, bool narrow, llvm::raw_ostream &os) {
  std::string prefix = functionPrefix(pattern);
  Operation *bias = pattern.getUnique<attn::BiasOp>();
  Operation *score = pattern.getUnique<attn::ScoreOp>();
  Operation *scoreGrad = pattern.getUnique<attn::ScoreGradOp>();
  Operation *tensorGrad = pattern.getUnique<attn::TensorGradOp>();
  bool hasBias = bias, hasScore = score, hasTensorGrad = tensorGrad;
  bool hasScale = static_cast<bool>(pattern.getUnique<attn::ScaleOp>());
  os << fmt::format("struct {}elements {{\n"
                    "  static constexpr bool has_bias = {};\n"
                    "  static constexpr bool has_score = {};\n"
                    "  // Whether attends() computes in 32-bit integers (attn.narrow_mask).\n"
                    "  static constexpr bool narrow_mask = {};\n"
                    "  static constexpr bool has_tensor_grad = {};\n",
                    prefix, hasBias, hasScore, narrow, hasTensorGrad);
  os << fmt::format("  static __device__ __forceinline__ bool attends({}, {}) {{\n"
                    "    return {}attends({}, b, h, i, j);\n  }}\n",
                    kCommonParams, kPair, prefix, kCommonArgs);
  printPairMember(os, prefix, "bias", hasBias, markedNarrow(bias), /*takesScore=*/false, "0.f");
  printPairMember(os, prefix, "score", hasScore, markedNarrow(score), /*takesScore=*/true,
                  "score");
  printPairMember(os, prefix, "score_grad", hasScore, markedNarrow(scoreGrad),
                  /*takesScore=*/true, "1.f");
  // The gradients of the float tensors of bias and score for one pair;
  // nothing to add when they read none.
  os << fmt::format("  static __device__ __forceinline__ void tensor_grad({}, {}grads, {}, "
                    "float value, float d_logit) {{\n{}  }}\n",
                    kCommonParams, kGradsType, kPair,
                    hasTensorGrad ? fmt::format("    {}tensor_grad({}, grads, {}, value, "
                                                "d_logit);\n",
                                                prefix, kCommonArgs,
                                                pairArgs(markedNarrow(tensorGrad)))
                                  : "");
  // Without a scale statement: 1/sqrt(D) rounded once to binary32, as the
  // reference interpreter computes it.
  os << fmt::format("  static __device__ __forceinline__ float scale({}) {{\n"
                    "    return {};\n  }}\n}};\n",
                    kCommonParams,
                    hasScale ? fmt::format("(float){}scale({})", prefix, kCommonArgs)
                             : "(float)(1.0 / sqrt((double)shape.D))");
}

/// Per attn.component, attnc_<p>_component<k>_elements (the pattern's
/// elements with the component's predicate as the mask) and its forward
/// kernel, attnc_component_forward_kernel instantiated; only when asked for
/// (-DATTNC_COMPONENTS): the runtime asks when it runs a head class through
/// its components.
void printComponentKernels(attn::PatternOp pattern, KernelSource &kernel, llvm::raw_ostream &os) {
  size_t count = llvm::range_size(pattern.getBodyBlock().getOps<attn::ComponentOp>());
  if (count == 0)
    return;
  std::string elements = functionPrefix(pattern) + "elements";
  os << fmt::format("\n#ifdef ATTNC_COMPONENTS\n#include \"{}\"\n", kCudaComponentsHeader);
  for (size_t k = 0; k < count; ++k) {
    std::string prefix = componentPrefix(pattern, k);
    kernel.components.push_back({prefix + "_attends", prefix + "_forward",
                                 prefix + "_backward_dq", prefix + "_backward_dkdv"});
    os << fmt::format("\nstruct {0}_elements : {1} {{\n"
                      "  static __device__ __forceinline__ bool attends({2}, {3}) {{\n"
                      "    return {0}_attends({4}, b, h, i, j);\n  }}\n}};\n"
                      "\nextern \"C\" __global__ void\n"
                      "__launch_bounds__(ATTNC_FWD_THREADS, ATTNC_FWD_MIN_BLOCKS)\n"
                      "{0}_forward(attnc_component_args args, attnc_tensors tensors) {{\n"
                      "  attnc_component_forward_kernel<{0}_elements>(args, tensors);\n}}\n",
                      prefix, elements, kCommonParams, kPair, kCommonArgs);
  }
  os << "#endif\n";
}

/// The extern "C" dQ and dK/dV kernels `dq` and `dkdv` of a backward: the
/// templates `<kernelPrefix>_dq_kernel` and `_dkdv_kernel` instantiated with
/// `elements`, taking `argsType`.
void printBackwardWrappers(llvm::raw_ostream &os, const std::string &dq, const std::string &dkdv,
                           const char *kernelPrefix, const char *argsType,
                           const std::string &elements) {
  for (auto [name, kernel] : {std::pair{dq, "dq"}, std::pair{dkdv, "dkdv"}})
    os << fmt::format("\nextern \"C\" __global__ void\n"
                      "__launch_bounds__(ATTNC_BWD_THREADS, ATTNC_BWD_MIN_BLOCKS)\n"
                      "{}({} args, attnc_tensors tensors) {{\n"
                      "  {}_{}_kernel<{}>(args, tensors);\n}}\n",
                      name, argsType, kernelPrefix, kernel, elements);
}

/// Per attn.component, its backward kernels (attnc_component_backward_dq_kernel
/// and _dkdv_kernel instantiated); only when asked for
/// (-DATTNC_COMPONENTS_BACKWARD, with -DATTNC_COMPONENTS and -DATTNC_BACKWARD).
void printComponentBackwardKernels(attn::PatternOp pattern, const KernelSource &kernel,
                                   llvm::raw_ostream &os) {
  if (kernel.components.empty())
    return;
  os << fmt::format("\n#ifdef ATTNC_COMPONENTS_BACKWARD\n#include \"{}\"\n",
                    kCudaComponentsBackwardHeader);
  for (size_t k = 0; k < kernel.components.size(); ++k) {
    const KernelSource::Component &component = kernel.components[k];
    printBackwardWrappers(os, component.backwardDqKernel, component.backwardDkdvKernel,
                          "attnc_component_backward", "attnc_component_backward_args",
                          componentPrefix(pattern, k) + "_elements");
  }
  os << "#endif\n";
}

} // namespace

llvm::Expected<bool> narrowMask(attn::PatternOp pattern) {
  if (!pattern->hasAttr(attn::kNarrowMaskAttr))
    return false;
  // The attribute is a claim about the IR; check it is still true of this IR.
  attn::MaskRanges ranges = attn::analyzeMaskRanges(pattern);
  if (!ranges.narrow())
    return error("pattern '" + pattern.getSymName() + "' is marked " + attn::kNarrowMaskAttr +
                 " but its mask is not narrow: " + ranges.whyNot);
  return true;
}

/// Whether the element function of `element` computes in 32 bits: the mask's
/// functions when the mask is narrow, a per-pair value function when it
/// carries attn.narrow, whose claim is checked here as narrowMask's is.
llvm::Expected<bool> narrowElement(attn::PatternOp pattern, const ElementFunction &element,
                                   bool narrowMask) {
  if (element.mask)
    return narrowMask;
  Operation *op = element.body->getParentOp();
  if (!attn::isPairValueOp(op) || !markedNarrow(op))
    return false;
  attn::MaskRanges ranges = attn::analyzeValueRanges(pattern, *op);
  if (!ranges.narrow())
    return error("'" + op->getName().getStringRef() + "' of pattern '" + pattern.getSymName() +
                 "' is marked " + attn::kNarrowAttr + " but is not narrow: " + ranges.whyNot);
  return true;
}

llvm::Error emitCuda(attn::PatternOp pattern, llvm::raw_ostream &os) {
  if (pattern.getUnique<attn::CausalOp>())
    return error("pattern '" + pattern.getSymName() +
                 "' still holds attn.causal: run the layout pipeline first");
  llvm::Expected<bool> narrow = narrowMask(pattern);
  if (!narrow)
    return narrow.takeError();
  MLIRContext *context = pattern.getContext();
  context->loadDialect<emitc::EmitCDialect, func::FuncDialect>();
  OpBuilder builder(context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(pattern.getLoc());
  builder.setInsertionPointToEnd(module->getBody());
  llvm::StringMap<TensorSlot> tensors = tensorSlots(pattern);
  FunctionBuilder functions(builder, tensors);
  for (const ElementFunction &element : elementFunctions(pattern)) {
    markOrigin(builder, element);
    llvm::Expected<bool> narrowHere = narrowElement(pattern, element, *narrow);
    if (!narrowHere)
      return narrowHere.takeError();
    if (failed(functions.build(element, *narrowHere)))
      return error("cannot generate CUDA for '" + element.name + "'");
  }
  if (failed(convertToEmitC(*module)))
    return error("cannot lower pattern '" + pattern.getSymName() + "' to emitc");
  markDeviceFunctions(*module);
  std::string functionsText;
  llvm::raw_string_ostream functionsStream(functionsText);
  if (failed(emitc::translateToCpp(*module, functionsStream)))
    return error("the C++ emitter failed on pattern '" + pattern.getSymName() + "'");
  printPreamble(pattern, tensors, os);
  os << StringRef(functionsText).rtrim() << "\n\n";
  printEntryPoints(pattern, *narrow, os);
  return llvm::Error::success();
}

llvm::Expected<KernelSource> emitKernelSource(attn::PatternOp pattern) {
  KernelSource kernel;
  llvm::raw_string_ostream os(kernel.source);
  if (llvm::Error err = emitCuda(pattern, os))
    return err;
  std::string prefix = functionPrefix(pattern);
  kernel.layoutKernel = prefix + "layout";
  kernel.forwardKernel = prefix + "forward";
  os << fmt::format("\n#include \"{}\"\n\n"
                    "extern \"C\" __global__ void {}(attnc_layout_args args, "
                    "attnc_tensors tensors) {{\n"
                    "  attnc_layout_kernel<{}classify>(args, tensors);\n}}\n",
                    kCudaLayoutHeader, kernel.layoutKernel, prefix);
  // The forward kernel needs a dtype and head dimension: without them (as
  // for the layout kernel alone) the translation unit ends here.
  os << "\n#ifdef ATTNC_HEAD_DIM\n";
  printElements(pattern, cantFail(narrowMask(pattern)), os);
  os << fmt::format("\n#include \"{}\"\n\n"
                    "extern \"C\" __global__ void\n"
                    "__launch_bounds__(ATTNC_FWD_THREADS, ATTNC_FWD_MIN_BLOCKS)\n"
                    "{}(attnc_forward_args args, attnc_tensors tensors) {{\n"
                    "  attnc_forward_kernel<{}elements>(args, tensors);\n}}\n",
                    kCudaForwardHeader, kernel.forwardKernel, prefix);
  printComponentKernels(pattern, kernel, os);
  // The backward kernels only when asked for (-DATTNC_BACKWARD): inference
  // does not pay for their compilation.
  kernel.backwardDqKernel = prefix + "backward_dq";
  kernel.backwardDkdvKernel = prefix + "backward_dkdv";
  os << fmt::format("\n#ifdef ATTNC_BACKWARD\n#include \"{}\"\n", kCudaBackwardHeader);
  printBackwardWrappers(os, kernel.backwardDqKernel, kernel.backwardDkdvKernel,
                        "attnc_backward", "attnc_backward_args", prefix + "elements");
  os << "#endif\n";
  printComponentBackwardKernels(pattern, kernel, os);
  os << "#endif\n";
  kernel.tensorSlots = namesInSlotOrder(tensorSlots(pattern));
  return kernel;
}

} // namespace attnc
