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

// Interval ops on constant bounds fold to constants.
// CHECK-LABEL: attn.pattern @ranges
attn.pattern @ranges {
  attn.bounds {
  ^bb0(%b_lo: i64, %b_hi: i64, %h_lo: i64, %h_hi: i64, %i_lo: i64, %i_hi: i64, %j_lo: i64, %j_hi: i64):
    %c3 = arith.constant 3 : i64
    %c10 = arith.constant 10 : i64
    %c8 = arith.constant 8 : i64
    // [3, 10] mod 8 crosses a period: [0, 7]; [0, 7] < 8 is always true.
    %lo, %hi = attn.int_range floormod %c3, %c10, %c8, %c8
    %t, %f = attn.cmp_range lt, %lo, %hi, %c8, %c8
    // CHECK-DAG: %[[TRUE:.*]] = arith.constant true
    // CHECK-DAG: %[[FALSE:.*]] = arith.constant false
    // CHECK: attn.yield %[[TRUE]], %[[FALSE]] : i1, i1
    attn.yield %t, %f : i1, i1
  }
}
