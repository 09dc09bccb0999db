// RUN: %attnc-opt %s -split-input-file --pass-pipeline='builtin.module(attn.pattern(attn-score-derivative))' | FileCheck %s

// Soft-capping, cap * tanh(s / cap): the derivative 1 - tanh² (s / cap),
// through the quotient and product rules. Constants have no tangent, and a
// missing tangent is a symbolic zero: no `x * 0` terms.
// CHECK-LABEL: attn.pattern @softcap
// CHECK:      attn.score {
// CHECK:      attn.score_grad {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %score: f32):
// CHECK-NEXT:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:   %[[CAP:.*]] = arith.constant 3.000000e+01 : f32
// CHECK-NEXT:   %[[Q:.*]] = arith.divf %score, %[[CAP]] : f32
// CHECK-NEXT:   %[[DQ:.*]] = arith.divf %[[ONE]], %[[CAP]] : f32
// CHECK-NEXT:   %[[T:.*]] = math.tanh %[[Q]] : f32
// CHECK-NEXT:   %[[ONE2:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:   %[[T2:.*]] = arith.mulf %[[T]], %[[T]] : f32
// CHECK-NEXT:   %[[SECH:.*]] = arith.subf %[[ONE2]], %[[T2]] : f32
// CHECK-NEXT:   %[[DT:.*]] = arith.mulf %[[SECH]], %[[DQ]] : f32
// CHECK-NEXT:   %{{.*}} = arith.mulf %[[CAP]], %[[T]] : f32
// CHECK-NEXT:   %[[D:.*]] = arith.mulf %[[CAP]], %[[DT]] : f32
// CHECK-NEXT:   attn.yield %[[D]] : f32
attn.pattern @softcap {
  attn.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %score: f32):
    %cap = arith.constant 30.0 : f32
    %q = arith.divf %score, %cap : f32
    %t = math.tanh %q : f32
    %r = arith.mulf %cap, %t : f32
    attn.yield %r : f32
  }
}

// -----

// A score that does not read %score has derivative 0; a branch on %score
// (here max(s, 0)) takes the derivative of the side chosen.
// CHECK-LABEL: attn.pattern @relu
// CHECK:      attn.score_grad {
// CHECK:        %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK:        %[[C:.*]] = arith.cmpf oge, %score, %{{.*}} : f32
// CHECK-NEXT:   %[[S:.*]] = arith.select %[[C]], %score, %{{.*}} : f32
// CHECK-NEXT:   %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:   %[[D:.*]] = arith.select %[[C]], %[[ONE]], %[[ZERO]] : f32
// CHECK-NEXT:   attn.yield %[[D]] : f32
attn.pattern @relu {
  attn.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %score: f32):
    %zero = arith.constant 0.0 : f32
    %c = arith.cmpf oge, %score, %zero : f32
    %s = arith.select %c, %score, %zero : f32
    attn.yield %s : f32
  }
}

// -----

// CHECK-LABEL: attn.pattern @constant
// CHECK:      attn.score_grad {
// CHECK:        %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:   attn.yield %[[ZERO]] : f32
attn.pattern @constant {
  attn.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %score: f32):
    %f = arith.sitofp %j : i64 to f32
    attn.yield %f : f32
  }
}

// -----

// Without a score rewrite there is nothing to differentiate.
// CHECK-LABEL: attn.pattern @plain
// CHECK-NOT:  attn.score_grad
attn.pattern @plain {
  attn.causal
}
