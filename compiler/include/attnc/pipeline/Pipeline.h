//===- Pipeline.h - The pass pipelines of attnc ---------------------------===//
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include <string>
#include <vector>

namespace attnc {

/// Specialization (parameters bound from `bindings`, "name=value", else
/// defaults), simplification (canonicalize, CSE, causal made explicit), head
/// classes and interval twins: what the layout builder and code generation read.
void buildLayoutPipeline(mlir::OpPassManager &pm, const std::vector<std::string> &bindings);

/// Runs that pipeline on every pattern of `module`; errors go to the context's
/// diagnostic handler.
mlir::LogicalResult runLayoutPipeline(mlir::ModuleOp module,
                                      const std::vector<std::string> &bindings);

} // namespace attnc
