//===- MLIRGen.h - From the checked AST to the attn dialect ---------------===//
#pragma once

#include "attnc/frontend/AST.h"
#include "attnc/interp/Bindings.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/OwningOpRef.h"

namespace attnc {

/// Adds the dialects attnc's IR uses (attn, arith, math) to a registry.
void registerAttncDialects(mlir::DialectRegistry &registry);

/// Builds one `attn.pattern` per pattern of `file` (which must have passed
/// Sema). `let` values are inlined where they are used; each element function
/// becomes a region over (b, h, i, j). Values in `bound` (from -D) replace the
/// parameters' defaults.
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &context, const ast::File &file,
                                          const SourceFile &source,
                                          const ast::Pattern *only = nullptr,
                                          const interp::ParamValues &bound = {});

} // namespace attnc
