//===- Passes.td - Passes over the attn dialect -----------*- tablegen -*-===//
#ifndef ATTN_PASSES_TD
#define ATTN_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnSpecialize : Pass<"attn-specialize", "::attnc::attn::PatternOp"> {
  let summary = "Replace parameter reads with their values";
  let description = [{
    Every `attn.get_param @p` becomes an `arith.constant` holding the value
    bound with the `bind` option (`name=value`), else the parameter's default.
    The `attn.param` declarations are then removed: the pattern no longer has
    scalar parameters. A parameter without a value is an error.
  }];
  let options = [
    ListOption<"bindings", "bind", "std::string",
               "Parameter values, as name=value">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def AttnMakeCausalExplicit : Pass<"attn-make-causal-explicit", "::attnc::attn::PatternOp"> {
  let summary = "Fold `attn.causal` into every set";
  let description = [{
    Intersects each `attn.set` and `attn.attend` with `j <= i + (Nk - Nq)`
    (creating an `attn.attend` when the pattern has neither sets nor attend)
    and removes `attn.causal`, so that later passes see one predicate per set.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

#endif // ATTN_PASSES_TD
