//===- forward.cpp - attnc's C++ JIT API, start to finish -----------------===//
//
//   attnc-example-forward [PATTERN_FILE] [-p NAME] [-D name=value]...
//
// Compiles a pattern (by default patterns/sliding_window.pattern with
// window=256), runs its attention on the GPU over random bf16 inputs, and
// checks rows of O and LSE against a naive CPU attention written below.
// docs/API.md describes every call made here.
//
// Exit status: 0 when the checked rows match (or when the pattern is not one
// this file has a CPU mask for: then it runs but checks nothing), 1 on an
// error or a mismatch, 2 when there is no CUDA driver or GPU.
//
//===----------------------------------------------------------------------===//
#include "attn/attn.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Two batch entries of 1000 tokens; 8 query heads share 2 key/value heads
// (GQA: query heads 4g to 4g+3 read key/value head g). 1000 is not a multiple
// of the kernel's tiles, which it need not be.
constexpr int64_t kBatch = 2, kHeads = 8, kKvHeads = 2, kSeq = 1000;
constexpr int kHeadDim = 128;
// For patterns that read document ids (patterns/document.pattern).
constexpr int64_t kDocuments = 3;
// The rows checked on the CPU, in every (batch, head): both ends and both
// sides of the kernel's 128-row tiles and of a 256-key window.
constexpr int64_t kCheckedRows[] = {0, 1, 127, 128, 255, 256, 600, kSeq - 1};
// bf16 keeps 8 significant bits, and O is stored in bf16.
constexpr double kTolerance = 2e-2;

constexpr double kInf = std::numeric_limits<double>::infinity();

const char *const kUsage =
    "usage: attnc-example-forward [PATTERN_FILE] [-p NAME] [-D name=value]...\n";

//===----------------------------------------------------------------------===//
// bf16 on the host
//===----------------------------------------------------------------------===//

// bf16 is the upper half of a float32; rounding to nearest even matches the
// GPU's own conversions. The inputs here are finite, so NaN needs no case.
uint16_t toBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bits += 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

float fromBf16(uint16_t bits) {
  uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof value);
  return value;
}

// A bf16 tensor of logical shape [B, H, N, D] kept in [B, N, H, D] memory,
// the order most models hold q, k and v in: a host copy, a device copy, and
// the attn::Tensor that gives the kernel its strides. The strides are in
// elements, so the host indexes its copy with them too.
struct Bf16Tensor {
  std::vector<uint16_t> host;
  attn::DeviceBuffer device;
  attn::Tensor tensor;

  explicit Bf16Tensor(int64_t heads)
      : host(kBatch * kSeq * heads * kHeadDim), device(host.size() * sizeof(uint16_t)),
        tensor(attn::Tensor::bnhd(device.pointer(), attn::DType::BF16, kBatch, heads, kSeq,
                                  kHeadDim)) {}

  float at(int64_t b, int64_t h, int64_t n, int64_t d) const {
    const auto &s = tensor.strides;
    return fromBf16(host[b * s[0] + h * s[1] + n * s[2] + d * s[3]]);
  }
};

// Normal random values, rounded to bf16 and uploaded.
void fillRandom(Bf16Tensor &tensor, std::mt19937 &rng) {
  std::normal_distribution<float> normal;
  for (uint16_t &element : tensor.host)
    element = toBf16(normal(rng));
  tensor.device.upload(tensor.host.data());
}

//===----------------------------------------------------------------------===//
// The pattern's meaning on the CPU
//===----------------------------------------------------------------------===//

// A parameter's bound value (defaults included) from Bundle::params, which
// reads "name=value name=value ...".
std::string paramValue(const attn::Bundle &bundle, const std::string &name) {
  std::istringstream words(bundle.params);
  for (std::string word; words >> word;)
    if (word.rfind(name + "=", 0) == 0)
      return word.substr(name.size() + 1);
  return "";
}

// Which keys a query attends to, for the bundled patterns this example can
// check, as their .pattern files say. With Nq == Nk, a query's position
// among the keys is i itself.
struct ReferenceMask {
  std::string pattern;
  int64_t window = 0;       // sliding_window's parameter (0: not bound)
  std::vector<int32_t> doc; // document's ids, one per key

  bool known() const {
    return pattern == "dense" || pattern == "causal" ||
           (pattern == "sliding_window" && window > 0) || pattern == "document";
  }

  bool attends(int64_t i, int64_t j) const {
    if (pattern == "dense")
      return true;
    if (pattern == "causal")
      return j <= i;
    if (pattern == "sliding_window")
      return j <= i && i - j < window;
    return j <= i && doc[i] == doc[j]; // document
  }
};

ReferenceMask referenceMask(const attn::Bundle &bundle) {
  ReferenceMask mask;
  mask.pattern = bundle.pattern;
  mask.window = std::atoll(paramValue(bundle, "window").c_str());
  // kDocuments documents of about equal length.
  for (int64_t j = 0; j < kSeq; ++j)
    mask.doc.push_back(static_cast<int32_t>(j * kDocuments / kSeq));
  return mask;
}

// The only tensor argument this example can give a pattern is the document
// ids (`doc: tensor<i32>[Nk]`); checked before the GPU is touched, so that
// the mistake is reported the same way on any machine.
void checkTensorsAreDocumentIds(const attn::Bundle &bundle) {
  for (const attn::BundleTensor &declared : bundle.tensors) {
    bool isDoc = declared.name == "doc" && declared.type == attn::ElementType::I32 &&
                 declared.dims.size() == 1 &&
                 declared.dims[0].kind == attn::TensorDim::Kind::Nk;
    if (!isDoc)
      throw attn::Error("pattern '" + bundle.pattern + "' takes tensor '" + declared.name +
                        "'; this example can only pass document ids, doc: tensor<i32>[Nk]");
  }
}

// One row of attention in double precision, from the bf16 values the GPU
// read: O into `o` and the log-sum-exp of the logits (natural log) returned.
// A row with no key gets O = 0 and LSE = -inf, as the kernel defines it.
double referenceRow(const Bf16Tensor &q, const Bf16Tensor &k, const Bf16Tensor &v,
                    const ReferenceMask &mask, int64_t b, int64_t h, int64_t i,
                    std::vector<double> &o) {
  int64_t kvHead = h / (kHeads / kKvHeads);
  double scale = 1 / std::sqrt(static_cast<double>(kHeadDim)); // the default `scale`
  std::vector<int64_t> keys;
  std::vector<double> logits;
  for (int64_t j = 0; j < kSeq; ++j) {
    if (!mask.attends(i, j))
      continue;
    double dot = 0;
    for (int64_t d = 0; d < kHeadDim; ++d)
      dot += static_cast<double>(q.at(b, h, i, d)) * k.at(b, kvHead, j, d);
    keys.push_back(j);
    logits.push_back(scale * dot);
  }
  o.assign(kHeadDim, 0);
  if (keys.empty())
    return -kInf;
  double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (std::size_t n = 0; n < keys.size(); ++n) {
    double p = std::exp(logits[n] - max);
    sum += p;
    for (int64_t d = 0; d < kHeadDim; ++d)
      o[d] += p * v.at(b, kvHead, keys[n], d);
  }
  for (double &value : o)
    value /= sum;
  return max + std::log(sum);
}

// Keeps the largest difference seen; a NaN counts as infinitely large.
void track(double &worst, double difference) {
  worst = std::max(worst, std::isnan(difference) ? kInf : difference);
}

//===----------------------------------------------------------------------===//
// The GPU
//===----------------------------------------------------------------------===//

int runOnGpu(const attn::Bundle &bundle, const ReferenceMask &mask) {
  attn::DeviceInfo gpu = attn::deviceInfo();
  std::printf("GPU: %s (sm_%d)\n", gpu.name.c_str(), gpu.computeCapability);

  // Compiled once per (pattern, params, dtype, head dim, GPU architecture):
  // by NVRTC the first time, from the kernel cache on disk after that.
  attn::Attention attention(bundle, attn::DType::BF16, kHeadDim);
  attn::KernelCacheStats cache = attn::defaultKernelCache().stats();
  std::printf("kernels: %s (%s)\n", cache.compiles ? "compiled by NVRTC" : "from the cache",
              attn::defaultKernelCache().directory().c_str());

  std::mt19937 rng(2024);
  Bf16Tensor q(kHeads), k(kKvHeads), v(kKvHeads), o(kHeads);
  fillRandom(q, rng);
  fillRandom(k, rng);
  fillRandom(v, rng);
  attn::DeviceBuffer lse(kBatch * kHeads * kSeq * sizeof(float)); // [B, H, N] fp32

  // The pattern's tensors, in bundle.tensors order. The layout refers to
  // this memory, so it must outlive every forward call with the layout.
  std::vector<std::unique_ptr<attn::DeviceBuffer>> buffers;
  std::vector<attn::PatternTensor> tensors;
  for (std::size_t t = 0; t < bundle.tensors.size(); ++t) {
    buffers.push_back(std::make_unique<attn::DeviceBuffer>(mask.doc.size() * sizeof(int32_t)));
    buffers.back()->upload(mask.doc.data());
    tensors.push_back({buffers.back()->pointer(), {kSeq}});
  }

  // The block layout of this problem size, built on the GPU. Another N needs
  // another layout, never another compile.
  attn::Problem problem{kBatch, kHeads, kKvHeads, kSeq, kSeq};
  attn::BlockLayout layout = attention.layout(problem, tensors);
  attention.forward(layout, q.tensor, k.tensor, v.tensor, o.tensor, lse.pointer());

  // Both ran on the default stream; these synchronous copies wait for them.
  o.device.download(o.host.data());
  std::vector<float> lseHost(kBatch * kHeads * kSeq);
  lse.download(lseHost.data());

  if (!mask.known()) {
    std::printf("pattern '%s' has no CPU mask in this example: it ran, nothing was checked\n",
                bundle.pattern.c_str());
    return 0;
  }
  double worstO = 0, worstLse = 0;
  int64_t rows = 0;
  std::vector<double> reference;
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t h = 0; h < kHeads; ++h)
      for (int64_t i : kCheckedRows) {
        double referenceLse = referenceRow(q, k, v, mask, b, h, i, reference);
        for (int64_t d = 0; d < kHeadDim; ++d)
          track(worstO, std::abs(o.at(b, h, i, d) - reference[d]));
        double gpuLse = lseHost[(b * kHeads + h) * kSeq + i];
        // Equal infinities (a row with no key) differ by nothing, not NaN.
        track(worstLse, gpuLse == referenceLse ? 0 : std::abs(gpuLse - referenceLse));
        ++rows;
      }
  std::printf("checked %lld rows of B=%lld, H=%lld (KV heads %lld), N=%lld, D=%d against the "
              "CPU:\n  max |O - reference| = %.3g, max |LSE - reference| = %.3g "
              "(tolerance %.3g)\n",
              static_cast<long long>(rows), static_cast<long long>(kBatch),
              static_cast<long long>(kHeads), static_cast<long long>(kKvHeads),
              static_cast<long long>(kSeq), kHeadDim, worstO, worstLse, kTolerance);
  if (worstO > kTolerance || worstLse > kTolerance) {
    std::fprintf(stderr, "attnc-example-forward: the GPU's result differs from the CPU's\n");
    return 1;
  }
  return 0;
}

struct Options {
  std::string path = ATTNC_EXAMPLE_PATTERN;
  attn::CompileOptions compile;
};

// [PATTERN_FILE] [-p NAME] [-D name=value]...; -Dname=value works too.
bool parseArguments(int argc, char **argv, Options &options) {
  bool pathGiven = false;
  for (int a = 1; a < argc; ++a) {
    std::string argument = argv[a];
    if (argument.rfind("-D", 0) == 0) {
      std::string define = argument.size() > 2 ? argument.substr(2)
                           : a + 1 < argc      ? argv[++a]
                                               : "";
      std::size_t equals = define.find('=');
      if (equals == std::string::npos || equals == 0)
        return false;
      options.compile.params[define.substr(0, equals)] = define.substr(equals + 1);
    } else if (argument == "-p" && a + 1 < argc) {
      options.compile.pattern = argv[++a]; // for files that hold several patterns
    } else if (!pathGiven && !argument.empty() && argument[0] != '-') {
      options.path = argument;
      pathGiven = true;
    } else {
      return false;
    }
  }
  if (!pathGiven)
    options.compile.params.emplace("window", "256"); // unless -D gave another
  return true;
}

} // namespace

int main(int argc, char **argv) {
  Options options;
  if (!parseArguments(argc, argv, options)) {
    std::fputs(kUsage, stderr);
    return 1;
  }

  // Compiling needs no GPU: the bundle is CUDA source plus what the runtime
  // must know to launch it.
  attn::Bundle bundle;
  try {
    bundle = attn::compileFile(options.path, options.compile);
    checkTensorsAreDocumentIds(bundle);
  } catch (const attn::Error &error) {
    std::fprintf(stderr, "%s\n", error.what()); // file:line:col: error: ...
    return 1;
  }
  std::printf("pattern '%s' (%s%s%s)\n", bundle.pattern.c_str(), bundle.origin.c_str(),
              bundle.params.empty() ? "" : ", ", bundle.params.c_str());

  try {
    return runOnGpu(bundle, referenceMask(bundle));
  } catch (const attn::Error &error) {
    std::fprintf(stderr, "attnc-example-forward: %s\n", error.what());
    // Without a driver or GPU, the first GPU call says so ("no CUDA
    // driver/GPU found: ..."): exit 2, which ctest reports as skipped.
    return attn::gpuAvailable() ? 1 : 2;
  }
}
