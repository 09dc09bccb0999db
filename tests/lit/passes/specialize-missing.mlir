// RUN: %attnc-opt %s --pass-pipeline='builtin.module(attn.pattern(attn-specialize))' -verify-diagnostics

attn.pattern @p {
  // expected-error @+1 {{parameter 'window' has no value; bind it with bind=name=value}}
  attn.param @window : i64
  attn.attend {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %w = attn.get_param @window : i64
    %c = arith.cmpi slt, %i, %w : i64
    attn.yield %c : i1
  }
}
