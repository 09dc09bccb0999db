//===- GpuAttentionSupport.h - Kernels, inputs and outputs of GPU tests ---===//
//
// What the forward and backward GPU tests share: the bundled patterns, their
// kernels loaded once per test binary (compiled in parallel into the kernel
// cache first), random pattern tensors, and q/k/v-like device tensors in
// either memory order, poisoned before a kernel writes them.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "PatternCorpus.h"

#include "attn/attn.h"

#include "attnc/Dialect/Attn/AttnOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <ostream>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace attnc::test {

/// patterns/<pattern>.pattern.
std::string patternPath(const std::string &pattern);

/// The names of the bundled patterns (their files without .pattern).
std::vector<std::string> bundledPatterns();

CheckedFile checkPatternFile(const std::string &pattern);

/// The pattern file at `path`, checked; throws std::runtime_error on
/// diagnostics.
CheckedFile checkFileAt(const std::string &path);

/// A kernel the tests load: pattern, dtype, head dim, query rows per CTA,
/// and whether with the backward kernels.
using KernelKey = std::tuple<std::string, ::attn::DType, int, int, bool>;

/// Compiles `keys` into the kernel cache in parallel (NVRTC takes seconds per
/// kernel and a suite needs dozens); once per call site's set, the first
/// time. Failures are left for the cases that load the kernel to report.
void warmKernelCache(const std::vector<KernelKey> &keys);

/// Compiles the request each of `requests` makes into the kernel cache, in
/// parallel; failures are left for the cases that load the kernels to report.
void compileInParallel(const std::vector<std::function<::attn::CompileRequest()>> &requests);

/// The Attention of `key`, loaded once per test binary. A compile error is
/// kept and rethrown, not retried by every case. Never destroyed: unloading
/// modules after the driver shut down at exit would fail.
const ::attn::Attention &attentionFor(const KernelKey &key);

/// One context for lowering patterns and typing their tensors.
mlir::MLIRContext &testContext();

/// The file's first pattern after the layout pipeline (default parameters),
/// in testContext(): for its evaluator (CPU layout, score derivative).
/// Throws std::runtime_error when the pipeline fails.
struct LoweredPattern {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  attn::PatternOp op;

  explicit LoweredPattern(const CheckedFile &file);
};

void synchronize();

/// Random contents for the pattern's tensor parameters (integer tensors are
/// sorted ids, like packed documents): on the host for the interpreter and
/// the CPU layout, on the device in the bundle's order for the kernels.
struct PatternInputs {
  Tensors host;
  std::vector<std::unique_ptr<::attn::DeviceBuffer>> buffers;
  std::vector<::attn::PatternTensor> device;
};

void makePatternInputs(const ast::Pattern &pattern, const ::attn::Bundle &bundle,
                       const interp::Shape &shape, std::mt19937 &rng, PatternInputs &out);

enum class Memory { Bhnd, Bnhd };

/// A q, k, v or o tensor on the device, in `memory` order, and the values
/// the GPU sees (or wrote) in logical [B, H, N, D] order.
struct DeviceTensor {
  std::unique_ptr<::attn::DeviceBuffer> buffer;
  ::attn::Tensor tensor;
  std::vector<float> values;

  int64_t count() const {
    return tensor.shape[0] * tensor.shape[1] * tensor.shape[2] * tensor.shape[3];
  }
};

/// Device memory for [B, H, N, D] of `dtype` in `memory` order, filled with
/// 0xFF bytes: NaN in bf16 and fp16 alike, so an element left unwritten shows.
DeviceTensor poisonedTensor(Memory memory, ::attn::DType dtype, int64_t B, int64_t H, int64_t N,
                            int64_t D);

/// `values` ([B, H, N, D] logical order) rounded to `dtype`, uploaded.
DeviceTensor tensorFromValues(Memory memory, ::attn::DType dtype, int64_t B, int64_t H, int64_t N,
                              int64_t D, const std::vector<float> &values);

/// Normal random values (times `scale`) rounded to `dtype`, uploaded.
DeviceTensor randomTensor(Memory memory, ::attn::DType dtype, int64_t B, int64_t H, int64_t N,
                          int64_t D, std::mt19937 &rng, float scale = 1.f);

/// An output gradient dO ([B, H, N, D] of `dtype`): normal values on `rows`
/// of every (b, h), zero on the others (the rows the reference computes).
DeviceTensor outputGradient(Memory memory, ::attn::DType dtype, int64_t B, int64_t H, int64_t N,
                            int64_t D, const std::vector<int64_t> &rows, std::mt19937 &rng);

/// The tolerance of a gradient's relativeError against the float64 reference.
double gradientTolerance(::attn::DType dtype);

/// ‖a − b‖ / ‖b‖ (infinite when their sizes differ). Where b vanishes (N =
/// 1: P = 1 and dS = dP − delta = 0) rounding leaves ~1e-6: ‖b‖ is floored
/// at an RMS of 1e-3 per element, inputs being O(1).
template <typename Reference>
double relativeError(const std::vector<float> &a, const std::vector<Reference> &b) {
  if (a.size() != b.size())
    return INFINITY;
  double error = 0, norm = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    error += (double(a[k]) - b[k]) * (double(a[k]) - b[k]);
    norm += double(b[k]) * b[k];
  }
  return std::sqrt(error / std::max(norm, 1e-6 * static_cast<double>(b.size())));
}

/// The raw bits of the tensor's memory, and `values` from them.
std::vector<uint16_t> downloadValues(DeviceTensor &tensor);

/// One GPU test case: a pattern of patterns/ (default parameters) on one
/// problem.
struct AttentionCase {
  std::string pattern; // a file of patterns/, without .pattern
  ::attn::DType dtype;
  int headDim;
  int64_t batch, heads, kvHeads, seqQ, seqK;
  Memory memory = Memory::Bhnd;
  int blockQ = 128;
};

std::string caseName(const AttentionCase &c);
void PrintTo(const AttentionCase &c, std::ostream *os);

/// The issues' matrix: every bundled pattern x {bf16, fp16} x D in {64, 128}
/// x N in {1, 17, 128, 1000, 4096} x {MHA, GQA}; B = 2 (1 at N = 4096), 4
/// query heads (2 key/value heads for GQA).
std::vector<AttentionCase> issueMatrix();

/// A fixed seed per case, so that a failure reproduces alone (--gtest_filter).
uint32_t seedOf(const std::string &name);

/// Every row up to 1024 queries; beyond (the reference is the slow part),
/// the first, the last and 64 others at random.
std::vector<int64_t> rowsToCompare(int64_t seqQ, std::mt19937 &rng);

} // namespace attnc::test
