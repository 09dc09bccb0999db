//===- GpuAttentionSupport.cpp --------------------------------------------===//
#include "GpuAttentionSupport.h"

#include "HalfPrecision.h"
#include "ReferenceAttention.h"

#include "attnc/interp/Bindings.h"
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/pipeline/Pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace attnc::test {
namespace {

uint16_t roundTo(::attn::DType dtype, float value) {
  return dtype == ::attn::DType::BF16 ? floatToBf16(value) : floatToHalf(value);
}

float widen(::attn::DType dtype, uint16_t bits) {
  return dtype == ::attn::DType::BF16 ? bf16ToFloat(bits) : halfToFloat(bits);
}

/// Calls f(logical index, memory offset) for every element of `tensor`; the
/// offsets come from the tensor's strides, the runtime's own description.
template <typename F> void forEachElement(const ::attn::Tensor &tensor, F f) {
  const auto &[B, H, N, D] = tensor.shape;
  const auto &s = tensor.strides;
  int64_t index = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t d = 0; d < D; ++d)
          f(index++, b * s[0] + h * s[1] + n * s[2] + d * s[3]);
}

::attn::KernelOptions optionsOf(const KernelKey &key) {
  ::attn::KernelOptions options;
  options.blockQ = std::get<3>(key);
  options.backward = std::get<4>(key);
  return options;
}

} // namespace

std::string patternPath(const std::string &pattern) {
  return ATTNC_SOURCE_DIR "/patterns/" + pattern + ".pattern";
}

std::vector<std::string> bundledPatterns() {
  std::vector<std::string> names;
  for (const auto &path : bundledFiles())
    names.push_back(path.stem().string());
  return names;
}

CheckedFile checkPatternFile(const std::string &pattern) {
  return checkFileAt(patternPath(pattern));
}

CheckedFile checkFileAt(const std::string &path) {
  auto text = readFile(path);
  if (!text)
    throw std::runtime_error(llvm::toString(text.takeError()));
  return checkOrThrow(path, *text);
}

void compileInParallel(const std::vector<std::function<::attn::CompileRequest()>> &requests) {
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t k; (k = next++) < requests.size();) {
      try {
        ::attn::defaultKernelCache().get(requests[k]());
      } catch (const ::attn::Error &) {
      }
    }
  };
  std::vector<std::thread> threads(std::max(1u, std::thread::hardware_concurrency()));
  for (std::thread &thread : threads)
    thread = std::thread(work);
  for (std::thread &thread : threads)
    thread.join();
}

void warmKernelCache(const std::vector<KernelKey> &keys) {
  static std::mutex mutex;
  static std::set<KernelKey> warmed;
  std::lock_guard<std::mutex> lock(mutex);
  if (!::attn::gpuAvailable() || std::all_of(keys.begin(), keys.end(), [](const KernelKey &key) {
        return warmed.count(key) != 0;
      }))
    return;
  std::string arch = "sm_" + std::to_string(::attn::deviceInfo().computeCapability);
  std::vector<std::function<::attn::CompileRequest()>> requests;
  for (const KernelKey &key : keys)
    requests.push_back([key, arch] {
      return ::attn::kernelCompileRequest(::attn::compileFile(patternPath(std::get<0>(key))),
                                          std::get<1>(key), std::get<2>(key), arch,
                                          optionsOf(key));
    });
  compileInParallel(requests);
  warmed.insert(keys.begin(), keys.end());
}

const ::attn::Attention &attentionFor(const KernelKey &key) {
  struct Entry {
    std::unique_ptr<::attn::Attention> attention;
    std::string error;
  };
  static auto *loaded = new std::map<KernelKey, Entry>;
  Entry &entry = (*loaded)[key];
  if (!entry.attention && entry.error.empty()) {
    try {
      entry.attention = std::make_unique<::attn::Attention>(
          ::attn::compileFile(patternPath(std::get<0>(key))), std::get<1>(key), std::get<2>(key),
          nullptr, optionsOf(key));
    } catch (const ::attn::Error &error) {
      entry.error = error.what();
    }
  }
  if (!entry.attention)
    throw ::attn::Error(entry.error);
  return *entry.attention;
}

mlir::MLIRContext &testContext() {
  static mlir::MLIRContext context;
  return context;
}

LoweredPattern::LoweredPattern(const CheckedFile &file) {
  const ast::Pattern &pattern = *file.ast.patterns.front();
  module = mlirGen(testContext(), file.ast, *file.source, &pattern);
  if (mlir::failed(runLayoutPipeline(*module, {})))
    throw std::runtime_error("the layout pipeline failed on " + pattern.name);
  op = *module->getBody()->getOps<attn::PatternOp>().begin();
}

void synchronize() { ::attn::check(::attn::driver().cuCtxSynchronize(), "cuCtxSynchronize"); }

void makePatternInputs(const ast::Pattern &pattern, const ::attn::Bundle &bundle,
                       const interp::Shape &shape, std::mt19937 &rng, PatternInputs &out) {
  auto values = interp::bindParams(pattern, {});
  ASSERT_TRUE(static_cast<bool>(values)) << llvm::toString(values.takeError());
  makeTensors(pattern, *values, shape, testContext(), rng, out.host);
  for (const ::attn::BundleTensor &declared : bundle.tensors) {
    const interp::HostTensor &tensor = out.host.host.at(declared.name);
    std::size_t bytes = ::attn::elementBytes(declared.type);
    for (int64_t dim : tensor.shape)
      bytes *= static_cast<std::size_t>(dim);
    out.buffers.push_back(std::make_unique<::attn::DeviceBuffer>(bytes));
    out.buffers.back()->upload(tensor.data);
    out.device.push_back({out.buffers.back()->pointer(), tensor.shape});
  }
}

DeviceTensor poisonedTensor(Memory memory, ::attn::DType dtype, int64_t B, int64_t H, int64_t N,
                            int64_t D) {
  DeviceTensor out;
  out.buffer = std::make_unique<::attn::DeviceBuffer>(B * H * N * D * sizeof(uint16_t));
  out.buffer->fillBytes(0xFF);
  auto describe = memory == Memory::Bhnd ? ::attn::Tensor::bhnd : ::attn::Tensor::bnhd;
  out.tensor = describe(out.buffer->pointer(), dtype, B, H, N, D);
  return out;
}

DeviceTensor tensorFromValues(Memory memory, ::attn::DType dtype, int64_t B, int64_t H, int64_t N,
                              int64_t D, const std::vector<float> &values) {
  DeviceTensor out = poisonedTensor(memory, dtype, B, H, N, D);
  std::vector<uint16_t> bits(out.count());
  out.values.resize(out.count());
  forEachElement(out.tensor, [&](int64_t index, int64_t offset) {
    bits[offset] = roundTo(dtype, values[index]);
    out.values[index] = widen(dtype, bits[offset]);
  });
  out.buffer->upload(bits.data());
  return out;
}

DeviceTensor randomTensor(Memory memory, ::attn::DType dtype, int64_t B, int64_t H, int64_t N,
                          int64_t D, std::mt19937 &rng, float scale) {
  std::normal_distribution<float> normal(0.f, scale);
  std::vector<float> values(B * H * N * D);
  for (float &value : values)
    value = normal(rng);
  return tensorFromValues(memory, dtype, B, H, N, D, values);
}

std::vector<uint16_t> downloadValues(DeviceTensor &tensor) {
  std::vector<uint16_t> bits(tensor.count());
  tensor.buffer->download(bits.data());
  tensor.values.resize(tensor.count());
  forEachElement(tensor.tensor, [&](int64_t index, int64_t offset) {
    tensor.values[index] = widen(tensor.tensor.dtype, bits[offset]);
  });
  return bits;
}

std::string caseName(const AttentionCase &c) {
  std::string name = c.pattern + "_" + ::attn::dtypeName(c.dtype) + "_D" +
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

void PrintTo(const AttentionCase &c, std::ostream *os) { *os << caseName(c); }

std::vector<AttentionCase> issueMatrix() {
  std::vector<AttentionCase> cases;
  for (const std::string &pattern : bundledPatterns())
    for (::attn::DType dtype : {::attn::DType::BF16, ::attn::DType::FP16})
      for (int headDim : {64, 128})
        for (int64_t n : {1, 17, 128, 1000, 4096})
          for (int64_t kvHeads : {4, 2})
            cases.push_back({pattern, dtype, headDim, n < 4096 ? 2 : 1, 4, kvHeads, n, n});
  return cases;
}

uint32_t seedOf(const std::string &name) {
  uint32_t hash = 2166136261u; // FNV-1a
  for (unsigned char ch : name)
    hash = (hash ^ ch) * 16777619u;
  return hash;
}

double gradientTolerance(::attn::DType dtype) {
  return dtype == ::attn::DType::BF16 ? 3e-2 : 1e-2;
}

DeviceTensor outputGradient(Memory memory, ::attn::DType dtype, int64_t B, int64_t H, int64_t N,
                            int64_t D, const std::vector<int64_t> &rows, std::mt19937 &rng) {
  std::vector<float> values(B * H * N * D, 0.f);
  std::normal_distribution<float> normal;
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t row : rows)
      for (int64_t d = 0; d < D; ++d)
        values[(bh * N + row) * D + d] = normal(rng);
  return tensorFromValues(memory, dtype, B, H, N, D, values);
}

std::vector<int64_t> rowsToCompare(int64_t seqQ, std::mt19937 &rng) {
  if (seqQ <= 1024)
    return allRows(seqQ);
  std::set<int64_t> rows = {0, seqQ - 1};
  std::uniform_int_distribution<int64_t> row(1, seqQ - 2);
  while (rows.size() < 66)
    rows.insert(row(rng));
  return {rows.begin(), rows.end()};
}

} // namespace attnc::test
