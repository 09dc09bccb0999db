//===- AttnDialect.td - The attn dialect ------------------*- tablegen -*-===//
#ifndef ATTN_DIALECT_TD
#define ATTN_DIALECT_TD

include "mlir/IR/OpBase.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let summary = "Attention patterns: connectivity sets, biases and score rewrites";
  let description = [{
    A pattern says, for every (batch b, head h, query i, key j), whether the
    query attends to the key, and how its score is biased or rewritten. Each
    such element-level function is a region whose block arguments are the
    indices `b h i j` (i64) and which yields one value with `attn.yield`.
    Expressions inside regions use `arith` and `math`, plus the builtins of
    this dialect. Integers are i64 with floor division (`arith.floordivsi`)
    and floor modulo (`attn.floormod`); floats are f32.
  }];
  let cppNamespace = "::attnc::attn";
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
  let hasConstantMaterializer = 1;
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

#endif // ATTN_DIALECT_TD
