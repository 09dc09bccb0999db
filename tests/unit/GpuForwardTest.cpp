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
#include "GpuTestSupport.h"
#include "HalfPrecision.h"
#include "PatternCorpus.h"
#include "ReferenceAttention.h"

#include "attnc/layout/Layout.h"
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/pipeline/Pipeline.h"

#include "attn/attn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <tuple>

namespace {

using attnc::test::ReferenceOutput;

std::string patternPath(const std::string &pattern) {
  return ATTNC_SOURCE_DIR "/patterns/" + pattern + ".pattern";
}

/// The names of the bundled patterns (their files without .pattern).
std::vector<std::string> bundledPatterns() {
  std::vector<std::string> names;
  for (const auto &path : attnc::test::bundledFiles())
    names.push_back(path.stem().string());
  return names;
}

attnc::CheckedFile checkPatternFile(const std::string &pattern) {
  auto text = attnc::readFile(patternPath(pattern));
  if (!text)
    throw std::runtime_error(llvm::toString(text.takeError()));
  return attnc::test::checkOrThrow(patternPath(pattern), *text);
}

using KernelKey = std::tuple<std::string, attn::DType, int, int>; // + query rows per CTA

/// Every (pattern, dtype, head dim) the tests use.
std::vector<KernelKey> kernelKeys();

/// Compiles every kernel the tests use into the kernel cache, in parallel,
/// once per test binary: NVRTC takes seconds per kernel and the suite needs
/// dozens. Failures are left for the cases that load the kernel to report.
void warmKernelCache() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!attn::gpuAvailable())
      return;
    std::string arch = "sm_" + std::to_string(attn::deviceInfo().computeCapability);
    std::vector<KernelKey> keys = kernelKeys();
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      for (std::size_t k; (k = next++) < keys.size();) {
        const auto &[pattern, dtype, headDim, blockQ] = keys[k];
        try {
          attn::defaultKernelCache().get(attn::kernelCompileRequest(
              attn::compileFile(patternPath(pattern)), dtype, headDim, arch, {blockQ}));
        } catch (const attn::Error &) {
        }
      }
    };
    std::vector<std::thread> threads(std::max(1u, std::thread::hardware_concurrency()));
    for (std::thread &thread : threads)
      thread = std::thread(work);
    for (std::thread &thread : threads)
      thread.join();
  });
}

/// The Attention of each kernel key, loaded once per test binary. A compile
/// error is kept and rethrown, not retried by every case. Never destroyed:
/// unloading modules after the driver shut down at exit would fail.
const attn::Attention &attentionFor(const std::string &pattern, attn::DType dtype, int headDim,
                                    int blockQ = 128) {
  struct Entry {
    std::unique_ptr<attn::Attention> attention;
    std::string error;
  };
  static auto *loaded = new std::map<KernelKey, Entry>;
  warmKernelCache();
  Entry &entry = (*loaded)[{pattern, dtype, headDim, blockQ}];
  if (!entry.attention && entry.error.empty()) {
    try {
      entry.attention = std::make_unique<attn::Attention>(
          attn::compileFile(patternPath(pattern)), dtype, headDim, nullptr,
          attn::KernelOptions{blockQ});
    } catch (const attn::Error &error) {
      entry.error = error.what();
    }
  }
  if (!entry.attention)
    throw attn::Error(entry.error);
  return *entry.attention;
}

/// One context for lowering patterns and typing their tensors.
mlir::MLIRContext &testContext() {
  static mlir::MLIRContext context;
  return context;
}

void synchronize() { attn::check(attn::driver().cuCtxSynchronize(), "cuCtxSynchronize"); }

//===----------------------------------------------------------------------===//
// Inputs and outputs on the device
//===----------------------------------------------------------------------===//

/// Random contents for the pattern's tensor parameters (integer tensors are
/// sorted ids, like packed documents): on the host for the interpreter and
/// the CPU layout, on the device in the bundle's order for the kernels.
struct PatternInputs {
  attnc::test::Tensors host;
  std::vector<std::unique_ptr<attn::DeviceBuffer>> buffers;
  std::vector<attn::PatternTensor> device;
};

void makePatternInputs(const attnc::ast::Pattern &pattern, const attn::Bundle &bundle,
                       const attnc::interp::Shape &shape, std::mt19937 &rng,
                       PatternInputs &out) {
  auto values = attnc::interp::bindParams(pattern, {});
  ASSERT_TRUE(static_cast<bool>(values)) << llvm::toString(values.takeError());
  attnc::test::makeTensors(pattern, *values, shape, testContext(), rng, out.host);
  for (const attn::BundleTensor &declared : bundle.tensors) {
    const attnc::interp::HostTensor &tensor = out.host.host.at(declared.name);
    std::size_t bytes = attn::elementBytes(declared.type);
    for (int64_t dim : tensor.shape)
      bytes *= static_cast<std::size_t>(dim);
    out.buffers.push_back(std::make_unique<attn::DeviceBuffer>(bytes));
    out.buffers.back()->upload(tensor.data);
    out.device.push_back({out.buffers.back()->pointer(), tensor.shape});
  }
}

enum class Memory { Bhnd, Bnhd };

uint16_t roundTo(attn::DType dtype, float value) {
  return dtype == attn::DType::BF16 ? attnc::floatToBf16(value) : attnc::floatToHalf(value);
}

float widen(attn::DType dtype, uint16_t bits) {
  return dtype == attn::DType::BF16 ? attnc::bf16ToFloat(bits) : attnc::halfToFloat(bits);
}

/// A q, k, v or o tensor on the device, in `memory` order, and the values
/// the GPU sees (or wrote) in logical [B, H, N, D] order.
struct DeviceTensor {
  std::unique_ptr<attn::DeviceBuffer> buffer;
  attn::Tensor tensor;
  std::vector<float> values;

  int64_t count() const {
    return tensor.shape[0] * tensor.shape[1] * tensor.shape[2] * tensor.shape[3];
  }
};

/// Calls f(logical index, memory offset) for every element of `tensor`; the
/// offsets come from the tensor's strides, the runtime's own description.
template <typename F> void forEachElement(const attn::Tensor &tensor, F f) {
  const auto &[B, H, N, D] = tensor.shape;
  const auto &s = tensor.strides;
  int64_t index = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t d = 0; d < D; ++d)
          f(index++, b * s[0] + h * s[1] + n * s[2] + d * s[3]);
}

/// Device memory for [B, H, N, D] of `dtype` in `memory` order, filled with
/// 0xFF bytes: NaN in bf16 and fp16 alike, so an element left unwritten shows.
DeviceTensor poisonedTensor(Memory memory, attn::DType dtype, int64_t B, int64_t H, int64_t N,
                            int64_t D) {
  DeviceTensor out;
  out.buffer = std::make_unique<attn::DeviceBuffer>(B * H * N * D * sizeof(uint16_t));
  out.buffer->fillBytes(0xFF);
  auto describe = memory == Memory::Bhnd ? attn::Tensor::bhnd : attn::Tensor::bnhd;
  out.tensor = describe(out.buffer->pointer(), dtype, B, H, N, D);
  return out;
}

/// Normal random values rounded to `dtype`, uploaded.
DeviceTensor randomTensor(Memory memory, attn::DType dtype, int64_t B, int64_t H, int64_t N,
                          int64_t D, std::mt19937 &rng) {
  DeviceTensor out = poisonedTensor(memory, dtype, B, H, N, D);
  std::normal_distribution<float> normal;
  std::vector<uint16_t> bits(out.count());
  out.values.resize(out.count());
  forEachElement(out.tensor, [&](int64_t index, int64_t offset) {
    bits[offset] = roundTo(dtype, normal(rng));
    out.values[index] = widen(dtype, bits[offset]);
  });
  out.buffer->upload(bits.data());
  return out;
}

void downloadValues(DeviceTensor &tensor) {
  std::vector<uint16_t> bits(tensor.count());
  tensor.buffer->download(bits.data());
  tensor.values.resize(tensor.count());
  forEachElement(tensor.tensor, [&](int64_t index, int64_t offset) {
    tensor.values[index] = widen(tensor.tensor.dtype, bits[offset]);
  });
}

//===----------------------------------------------------------------------===//
// Checking the outputs
//===----------------------------------------------------------------------===//

constexpr int kReportedRows = 5;

/// No poison left in O or LSE, and a row with LSE = -inf (no key) is all zeros.
void expectEveryElementWritten(const std::vector<float> &o, const std::vector<float> &lse,
                               int64_t headDim) {
  int64_t nanO = std::count_if(o.begin(), o.end(), [](float x) { return std::isnan(x); });
  int64_t nanLse = std::count_if(lse.begin(), lse.end(), [](float x) { return std::isnan(x); });
  EXPECT_EQ(nanO, 0) << "of " << o.size() << " O elements are NaN (unwritten or computed)";
  EXPECT_EQ(nanLse, 0) << "of " << lse.size() << " LSE elements are NaN";
  int64_t emptyRowsNotZero = 0;
  for (size_t row = 0; row < lse.size(); ++row) {
    if (lse[row] != -std::numeric_limits<float>::infinity())
      continue;
    auto begin = o.begin() + row * headDim;
    emptyRowsNotZero += std::any_of(begin, begin + headDim, [](float x) { return x != 0; });
  }
  EXPECT_EQ(emptyRowsNotZero, 0) << "rows with LSE = -inf have a nonzero O";
}

double oTolerance(attn::DType dtype) { return dtype == attn::DType::BF16 ? 2e-2 : 5e-3; }

bool lseMatches(double gpu, double ref) {
  if (std::isinf(ref) || std::isinf(gpu))
    return gpu == ref;
  return std::abs(gpu - ref) <= 1e-2 * std::max(1.0, std::abs(ref)); // false for NaN
}

/// ‖O - ref‖ / ‖ref‖ over the reference's rows within the dtype's tolerance;
/// LSE within 1e-2 relative (absolute below 1), -inf exactly where the
/// reference has it.
void expectMatchesReference(attn::DType dtype, const std::vector<float> &o,
                            const std::vector<float> &lse, int64_t seqQ,
                            const ReferenceOutput &ref) {
  const int64_t D = ref.headDim, rows = static_cast<int64_t>(ref.rows.size());
  double errorSquared = 0, refSquared = 0, worst = -1;
  std::string worstWhere; // where |O - ref| is largest, to start debugging from
  int64_t lseMismatches = 0;
  for (int64_t b = 0; b < ref.batch; ++b)
    for (int64_t h = 0; h < ref.heads; ++h)
      for (int64_t r = 0; r < rows; ++r) {
        int64_t gpuRow = (b * ref.heads + h) * seqQ + ref.rows[r];
        int64_t refRow = ref.rowIndex(b, h, r);
        for (int64_t d = 0; d < D; ++d) {
          double diff = o[gpuRow * D + d] - ref.o[refRow * D + d];
          errorSquared += diff * diff;
          refSquared += ref.o[refRow * D + d] * ref.o[refRow * D + d];
          if (std::abs(diff) > worst) {
            worst = std::abs(diff);
            worstWhere = "b=" + std::to_string(b) + " h=" + std::to_string(h) +
                         " i=" + std::to_string(ref.rows[r]) + " d=" + std::to_string(d) +
                         ": GPU " + std::to_string(o[gpuRow * D + d]) + ", reference " +
                         std::to_string(ref.o[refRow * D + d]);
          }
        }
        if (!lseMatches(lse[gpuRow], ref.lse[refRow]) && ++lseMismatches <= kReportedRows)
          ADD_FAILURE() << "LSE of b=" << b << " h=" << h << " i=" << ref.rows[r] << ": GPU "
                        << lse[gpuRow] << ", reference " << ref.lse[refRow];
      }
  EXPECT_EQ(lseMismatches, 0) << "rows with a wrong LSE";
  if (refSquared == 0) {
    EXPECT_EQ(errorSquared, 0) << "the reference O is all zeros (no row attends a key)";
    return;
  }
  double relative = std::sqrt(errorSquared / refSquared);
  EXPECT_LE(relative, oTolerance(dtype)) << "relative error of O over " << ref.batch << "x"
                                         << ref.heads << "x" << rows << " rows; largest at "
                                         << worstWhere;
}

//===----------------------------------------------------------------------===//
// The forward matrix
//===----------------------------------------------------------------------===//

struct ForwardCase {
  std::string pattern; // a file of patterns/, without .pattern
  attn::DType dtype;
  int headDim;
  int64_t batch, heads, kvHeads, seqQ, seqK;
  Memory memory = Memory::Bhnd;
  int blockQ = 128;
};

std::string caseName(const ForwardCase &c) {
  std::string name = c.pattern + "_" + attn::dtypeName(c.dtype) + "_D" +
                     std::to_string(c.headDim) + "_B" + std::to_string(c.batch) + "_H" +
                     std::to_string(c.heads);
  if (c.kvHeads != c.heads)
    name += "_KV" + std::to_string(c.kvHeads);
  name += c.seqQ == c.seqK ? "_N" + std::to_string(c.seqQ)
                           : "_Nq" + std::to_string(c.seqQ) + "_Nk" + std::to_string(c.seqK);
  if (c.blockQ != 128)
    name += "_M" + std::to_string(c.blockQ);
  return c.memory == Memory::Bnhd ? name + "_bnhd" : name;
}

void PrintTo(const ForwardCase &c, std::ostream *os) { *os << caseName(c); }

/// A fixed seed per case, so that a failure reproduces alone (--gtest_filter).
uint32_t seedOf(const std::string &name) {
  uint32_t hash = 2166136261u; // FNV-1a
  for (unsigned char ch : name)
    hash = (hash ^ ch) * 16777619u;
  return hash;
}

/// Every row up to 1024 queries; beyond (the reference is the slow part),
/// the first, the last and 64 others at random.
std::vector<int64_t> rowsToCompare(int64_t seqQ, std::mt19937 &rng) {
  if (seqQ <= 1024)
    return attnc::test::allRows(seqQ);
  std::set<int64_t> rows = {0, seqQ - 1};
  std::uniform_int_distribution<int64_t> row(1, seqQ - 2);
  while (rows.size() < 66)
    rows.insert(row(rng));
  return {rows.begin(), rows.end()};
}

class GpuForward : public testing::TestWithParam<ForwardCase> {};

TEST_P(GpuForward, MatchesTheReference) {
  SKIP_WITHOUT_GPU();
  const ForwardCase &c = GetParam();
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
  for (const std::string &pattern : bundledPatterns())
    for (attn::DType dtype : kDTypes)
      for (int headDim : kHeadDims)
        keys.emplace_back(pattern, dtype, headDim, 128);
  for (const char *pattern : kSmallBlockPatterns)
    for (attn::DType dtype : kDTypes)
      for (int headDim : kHeadDims)
        keys.emplace_back(pattern, dtype, headDim, 64);
  return keys;
}

/// The matrix: B = 2 (1 at N = 4096), 4 query heads, MHA and GQA.
std::vector<ForwardCase> matrixCases() {
  std::vector<ForwardCase> cases;
  for (const std::string &pattern : bundledPatterns())
    for (attn::DType dtype : kDTypes)
      for (int headDim : kHeadDims)
        for (int64_t n : {1, 17, 128, 1000, 4096})
          for (int64_t kvHeads : {4, 2})
            cases.push_back({pattern, dtype, headDim, n < 4096 ? 2 : 1, 4, kvHeads, n, n});
  return cases;
}

/// Nq != Nk: queries at the end of the keys (chunked prefill, decoding), and
/// more queries than keys, where causal rows see no key at all.
std::vector<ForwardCase> crossLengthCases() {
  std::vector<ForwardCase> cases;
  for (const char *pattern :
       {"causal", "sliding_window", "document", "strided", "alibi", "prefix_lm", "bigbird"})
    for (auto [seqQ, seqK] : {std::pair<int64_t, int64_t>{100, 1000}, {1000, 100}, {1, 1000}}) {
      cases.push_back({pattern, attn::DType::BF16, 128, 2, 4, 4, seqQ, seqK});
      cases.push_back({pattern, attn::DType::FP16, 64, 2, 4, 2, seqQ, seqK});
    }
  return cases;
}

/// q, k, v and o as [B, N, H, D] memory.
std::vector<ForwardCase> tokenMajorCases() {
  std::vector<ForwardCase> cases;
  for (const char *pattern : {"causal", "document", "alibi", "dense"})
    for (attn::DType dtype : kDTypes)
      cases.push_back({pattern, dtype, 128, 2, 4, 2, 1000, 1000, Memory::Bnhd});
  return cases;
}

/// 64 query rows per CTA: lengths around and between tiles, MHA and GQA.
std::vector<ForwardCase> smallBlockCases() {
  std::vector<ForwardCase> cases;
  for (const char *pattern : kSmallBlockPatterns)
    for (attn::DType dtype : kDTypes)
      for (int headDim : kHeadDims)
        for (int64_t n : {1, 65, 1000})
          cases.push_back({pattern, dtype, headDim, 2, 4, 2, n, n, Memory::Bhnd, 64});
  return cases;
}

std::string testName(const testing::TestParamInfo<ForwardCase> &info) {
  return caseName(info.param);
}

INSTANTIATE_TEST_SUITE_P(Matrix, GpuForward, testing::ValuesIn(matrixCases()), testName);
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
  for (const auto &[pattern, dtype, headDim, blockQ] : kernelKeys())
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
  auto module = attnc::mlirGen(testContext(), file.ast, *file.source, &pattern);
  ASSERT_TRUE(mlir::succeeded(attnc::runLayoutPipeline(*module, {})));
  auto op = *module->getBody()->getOps<attnc::attn::PatternOp>().begin();
  std::mt19937 rng(seedOf(kernelCaseName(c)));
  for (auto [heads, seqQ, seqK] : {std::tuple<int64_t, int64_t, int64_t>{4, 1000, 1000},
                                   {3, 100, 1000}, {2, 1000, 333}, {1, 4096, 4096}}) {
    PatternInputs tensors;
    ASSERT_NO_FATAL_FAILURE(makePatternInputs(pattern, attention.bundle(),
                                              {heads, seqQ, seqK, c.headDim}, rng, tensors));
    attn::BlockLayout layout = attention.layout({2, heads, heads, seqQ, seqK}, tensors.device);
    attnc::attn::Sizes sizes{heads, seqQ, seqK, c.headDim};
    attnc::attn::PatternEvaluator twins(op, sizes, tensors.host.ir);
    auto cpu = attnc::layout::buildLayout(twins, nullptr, sizes,
                                          {layout.blockQ(), layout.blockK(), false});
    ASSERT_TRUE(static_cast<bool>(cpu)) << llvm::toString(cpu.takeError());
    std::string where = "H=" + std::to_string(heads) + " Nq=" + std::to_string(seqQ) +
                        " Nk=" + std::to_string(seqK);
    EXPECT_EQ(attnc::test::countLayoutMismatches(*cpu, layout.download(), where), 0) << where;
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
