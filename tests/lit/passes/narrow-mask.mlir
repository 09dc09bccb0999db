// RUN: %attnc-opt %s -split-input-file --pass-pipeline='builtin.module(attn.pattern(attn-narrow-mask))' | FileCheck %s

// A causal sliding window: i + (Nk - Nq) - j stays within int32 for
// Nq, Nk <= 2^29, and so do the doc ids of an i32 tensor; the pattern is
// marked narrow.
// CHECK-LABEL: attn.pattern @window attributes {attn.narrow_mask} {
attn.pattern @window {
  attn.tensor_param @doc : i32 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  attn.attend {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %nk = attn.dim Nk
    %nq = attn.dim Nq
    %offset = arith.subi %nk, %nq : i64
    %q = arith.addi %i, %offset : i64
    %causal = arith.cmpi sle, %j, %q : i64
    %d = arith.subi %q, %j : i64
    %w = arith.constant 256 : i64
    %near = arith.cmpi slt, %d, %w : i64
    %x = attn.tensor_load @doc[%q] : i64
    %y = attn.tensor_load @doc[%j] : i64
    %same = arith.cmpi eq, %x, %y : i64
    %both = arith.andi %causal, %near : i1
    %all = arith.andi %both, %same : i1
    attn.yield %all : i1
  }
}

// -----

// i * j may reach (2^29 - 1)^2: not narrow, and a stale mark is removed.
// CHECK-LABEL: attn.pattern @product {
attn.pattern @product attributes {attn.narrow_mask} {
  attn.set @even {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %p = arith.muli %i, %j : i64
    %two = arith.constant 2 : i64
    %r = attn.floormod %p, %two
    %zero = arith.constant 0 : i64
    %c = arith.cmpi eq, %r, %zero : i64
    attn.yield %c : i1
  }
  attn.heads [@even]
}

// -----

// Elements of an i64 tensor are unbounded: not narrow.
// CHECK-LABEL: attn.pattern @wide_ids {
attn.pattern @wide_ids {
  attn.tensor_param @doc : i64 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  attn.attend {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %x = attn.tensor_load @doc[%i] : i64
    %y = attn.tensor_load @doc[%j] : i64
    %same = arith.cmpi eq, %x, %y : i64
    attn.yield %same : i1
  }
}

// -----

// A divisor range that holds 0 (j / (i - j)): not narrow.
// CHECK-LABEL: attn.pattern @divide {
attn.pattern @divide {
  attn.attend {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %d = arith.subi %i, %j : i64
    %q = arith.floordivsi %j, %d : i64
    %one = arith.constant 1 : i64
    %c = arith.cmpi eq, %q, %one : i64
    attn.yield %c : i1
  }
}

// -----

// Per-pair values are bounded one by one: the ALiBi distance q - j fits in
// int32 (attn.narrow), i * j in the score does not, and a stale mark on it is
// removed. The mask (none here) is narrow.
// CHECK-LABEL: attn.pattern @values attributes {attn.narrow_mask} {
// CHECK:         attn.bias attributes {attn.narrow} {
// CHECK:         attn.score {
// CHECK-NOT:     attn.narrow
// CHECK:       }
attn.pattern @values {
  attn.bias {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %nk = attn.dim Nk
    %nq = attn.dim Nq
    %offset = arith.subi %nk, %nq : i64
    %q = arith.addi %i, %offset : i64
    %d = arith.subi %q, %j : i64
    %f = arith.sitofp %d : i64 to f32
    %hh = attn.dim H
    %m = attn.alibi_slope %h, %hh
    %r = arith.mulf %m, %f : f32
    attn.yield %r : f32
  }
  attn.score attributes {attn.narrow} {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %score: f32):
    %p = arith.muli %i, %j : i64
    %f = arith.sitofp %p : i64 to f32
    %r = arith.addf %score, %f : f32
    attn.yield %r : f32
  }
}
