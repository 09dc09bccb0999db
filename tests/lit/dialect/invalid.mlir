// RUN: %attnc-opt %s -split-input-file -verify-diagnostics

attn.pattern @p {
  // expected-error @+1 {{type must be i64, f32 or i1}}
  attn.param @x : i32
}

// -----

attn.pattern @p {
  // expected-error @+1 {{does not match the parameter type}}
  attn.param @x : i64 = 1.0 : f32
}

// -----

attn.pattern @p {
  // expected-error @+1 {{region must yield one value of type 'i1'}}
  attn.set @s {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    attn.yield %i : i64
  }
}

// -----

attn.pattern @p {
  // expected-error @+1 {{region must take arguments}}
  attn.attend {
  ^bb0(%i: i64, %j: i64):
    %t = arith.constant true
    attn.yield %t : i1
  }
}

// -----

attn.pattern @p {
  attn.set @s {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %t = arith.constant true
    attn.yield %t : i1
  }
  // expected-error @+1 {{'@nope' does not name an 'attn.set' of this pattern}}
  attn.heads [@s, @nope]
}

// -----

attn.pattern @p {
  // expected-note @+1 {{previous one is here}}
  attn.causal
  // expected-error @+1 {{may appear at most once in a pattern}}
  attn.causal
}

// -----

// expected-error @+1 {{cannot hold both 'attn.attend' and 'attn.heads'}}
attn.pattern @p {
  attn.set @s {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %t = arith.constant true
    attn.yield %t : i1
  }
  attn.heads [@s]
  attn.attend {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %t = arith.constant true
    attn.yield %t : i1
  }
}

// -----

attn.pattern @p {
  attn.bias {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    // expected-error @+1 {{'missing' is not an 'attn.param' of the enclosing pattern}}
    %x = attn.get_param @missing : f32
    attn.yield %x : f32
  }
}

// -----

attn.pattern @p {
  attn.param @x : i64
  attn.bias {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    // expected-error @+1 {{result type 'f32' does not match parameter type 'i64'}}
    %x = attn.get_param @x : f32
    attn.yield %x : f32
  }
}

// -----

attn.pattern @p {
  attn.tensor_param @t : f32 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  attn.attend {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    // expected-error @+1 {{tensor 't' has 1 dimensions but 2 indices are given}}
    %x = attn.tensor_load @t[%i, %j] : f32
    %z = arith.constant 0.0 : f32
    %c = arith.cmpf ogt, %x, %z : f32
    attn.yield %c : i1
  }
}

// -----

attn.pattern @p {
  attn.tensor_param @t : i32 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  attn.bias {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    // expected-error @+1 {{result type must be 'i64'}}
    %x = attn.tensor_load @t[%j] : f32
    attn.yield %x : f32
  }
}

// -----

attn.pattern @p {
  // expected-error @+1 {{element type must be i32, i64 or f32}}
  attn.tensor_param @t : f64 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
}

// -----

// expected-error @+1 {{expects parent op 'attn.pattern'}}
attn.causal

// -----

attn.pattern @p {
  // expected-error @+1 {{'@nope' does not name an 'attn.set' of this pattern}}
  attn.bounds @nope {
  ^bb0(%a: i64, %b: i64, %c: i64, %d: i64, %e: i64, %f: i64, %g: i64, %h: i64):
    %t = arith.constant true
    attn.yield %t, %t : i1, i1
  }
}

// -----

attn.pattern @p {
  // expected-error @+1 {{region must take the bounds of b, h, i, j: eight i64}}
  attn.bounds {
  ^bb0(%a: i64, %b: i64):
    %t = arith.constant true
    attn.yield %t, %t : i1, i1
  }
}

// -----

attn.pattern @p {
  // expected-error @+1 {{region must yield two i1: may be true, may be false}}
  attn.bounds {
  ^bb0(%a: i64, %b: i64, %c: i64, %d: i64, %e: i64, %f: i64, %g: i64, %h: i64):
    %t = arith.constant true
    attn.yield %t : i1
  }
}

// -----

attn.pattern @p {
  attn.bounds {
  ^bb0(%a: i64, %b: i64, %c: i64, %d: i64, %e: i64, %f: i64, %g: i64, %h: i64):
    // expected-error @+1 {{'add' takes 4 bounds, got 2}}
    %lo, %hi = attn.int_range add %a, %b
    %t = arith.constant true
    attn.yield %t, %t : i1, i1
  }
}

// -----

attn.pattern @p {
  attn.tensor_param @w : f32 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  attn.bounds {
  ^bb0(%a: i64, %b: i64, %c: i64, %d: i64, %e: i64, %f: i64, %g: i64, %h: i64):
    // expected-error @+1 {{needs an integer tensor}}
    %lo, %hi = attn.tensor_range @w[%g, %h]
    %t = arith.constant true
    attn.yield %t, %t : i1, i1
  }
}

// -----

attn.pattern @p {
  attn.tensor_param @doc : i32 dims {
    %n = attn.dim Nk
    attn.yield %n : i64
  }
  attn.bounds {
  ^bb0(%a: i64, %b: i64, %c: i64, %d: i64, %e: i64, %f: i64, %g: i64, %h: i64):
    // expected-error @+1 {{needs two bounds per dimension of 'doc'}}
    %lo, %hi = attn.tensor_range @doc[%g]
    %t = arith.constant true
    attn.yield %t, %t : i1, i1
  }
}

// -----

// earlier_blocks (j < L * floor(q / L)) is what a negated same_block leaves
// only under causal.
attn.pattern @p {
  // expected-error @+1 {{earlier_blocks needs causal and a column_range or same_block form}}
  attn.component[1] column_range attributes {classes = 1 : i64, earlier_blocks = 8 : i64, hi = 8 : i64, key_map = array<i64: 6, 0, 2, 8, 1>, lo = 6 : i64, modulus = 8 : i64, query_map = array<i64: 0, 0, 1, 1, 1>} {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %t = arith.constant true
    attn.yield %t : i1
  }
}

// -----

// ... and keeps an interval of keys per row only for these forms.
attn.pattern @p {
  // expected-error @+1 {{earlier_blocks needs causal and a column_range or same_block form}}
  attn.component[1] residue_diagonal attributes {causal, classes = 4 : i64, earlier_blocks = 8 : i64, key_map = array<i64: 0, 1, 1, 4, 0>, modulus = 4 : i64, query_map = array<i64: 0, 1, 1, 4, 0>, residue = 0 : i64} {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %t = arith.constant true
    attn.yield %t : i1
  }
}

// -----

attn.pattern @p {
  // expected-error @+1 {{min_distance must be at least 1}}
  attn.component[1] residue_diagonal attributes {causal, classes = 4 : i64, key_map = array<i64: 0, 1, 1, 4, 0>, min_distance = 0 : i64, modulus = 4 : i64, query_map = array<i64: 0, 1, 1, 4, 0>, residue = 0 : i64} {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %t = arith.constant true
    attn.yield %t : i1
  }
}
