//===- JitTest.cpp - attn::compileFile / compileString --------------------===//
#include "attn/attn.h"

#include <gtest/gtest.h>

namespace {

std::string errorOf(const std::function<void()> &action) {
  try {
    action();
  } catch (const attn::Error &error) {
    return error.what();
  }
  return "(no error)";
}

TEST(Jit, BundlesAPatternWithItsKernelsAndTensors) {
  attn::Bundle bundle = attn::compileString(
      "pattern docs(doc: tensor<i32>[Nk], w: int = 4) {\n"
      "  causal;\n"
      "  attend = doc[j] == doc[i] && i - j < w;\n"
      "}\n",
      {"", {{"w", "16"}}}, "docs.pattern");
  EXPECT_EQ(bundle.pattern, "docs");
  EXPECT_EQ(bundle.origin, "docs.pattern");
  EXPECT_EQ(bundle.params, "w=16");
  EXPECT_EQ(bundle.layoutKernel, "attnc_docs_layout");
  EXPECT_EQ(bundle.forwardKernel, "attnc_docs_forward");
  EXPECT_NE(bundle.source.find("attnc_docs_forward(attnc_forward_args args"),
            std::string::npos);
  // The parameter is specialized into the code.
  EXPECT_NE(bundle.source.find("16"), std::string::npos);
  ASSERT_EQ(bundle.tensors.size(), 1u);
  EXPECT_EQ(bundle.tensors[0].name, "doc");
  EXPECT_EQ(bundle.tensors[0].type, attn::ElementType::I32);
  ASSERT_EQ(bundle.tensors[0].dims.size(), 1u);
  EXPECT_EQ(bundle.tensors[0].dims[0].kind, attn::TensorDim::Kind::Nk);
  EXPECT_FALSE(bundle.readsBatch);
}

TEST(Jit, RecordsConstantDimensionsAndBatchReads) {
  attn::Bundle bundle = attn::compileString(
      "pattern p(n: int = 3, t: tensor<f32>[n * 2, H]) {\n"
      "  attend = b % 2 == 0 || j <= i;\n"
      "  bias = t[0, h];\n"
      "}\n");
  ASSERT_EQ(bundle.tensors.size(), 1u);
  ASSERT_EQ(bundle.tensors[0].dims.size(), 2u);
  EXPECT_EQ(bundle.tensors[0].type, attn::ElementType::F32);
  EXPECT_EQ(bundle.tensors[0].dims[0].kind, attn::TensorDim::Kind::Constant);
  EXPECT_EQ(bundle.tensors[0].dims[0].value, 6);
  EXPECT_EQ(bundle.tensors[0].dims[1].kind, attn::TensorDim::Kind::H);
  EXPECT_TRUE(bundle.readsBatch);
}

TEST(Jit, ReportsDiagnosticsWithTheirLocation) {
  std::string error = errorOf([] {
    attn::compileString("pattern p {\n  attend = j <= k;\n}\n", {}, "bad.pattern");
  });
  EXPECT_NE(error.find("bad.pattern:2:17: error:"), std::string::npos) << error;
}

TEST(Jit, ReportsUnknownPatternsAndParameters) {
  const char *source = "pattern a(w: int = 2) { attend = i - j < w; }\n"
                       "pattern b { causal; }\n";
  EXPECT_NE(errorOf([&] { attn::compileString(source); }).find("pattern"), std::string::npos);
  EXPECT_NE(errorOf([&] { attn::compileString(source, {"c", {}}); }).find("'c'"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { attn::compileString(source, {"a", {{"x", "1"}}}); }).find("'x'"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { attn::compileString(source, {"a", {{"w", "1.5"}}}); }).find("w"),
            std::string::npos);
}

TEST(Jit, ReportsAMissingFile) {
  std::string error = errorOf([] { attn::compileFile("/nonexistent/x.pattern"); });
  EXPECT_NE(error.find("/nonexistent/x.pattern"), std::string::npos) << error;
}

TEST(Jit, AttentionWithoutAGpuSaysSo) {
  attn::Bundle bundle = attn::compileString("pattern p { causal; }");
  if (attn::gpuAvailable())
    GTEST_SKIP() << "a GPU is present: the no-GPU path cannot be observed here";
  std::string error = errorOf([&] { attn::Attention(bundle, attn::DType::BF16, 128); });
  EXPECT_NE(error.find("no CUDA driver/GPU found"), std::string::npos) << error;
}

TEST(Jit, RefusesUnsupportedHeadDims) {
  attn::Bundle bundle = attn::compileString("pattern p { causal; }");
  std::string error = errorOf([&] { attn::Attention(bundle, attn::DType::FP16, 96); });
  EXPECT_NE(error.find("head dim 96"), std::string::npos) << error;
}

} // namespace
