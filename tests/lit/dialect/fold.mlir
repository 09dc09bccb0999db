// RUN: %attnc-opt %s --canonicalize | FileCheck %s
// Constant floor modulo and ALiBi slopes fold; constants stay inside the
// (isolated) element regions.

// CHECK-LABEL: attn.pattern @folds
attn.pattern @folds {
  // CHECK: attn.bias {
  attn.bias {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %h3 = arith.constant 3 : i64
    %H12 = arith.constant 12 : i64
    // 0.0625 is get_slopes(12)[3]
    // CHECK: %[[S:.*]] = arith.constant 6.250000e-02 : f32
    // CHECK-NEXT: attn.yield %[[S]] : f32
    %s = attn.alibi_slope %h3, %H12
    attn.yield %s : f32
  }
  // CHECK: attn.attend {
  attn.attend {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %a = arith.constant -7 : i64
    %l = arith.constant 3 : i64
    // floor(-7 mod 3) = 2 (Python), while remsi would give -1.
    // CHECK: %[[C:.*]] = arith.constant 2 : i64
    %m = attn.floormod %a, %l
    // CHECK: %[[X:.*]] = attn.floormod %i, %{{.*}}
    %one = arith.constant 1 : i64
    %zero = attn.floormod %i, %one
    %x = attn.floormod %i, %l
    %c1 = arith.cmpi eq, %x, %m : i64
    %c2 = arith.cmpi eq, %zero, %zero : i64
    %r = arith.andi %c1, %c2 : i1
    attn.yield %r : i1
  }
}
