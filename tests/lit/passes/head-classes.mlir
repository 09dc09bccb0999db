// RUN: %attnc-opt %s --pass-pipeline='builtin.module(attn.pattern(attn-head-classes))' | FileCheck %s

// @b and @c compute the same set as @a (names of SSA values do not matter);
// @d differs. Heads [a, b, d, c] become two classes.
// CHECK-LABEL: attn.pattern @p
// CHECK:     attn.set @a
// CHECK-NOT: attn.set @b
// CHECK-NOT: attn.set @c
// CHECK:     attn.set @d
// CHECK:     attn.heads [@a, @a, @d, @a]
attn.pattern @p {
  attn.set @a {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %c = arith.cmpi sle, %j, %i : i64
    attn.yield %c : i1
  }
  attn.set @b {
  ^bb0(%b: i64, %h: i64, %x: i64, %y: i64):
    %c = arith.cmpi sle, %y, %x : i64
    attn.yield %c : i1
  }
  attn.set @d {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %c = arith.cmpi slt, %j, %i : i64
    attn.yield %c : i1
  }
  attn.set @c {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %c = arith.cmpi sle, %j, %i : i64
    attn.yield %c : i1
  }
  attn.heads [@a, @b, @d, @c]
}
