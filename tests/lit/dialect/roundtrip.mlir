// RUN: %attnc-opt %s | %attnc-opt | FileCheck %s
// Every op of the dialect prints in a form that parses back to itself.

// CHECK-LABEL: attn.pattern @everything
attn.pattern @everything {
  // CHECK: attn.param @stride : i64 = 128 : i64
  attn.param @stride : i64 = 128 : i64
  // CHECK: attn.param @cap : f32 = 3.000000e+01 : f32
  attn.param @cap : f32 = 30.0 : f32
  // CHECK: attn.param @flag : i1
  attn.param @flag : i1
  // CHECK: attn.tensor_param @doc : i32 dims {
  // CHECK:   %[[NK:.*]] = attn.dim Nk
  // CHECK:   attn.yield %[[NK]] : i64
  attn.tensor_param @doc : i32 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  // CHECK: attn.causal
  attn.causal
  // CHECK: attn.set @local {
  // CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
  attn.set @local {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %d = arith.subi %i, %j : i64
    %s = attn.get_param @stride : i64
    // CHECK: attn.floormod
    %m = attn.floormod %d, %s
    %c = arith.cmpi slt, %m, %s : i64
    attn.yield %c : i1
  }
  attn.set @same_doc {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    // CHECK: attn.tensor_load @doc[%i] : i64
    %x = attn.tensor_load @doc[%i] : i64
    %y = attn.tensor_load @doc[%j] : i64
    %c = arith.cmpi eq, %x, %y : i64
    attn.yield %c : i1
  }
  // CHECK: attn.heads [@local, @same_doc]
  attn.heads [@local, @same_doc]
  // CHECK: attn.bias {
  attn.bias {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %H = attn.dim H
    // CHECK: attn.alibi_slope %h, %{{.*}}
    %m = attn.alibi_slope %h, %H
    attn.yield %m : f32
  }
  // CHECK: attn.score {
  // CHECK-NEXT: ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %score: f32):
  attn.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %s: f32):
    %cap = attn.get_param @cap : f32
    %t = math.tanh %s : f32
    %r = arith.mulf %cap, %t : f32
    attn.yield %r : f32
  }
  // CHECK: attn.scale {
  attn.scale {
    %c = arith.constant 0.125 : f32
    attn.yield %c : f32
  }
}

// The attend set and the interval-twin ops.
// CHECK-LABEL: attn.pattern @twins
attn.pattern @twins {
  attn.tensor_param @doc : i64 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  // CHECK: attn.attend {
  attn.attend {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %c = arith.cmpi sle, %j, %i : i64
    attn.yield %c : i1
  }
  // CHECK: attn.bounds {
  // CHECK-NEXT: ^bb0(%b_lo: i64, %b_hi: i64, %h_lo: i64, %h_hi: i64, %i_lo: i64, %i_hi: i64, %j_lo: i64, %j_hi: i64):
  attn.bounds {
  ^bb0(%b_lo: i64, %b_hi: i64, %h_lo: i64, %h_hi: i64, %i_lo: i64, %i_hi: i64, %j_lo: i64, %j_hi: i64):
    // CHECK: attn.int_range add %i_lo, %i_hi, %j_lo, %j_hi
    %s0, %s1 = attn.int_range add %i_lo, %i_hi, %j_lo, %j_hi
    // CHECK: attn.int_range abs %{{.*}}, %{{.*}}
    %a0, %a1 = attn.int_range abs %s0, %s1
    // CHECK: attn.tensor_range @doc[%j_lo, %j_hi]
    %t0, %t1 = attn.tensor_range @doc[%j_lo, %j_hi]
    // CHECK: attn.cmp_range le, %j_lo, %j_hi, %i_lo, %i_hi
    %may_true, %may_false = attn.cmp_range le, %j_lo, %j_hi, %i_lo, %i_hi
    attn.yield %may_true, %may_false : i1, i1
  }
}
