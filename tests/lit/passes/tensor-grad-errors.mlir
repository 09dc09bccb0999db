// RUN: %attnc-opt %s -split-input-file --pass-pipeline='builtin.module(attn.pattern(attn-tensor-grad))' -verify-diagnostics

// A float op of a tensor element without a derivative rule is reported on
// that op, naming the tensor.
attn.pattern @p {
  attn.tensor_param @w : f32 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  attn.bias {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %w = attn.tensor_load @w[%j] : f32
    // expected-error @+1 {{'arith.remf' op cannot be differentiated with respect to tensor 'w'}}
    %r = arith.remf %w, %w : f32
    attn.yield %r : f32
  }
}

// -----

// Only f32 tensors have gradients.
attn.pattern @q {
  attn.tensor_param @doc : i32 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  attn.tensor_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %value: f32, %d_logit: f32):
    // expected-error @+1 {{'attn.grad_accumulate' op tensor 'doc' has 'i32' elements: only f32 tensors have gradients}}
    attn.grad_accumulate @doc[%j], %d_logit
    attn.yield
  }
}

// -----

attn.pattern @r {
  // expected-error @+1 {{'attn.tensor_grad' op region must take (b, h, i, j, value, d_logit): four i64, two f32}}
  attn.tensor_grad {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64, %value: f32):
    attn.yield
  }
}
