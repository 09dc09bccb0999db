//===- GpuBackwardTest.cpp - The backward kernels against the CPU reference ===//
//
// Every bundled pattern (default parameters) x {bf16, fp16} x D in {64, 128}
// x N in {1, 17, 128, 1000, 4096} x {MHA, GQA}, plus Nq != Nk and the
// [B, N, H, D] memory order on a few patterns: random q, k, v, the GPU's own
// forward for O and LSE, random dO on the compared rows (all rows up to
// N = 1024; 66 of them beyond, zero elsewhere); dQ, dK, dV poisoned with NaN,
// then computed three times: every element written, bit-identical each time,
// and within the dtype's tolerance of the float64 analytic gradients
// (ReferenceAttention) of the same rounded inputs. The backward's layouts
// must equal the CPU builder's, by query and by key, and malformed calls
// must throw attn::Error. Without a GPU the GPU tests skip, naming why.
//
//===----------------------------------------------------------------------===//
#include "GpuAttentionSupport.h"
#include "GpuTestSupport.h"
#include "ReferenceAttention.h"

#include "attnc/layout/Layout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

namespace {

using namespace attnc::test;

constexpr attn::DType kDTypes[] = {attn::DType::BF16, attn::DType::FP16};
constexpr int kHeadDims[] = {64, 128};

std::vector<KernelKey> kernelKeys() {
  std::vector<KernelKey> keys;
  for (const std::string &pattern : bundledPatterns())
    for (attn::DType dtype : kDTypes)
      for (int headDim : kHeadDims)
        keys.emplace_back(pattern, dtype, headDim, 128, true);
  return keys;
}

/// The forward and backward kernels of (pattern, dtype, head dim), every
/// kernel of the suite compiled first.
const attn::Attention &trainingAttention(const std::string &pattern, attn::DType dtype,
                                         int headDim) {
  warmKernelCache(kernelKeys());
  return attentionFor({pattern, dtype, headDim, 128, true});
}


/// d score / ds from the compiler's attn.score_grad (what the kernels run),
/// evaluated on the CPU; serialized, as the evaluator is not shared across
/// threads.
ScoreDerivative compiledScoreDerivative(attnc::attn::PatternEvaluator &evaluator) {
  auto mutex = std::make_shared<std::mutex>();
  return [&evaluator, mutex](double s, int64_t b, int64_t h, int64_t i, int64_t j) {
    std::lock_guard<std::mutex> lock(*mutex);
    mlir::FailureOr<float> grad = evaluator.scoreGrad(static_cast<float>(s), b, h, i, j);
    if (mlir::failed(grad))
      throw std::runtime_error("attn.score_grad failed to evaluate");
    return static_cast<double>(*grad);
  };
}

/// d logit / d element of the float tensors of a bundled pattern, written
/// out by hand (an oracle independent of the compiler's attn.tensor_grad).
LogitTensorDerivative handWrittenTensorDerivative(const std::string &pattern,
                                                  const attn::Bundle &bundle, int64_t seqQ,
                                                  int64_t seqK) {
  if (pattern != "relative_bias")
    throw std::runtime_error("no hand-written tensor derivative for pattern " + pattern);
  // bias = table[h, min(max(q - j, 0), K - 1)], q = i + Nk - Nq.
  int64_t K = bundle.tensors.at(0).dims.at(1).value;
  return [K, seqQ, seqK](double, int64_t, int64_t h, int64_t i, int64_t j,
                         const TensorElementSink &add) {
    add("table", h * K + std::clamp<int64_t>(i + seqK - seqQ - j, 0, K - 1), 1.0);
  };
}

/// fp32 device arrays, poisoned with NaN, for the gradient of each f32
/// tensor of the bundle (0 for the others), and their downloads.
struct TensorGradients {
  std::vector<std::unique_ptr<attn::DeviceBuffer>> buffers;
  std::vector<attn::CUdeviceptr> pointers;

  TensorGradients(const attn::Bundle &bundle, const PatternInputs &tensors) {
    for (std::size_t k = 0; k < bundle.tensors.size(); ++k) {
      buffers.emplace_back();
      pointers.push_back(0);
      if (bundle.tensors[k].type != attn::ElementType::F32)
        continue;
      int64_t count = 1;
      for (int64_t dim : tensors.device[k].dims)
        count *= dim;
      buffers.back() = std::make_unique<attn::DeviceBuffer>(count * sizeof(float));
      buffers.back()->fillBytes(0xFF);
      pointers.back() = buffers.back()->pointer();
    }
  }

  std::vector<float> download(std::size_t k) const {
    std::vector<float> values(buffers[k]->size() / sizeof(float));
    buffers[k]->download(values.data());
    return values;
  }
};

//===----------------------------------------------------------------------===//
// Checking the gradients
//===----------------------------------------------------------------------===//

int64_t countNaN(const std::vector<float> &values) {
  return std::count_if(values.begin(), values.end(), [](float x) { return std::isnan(x); });
}

/// relativeError(gpu, ref) within the dtype's gradient tolerance, naming the
/// largest difference.
void expectClose(const char *name, attn::DType dtype, const std::vector<float> &gpu,
                 const std::vector<double> &ref, int64_t headDim) {
  ASSERT_EQ(gpu.size(), ref.size()) << name;
  double worst = -1;
  size_t worstAt = 0;
  for (size_t k = 0; k < ref.size(); ++k)
    if (std::abs(gpu[k] - ref[k]) > worst) {
      worst = std::abs(gpu[k] - ref[k]);
      worstAt = k;
    }
  EXPECT_LE(relativeError(gpu, ref), gradientTolerance(dtype))
      << name << ": relative error; largest difference at row " << worstAt / headDim
      << ", d = " << worstAt % headDim << ": GPU " << gpu[worstAt] << ", reference "
      << ref[worstAt];
}

//===----------------------------------------------------------------------===//
// The backward matrix
//===----------------------------------------------------------------------===//

class GpuBackward : public testing::TestWithParam<AttentionCase> {};

TEST_P(GpuBackward, MatchesTheReferenceAndIsDeterministic) {
  SKIP_WITHOUT_GPU();
  const AttentionCase &c = GetParam();
  const attn::Attention &attention = trainingAttention(c.pattern, c.dtype, c.headDim);
  // The default backward (the component patterns' sets on their own tiles);
  // GpuComponentsTest checks the opt-in component backward.
  ASSERT_FALSE(attention.options().componentsBackward)
      << "ATTNC_COMPONENTS_BACKWARD=1 in the environment?";
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
  attn::DeviceBuffer lse(c.batch * c.heads * c.seqQ * sizeof(float));
  std::vector<int64_t> rows = rowsToCompare(c.seqQ, rng);
  DeviceTensor dO =
      outputGradient(c.memory, c.dtype, c.batch, c.heads, c.seqQ, c.headDim, rows, rng);
  DeviceTensor dq = poisonedTensor(c.memory, c.dtype, c.batch, c.heads, c.seqQ, c.headDim);
  DeviceTensor dk = poisonedTensor(c.memory, c.dtype, c.batch, c.kvHeads, c.seqK, c.headDim);
  DeviceTensor dv = poisonedTensor(c.memory, c.dtype, c.batch, c.kvHeads, c.seqK, c.headDim);

  attn::BlockLayout layout =
      attention.layout({c.batch, c.heads, c.kvHeads, c.seqQ, c.seqK}, tensors.device);
  attention.forward(layout, q.tensor, k.tensor, v.tensor, o.tensor, lse.pointer());
  TensorGradients tensorGrads(attention.bundle(), tensors);
  std::vector<std::vector<uint16_t>> firstBits;
  std::vector<std::vector<float>> firstTensorGrads;
  for (int run = 0; run < 3; ++run) {
    attention.backward(layout, q.tensor, k.tensor, v.tensor, o.tensor, lse.pointer(), dO.tensor,
                       {dq.tensor, dk.tensor, dv.tensor, tensorGrads.pointers});
    synchronize();
    std::vector<std::vector<uint16_t>> bits = {downloadValues(dq), downloadValues(dk),
                                               downloadValues(dv)};
    std::vector<std::vector<float>> grads;
    for (std::size_t t = 0; t < tensorGrads.pointers.size(); ++t)
      if (tensorGrads.pointers[t])
        grads.push_back(tensorGrads.download(t));
    if (run == 0) {
      firstBits = bits;
      firstTensorGrads = grads;
    } else {
      EXPECT_TRUE(bits == firstBits) << "run " << run << " differs from run 0 in some bit";
      for (std::size_t t = 0; t < grads.size(); ++t)
        EXPECT_TRUE(std::memcmp(grads[t].data(), firstTensorGrads[t].data(),
                                grads[t].size() * sizeof(float)) == 0)
            << "tensor gradient " << t << ": run " << run << " differs from run 0";
    }
  }
  EXPECT_EQ(countNaN(dq.values), 0) << "dQ elements are NaN (unwritten or computed)";
  EXPECT_EQ(countNaN(dk.values), 0) << "dK elements are NaN (unwritten or computed)";
  EXPECT_EQ(countNaN(dv.values), 0) << "dV elements are NaN (unwritten or computed)";

  attnc::interp::Interpreter reference = makeInterpreter(pattern, shape, tensors.host.host);
  LoweredPattern lowered(file);
  attnc::attn::PatternEvaluator evaluator(lowered.op, {c.heads, c.seqQ, c.seqK, c.headDim},
                                          tensors.host.ir);
  ScoreDerivative derivative;
  if (lowered.op.getUnique<attnc::attn::ScoreOp>())
    derivative = compiledScoreDerivative(evaluator);
  ReferenceGradients expected = referenceBackward(
      reference, {c.batch, c.heads, c.kvHeads, c.seqQ, c.seqK, c.headDim},
      {q.values.data(), k.values.data(), v.values.data()}, dO.values.data(), rows, derivative);
  expectClose("dQ", c.dtype, dq.values, expected.dq, c.headDim);
  expectClose("dK", c.dtype, dk.values, expected.dk, c.headDim);
  expectClose("dV", c.dtype, dv.values, expected.dv, c.headDim);

  if (firstTensorGrads.empty())
    return;
  auto expectedTensors = referenceTensorGradients(
      reference, {c.batch, c.heads, c.kvHeads, c.seqQ, c.seqK, c.headDim},
      {q.values.data(), k.values.data(), v.values.data()}, dO.values.data(), rows,
      tensors.host.host,
      handWrittenTensorDerivative(c.pattern, attention.bundle(), c.seqQ, c.seqK));
  std::size_t next = 0;
  for (std::size_t t = 0; t < tensorGrads.pointers.size(); ++t) {
    if (!tensorGrads.pointers[t])
      continue;
    const std::vector<float> &gpu = firstTensorGrads[next++];
    EXPECT_EQ(countNaN(gpu), 0) << "tensor gradient elements are NaN (unwritten or computed)";
    const std::string &name = attention.bundle().tensors[t].name;
    expectClose(("d" + name).c_str(), c.dtype, gpu, expectedTensors.at(name), 1);
  }
}

/// Nq != Nk (rows with no key at all when Nq > Nk under causal masks), and
/// [B, N, H, D] memory.
std::vector<AttentionCase> otherShapeCases() {
  std::vector<AttentionCase> cases;
  for (const char *pattern : {"causal", "sliding_window", "document", "alibi", "softcap"})
    for (auto [seqQ, seqK] : {std::pair<int64_t, int64_t>{100, 1000}, {1000, 100}}) {
      cases.push_back({pattern, attn::DType::BF16, 128, 2, 4, 4, seqQ, seqK});
      cases.push_back({pattern, attn::DType::FP16, 64, 2, 4, 2, seqQ, seqK});
    }
  for (const char *pattern : {"causal", "document", "dense"})
    cases.push_back({pattern, attn::DType::BF16, 128, 2, 4, 2, 1000, 1000, Memory::Bnhd});
  return cases;
}

std::string testName(const testing::TestParamInfo<AttentionCase> &info) {
  return caseName(info.param);
}

INSTANTIATE_TEST_SUITE_P(Matrix, GpuBackward, testing::ValuesIn(issueMatrix()), testName);
INSTANTIATE_TEST_SUITE_P(OtherShapes, GpuBackward, testing::ValuesIn(otherShapeCases()),
                         testName);

//===----------------------------------------------------------------------===//
// The backward's layouts
//===----------------------------------------------------------------------===//

class GpuBackwardLayout : public testing::TestWithParam<std::string> {};

TEST_P(GpuBackwardLayout, EqualsTheCpuBuildersByQueryAndByKey) {
  SKIP_WITHOUT_GPU();
  const std::string &name = GetParam();
  const attn::Attention &attention = trainingAttention(name, attn::DType::BF16, 64);
  attnc::CheckedFile file = checkPatternFile(name);
  const attnc::ast::Pattern &pattern = *file.ast.patterns.front();
  LoweredPattern lowered(file);
  std::mt19937 rng(seedOf(name));
  for (auto [heads, seqQ, seqK] : {std::tuple<int64_t, int64_t, int64_t>{4, 1000, 1000},
                                   {3, 100, 1000}, {2, 1000, 333}}) {
    PatternInputs tensors;
    ASSERT_NO_FATAL_FAILURE(
        makePatternInputs(pattern, attention.bundle(), {heads, seqQ, seqK, 64}, rng, tensors));
    attn::BlockLayout layout = attention.layout({2, heads, heads, seqQ, seqK}, tensors.device);
    attnc::attn::Sizes sizes{heads, seqQ, seqK, 64};
    attnc::attn::PatternEvaluator twins(lowered.op, sizes, tensors.host.ir);
    auto cpu = attnc::layout::buildLayout(twins, nullptr, sizes, {64, 64, false});
    ASSERT_TRUE(static_cast<bool>(cpu)) << llvm::toString(cpu.takeError());
    std::string where = name + " H=" + std::to_string(heads) + " Nq=" + std::to_string(seqQ) +
                        " Nk=" + std::to_string(seqK);
    for (attn::LayoutOrder order : {attn::LayoutOrder::ByQuery, attn::LayoutOrder::ByKey})
      EXPECT_EQ(countLayoutMismatches(*cpu, layout.downloadBackward(order), where), 0) << where;
  }
}

INSTANTIATE_TEST_SUITE_P(Bundled, GpuBackwardLayout, testing::ValuesIn(bundledPatterns()),
                         [](const testing::TestParamInfo<std::string> &info) {
                           return info.param;
                         });

//===----------------------------------------------------------------------===//
// Malformed calls
//===----------------------------------------------------------------------===//

/// A valid backward call (causal, bf16, D = 64, 4 query heads on 2
/// key/value heads, N = 64) into one generous buffer; each test breaks one
/// thing.
struct ValidBackward {
  static constexpr int64_t kN = 64, kD = 64;
  const attn::Attention &attention = trainingAttention("causal", attn::DType::BF16, kD);
  attn::DeviceBuffer memory{1 << 23};
  attn::Problem problem{1, 4, 2, kN, kN};
  attn::Tensor q = at(0, 4), k = at(1, 2), v = at(2, 2), o = at(3, 4), dO = at(4, 4),
               dq = at(5, 4), dk = at(6, 2), dv = at(7, 2);
  attn::CUdeviceptr lse = memory.pointer() + (1 << 22);

  attn::Tensor at(int slot, int64_t heads) {
    return attn::Tensor::bhnd(memory.pointer() + slot * (1 << 19), attn::DType::BF16, 1, heads,
                              kN, kD);
  }

  void run(const attn::Attention &with) {
    attn::BlockLayout layout = with.layout(problem);
    attention.backward(layout, q, k, v, o, lse, dO, {dq, dk, dv, {}});
    synchronize();
  }
};

TEST(GpuBackwardCall, TheValidCallRuns) {
  SKIP_WITHOUT_GPU();
  ValidBackward call;
  call.memory.fillBytes(0);
  EXPECT_NO_THROW(call.run(call.attention));
}

TEST(GpuBackwardCall, RejectsBrokenArguments) {
  SKIP_WITHOUT_GPU();
  const std::pair<const char *, std::function<void(ValidBackward &)>> breakages[] = {
      {"dK with the query heads", [](ValidBackward &c) { c.dk = c.at(6, 4); }},
      {"dQ of the other dtype", [](ValidBackward &c) { c.dq.dtype = attn::DType::FP16; }},
      {"dO with fewer tokens", [](ValidBackward &c) { c.dO.shape[2] = ValidBackward::kN - 1; }},
      {"dV misaligned", [](ValidBackward &c) { c.dv.data += 2; }},
      {"no LSE", [](ValidBackward &c) { c.lse = 0; }},
  };
  for (const auto &[name, apply] : breakages) {
    ValidBackward call;
    call.memory.fillBytes(0);
    apply(call);
    EXPECT_THROW(call.run(call.attention), attn::Error) << name;
  }
}

TEST(GpuBackwardCall, NeedsAnAttentionAndALayoutMadeForIt) {
  SKIP_WITHOUT_GPU();
  ValidBackward call;
  call.memory.fillBytes(0);
  const attn::Attention &inference = attentionFor({"causal", attn::DType::BF16, 64, 128, false});
  // A layout from an Attention without the backward has no backward lists.
  EXPECT_THROW(call.run(inference), attn::Error);
  attn::BlockLayout layout = inference.layout(call.problem);
  EXPECT_THROW(inference.backward(layout, call.q, call.k, call.v, call.o, call.lse, call.dO,
                                  {call.dq, call.dk, call.dv, {}}),
               attn::Error);
}

} // namespace
