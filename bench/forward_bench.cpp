//===- forward_bench.cpp - Forward kernel timings for docs/PERF.md --------===//
//
// attnc-bench-forward times Attention::forward (and the layout build) per
// pattern and sequence length with driver events, and prints a markdown
// table; with --backward also Attention::backward and the peak device
// memory. Useful TFLOP/s counts only attended pairs (DESIGN.md §7):
// 4 * D * pairs / time forward, 2.5 times that backward. The pairs are counted exactly on the GPU by a kernel
// appended to the pattern's bundle that calls the generated
// attnc_<pattern>_attends on every (b, h, i, j); --check compares that count
// with the reference interpreter's at a small N.
//
// Run it from the repository root (the default patterns are patterns/*.pattern).
//
//===----------------------------------------------------------------------===//
#include "attn/attn.h"
#include "attn/KernelArgs.h"
#include "attn/Kernels.h"

#include "attnc/frontend/Frontend.h"
#include "attnc/interp/Interpreter.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

const char *const kUsage = R"(usage: attnc-bench-forward [options]
  --pattern FILE[:k=v,...]  a .pattern file and parameter values (repeatable; default:
                            causal, sliding_window:window=1024, alibi, document)
  --n N[,N...]              sequence lengths, Nq = Nk (default 8192,32768)
  --heads H                 query and key/value heads (default 16)
  --batch B                 (default 1)
  --dim D                   head dimension, 64 or 128 (default 128)
  --dtype bf16|fp16         (default bf16)
  --block-q 64|128          query rows per CTA (default 128)
  --iters K                 timed iterations; the median is reported (default 20)
  --docs K                  documents of equal length for a `doc` tensor (default 12)
  --check                   first compare the GPU's count of attended pairs with the
                            reference interpreter's, at N = --check-n (default 1000)
  --backward                also time the backward pass and report the peak device
                            memory of the case (inputs, outputs, layouts, scratch)
)";

struct PatternSpec {
  std::string path;
  std::map<std::string, std::string> params;

  /// "sliding_window(window=1024)": the file's stem and the values given.
  std::string label(const std::string &pattern) const {
    std::string values;
    for (const auto &[name, value] : params)
      values += (values.empty() ? "" : ",") + name + "=" + value;
    return values.empty() ? pattern : pattern + "(" + values + ")";
  }
};

struct Options {
  std::vector<PatternSpec> patterns;
  std::vector<int64_t> lengths = {8192, 32768};
  int64_t heads = 16, batch = 1, docs = 12, checkN = 1000;
  int dim = 128, iters = 20, warmup = 3, blockQ = 128;
  attn::DType dtype = attn::DType::BF16;
  bool check = false;
  bool backward = false;
};

[[noreturn]] void usageError(const std::string &message) {
  std::fprintf(stderr, "attnc-bench-forward: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

std::vector<std::string> split(const std::string &text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);)
    parts.push_back(part);
  return parts;
}

int64_t parseCount(const std::string &text, const char *option) {
  try {
    size_t used = 0;
    int64_t value = std::stoll(text, &used);
    if (used == text.size() && value >= 1)
      return value;
  } catch (const std::exception &) {
  }
  usageError(std::string(option) + " wants a positive integer, not '" + text + "'");
}

PatternSpec parsePatternSpec(const std::string &text) {
  PatternSpec spec;
  size_t colon = text.find(':');
  spec.path = text.substr(0, colon);
  if (colon == std::string::npos)
    return spec;
  for (const std::string &assignment : split(text.substr(colon + 1), ',')) {
    size_t equals = assignment.find('=');
    if (equals == std::string::npos)
      usageError("--pattern wants FILE:name=value,..., not '" + text + "'");
    spec.params[assignment.substr(0, equals)] = assignment.substr(equals + 1);
  }
  return spec;
}

Options parseOptions(int argc, char **argv) {
  Options options;
  for (int a = 1; a < argc; ++a) {
    std::string option = argv[a];
    if (option == "--help" || option == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (option == "--backward") {
      options.backward = true;
      continue;
    }
    if (option == "--check") {
      options.check = true;
      continue;
    }
    if (a + 1 == argc)
      usageError(option + " wants a value");
    std::string value = argv[++a];
    if (option == "--pattern")
      options.patterns.push_back(parsePatternSpec(value));
    else if (option == "--n") {
      options.lengths.clear();
      for (const std::string &n : split(value, ','))
        options.lengths.push_back(parseCount(n, "--n"));
    } else if (option == "--heads")
      options.heads = parseCount(value, "--heads");
    else if (option == "--batch")
      options.batch = parseCount(value, "--batch");
    else if (option == "--dim")
      options.dim = static_cast<int>(parseCount(value, "--dim"));
    else if (option == "--iters")
      options.iters = static_cast<int>(parseCount(value, "--iters"));
    else if (option == "--block-q")
      options.blockQ = static_cast<int>(parseCount(value, "--block-q"));
    else if (option == "--docs")
      options.docs = parseCount(value, "--docs");
    else if (option == "--check-n")
      options.checkN = parseCount(value, "--check-n");
    else if (option == "--dtype" && (value == "bf16" || value == "fp16"))
      options.dtype = value == "bf16" ? attn::DType::BF16 : attn::DType::FP16;
    else
      usageError("unknown option or value: " + option + " " + value);
  }
  if (options.patterns.empty())
    options.patterns = {{"patterns/causal.pattern", {}},
                        {"patterns/sliding_window.pattern", {{"window", "1024"}}},
                        {"patterns/alibi.pattern", {}},
                        {"patterns/document.pattern", {}}};
  return options;
}

//===----------------------------------------------------------------------===//
// Pattern tensors
//===----------------------------------------------------------------------===//

/// Document ids of `docs` documents of equal length (the last takes the
/// remainder): doc[j] = floor(j * docs / Nk).
std::vector<int32_t> documentIds(int64_t seqK, int64_t docs) {
  std::vector<int32_t> ids(seqK);
  for (int64_t j = 0; j < seqK; ++j)
    ids[j] = static_cast<int32_t>(j * docs / seqK);
  return ids;
}

/// The host contents of the bundle's tensors for one length. Only a `doc`
/// tensor of i32 [Nk] is known: the bundled document pattern's.
std::vector<std::vector<int32_t>> patternTensors(const attn::Bundle &bundle, int64_t seqK,
                                                 int64_t docs) {
  std::vector<std::vector<int32_t>> tensors;
  for (const attn::BundleTensor &tensor : bundle.tensors) {
    bool isDoc = tensor.name == "doc" && tensor.type == attn::ElementType::I32 &&
                 tensor.dims.size() == 1 && tensor.dims[0].kind == attn::TensorDim::Kind::Nk;
    if (!isDoc)
      throw attn::Error("pattern '" + bundle.pattern + "': the benchmark can fill only a `doc` "
                        "tensor of i32 [Nk], not '" + tensor.name + "'");
    tensors.push_back(documentIds(seqK, docs));
  }
  return tensors;
}

/// The pattern's tensors on the device, as Attention::layout takes them.
struct PatternBuffers {
  std::vector<std::unique_ptr<attn::DeviceBuffer>> buffers;
  std::vector<attn::PatternTensor> args;

  explicit PatternBuffers(const std::vector<std::vector<int32_t>> &host) {
    for (const std::vector<int32_t> &tensor : host) {
      buffers.push_back(std::make_unique<attn::DeviceBuffer>(tensor.size() * sizeof(int32_t)));
      buffers.back()->upload(tensor.data());
      args.push_back({buffers.back()->pointer(), {static_cast<int64_t>(tensor.size())}});
    }
  }
};

//===----------------------------------------------------------------------===//
// Counting attended pairs
//===----------------------------------------------------------------------===//

// Appended to a bundle's source (compiled without ATTNC_HEAD_DIM, so only
// the pattern's functions and the layout kernel come with it). One thread per
// (head, query row) walks every key of every batch index; PATTERN_ATTENDS is
// defined to the pattern's generated attnc_<pattern>_attends.
const char *const kCountKernel = R"(
extern "C" __global__ void attnc_bench_count(attnc_shape shape, attnc_tensors tensors,
                                             int64_t batch, unsigned long long *counts) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int64_t h = blockIdx.y;
  if (i >= shape.Nq)
    return;
  unsigned long long count = 0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < shape.Nk; ++j)
      count += PATTERN_ATTENDS(shape, tensors, b, h, i, j) ? 1 : 0;
  atomicAdd(&counts[h], count);
}
)";

class PairCounter {
public:
  explicit PairCounter(const attn::Bundle &bundle)
      : module_(compile(bundle)), function_(module_.function("attnc_bench_count")) {}

  /// Attended pairs of each head, summed over batch and query rows.
  std::vector<uint64_t> count(int64_t batch, int64_t heads, int64_t seqQ, int64_t seqK,
                              int64_t headDim, const PatternBuffers &tensors) const {
    attn::DeviceShape shape{heads, seqQ, seqK, headDim};
    attn::DeviceTensors list = attn::describeTensors(tensors.args);
    attn::DeviceBuffer counts(heads * sizeof(uint64_t));
    counts.fillBytes(0);
    attn::CUdeviceptr countsPointer = counts.pointer();
    void *params[] = {&shape, &list, &batch, &countsPointer};
    constexpr unsigned kThreads = 128;
    attn::launchAndWait(function_, {static_cast<unsigned>((seqQ + kThreads - 1) / kThreads),
                                    static_cast<unsigned>(heads)},
                        {kThreads}, params);
    std::vector<uint64_t> host(heads);
    counts.download(host.data());
    return host;
  }

private:
  static std::string compile(const attn::Bundle &bundle) {
    attn::CompileRequest request;
    request.name = bundle.pattern + "_count.cu";
    request.source = bundle.source + kCountKernel;
    request.headers = attn::kernelHeaders();
    request.options = {"-DPATTERN_ATTENDS=attnc_" + bundle.pattern + "_attends"};
    request.arch = "sm_" + std::to_string(attn::deviceInfo().computeCapability);
    return attn::defaultKernelCache().get(request).bytes;
  }

  attn::Module module_;
  attn::CUfunction function_;
};

uint64_t sum(const std::vector<uint64_t> &values) {
  uint64_t total = 0;
  for (uint64_t value : values)
    total += value;
  return total;
}

/// The reference interpreter's count of attended pairs per head.
std::vector<uint64_t> interpreterCounts(const PatternSpec &spec, const attn::Bundle &bundle,
                                        int64_t batch, int64_t heads, int64_t n, int64_t dim,
                                        const std::vector<std::vector<int32_t>> &tensors) {
  auto text = attnc::readFile(spec.path);
  if (!text)
    throw attn::Error(llvm::toString(text.takeError()));
  std::string diagnostics;
  llvm::raw_string_ostream os(diagnostics);
  attnc::CheckedFile file = attnc::checkSource(spec.path, *text, os);
  auto pattern = attnc::selectPattern(file, bundle.pattern);
  if (!file.ok || !pattern)
    throw attn::Error(diagnostics);
  std::vector<std::string> defines;
  for (const auto &[name, value] : spec.params)
    defines.push_back(name + "=" + value);
  auto values = attnc::interp::bindParams(**pattern, defines);
  if (!values)
    throw attn::Error(llvm::toString(values.takeError()));
  std::map<std::string, attnc::interp::HostTensor> host;
  for (size_t k = 0; k < tensors.size(); ++k)
    host[bundle.tensors[k].name] = {attnc::ast::ElemType::I32, {n}, tensors[k].data()};
  auto interpreter = attnc::interp::Interpreter::create(**pattern, *values, {heads, n, n, dim},
                                                        std::move(host));
  if (!interpreter)
    throw attn::Error(llvm::toString(interpreter.takeError()));
  std::vector<uint64_t> counts(heads, 0);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
          counts[h] += interpreter->attends(b, h, i, j);
  return counts;
}

//===----------------------------------------------------------------------===//
// Timing
//===----------------------------------------------------------------------===//

/// Median milliseconds of `iters` runs after `warmup` untimed ones.
double medianMs(const std::function<void()> &run, int warmup, int iters) {
  for (int w = 0; w < warmup; ++w)
    run();
  attn::EventTimer timer;
  std::vector<float> times;
  for (int it = 0; it < iters; ++it) {
    timer.start();
    run();
    times.push_back(timer.stop());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

/// One [B, H, N, D] operand on the device.
struct Operand {
  std::unique_ptr<attn::DeviceBuffer> buffer;
  attn::Tensor tensor;

  Operand(const Options &options, int64_t n)
      : buffer(std::make_unique<attn::DeviceBuffer>(options.batch * options.heads * n *
                                                    options.dim * sizeof(uint16_t))),
        tensor(attn::Tensor::bhnd(buffer->pointer(), options.dtype, options.batch,
                                  options.heads, n, options.dim)) {}
};

/// Uniform in ±[1, 2), made as bit patterns (the exponent of 1, a random sign
/// and mantissa): no NaN or infinity, nothing to convert, and the speed does
/// not depend on the values.
Operand randomOperand(const Options &options, int64_t n, uint64_t seed) {
  Operand operand(options, n);
  std::vector<uint16_t> bits(operand.buffer->size() / sizeof(uint16_t));
  uint16_t one = options.dtype == attn::DType::BF16 ? 0x3F80 : 0x3C00;
  uint16_t mantissa = options.dtype == attn::DType::BF16 ? 0x007F : 0x03FF;
  for (uint16_t &value : bits) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull; // an LCG is plenty
    uint16_t random = static_cast<uint16_t>(seed >> 48);
    value = (random & 0x8000) | one | (random & mantissa);
  }
  operand.buffer->upload(bits.data());
  return operand;
}

/// q, k, v, o and the LSE of one length; with --backward dO, dq, dk, dv.
struct Operands {
  Operand q, k, v, o;
  attn::DeviceBuffer lse;
  std::unique_ptr<Operand> dO, dq, dk, dv;

  Operands(const Options &options, int64_t n)
      : q(randomOperand(options, n, 1)), k(randomOperand(options, n, 2)),
        v(randomOperand(options, n, 3)), o(options, n),
        lse(options.batch * options.heads * n * sizeof(float)) {
    if (!options.backward)
      return;
    dO = std::make_unique<Operand>(randomOperand(options, n, 4));
    dq = std::make_unique<Operand>(options, n);
    dk = std::make_unique<Operand>(options, n);
    dv = std::make_unique<Operand>(options, n);
  }
};

struct Row {
  std::string pattern;
  int64_t n;
  double forwardMs, layoutMs, backwardMs = 0;
  uint64_t pairs;
  std::size_t peakBytes = 0;
};

void printHeader(const Options &options) {
  if (options.backward)
    std::printf("| pattern | N | fwd ms | bwd ms | attended pairs | density | fwd TFLOP/s | "
                "bwd TFLOP/s | peak GiB |\n|---|---|---|---|---|---|---|---|---|\n");
  else
    std::printf("| pattern | N | fwd ms | attended pairs | density | useful TFLOP/s | "
                "layout ms |\n|---|---|---|---|---|---|---|\n");
}

void printRow(const Options &options, const Row &row) {
  double possible = double(options.batch) * options.heads * row.n * row.n;
  double flop = 4.0 * options.dim * double(row.pairs);
  double tflops = flop / (row.forwardMs * 1e-3) / 1e12;
  if (options.backward)
    std::printf("| %s | %lld | %.3f | %.3f | %llu | %.1f%% | %.1f | %.1f | %.2f |\n",
                row.pattern.c_str(), static_cast<long long>(row.n), row.forwardMs,
                row.backwardMs, static_cast<unsigned long long>(row.pairs),
                100.0 * row.pairs / possible, tflops,
                2.5 * flop / (row.backwardMs * 1e-3) / 1e12,
                double(row.peakBytes) / (1024.0 * 1024 * 1024));
  else
    std::printf("| %s | %lld | %.3f | %llu | %.1f%% | %.1f | %.3f |\n", row.pattern.c_str(),
                static_cast<long long>(row.n), row.forwardMs,
                static_cast<unsigned long long>(row.pairs), 100.0 * row.pairs / possible,
                tflops, row.layoutMs);
  std::fflush(stdout);
}

/// Device memory in use (total − free), in bytes.
std::size_t memoryInUse() {
  std::size_t free = 0, total = 0;
  attn::check(attn::driver().cuMemGetInfo(&free, &total), "cuMemGetInfo");
  return total - free;
}

/// Stream-ordered scratch (the backward's) stays reserved by the default
/// pool once freed, so that memoryInUse() afterwards includes its peak.
void keepPoolMemory() {
  attn::CUmemoryPool pool = nullptr;
  attn::check(attn::driver().cuDeviceGetDefaultMemPool(&pool, 0), "cuDeviceGetDefaultMemPool");
  unsigned long long keepAll = ~0ull;
  attn::check(
      attn::driver().cuMemPoolSetAttribute(pool, attn::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keepAll),
      "cuMemPoolSetAttribute");
}

/// The pattern compiled for the options, with its pair counter.
struct Compiled {
  attn::Bundle bundle;
  attn::Attention attention;
  PairCounter counter;
  std::string label;

  Compiled(const PatternSpec &spec, const Options &options)
      : bundle(attn::compileFile(spec.path, {"", spec.params})),
        attention(bundle, options.dtype, options.dim, nullptr,
                  {options.blockQ, options.backward}),
        counter(bundle),
        label(spec.label(bundle.pattern)) {}
};

/// GPU and interpreter counts agree on every head at N = --check-n.
bool checkCounts(const PatternSpec &spec, const Compiled &compiled, const Options &options) {
  int64_t n = options.checkN;
  auto host = patternTensors(compiled.bundle, n, options.docs);
  PatternBuffers device(host);
  std::vector<uint64_t> gpu =
      compiled.counter.count(options.batch, options.heads, n, n, options.dim, device);
  std::vector<uint64_t> cpu = interpreterCounts(spec, compiled.bundle, options.batch,
                                                options.heads, n, options.dim, host);
  bool same = gpu == cpu;
  std::printf("check %s N=%lld: GPU %llu pairs, interpreter %llu: %s\n", compiled.label.c_str(),
              static_cast<long long>(n), static_cast<unsigned long long>(sum(gpu)),
              static_cast<unsigned long long>(sum(cpu)), same ? "equal" : "DIFFERENT");
  return same;
}

Row measure(const Compiled &compiled, const Options &options, const Operands &operands,
            int64_t n, std::size_t baseline) {
  PatternBuffers tensors(patternTensors(compiled.bundle, n, options.docs));
  attn::Problem problem{options.batch, options.heads, options.heads, n, n};
  Row row{compiled.label, n, 0, 0, 0};
  row.pairs =
      sum(compiled.counter.count(options.batch, options.heads, n, n, options.dim, tensors));
  attn::BlockLayout layout = compiled.attention.layout(problem, tensors.args);
  row.layoutMs = medianMs([&] { layout = compiled.attention.layout(problem, tensors.args); },
                          options.warmup, options.iters);
  row.forwardMs = medianMs(
      [&] {
        compiled.attention.forward(layout, operands.q.tensor, operands.k.tensor,
                                   operands.v.tensor, operands.o.tensor, operands.lse.pointer());
      },
      options.warmup, options.iters);
  if (options.backward) {
    row.backwardMs = medianMs(
        [&] {
          compiled.attention.backward(
              layout, operands.q.tensor, operands.k.tensor, operands.v.tensor, operands.o.tensor,
              operands.lse.pointer(), operands.dO->tensor,
              {operands.dq->tensor, operands.dk->tensor, operands.dv->tensor, {}});
        },
        options.warmup, options.iters);
    attn::check(attn::driver().cuCtxSynchronize(), "cuCtxSynchronize");
    row.peakBytes = memoryInUse() - baseline;
  }
  return row;
}

int run(const Options &options) {
  attn::DeviceInfo device = attn::deviceInfo();
  if (options.backward)
    keepPoolMemory();
  std::vector<std::unique_ptr<Compiled>> compiled;
  for (const PatternSpec &spec : options.patterns)
    compiled.push_back(std::make_unique<Compiled>(spec, options));
  bool countsAgree = true;
  if (options.check)
    for (size_t p = 0; p < compiled.size(); ++p)
      countsAgree = checkCounts(options.patterns[p], *compiled[p], options) && countsAgree;

  std::printf("\n%s, %s, B=%lld, H=%lld, D=%d, %d query rows per CTA; median of %d after %d "
              "warm-up\n\n",
              device.name.c_str(), attn::dtypeName(options.dtype),
              static_cast<long long>(options.batch), static_cast<long long>(options.heads),
              options.dim, options.blockQ, options.iters, options.warmup);
  printHeader(options);
  // Memory in use before any operand: the context and the modules. Lengths
  // ascend, so what the pool keeps from a shorter one is at most a few MiB.
  std::size_t baseline = memoryInUse();
  for (int64_t n : options.lengths) {
    Operands operands(options, n);
    for (const auto &pattern : compiled)
      printRow(options, measure(*pattern, options, operands, n, baseline));
  }
  return countsAgree ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  Options options = parseOptions(argc, argv);
  try {
    return run(options);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "attnc-bench-forward: error: %s\n", error.what());
    return 1;
  }
}
