//===- AttnOps.td - Operations of the attn dialect --------*- tablegen -*-===//
#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "attnc/Dialect/Attn/AttnDialect.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Patterns and their declarations
//===----------------------------------------------------------------------===//

def Attn_PatternOp : Attn_Op<"pattern", [
    Symbol, SymbolTable, IsolatedFromAbove, NoTerminator, SingleBlock,
    NoRegionArguments]> {
  let summary = "An attention pattern";
  let description = [{
    Holds the declarations of one pattern: its parameters, named sets, and at
    most one each of `attn.causal`, `attn.attend`, `attn.heads`, `attn.bias`,
    `attn.score` and `attn.scale` (`attend` and `heads` exclude each other).

    ```mlir
    attn.pattern @alibi {
      attn.causal
      attn.bias {
      ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
        ...
        attn.yield %bias : f32
      }
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [OpBuilder<(ins "::llvm::StringRef":$name)>];
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    /// The one statement of kind OpT, or null.
    template <typename OpT> OpT getUnique() {
      auto ops = getBodyBlock().getOps<OpT>();
      return ops.empty() ? OpT() : *ops.begin();
    }
  }];
}

def Attn_ParamOp : Attn_Op<"param", [Symbol, HasParent<"PatternOp">]> {
  let summary = "A scalar compile-time parameter";
  let description = [{
    `attn.param @stride : i64 = 128` declares an int (i64), float (f32) or
    bool (i1) parameter, with an optional default value of that type.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, TypeAttr:$type,
                       OptionalAttr<TypedAttrInterface>:$default_value);
  let assemblyFormat = "$sym_name `:` $type (`=` $default_value^)? attr-dict";
  let hasVerifier = 1;
}

def Attn_TensorParamOp : Attn_Op<"tensor_param", [
    Symbol, HasParent<"PatternOp">, SingleBlock, NoRegionArguments, IsolatedFromAbove]> {
  let summary = "A tensor parameter read by the pattern";
  let description = [{
    `attn.tensor_param @doc : i32 dims { ... attn.yield %nk : i64 }` declares
    a row-major tensor of i32, i64 or f32 elements. Its region computes the
    sizes (one i64 per dimension) from parameters and `attn.dim`.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, TypeAttr:$element_type);
  let regions = (region SizedRegion<1>:$dims);
  let assemblyFormat = "$sym_name `:` $element_type attr-dict-with-keyword `dims` $dims";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    unsigned getRank();
  }];
}

def Attn_CausalOp : Attn_Op<"causal", [HasParent<"PatternOp">]> {
  let summary = "Intersects every set with j <= i + (Nk - Nq)";
  let assemblyFormat = "attr-dict";
}

def Attn_HeadsOp : Attn_Op<"heads", [HasParent<"PatternOp">]> {
  let summary = "Head h uses set sets[h mod len(sets)]";
  let arguments = (ins SymbolRefArrayAttr:$sets);
  let assemblyFormat = "$sets attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The names of the sets, by position.
    std::vector<std::string> getSetNames();
    /// The name of the set head `h` uses.
    ::llvm::StringRef getSetOf(int64_t h);
  }];
}

//===----------------------------------------------------------------------===//
// Element functions: regions over (b, h, i, j)
//===----------------------------------------------------------------------===//

class Attn_ElementOp<string mnemonic, list<Trait> traits = []>
    : Attn_Op<mnemonic, !listconcat(traits, [
          HasParent<"PatternOp">, SingleBlock, IsolatedFromAbove,
          DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>])> {
  let regions = (region SizedRegion<1>:$body);
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    /// The value the region yields.
    ::mlir::Value getYielded();
  }];
}

def Attn_SetOp : Attn_ElementOp<"set", [Symbol]> {
  let summary = "A named connectivity set: (b, h, i, j) -> i1";
  let arguments = (ins SymbolNameAttr:$sym_name);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
}

def Attn_AttendOp : Attn_ElementOp<"attend"> {
  let summary = "The set every head attends: (b, h, i, j) -> i1";
  let assemblyFormat = "attr-dict-with-keyword $body";
}

def Attn_BiasOp : Attn_ElementOp<"bias"> {
  let summary = "Added to the scaled score: (b, h, i, j) -> f32";
  let assemblyFormat = "attr-dict-with-keyword $body";
}

def Attn_ScoreOp : Attn_ElementOp<"score"> {
  let summary = "Rewrites the biased score: (b, h, i, j, score) -> f32";
  let assemblyFormat = "attr-dict-with-keyword $body";
}

def Attn_ScoreGradOp : Attn_ElementOp<"score_grad"> {
  let summary = "The derivative of the score rewrite: (b, h, i, j, score) -> f32";
  let description = [{
    d score(s) / ds at s = %score, as attn-score-derivative computes it from
    `attn.score`: the factor the backward pass applies (chain rule) between
    the gradient of the rewritten score and that of the biased one.
  }];
  let assemblyFormat = "attr-dict-with-keyword $body";
}

def Attn_TensorGradOp : Attn_Op<"tensor_grad", [
    HasParent<"PatternOp">, SingleBlock, IsolatedFromAbove,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>]> {
  let summary = "Gradients of the float tensors that bias and score read";
  let description = [{
    For one attended pair, given `%value` (the scaled score q.k * scale,
    before the bias) and `%d_logit` (d loss / d logit of the pair), adds
    d loss / d element to the gradient of every float tensor element that
    `attn.bias` or `attn.score` read, by `attn.grad_accumulate`. Built by
    attn-tensor-grad; the region yields nothing.

    ```mlir
    attn.tensor_grad {
    ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %value: f32, %d_logit: f32):
      ...
      attn.grad_accumulate @table[%h, %d], %amount
      attn.yield
    }
    ```
  }];
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
  }];
}

def Attn_ScaleOp : Attn_ElementOp<"scale"> {
  let summary = "The softmax scale: () -> f32";
  let assemblyFormat = "attr-dict-with-keyword $body";
}

def Attn_BoundsOp : Attn_Op<"bounds", [
    HasParent<"PatternOp">, SingleBlock, IsolatedFromAbove,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>]> {
  let summary = "The interval twin of a set: always, never or maybe over a tile";
  let description = [{
    Given inclusive ranges of the indices over a tile, as the region arguments
    `b_lo, b_hi, h_lo, h_hi, i_lo, i_hi, j_lo, j_hi` (i64), the region yields
    two i1: whether some pair of the tile may be in the set, and whether some
    pair may be outside it. So (true, false) means every pair is attended
    (FULL), (false, true) none (EMPTY), (true, true) maybe (PARTIAL). Twins
    are sound by construction: they may answer "maybe" when the truth is
    "always" or "never", never the reverse.

    `of` names the `attn.set` this is the twin of; without it, the twin is
    that of `attn.attend`.
  }];
  let arguments = (ins OptionalAttr<FlatSymbolRefAttr>:$of);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "($of^)? attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
  }];
}

//===----------------------------------------------------------------------===//
// Disjoint components (attn-components)
//===----------------------------------------------------------------------===//

def Attn_ComponentForm : I32EnumAttr<"ComponentForm", "the recognized form of a component", [
    I32EnumAttrCase<"contiguous", 0>, I32EnumAttrCase<"residue_diagonal", 1>,
    I32EnumAttrCase<"column_range", 2>, I32EnumAttrCase<"same_block", 3>]> {
  let cppNamespace = "::attnc::attn";
}

def Attn_ComponentOp : Attn_Op<"component", [
    HasParent<"PatternOp">, SingleBlock, IsolatedFromAbove,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>]> {
  let summary = "One disjoint component of a head class's set, with its tile maps";
  let description = [{
    attn-components splits a set (`of` names the `attn.set`; without it, the
    set is that of `attn.attend`) whose predicate is `common && (t_1 || ... ||
    t_n)` into components k = 0..n-1: `common && t_k && !t_0 && ... &&
    !t_{k-1}`. The region is that predicate over (b, h, i, j); the components
    of a set partition it exactly.

    `form` is what was recognized in t_k, in the query coordinate q (q = i, or
    q = i + Nk - Nq with `aligned`):
      - residue_diagonal: (q - j) mod modulus == residue
        (q mod l == j mod l is residue 0);
      - column_range: j mod modulus in [lo, hi);
      - same_block: q / modulus == j / modulus;
      - contiguous: nothing recognized (or a window / causal band).
    Optional `window` (q - j < window) and `causal` (j <= q) record bands
    found among the conjuncts. Negated earlier terms can bound it too:
    `min_distance` (q - j >= min_distance) records a negated window, and
    `earlier_blocks` (j < earlier_blocks * floor(q / earlier_blocks)) a
    negated same_block, which with `causal` leaves the keys of earlier blocks
    only (recorded for column_range and same_block, whose keys stay an
    interval per row). `exact` says that the component is exactly the pairs
    (in range) that satisfy its form and bounds: every conjunct and every
    negated earlier term was recognized and used. Without it they are only a
    superset of the component.

    The tile maps: `query_map` and `key_map` are [base, base_step, inner,
    outer_stride, inner_stride]; for class c in [0, classes) the map sends
    tile row t to position base + c * base_step + (t / inner) * outer_stride
    + (t % inner) * inner_stride (query maps in q, key maps in j). Every pair
    of the component lies in the images of the query and key maps of one
    class.
  }];
  let arguments = (ins OptionalAttr<FlatSymbolRefAttr>:$of, I64Attr:$index,
                       Attn_ComponentForm:$form, UnitAttr:$aligned, UnitAttr:$causal,
                       UnitAttr:$exact, OptionalAttr<I64Attr>:$window,
                       OptionalAttr<I64Attr>:$min_distance, OptionalAttr<I64Attr>:$earlier_blocks,
                       OptionalAttr<I64Attr>:$modulus,
                       OptionalAttr<I64Attr>:$residue, OptionalAttr<I64Attr>:$lo,
                       OptionalAttr<I64Attr>:$hi, I64Attr:$classes,
                       DenseI64ArrayAttr:$query_map, DenseI64ArrayAttr:$key_map);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "($of^)? `[` $index `]` $form attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
    ::mlir::Value getYielded();
  }];
}

def Attn_YieldOp : Attn_Op<"yield", [
    Pure, Terminator, ReturnLike,
    ParentOneOf<["SetOp", "AttendOp", "BiasOp", "ScoreOp", "ScoreGradOp", "ScaleOp", "TensorParamOp",
                 "BoundsOp", "TensorGradOp", "ComponentOp"]>]> {
  let summary = "Ends an element function with its value(s)";
  let arguments = (ins Variadic<AnyType>:$values);
  // attn.tensor_grad's region yields nothing: a bare `attn.yield`.
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

//===----------------------------------------------------------------------===//
// Builtins
//===----------------------------------------------------------------------===//

def Attn_ShapeDim : I32EnumAttr<"ShapeDim", "a run-time size of the problem", [
    I32EnumAttrCase<"H", 0>, I32EnumAttrCase<"Nq", 1>,
    I32EnumAttrCase<"Nk", 2>, I32EnumAttrCase<"D", 3>]> {
  let cppNamespace = "::attnc::attn";
}

def Attn_DimOp : Attn_Op<"dim", [Pure]> {
  let summary = "A run-time size: H, Nq, Nk or D";
  let arguments = (ins Attn_ShapeDim:$dim);
  let results = (outs I64:$result);
  let assemblyFormat = "$dim attr-dict";
}

def Attn_GetParamOp : Attn_Op<"get_param", [Pure]> {
  let summary = "The value of a scalar parameter";
  let arguments = (ins FlatSymbolRefAttr:$param);
  let results = (outs AnyTypeOf<[I64, F32, I1]>:$result);
  let assemblyFormat = "$param attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Attn_TensorLoadOp : Attn_Op<"tensor_load", [Pure]> {
  let summary = "Reads an element of a tensor parameter";
  let description = [{
    `attn.tensor_load @doc[%i] : i64` reads element `%i` of `@doc`. Integer
    elements are sign-extended to i64; f32 elements are returned as f32.
  }];
  let arguments = (ins FlatSymbolRefAttr:$tensor, Variadic<I64>:$indices);
  let results = (outs AnyTypeOf<[I64, F32]>:$result);
  let assemblyFormat = "$tensor `[` $indices `]` attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Attn_GradAccumulateOp : Attn_Op<"grad_accumulate", [
    HasParent<"TensorGradOp">, MemoryEffects<[MemWrite]>]> {
  let summary = "Adds an amount to the gradient of a float tensor element";
  let description = [{
    `attn.grad_accumulate @table[%h, %d], %amount` adds `%amount` to the
    gradient of element `[%h, %d]` of the f32 tensor `@table`. An index out
    of range adds nothing (the element read as 0 and depends on nothing).
    It writes: canonicalization must keep it.
  }];
  let arguments = (ins FlatSymbolRefAttr:$tensor, Variadic<I64>:$indices, F32:$amount);
  let assemblyFormat = "$tensor `[` $indices `]` `,` $amount attr-dict";
  let hasVerifier = 1;
}

def Attn_AlibiSlopeOp : Attn_Op<"alibi_slope", [Pure]> {
  let summary = "ALiBi's slope of head h among H heads (Press et al., 2022)";
  let arguments = (ins I64:$head, I64:$num_heads);
  let results = (outs F32:$result);
  let assemblyFormat = "$head `,` $num_heads attr-dict";
  let hasFolder = 1;
}

def Attn_FloorModOp : Attn_Op<"floormod", [Pure]> {
  let summary = "Floor modulo: the result has the sign of the divisor";
  let description = [{
    `attn.floormod %a, %b` (i64) is Python's `a % b`. `arith.remsi` truncates,
    which differs for negative operands; keeping floor modulo as one op also
    lets the layout passes recognize `(i - j) mod l` forms.
  }];
  let arguments = (ins I64:$lhs, I64:$rhs);
  let results = (outs I64:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Interval arithmetic (the ops of interval twins)
//===----------------------------------------------------------------------===//

def Attn_RangeFn : I32EnumAttr<"RangeFn", "an integer function lifted to intervals", [
    I32EnumAttrCase<"add", 0>, I32EnumAttrCase<"sub", 1>, I32EnumAttrCase<"mul", 2>,
    I32EnumAttrCase<"floordiv", 3>, I32EnumAttrCase<"floormod", 4>,
    I32EnumAttrCase<"min", 5>, I32EnumAttrCase<"max", 6>,
    I32EnumAttrCase<"neg", 7>, I32EnumAttrCase<"abs", 8>]> {
  let cppNamespace = "::attnc::attn";
}

def Attn_IntRangeOp : Attn_Op<"int_range", [Pure]> {
  let summary = "An integer function applied to intervals";
  let description = [{
    `%lo, %hi = attn.int_range add %alo, %ahi, %blo, %bhi` gives an interval
    holding f(a, b) for every a in [alo, ahi] and b in [blo, bhi] (unary
    functions take two operands). Where the exact result could overflow i64,
    or a divisor interval holds 0, the result is the whole i64 range.
  }];
  let arguments = (ins Attn_RangeFn:$fn, Variadic<I64>:$bounds);
  let results = (outs I64:$lo, I64:$hi);
  let assemblyFormat = "$fn $bounds attr-dict";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Attn_CmpFn : I32EnumAttr<"CmpFn", "a signed integer comparison", [
    I32EnumAttrCase<"eq", 0>, I32EnumAttrCase<"ne", 1>, I32EnumAttrCase<"lt", 2>,
    I32EnumAttrCase<"le", 3>, I32EnumAttrCase<"gt", 4>, I32EnumAttrCase<"ge", 5>]> {
  let cppNamespace = "::attnc::attn";
}

def Attn_CmpRangeOp : Attn_Op<"cmp_range", [Pure]> {
  let summary = "Whether a comparison of two intervals may be true, may be false";
  let arguments = (ins Attn_CmpFn:$predicate,
                       I64:$alo, I64:$ahi, I64:$blo, I64:$bhi);
  let results = (outs I1:$may_be_true, I1:$may_be_false);
  let assemblyFormat = "$predicate `,` $alo `,` $ahi `,` $blo `,` $bhi attr-dict";
  let hasFolder = 1;
}

def Attn_TensorRangeOp : Attn_Op<"tensor_range", [Pure]> {
  let summary = "Smallest and largest element of a tensor over a box of indices";
  let description = [{
    `%lo, %hi = attn.tensor_range @doc[%lo0, %hi0]` bounds `doc[k]` for every
    k in [lo0, hi0] (one pair of operands per dimension), clipped to the
    tensor's shape; an empty box gives the whole i64 range. Integer tensors
    only.
  }];
  let arguments = (ins FlatSymbolRefAttr:$tensor, Variadic<I64>:$bounds);
  let results = (outs I64:$lo, I64:$hi);
  let assemblyFormat = "$tensor `[` $bounds `]` attr-dict";
  let hasVerifier = 1;
}

#endif // ATTN_OPS_TD
