// RUN: %attnc-opt %s --pass-pipeline='builtin.module(attn.pattern(attn-score-derivative))' -verify-diagnostics

// A float op of the score without a derivative rule is reported on that op.
attn.pattern @p {
  attn.score {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %score: f32):
    // expected-error @+1 {{'arith.remf' op cannot be differentiated with respect to the score}}
    %r = arith.remf %score, %score : f32
    attn.yield %r : f32
  }
}
