//===- Specialize.cpp - Bind parameters to constants ----------------------===//
#include "attnc/Dialect/Attn/Passes.h"

#include "mlir/IR/Builders.h"

#include <map>

namespace attnc::attn {
#define GEN_PASS_DEF_ATTNSPECIALIZE
#include "Passes.h.inc"
} // namespace attnc::attn

using namespace mlir;
using namespace attnc::attn;

namespace {

/// Parses a bound value as an attribute of the parameter's type.
FailureOr<TypedAttr> parseBinding(ParamOp param, StringRef text) {
  Type type = param.getType();
  Builder builder(param.getContext());
  if (type.isInteger(1)) {
    if (text == "true" || text == "1")
      return TypedAttr(builder.getBoolAttr(true));
    if (text == "false" || text == "0")
      return TypedAttr(builder.getBoolAttr(false));
    return failure();
  }
  if (type.isInteger(64)) {
    int64_t value;
    if (text.getAsInteger(10, value))
      return failure();
    return TypedAttr(builder.getI64IntegerAttr(value));
  }
  double value;
  if (text.getAsDouble(value))
    return failure();
  return TypedAttr(builder.getF32FloatAttr(static_cast<float>(value)));
}

struct Specialize : attnc::attn::impl::AttnSpecializeBase<Specialize> {
  using AttnSpecializeBase::AttnSpecializeBase;

  void runOnOperation() override {
    PatternOp pattern = getOperation();
    std::map<std::string, TypedAttr> values;
    if (failed(collectValues(pattern, values)))
      return signalPassFailure();
    pattern.walk([&](GetParamOp read) {
      OpBuilder builder(read);
      auto constant = builder.create<arith::ConstantOp>(
          read.getLoc(), values.at(read.getParam().str()));
      read.replaceAllUsesWith(constant.getResult());
      read.erase();
    });
    for (ParamOp param : llvm::make_early_inc_range(pattern.getBodyBlock().getOps<ParamOp>()))
      param.erase();
  }

  LogicalResult collectValues(PatternOp pattern, std::map<std::string, TypedAttr> &values) {
    for (ParamOp param : pattern.getBodyBlock().getOps<ParamOp>())
      if (auto value = param.getDefaultValueAttr())
        values[param.getSymName().str()] = value;
    for (const std::string &binding : bindings) {
      auto [name, text] = StringRef(binding).split('=');
      auto param = dyn_cast_or_null<ParamOp>(
          mlir::SymbolTable::lookupSymbolIn(pattern, StringAttr::get(&getContext(), name)));
      if (!param || text.empty())
        continue; // a binding for another pattern of the module
      FailureOr<TypedAttr> value = parseBinding(param, text);
      if (failed(value))
        return param.emitError("invalid value '") << text << "' for parameter of type "
                                                   << param.getType();
      values[name.str()] = *value;
    }
    for (ParamOp param : pattern.getBodyBlock().getOps<ParamOp>())
      if (!values.count(param.getSymName().str()))
        return param.emitError("parameter '")
               << param.getSymName() << "' has no value; bind it with bind=name=value";
    return success();
  }
};

} // namespace
