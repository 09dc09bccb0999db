//===- AttnDialect.cpp ----------------------------------------------------===//
#include "attnc/Dialect/Attn/AttnDialect.h"
#include "attnc/Dialect/Attn/AttnOps.h"

using namespace mlir;
using namespace attnc::attn;

#include "AttnOpsDialect.cpp.inc"

void AttnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "AttnOps.cpp.inc"
      >();
}

Operation *AttnDialect::materializeConstant(OpBuilder &builder, Attribute value, Type type,
                                            Location loc) {
  // Folded builtins become plain arith constants.
  return arith::ConstantOp::materialize(builder, value, type, loc);
}
