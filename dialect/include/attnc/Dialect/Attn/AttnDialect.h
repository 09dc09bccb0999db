//===- AttnDialect.h - The attn dialect -----------------------------------===//
#pragma once

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Dialect.h"

#include "AttnOpsDialect.h.inc"
