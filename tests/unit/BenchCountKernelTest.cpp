//===- BenchCountKernelTest.cpp - attnc-bench's counting kernels compile --===//
//
// The pair-counting kernels of attnc-bench (bench/CountKernel.h) appended to
// a few bundles and compiled with NVRTC to PTX: patterns without tensors,
// with an integer tensor, with a float tensor and a bias, and with head
// classes. No GPU is needed; running them is left to the GPU lit test
// (tests/lit/bench/run-on-gpu.test).
//
//===----------------------------------------------------------------------===//
#include "CountKernel.h"

#include "attn/attn.h"

#include <gtest/gtest.h>

namespace {

TEST(BenchCountKernel, CompilesToPtx) {
  for (const char *name : {"causal", "document", "relative_bias", "fixed_heads"}) {
    attn::Bundle bundle =
        attn::compileFile(std::string(ATTNC_SOURCE_DIR) + "/patterns/" + name + ".pattern");
    attn::CompileRequest request = attnc::bench::countKernelRequest(bundle, "sm_80");
    request.kind = attn::BinaryKind::Ptx;
    try {
      attn::Binary ptx = attn::compileWithNvrtc(request);
      EXPECT_NE(ptx.bytes.find("attnc_bench_layout_pairs"), std::string::npos) << name;
      EXPECT_NE(ptx.bytes.find("attnc_bench_all_pairs"), std::string::npos) << name;
    } catch (const attn::Error &error) {
      ADD_FAILURE() << name << ":\n" << error.what();
    }
  }
}

} // namespace
