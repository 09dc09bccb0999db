// RUN: %attnc-opt %s -split-input-file --pass-pipeline='builtin.module(attn.pattern(attn-tensor-grad))' | FileCheck %s

// A learned bias table: the logit is value + table[h, j], so each pair adds
// d_logit to the element it read (tangent 1 through the sum: value has none).
// CHECK-LABEL: attn.pattern @table
// CHECK:      attn.tensor_grad {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %value: f32, %d_logit: f32):
// CHECK-NEXT:   %[[L:.*]] = attn.tensor_load @w[%h, %j] : f32
// CHECK-NEXT:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:   %{{.*}} = arith.addf %value, %[[L]] : f32
// CHECK-NEXT:   %[[A:.*]] = arith.mulf %d_logit, %[[ONE]] : f32
// CHECK-NEXT:   attn.grad_accumulate @w[%h, %j], %[[A]]
// CHECK-NEXT:   attn.yield
// CHECK-NEXT: }
attn.pattern @table {
  attn.tensor_param @w : f32 dims {
    %c = arith.constant 4 : i64
    attn.yield %c, %c : i64, i64
  }
  attn.bias {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %w = attn.tensor_load @w[%h, %j] : f32
    attn.yield %w : f32
  }
}

// -----

// A per-head gate inside the score rewrite, score * g[h], after a bias: the
// derivative in g[h] is the biased score itself (the bias reads no float
// tensor and gets no accumulation).
// CHECK-LABEL: attn.pattern @gate
// CHECK:      attn.tensor_grad {
// CHECK:        %[[X:.*]] = arith.addf %value, %{{.*}} : f32
// CHECK-NEXT:   %[[G:.*]] = attn.tensor_load @g[%h] : f32
// CHECK-NEXT:   %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:   %{{.*}} = arith.mulf %[[X]], %[[G]] : f32
// CHECK-NEXT:   %[[T:.*]] = arith.mulf %[[X]], %[[ONE]] : f32
// CHECK-NEXT:   %[[A:.*]] = arith.mulf %d_logit, %[[T]] : f32
// CHECK-NEXT:   attn.grad_accumulate @g[%h], %[[A]]
// CHECK-NEXT:   attn.yield
attn.pattern @gate {
  attn.tensor_param @g : f32 dims {
    %n = attn.dim H
    attn.yield %n : i64
  }
  attn.bias {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %f = arith.sitofp %j : i64 to f32
    attn.yield %f : f32
  }
  attn.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %score: f32):
    %g = attn.tensor_load @g[%h] : f32
    %r = arith.mulf %score, %g : f32
    attn.yield %r : f32
  }
}

// -----

// Two loads behind a select: each gets the tangent of the branch it is on,
// select(c, 1, 0) and select(c, 0, 1), so only the taken one adds. A load
// only compared (%c) is not on the logit's path and adds nothing.
// CHECK-LABEL: attn.pattern @select
// CHECK:      attn.tensor_grad {
// CHECK:        %[[C:.*]] = arith.cmpf ogt, %{{.*}}, %{{.*}} : f32
// CHECK-NEXT:   %[[X:.*]] = attn.tensor_load @w[%i] : f32
// CHECK-NEXT:   %[[ONEX:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:   %[[Y:.*]] = attn.tensor_load @w[%j] : f32
// CHECK-NEXT:   %[[ONEY:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:   %{{.*}} = arith.select %[[C]], %[[X]], %[[Y]] : f32
// CHECK-NEXT:   %[[ZY:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:   %[[TY:.*]] = arith.select %[[C]], %[[ZY]], %[[ONEY]] : f32
// CHECK-NEXT:   %[[ZX:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:   %[[TX:.*]] = arith.select %[[C]], %[[ONEX]], %[[ZX]] : f32
// CHECK-NEXT:   %{{.*}} = arith.addf %value, %{{.*}} : f32
// CHECK-NEXT:   %[[AX:.*]] = arith.mulf %d_logit, %[[TX]] : f32
// CHECK-NEXT:   attn.grad_accumulate @w[%i], %[[AX]]
// CHECK-NEXT:   %[[AY:.*]] = arith.mulf %d_logit, %[[TY]] : f32
// CHECK-NEXT:   attn.grad_accumulate @w[%j], %[[AY]]
// CHECK-NEXT:   attn.yield
attn.pattern @select {
  attn.tensor_param @w : f32 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  attn.bias {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %k = attn.tensor_load @w[%b] : f32
    %zero = arith.constant 0.0 : f32
    %c = arith.cmpf ogt, %k, %zero : f32
    %x = attn.tensor_load @w[%i] : f32
    %y = attn.tensor_load @w[%j] : f32
    %s = arith.select %c, %x, %y : f32
    attn.yield %s : f32
  }
}

// -----

// Integer tensors get no gradient; neither do float tensors read only by the
// mask. Without a float read in bias or score there is no attn.tensor_grad.
// CHECK-LABEL: attn.pattern @ints
// CHECK-NOT:  attn.tensor_grad
attn.pattern @ints {
  attn.tensor_param @doc : i32 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  attn.tensor_param @w : f32 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  attn.attend {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %w = attn.tensor_load @w[%j] : f32
    %zero = arith.constant 0.0 : f32
    %c = arith.cmpf ogt, %w, %zero : f32
    attn.yield %c : i1
  }
  attn.bias {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %d = attn.tensor_load @doc[%j] : i64
    %f = arith.sitofp %d : i64 to f32
    attn.yield %f : f32
  }
}
