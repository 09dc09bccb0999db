//===- AttnOps.h - Operations of the attn dialect -------------------------===//
#pragma once

#include "attnc/Dialect/Attn/AlibiSlope.h"
#include "attnc/Dialect/Attn/AttnDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "AttnOpsEnums.h.inc"

#define GET_OP_CLASSES
#include "AttnOps.h.inc"

namespace attnc::attn {

/// Number of index arguments (b, h, i, j) of element functions.
constexpr unsigned kNumIndexArgs = 4;

} // namespace attnc::attn
