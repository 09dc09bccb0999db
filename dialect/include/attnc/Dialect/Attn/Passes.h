//===- Passes.h - Passes over the attn dialect ----------------------------===//
#pragma once

#include "attnc/Dialect/Attn/AttnOps.h"

#include "mlir/Pass/Pass.h"

namespace attnc::attn {

#define GEN_PASS_DECL
#include "Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Passes.h.inc"

} // namespace attnc::attn
