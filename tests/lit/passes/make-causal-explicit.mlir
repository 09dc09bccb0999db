// RUN: %attnc-opt %s -split-input-file --pass-pipeline='builtin.module(attn.pattern(attn-make-causal-explicit))' | FileCheck %s

// A set is intersected with j <= i + (Nk - Nq) and attn.causal disappears.
// CHECK-LABEL: attn.pattern @window
// CHECK-NOT: attn.causal
// CHECK: attn.set @near {
// CHECK: %[[P:.*]] = arith.cmpi slt
// CHECK: %[[NK:.*]] = attn.dim Nk
// CHECK-NEXT: %[[NQ:.*]] = attn.dim Nq
// CHECK-NEXT: %[[OFF:.*]] = arith.subi %[[NK]], %[[NQ]] : i64
// CHECK-NEXT: %[[LAST:.*]] = arith.addi %i, %[[OFF]] : i64
// CHECK-NEXT: %[[C:.*]] = arith.cmpi sle, %j, %[[LAST]] : i64
// CHECK-NEXT: %[[BOTH:.*]] = arith.andi %[[C]], %[[P]] : i1
// CHECK-NEXT: attn.yield %[[BOTH]] : i1
attn.pattern @window {
  attn.causal
  attn.set @near {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %d = arith.subi %i, %j : i64
    %w = arith.constant 4 : i64
    %c = arith.cmpi slt, %d, %w : i64
    attn.yield %c : i1
  }
  attn.heads [@near]
}

// -----

// With no set at all, causal becomes the attend set.
// CHECK-LABEL: attn.pattern @causal
// CHECK-NOT: attn.causal
// CHECK: attn.attend {
// CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
// CHECK: %[[C:.*]] = arith.cmpi sle, %j, %{{.*}} : i64
// CHECK-NEXT: attn.yield %[[C]] : i1
// CHECK: attn.bias
attn.pattern @causal {
  attn.causal
  attn.bias {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %z = arith.constant 0.0 : f32
    attn.yield %z : f32
  }
}

// -----

// Without attn.causal nothing changes.
// CHECK-LABEL: attn.pattern @dense
// CHECK-NEXT: }
attn.pattern @dense {
}
