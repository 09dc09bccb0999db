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

def AttnIntervalTwin : Pass<"attn-interval-twin", "::attnc::attn::PatternOp"> {
  let summary = "Give every set an interval twin (attn.bounds)";
  let description = [{
    For each `attn.set` and `attn.attend`, builds an `attn.bounds` region that
    answers, from the ranges of b, h, i, j over a tile, whether the set may be
    true and whether it may be false there. Each integer value of the set
    becomes an interval, each i1 a pair (may be true, may be false), by sound
    transfer functions; float values are unknown, so comparisons of floats
    answer "maybe". Run it after `attn-make-causal-explicit` so that the twin
    includes the causal bound.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def AttnHeadClasses : Pass<"attn-head-classes", "::attnc::attn::PatternOp"> {
  let summary = "Merge identical sets so that heads sharing a set form one class";
  let description = [{
    Sets whose regions are structurally identical are merged into the first
    of them, and `attn.heads` is rewritten to name it. Afterwards the distinct
    symbols of `attn.heads` are the head classes: each gets one layout, and
    head h belongs to the class of its entry h mod len.
  }];
}

def AttnScoreDerivative : Pass<"attn-score-derivative", "::attnc::attn::PatternOp"> {
  let summary = "Differentiate `attn.score` with respect to the incoming score";
  let description = [{
    Adds `attn.score_grad`: the region of `attn.score` followed by its
    forward-mode derivative in %score (seeded with 1), yielding d score / ds.
    The backward pass multiplies the gradient of the rewritten score by it.
    Rules: + - * / and negation; tanh, exp, log, sqrt, abs; select (the
    derivative of the branch taken, so min/max too); int-to-float conversions
    and everything independent of %score have derivative 0. A float op of
    %score without a rule is an error. Patterns without `attn.score` (the
    identity, derivative 1) are left alone.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

def AttnNarrowMask : Pass<"attn-narrow-mask", "::attnc::attn::PatternOp"> {
  let summary = "Mark masks and per-pair values that provably fit in 32-bit integers";
  let description = [{
    Bounds every integer value of the `attn.set` and `attn.attend` regions by
    interval arithmetic, for every problem with Nq, Nk <= 2^29, H <= 2^16,
    D <= 1024 and b <= 2^20 (i in [0, Nq), j in [0, Nk), h in [0, H)), i32
    tensor elements anywhere in int32 and i64 tensor elements unbounded. When
    every bound lies within int32, no value can wrap in 32 bits and the
    pattern gets the unit attribute `attn.narrow_mask`: the code generator
    then evaluates the mask with 32-bit integers. Otherwise the attribute is
    removed. Each per-pair value op (`attn.bias`, `attn.score`,
    `attn.score_grad`, `attn.tensor_grad`) is bounded on its own in the same
    way and gets (or loses) the unit attribute `attn.narrow`. Run it last:
    after attn-make-causal-explicit, specialization and the derivative
    passes, on the IR that code generation reads.
  }];
}

def AttnTensorGrad : Pass<"attn-tensor-grad", "::attnc::attn::PatternOp"> {
  let summary = "Gradients of the float tensors read by `attn.bias` and `attn.score`";
  let description = [{
    Adds `attn.tensor_grad`, for one pair over (b, h, i, j, value, d_logit):
    the regions of `attn.bias` and `attn.score` inlined into the logit
    (logit = score(value + bias), without either the identity), then, for
    every f32 `attn.tensor_load` L among them, the derivative of the logit
    with respect to L by forward mode (seeded with 1 at L, through the bias
    and the score rewrite: the chain rule), and
    `attn.grad_accumulate` of d_logit times it at L's indices. The rules are
    those of attn-score-derivative: a select takes the derivative of the
    branch taken, so a load on the path not taken adds 0. A load the logit
    does not depend on (one only compared, say) adds nothing. Integer
    tensors get no gradient; patterns whose bias and score read no f32
    tensor are left alone. A float op of a load without a rule is an error.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

def AttnComponents : Pass<"attn-components", "::attnc::attn::PatternOp"> {
  let summary = "Split each head class's set into disjoint components with tile maps";
  let description = [{
    For `attn.attend`, or each set named by `attn.heads`, whose predicate is
    `common && (t_0 || ... || t_{n-1})` (one term when the yielded value has
    no top-level `||`), adds `attn.component`s k = 0..n-1 with predicate
    `common && t_k && !t_0 && ... && !t_{k-1}`: a disjoint union equal to
    the set. Each component's conjuncts are matched, by an exact linear
    analysis in q = i or q = i + Nk - Nq, against (q - j) mod l == r,
    q mod l == j mod l, j mod l in [a, b), q / l == j / l, windows
    q - j < w and causal j <= q; the first residue form, else the block form,
    else the column range, chooses the tile maps; anything else is
    contiguous. Run it after specialization and attn-make-causal-explicit
    (and canonicalization); existing components are replaced. The existing
    sets, twins and kernels are not changed.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

#endif // ATTN_PASSES_TD
