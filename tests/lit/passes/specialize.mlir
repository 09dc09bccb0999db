// RUN: %attnc-opt %s --pass-pipeline='builtin.module(attn.pattern(attn-specialize{bind=stride=8}))' | FileCheck %s
// RUN: %attnc-opt %s --pass-pipeline='builtin.module(attn.pattern(attn-specialize))' | FileCheck %s --check-prefix=DEFAULT
// RUN: %not %attnc-opt %s --pass-pipeline='builtin.module(attn.pattern(attn-specialize{bind=stride=x}))' 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK-LABEL: attn.pattern @strided
// CHECK-NOT: attn.param
// CHECK: attn.set @local
// CHECK: %[[C:.*]] = arith.constant 8 : i64
// CHECK-NOT: attn.get_param
// CHECK: arith.cmpi slt, %{{.*}}, %[[C]] : i64
// DEFAULT: arith.constant 128 : i64
// BAD: invalid value 'x' for parameter of type 'i64'
attn.pattern @strided {
  attn.param @stride : i64 = 128 : i64
  attn.set @local {
  ^bb0(%b: i64, %h: i64, %i: i64, %j: i64):
    %d = arith.subi %i, %j : i64
    %s = attn.get_param @stride : i64
    %c = arith.cmpi slt, %d, %s : i64
    attn.yield %c : i1
  }
}
