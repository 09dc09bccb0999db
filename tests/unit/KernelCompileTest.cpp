//===- KernelCompileTest.cpp - Every bundle's kernels compile with NVRTC --===//
//
// The whole translation unit of each bundled pattern (its element functions,
// the layout kernel, the forward and the backward kernels) goes through the
// runtime's NVRTC path as attn::Attention would compile it for training with
// the component backward on, to PTX for sm_80 and sm_90a (a
// compile takes seconds: every pattern in two variants, every variant for one
// pattern), and once through ptxas to a CUBIN (close to a minute here). No
// GPU is needed.
//
//===----------------------------------------------------------------------===//
#include "PatternCorpus.h"

#include "attn/Nvrtc.h"
#include "attn/attn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace {

struct Variant {
  attn::DType dtype;
  int headDim;
};

constexpr Variant kVariants[] = {{attn::DType::BF16, 64},
                                 {attn::DType::BF16, 128},
                                 {attn::DType::FP16, 64},
                                 {attn::DType::FP16, 128}};

attn::CompileRequest request(const attn::Bundle &bundle, const Variant &variant,
                             const std::string &arch, attn::BinaryKind kind) {
  attn::KernelOptions options;
  options.backward = true;
  options.componentsBackward = true;
  attn::CompileRequest request =
      attn::kernelCompileRequest(bundle, variant.dtype, variant.headDim, arch, options);
  request.kind = kind;
  return request;
}

std::vector<std::filesystem::path> bundledPatterns() {
  std::vector<std::filesystem::path> paths;
  for (const auto &entry :
       std::filesystem::directory_iterator(std::string(ATTNC_SOURCE_DIR) + "/patterns"))
    if (entry.path().extension() == ".pattern")
      paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  return paths;
}

/// Every kernel's entry point is in the output: the component kernels
/// (forward and backward) of the sets the runtime runs through their
/// components too.
void expectEntryPoints(const attn::Bundle &bundle, const attn::Binary &binary,
                       const std::string &what) {
  std::vector<std::string> kernels = {bundle.layoutKernel, bundle.forwardKernel,
                                      bundle.backwardDqKernel, bundle.backwardDkdvKernel,
                                      "attnc_backward_delta"};
  std::vector<std::string> sets = attn::forwardComponentSets(bundle, {});
  for (const attn::BundleComponent &component : bundle.components)
    if (std::count(sets.begin(), sets.end(), component.set))
      kernels.insert(kernels.end(), {component.forwardKernel, component.backwardDqKernel,
                                     component.backwardDkdvKernel});
  if (!sets.empty())
    kernels.push_back("attnc_components_backward_finish");
  for (const std::string &kernel : kernels)
    EXPECT_NE(binary.bytes.find(kernel), std::string::npos) << what << ": " << kernel;
}

/// Compiles `bundle` to PTX for `variant` and `arch`; a failure is reported
/// with NVRTC's log.
void expectPtx(const attn::Bundle &bundle, const Variant &variant, const char *arch) {
  std::string what = bundle.pattern + " " + attn::dtypeName(variant.dtype) + " D=" +
                     std::to_string(variant.headDim) + " " + arch;
  try {
    attn::Binary ptx =
        attn::compileWithNvrtc(request(bundle, variant, arch, attn::BinaryKind::Ptx));
    expectEntryPoints(bundle, ptx, what);
  } catch (const attn::Error &error) {
    ADD_FAILURE() << what << ":\n" << error.what();
  }
}

TEST(KernelCompile, EveryBundledPatternToPtxForBothArchitectures) {
  std::vector<std::filesystem::path> paths = bundledPatterns();
  ASSERT_EQ(paths.size(), attnc::test::bundledPatternCount());
  size_t narrow = 0;
  for (const auto &path : paths) {
    attn::Bundle bundle = attn::compileFile(path.string());
    narrow += bundle.source.find("narrow_mask = true") != std::string::npos;
    expectPtx(bundle, kVariants[1], "sm_80");
    expectPtx(bundle, kVariants[2], "sm_90a");
  }
  // Most bundled masks compile in 32-bit integers (attn.narrow_mask): both
  // forms of the mask go through NVRTC here.
  EXPECT_GE(narrow, paths.size() - 1);
  EXPECT_LT(narrow, paths.size());
}

/// The component kernels of every form: the test pattern whose set splits
/// into a window, residue classes and gathered summary columns.
TEST(KernelCompile, ThreeComponentsToPtxForBothArchitectures) {
  attn::Bundle bundle = attn::compileFile(std::string(ATTNC_SOURCE_DIR) +
                                          "/tests/patterns/three_components.pattern");
  ASSERT_EQ(bundle.components.size(), 3u);
  ASSERT_FALSE(attn::forwardComponentSets(bundle, {}).empty())
      << "ATTNC_COMPONENTS=0 in the environment?";
  expectPtx(bundle, kVariants[0], "sm_80");
  expectPtx(bundle, kVariants[3], "sm_90a");
}

TEST(KernelCompile, EveryVariantToPtx) {
  attn::Bundle bundle =
      attn::compileFile(std::string(ATTNC_SOURCE_DIR) + "/patterns/softcap.pattern");
  for (const char *arch : {"sm_80", "sm_90a"})
    for (const Variant &variant : kVariants)
      expectPtx(bundle, variant, arch);
}

TEST(KernelCompile, ToCubin) {
  attn::Bundle bundle =
      attn::compileFile(std::string(ATTNC_SOURCE_DIR) + "/patterns/alibi.pattern");
  attn::Binary cubin = attn::compileWithNvrtc(
      request(bundle, kVariants[1], "sm_90a", attn::BinaryKind::Cubin));
  ASSERT_GE(cubin.bytes.size(), 4u);
  EXPECT_EQ(cubin.bytes.substr(0, 4), "\x7f" "ELF");
  expectEntryPoints(bundle, cubin, "sm_90a");
}

TEST(KernelCompile, TheForwardKernelNeedsADtypeAndAHeadDim) {
  attn::Bundle bundle =
      attn::compileFile(std::string(ATTNC_SOURCE_DIR) + "/patterns/causal.pattern");
  attn::CompileRequest noDtype =
      request(bundle, kVariants[0], "sm_80", attn::BinaryKind::Ptx);
  noDtype.options = {"-DATTNC_HEAD_DIM=96"};
  try {
    attn::compileWithNvrtc(noDtype);
    FAIL() << "head dim 96 compiled";
  } catch (const attn::Error &error) {
    EXPECT_NE(std::string(error.what()).find("-DATTNC_HEAD_DIM=64 or"), std::string::npos)
        << error.what();
  }
}

} // namespace
