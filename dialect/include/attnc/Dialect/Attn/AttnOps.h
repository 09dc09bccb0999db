//===- AttnOps.h - Operations of the attn dialect -------------------------===//
#pragma once

#include "attnc/Dialect/Attn/AlibiSlope.h"
#include "attnc/Dialect/Attn/AttnDialect.h"
#include "attnc/Dialect/Attn/IntervalMath.h"

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

/// The meaning of `attn.int_range fn` (b is ignored by unary functions).
interval::Range applyRangeFn(RangeFn fn, interval::Range a, interval::Range b);
/// The function of `attn.int_range` that `op` computes on integers
/// (arith.addi, arith.subi, arith.muli, arith.floordivsi, attn.floormod,
/// arith.minsi, arith.maxsi, math.absi), or none.
std::optional<RangeFn> liftedRangeFn(mlir::Operation *op);
/// The meaning of `attn.cmp_range fn`.
interval::Truth applyCmpFn(CmpFn fn, interval::Range a, interval::Range b);

} // namespace attnc::attn
