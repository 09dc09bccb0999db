// RUN: %attnc-opt %s -split-input-file --pass-pipeline='builtin.module(attn.pattern(attn-components))' | FileCheck %s

// attend = j <= q && (q - j < 4 || (q - j) mod 4 == 0), q = i + Nk - Nq:
// component 0 is the window (contiguous), component 1 the residue diagonal
// without the window, each keeping the causal conjunct. The negated window
// is the bound q - j >= 4 (min_distance): component 1 is exact too.
// CHECK-LABEL: attn.pattern @strided_merged
// CHECK:      attn.component[0] contiguous attributes {aligned, causal, classes = 1 : i64, exact, key_map = array<i64: 0, 0, 1, 1, 1>, query_map = array<i64: 0, 0, 1, 1, 1>, window = 4 : i64} {
// CHECK:        %[[W:.*]] = arith.cmpi slt
// CHECK:        %[[C:.*]] = arith.cmpi sle, %j
// CHECK:        %[[P:.*]] = arith.andi %[[C]], %[[W]] : i1
// CHECK-NEXT:   attn.yield %[[P]] : i1
// CHECK:      attn.component[1] residue_diagonal attributes {aligned, causal, classes = 4 : i64, exact, key_map = array<i64: 0, 1, 1, 4, 0>, min_distance = 4 : i64, modulus = 4 : i64, query_map = array<i64: 0, 1, 1, 4, 0>, residue = 0 : i64} {
// CHECK:        %[[W1:.*]] = arith.cmpi slt
// CHECK:        %[[R:.*]] = arith.cmpi eq
// CHECK:        %[[C1:.*]] = arith.cmpi sle, %j
// CHECK:        %[[A:.*]] = arith.andi %[[C1]], %[[R]] : i1
// CHECK:        %[[T:.*]] = arith.constant true
// CHECK:        %[[N:.*]] = arith.xori %[[W1]], %[[T]] : i1
// CHECK:        %[[B:.*]] = arith.andi %[[A]], %[[N]] : i1
// CHECK-NEXT:   attn.yield %[[B]] : i1
attn.pattern @strided_merged {
  attn.attend {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %nk = attn.dim Nk
    %nq = attn.dim Nq
    %off = arith.subi %nk, %nq : i64
    %q = arith.addi %i, %off : i64
    %d = arith.subi %q, %j : i64
    %c4 = arith.constant 4 : i64
    %c0 = arith.constant 0 : i64
    %local = arith.cmpi slt, %d, %c4 : i64
    %m = attn.floormod %d, %c4
    %strided = arith.cmpi eq, %m, %c0 : i64
    %or = arith.ori %local, %strided : i1
    %causal = arith.cmpi sle, %j, %q : i64
    %all = arith.andi %causal, %or : i1
    attn.yield %all : i1
  }
}

// -----

// Per head class: the summary columns j mod 8 in [6, 8) are gathered; the
// block set q / 8 == j / 8 (q = i) is same_block; h-dependent sets fall back.
// CHECK-LABEL: attn.pattern @classes
// CHECK: attn.component @cols[0] column_range attributes {classes = 1 : i64, exact, hi = 8 : i64, key_map = array<i64: 6, 0, 2, 8, 1>, lo = 6 : i64, modulus = 8 : i64, query_map = array<i64: 0, 0, 1, 1, 1>}
// CHECK: attn.component @block[0] same_block attributes {classes = 1 : i64, exact, key_map = array<i64: 0, 0, 1, 1, 1>, modulus = 8 : i64, query_map = array<i64: 0, 0, 1, 1, 1>}
// CHECK: attn.component @perhead[0] contiguous attributes {classes = 1 : i64
// CHECK-NOT: attn.component @unused
attn.pattern @classes {
  attn.set @cols {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %c8 = arith.constant 8 : i64
    %c6 = arith.constant 6 : i64
    %m = attn.floormod %j, %c8
    %in = arith.cmpi sge, %m, %c6 : i64
    attn.yield %in : i1
  }
  attn.set @block {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %c8 = arith.constant 8 : i64
    %qi = arith.floordivsi %i, %c8 : i64
    %kj = arith.floordivsi %j, %c8 : i64
    %same = arith.cmpi eq, %qi, %kj : i64
    attn.yield %same : i1
  }
  attn.set @perhead {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %c8 = arith.constant 8 : i64
    %m = attn.floormod %j, %c8
    %in = arith.cmpi sge, %m, %h : i64
    attn.yield %in : i1
  }
  attn.set @unused {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %t = arith.constant true
    attn.yield %t : i1
  }
  attn.heads [@cols, @block, @perhead, @cols]
}

// -----

// fixed: j <= q && (q / 8 == j / 8 || j mod 8 >= 6), q = i. With causal, the
// negated same_block leaves the keys of earlier blocks, j < 8 * floor(q / 8)
// (earlier_blocks): the summary component is exact.
// CHECK-LABEL: attn.pattern @fixed
// CHECK: attn.component[0] same_block attributes {causal, classes = 1 : i64, exact, key_map = array<i64: 0, 0, 1, 1, 1>, modulus = 8 : i64, query_map = array<i64: 0, 0, 1, 1, 1>}
// CHECK: attn.component[1] column_range attributes {causal, classes = 1 : i64, earlier_blocks = 8 : i64, exact, hi = 8 : i64, key_map = array<i64: 6, 0, 2, 8, 1>, lo = 6 : i64, modulus = 8 : i64, query_map = array<i64: 0, 0, 1, 1, 1>}
attn.pattern @fixed {
  attn.attend {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %c8 = arith.constant 8 : i64
    %c6 = arith.constant 6 : i64
    %qi = arith.floordivsi %i, %c8 : i64
    %kj = arith.floordivsi %j, %c8 : i64
    %same = arith.cmpi eq, %qi, %kj : i64
    %m = attn.floormod %j, %c8
    %summary = arith.cmpi sge, %m, %c6 : i64
    %or = arith.ori %same, %summary : i1
    %causal = arith.cmpi sle, %j, %i : i64
    %all = arith.andi %causal, %or : i1
    attn.yield %all : i1
  }
}

// -----

// Without causal the negated same_block is no interval bound, and a negated
// conjunction is a union: neither is recorded, and neither component is exact.
// CHECK-LABEL: attn.pattern @not_bounds
// CHECK: attn.component @acausal[1] column_range attributes {classes = 1 : i64, hi = 8 : i64, key_map = array<i64: 6, 0, 2, 8, 1>, lo = 6 : i64, modulus = 8 : i64, query_map = array<i64: 0, 0, 1, 1, 1>}
// CHECK: attn.component @conjunction[1] residue_diagonal attributes {causal, classes = 4 : i64, key_map = array<i64: 0, 1, 1, 4, 0>, modulus = 4 : i64, query_map = array<i64: 0, 1, 1, 4, 0>, residue = 0 : i64}
attn.pattern @not_bounds {
  attn.set @acausal {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %c8 = arith.constant 8 : i64
    %c6 = arith.constant 6 : i64
    %qi = arith.floordivsi %i, %c8 : i64
    %kj = arith.floordivsi %j, %c8 : i64
    %same = arith.cmpi eq, %qi, %kj : i64
    %m = attn.floormod %j, %c8
    %summary = arith.cmpi sge, %m, %c6 : i64
    %or = arith.ori %same, %summary : i1
    attn.yield %or : i1
  }
  attn.set @conjunction {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %c4 = arith.constant 4 : i64
    %c0 = arith.constant 0 : i64
    %c16 = arith.constant 16 : i64
    %d = arith.subi %i, %j : i64
    %near = arith.cmpi slt, %d, %c4 : i64
    %far = arith.cmpi slt, %d, %c16 : i64
    %both = arith.andi %near, %far : i1
    %m = attn.floormod %d, %c4
    %strided = arith.cmpi eq, %m, %c0 : i64
    %or = arith.ori %both, %strided : i1
    %causal = arith.cmpi sle, %j, %i : i64
    %all = arith.andi %causal, %or : i1
    attn.yield %all : i1
  }
  attn.heads [@acausal, @conjunction]
}
