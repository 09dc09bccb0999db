//===- GpuForwardTest.cpp - The forward kernel against the CPU reference --===//
//
// Every bundled pattern (default parameters) x {bf16, fp16} x D in {64, 128}
// x N in {1, 17, 128, 1000, 4096} x {MHA, GQA}, plus Nq != Nk and the
// [B, N, H, D] memory order on a few patterns: random inputs, O and LSE
// poisoned with NaN before the call, then every element must have been
// written and O and LSE must match the float64 reference
// (ReferenceAttention) computed from the same rounded inputs. The block
// layout of each kernel must equal the CPU builder's, and malformed calls
// must throw attn::Error. Without a GPU the GPU tests skip, naming why.
//
//===----------------------------------------------------------------------===//
#include "GpuAttentionSupport.h"
#include "GpuForwardChecks.h"
#include "GpuTestSupport.h"
#include "PatternCorpus.h"
#include "ReferenceAttention.h"

#include "attnc/layout/Layout.h"

#include "attn/attn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <tuple>

namespace {

using attnc::test::ReferenceOutput;

using attnc::test::AttentionCase;
using attnc::test::DeviceTensor;
using attnc::test::issueMatrix;
using attnc::test::KernelKey;
using attnc::test::Memory;
using attnc::test::PatternInputs;
using attnc::test::checkPatternFile;
using attnc::test::expectEveryElementWritten;
using attnc::test::expectMatchesReference;
using attnc::test::downloadValues;
using attnc::test::makePatternInputs;
using attnc::test::patternPath;
using attnc::test::poisonedTensor;
using attnc::test::randomTensor;
using attnc::test::rowsToCompare;
using attnc::test::seedOf;
using attnc::test::synchronize;
using attnc::test::testContext;

/// Every (pattern, dtype, head dim, query rows per CTA) the tests use.
std::vector<KernelKey> kernelKeys();

/// The forward kernel of (pattern, dtype, head dim, rows per CTA), every
/// kernel of the suite compiled first.
const attn::Attention &attentionFor(const std::string &pattern, attn::DType dtype, int headDim,
                                    int blockQ = 128) {
  attnc::test::warmKernelCache(kernelKeys());
  return attnc::test::attentionFor({pattern, dtype, headDim, blockQ, false});
}

//===----------------------------------------------------------------------===//
// The forward matrix
//===----------------------------------------------------------------------===//


class GpuForward : public testing::TestWithParam<AttentionCase> {};

TEST_P(GpuForward, MatchesTheReference) {
  SKIP_WITHOUT_GPU();
  const AttentionCase &c = GetParam();
  const attn::Attention &attention = attentionFor(c.pattern, c.dtype, c.headDim, c.blockQ);
  std::mt19937 rng(seedOf(caseName(c)));
  attnc::CheckedFile file = checkPatternFile(c.pattern);
  const attnc::ast::Pattern &pattern = *file.ast.patterns.front();
  attnc::interp::Shape shape{c.heads, c.seqQ, c.seqK, c.headDim};
  PatternInputs tensors;
  ASSERT_NO_FATAL_FAILURE(makePatternInputs(pattern, attention.bundle(), shape, rng, tensors));

  DeviceTensor q = randomTensor(c.memory, c.dtype, c.batch, c.heads, c.seqQ, c.headDim, rng);
  DeviceTensor k = randomTensor(c.memory, c.dtype, c.batch, c.kvHeads, c.seqK, c.headDim, rng);
  DeviceTensor v = randomTensor(c.memory, c.dtype, c.batch, c.kvHeads, c.seqK, c.headDim, rng);
  DeviceTensor o = poisonedTensor(c.memory, c.dtype, c.batch, c.heads, c.seqQ, c.headDim);
  std::vector<float> lse(c.batch * c.heads * c.seqQ);
  attn::DeviceBuffer lseBuffer(lse.size() * sizeof(float));
  lseBuffer.fillBytes(0xFF); // NaN

  attn::BlockLayout layout =
      attention.layout({c.batch, c.heads, c.kvHeads, c.seqQ, c.seqK}, tensors.device);
  attention.forward(layout, q.tensor, k.tensor, v.tensor, o.tensor, lseBuffer.pointer());
  synchronize();
  downloadValues(o);
  lseBuffer.download(lse.data());
  expectEveryElementWritten(o.values, lse, c.headDim);

  attnc::interp::Interpreter reference =
      attnc::test::makeInterpreter(pattern, shape, tensors.host.host);
  ReferenceOutput expected = attnc::test::referenceForward(
      reference, {c.batch, c.heads, c.kvHeads, c.seqQ, c.seqK, c.headDim},
      {q.values.data(), k.values.data(), v.values.data()}, rowsToCompare(c.seqQ, rng));
  expectMatchesReference(c.dtype, o.values, lse, c.seqQ, expected);
}

constexpr attn::DType kDTypes[] = {attn::DType::BF16, attn::DType::FP16};
constexpr int kHeadDims[] = {64, 128};

/// Patterns run with 64 query rows per CTA too.
constexpr const char *kSmallBlockPatterns[] = {"causal", "sliding_window", "document", "alibi"};

std::vector<KernelKey> kernelKeys() {
  std::vector<KernelKey> keys;
  for (const std::string &pattern : attnc::test::bundledPatterns())
    for (attn::DType dtype : kDTypes)
      for (int headDim : kHeadDims)
        keys.emplace_back(pattern, dtype, headDim, 128, false);
  for (const char *pattern : kSmallBlockPatterns)
    for (attn::DType dtype : kDTypes)
      for (int headDim : kHeadDims)
        keys.emplace_back(pattern, dtype, headDim, 64, false);
  return keys;
}

/// Nq != Nk: queries at the end of the keys (chunked prefill, decoding), and
/// more queries than keys, where causal rows see no key at all.
std::vector<AttentionCase> crossLengthCases() {
  std::vector<AttentionCase> cases;
  for (const char *pattern :
       {"causal", "sliding_window", "document", "strided", "alibi", "prefix_lm", "bigbird"})
    for (auto [seqQ, seqK] : {std::pair<int64_t, int64_t>{100, 1000}, {1000, 100}, {1, 1000}}) {
      cases.push_back({pattern, attn::DType::BF16, 128, 2, 4, 4, seqQ, seqK});
      cases.push_back({pattern, attn::DType::FP16, 64, 2, 4, 2, seqQ, seqK});
    }
  return cases;
}

/// q, k, v and o as [B, N, H, D] memory.
std::vector<AttentionCase> tokenMajorCases() {
  std::vector<AttentionCase> cases;
  for (const char *pattern : {"causal", "document", "alibi", "dense"})
    for (attn::DType dtype : kDTypes)
      cases.push_back({pattern, dtype, 128, 2, 4, 2, 1000, 1000, Memory::Bnhd});
  return cases;
}

/// 64 query rows per CTA: lengths around and between tiles, MHA and GQA.
std::vector<AttentionCase> smallBlockCases() {
  std::vector<AttentionCase> cases;
  for (const char *pattern : kSmallBlockPatterns)
    for (attn::DType dtype : kDTypes)
      for (int headDim : kHeadDims)
        for (int64_t n : {1, 65, 1000})
          cases.push_back({pattern, dtype, headDim, 2, 4, 2, n, n, Memory::Bhnd, 64});
  return cases;
}

std::string testName(const testing::TestParamInfo<AttentionCase> &info) {
  return caseName(info.param);
}

INSTANTIATE_TEST_SUITE_P(Matrix, GpuForward, testing::ValuesIn(issueMatrix()), testName);
INSTANTIATE_TEST_SUITE_P(CrossLength, GpuForward, testing::ValuesIn(crossLengthCases()),
                         testName);
INSTANTIATE_TEST_SUITE_P(TokenMajor, GpuForward, testing::ValuesIn(tokenMajorCases()),
                         testName);
INSTANTIATE_TEST_SUITE_P(SmallBlock, GpuForward, testing::ValuesIn(smallBlockCases()),
                         testName);

//===----------------------------------------------------------------------===//
// The layout Attention builds
//===----------------------------------------------------------------------===//

struct KernelCase {
  std::string pattern;
  attn::DType dtype;
  int headDim;
  int blockQ;
};

std::string kernelCaseName(const KernelCase &c) {
  return c.pattern + "_" + attn::dtypeName(c.dtype) + "_D" + std::to_string(c.headDim) + "_M" +
         std::to_string(c.blockQ);
}

void PrintTo(const KernelCase &c, std::ostream *os) { *os << kernelCaseName(c); }

std::vector<KernelCase> kernelCases() {
  std::vector<KernelCase> cases;
  for (const auto &[pattern, dtype, headDim, blockQ, backward] : kernelKeys())
    cases.push_back({pattern, dtype, headDim, blockQ});
  return cases;
}
class GpuForwardLayout : public testing::TestWithParam<KernelCase> {};

TEST_P(GpuForwardLayout, EqualsTheCpuBuildersAtTheKernelsTiles) {
  SKIP_WITHOUT_GPU();
  const KernelCase &c = GetParam();
  const attn::Attention &attention = attentionFor(c.pattern, c.dtype, c.headDim, c.blockQ);
  attnc::CheckedFile file = checkPatternFile(c.pattern);
  const attnc::ast::Pattern &pattern = *file.ast.patterns.front();
  attnc::test::LoweredPattern lowered(file);
  std::mt19937 rng(seedOf(kernelCaseName(c)));
  for (auto [heads, seqQ, seqK] : {std::tuple<int64_t, int64_t, int64_t>{4, 1000, 1000},
                                   {3, 100, 1000}, {2, 1000, 333}, {1, 4096, 4096}}) {
    PatternInputs tensors;
    ASSERT_NO_FATAL_FAILURE(makePatternInputs(pattern, attention.bundle(),
                                              {heads, seqQ, seqK, c.headDim}, rng, tensors));
    attn::BlockLayout layout = attention.layout({2, heads, heads, seqQ, seqK}, tensors.device);
    attnc::attn::Sizes sizes{heads, seqQ, seqK, c.headDim};
    attnc::attn::PatternEvaluator twins(lowered.op, sizes, tensors.host.ir);
    auto cpu = attnc::layout::buildLayout(twins, nullptr, sizes,
                                          {layout.blockQ(), layout.blockK(), false});
    ASSERT_TRUE(static_cast<bool>(cpu)) << llvm::toString(cpu.takeError());
    std::string where = "H=" + std::to_string(heads) + " Nq=" + std::to_string(seqQ) +
                        " Nk=" + std::to_string(seqK);
    EXPECT_EQ(attnc::test::countLayoutMismatches(*cpu, layout.download(), where,
                                                 layout.componentHeads()),
              0)
        << where;
  }
}

INSTANTIATE_TEST_SUITE_P(Bundled, GpuForwardLayout, testing::ValuesIn(kernelCases()),
                         [](const testing::TestParamInfo<KernelCase> &info) {
                           return kernelCaseName(info.param);
                         });

//===----------------------------------------------------------------------===//
// Malformed calls
//===----------------------------------------------------------------------===//

/// A valid call (causal, bf16, D = 64, 4 query heads on 2 key/value heads,
/// N = 64) into one generous buffer, which the rejection tests break one
/// argument of: a check that is missing then reads or writes no foreign memory.
struct ValidCall {
  static constexpr int64_t kN = 64, kD = 64;
  const attn::Attention &attention = attentionFor("causal", attn::DType::BF16, kD);
  attn::DeviceBuffer memory{1 << 22};
  attn::Problem problem{1, 4, 2, kN, kN};
  attn::Tensor q = at(0, 4), k = at(1, 2), v = at(2, 2), o = at(3, 4);
  attn::CUdeviceptr lse = memory.pointer() + (1 << 21);

  attn::Tensor at(int slot, int64_t heads) {
    return attn::Tensor::bhnd(memory.pointer() + slot * (1 << 19), attn::DType::BF16, 1, heads,
                              kN, kD);
  }

  void run() {
    attn::BlockLayout layout = attention.layout(problem);
    attention.forward(layout, q, k, v, o, lse);
    synchronize();
  }
};

struct Breakage {
  const char *name;
  std::function<void(ValidCall &)> apply;
};

void PrintTo(const Breakage &breakage, std::ostream *os) { *os << breakage.name; }

class GpuForwardRejects : public testing::TestWithParam<Breakage> {};

TEST(GpuForwardCall, TheValidCallRuns) {
  SKIP_WITHOUT_GPU();
  ValidCall call;
  call.memory.fillBytes(0);
  EXPECT_NO_THROW(call.run());
}

TEST_P(GpuForwardRejects, ABrokenArgument) {
  SKIP_WITHOUT_GPU();
  ValidCall call;
  call.memory.fillBytes(0);
  GetParam().apply(call);
  EXPECT_THROW(call.run(), attn::Error);
}

const Breakage kBreakages[] = {
    {"QOfTheOtherDtype", [](ValidCall &c) { c.q.dtype = attn::DType::FP16; }},
    {"KOfAnotherHeadDim",
     [](ValidCall &c) {
       c.k = attn::Tensor::bhnd(c.k.data, attn::DType::BF16, 1, 2, ValidCall::kN, 128);
     }},
    {"VWithFewerTokens", [](ValidCall &c) { c.v.shape[2] = ValidCall::kN - 1; }},
    {"OWithTheKeyValueHeads", [](ValidCall &c) { c.o = c.at(3, 2); }},
    {"KvHeadsNotDividingHeads",
     [](ValidCall &c) {
       c.problem.kvHeads = 3;
       c.k = c.at(1, 3);
       c.v = c.at(2, 3);
     }},
    {"MisalignedPointer", [](ValidCall &c) { c.q.data += 2; }},
    {"MisalignedRowStride", [](ValidCall &c) { c.q.strides[2] = ValidCall::kD + 4; }},
    {"HeadDimNotContiguous", [](ValidCall &c) { c.v.strides[3] = 2; }},
    {"MisalignedLse", [](ValidCall &c) { c.lse += 2; }},
};

INSTANTIATE_TEST_SUITE_P(Calls, GpuForwardRejects, testing::ValuesIn(kBreakages),
                         [](const testing::TestParamInfo<Breakage> &info) {
                           return std::string(info.param.name);
                         });

TEST(GpuForwardCall, RejectsPatternTensorsThatDoNotFitTheProblem) {
  SKIP_WITHOUT_GPU();
  const attn::Attention &attention = attentionFor("document", attn::DType::BF16, 64);
  attn::DeviceBuffer doc(1000 * sizeof(int32_t));
  doc.fillBytes(0);
  attn::Problem problem{1, 2, 2, 1000, 1000};
  EXPECT_NO_THROW(attention.layout(problem, {{doc.pointer(), {1000}}}));
  EXPECT_THROW(attention.layout(problem, {}), attn::Error);
  EXPECT_THROW(attention.layout(problem, {{doc.pointer(), {999}}}), attn::Error);
  EXPECT_THROW(attention.layout(problem, {{0, {1000}}}), attn::Error);
}

// The host side of the API: no GPU needed.

TEST(ForwardApi, TensorStridesDescribeBothMemoryOrders) {
  attn::Tensor bhnd = attn::Tensor::bhnd(256, attn::DType::FP16, 2, 3, 5, 64);
  attn::Tensor bnhd = attn::Tensor::bnhd(256, attn::DType::FP16, 2, 3, 5, 64);
  std::array<int64_t, 4> shape{2, 3, 5, 64};
  EXPECT_EQ(bhnd.shape, shape);
  EXPECT_EQ(bnhd.shape, shape);
  EXPECT_EQ(bhnd.strides, (std::array<int64_t, 4>{3 * 5 * 64, 5 * 64, 64, 1}));
  EXPECT_EQ(bnhd.strides, (std::array<int64_t, 4>{5 * 3 * 64, 64, 3 * 64, 1}));
}

TEST(ForwardApi, RejectsAnUnsupportedHeadDim) {
  try {
    attn::Attention attention(attn::compileFile(patternPath("causal")), attn::DType::BF16, 96);
    ADD_FAILURE() << "head dim 96 was accepted";
  } catch (const attn::Error &error) {
    EXPECT_NE(std::string(error.what()).find("96"), std::string::npos) << error.what();
  }
}

TEST(ForwardApi, CompileErrorsAreAttnErrorsWithTheirPlace) {
  try {
    attn::compileString("pattern p { attend = i < ; }");
    ADD_FAILURE() << "a malformed pattern compiled";
  } catch (const attn::Error &error) {
    EXPECT_NE(std::string(error.what()).find("<string>:1:"), std::string::npos) << error.what();
  }
  EXPECT_THROW(attn::compileFile(patternPath("causal"), {"", {{"nope", "1"}}}), attn::Error);
  EXPECT_THROW(attn::compileFile(patternPath("sliding_window"), {"", {{"window", "x"}}}),
               attn::Error);
}

} // namespace
