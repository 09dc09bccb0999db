// RUN: %attnc-opt %s -split-input-file --pass-pipeline='builtin.module(attn.pattern(attn-interval-twin))' | FileCheck %s

// A window predicate: i - j < w becomes an interval subtraction and an
// interval comparison over the tile's bounds.
// CHECK-LABEL: attn.pattern @window
// CHECK:      attn.bounds @near {
// CHECK-NEXT: ^bb0(%b_lo: i64, %b_hi: i64, %h_lo: i64, %h_hi: i64, %i_lo: i64, %i_hi: i64, %j_lo: i64, %j_hi: i64):
// CHECK:        %[[LO:.*]], %[[HI:.*]] = attn.int_range sub %i_lo, %i_hi, %j_lo, %j_hi
// CHECK:        %[[W:.*]] = arith.constant 4 : i64
// CHECK:        %[[T:.*]], %[[F:.*]] = attn.cmp_range lt, %[[LO]], %[[HI]], %[[W]], %[[W]]
// CHECK:        attn.yield %[[T]], %[[F]] : i1, i1
attn.pattern @window {
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

// Tensor reads become per-box ranges; && combines truth pairs; floats give "maybe".
// CHECK-LABEL: attn.pattern @docs
// CHECK:      attn.bounds {
// CHECK:        %[[A:.*]], %[[B:.*]] = attn.tensor_range @doc[%i_lo, %i_hi]
// CHECK:        %[[C:.*]], %[[D:.*]] = attn.tensor_range @doc[%j_lo, %j_hi]
// CHECK:        %[[T:.*]], %[[F:.*]] = attn.cmp_range eq, %[[A]], %[[B]], %[[C]], %[[D]]
// CHECK-NEXT:   %[[MAYBE:.*]] = arith.constant true
// CHECK-NEXT:   %[[BT:.*]] = arith.andi %[[T]], %[[MAYBE]] : i1
// CHECK-NEXT:   %[[BF:.*]] = arith.ori %[[F]], %[[MAYBE]] : i1
// CHECK:        attn.yield %[[BT]], %[[BF]] : i1, i1
attn.pattern @docs {
  attn.tensor_param @doc : i32 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  attn.attend {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %x = attn.tensor_load @doc[%i] : i64
    %y = attn.tensor_load @doc[%j] : i64
    %same = arith.cmpi eq, %x, %y : i64
    %f = arith.sitofp %i : i64 to f32
    %z = arith.constant 1.0 : f32
    %g = arith.cmpf olt, %f, %z : f32
    %both = arith.andi %same, %g : i1
    attn.yield %both : i1
  }
}
