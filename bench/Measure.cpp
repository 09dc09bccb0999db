//===- Measure.cpp - Timings, pair counts and memory of a case (GPU) ------===//
#include "Measure.h"

#include "Check.h"
#include "PatternBuffers.h"
#include "Listing.h"

#include "attn/Error.h"

#include "llvm/Support/FileSystem.h"

#include <algorithm>
#include <chrono>
#include <functional>

namespace attnc::bench {
namespace {

constexpr int kL2CacheSizeAttribute = 38; // CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE
constexpr std::size_t kAssumedL2Bytes = std::size_t(64) << 20;
constexpr int kMaxOperandSets = 8;

attn::DType dtypeOf(const Case &c) {
  return c.dtype == "fp16" ? attn::DType::FP16 : attn::DType::BF16;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void synchronize() { attn::check(attn::driver().cuCtxSynchronize(), "cuCtxSynchronize"); }

/// Device memory in use (total - free), in bytes.
std::size_t memoryInUse() {
  std::size_t free = 0, total = 0;
  attn::check(attn::driver().cuMemGetInfo(&free, &total), "cuMemGetInfo");
  return total - free;
}

std::size_t memoryFree() {
  std::size_t free = 0, total = 0;
  attn::check(attn::driver().cuMemGetInfo(&free, &total), "cuMemGetInfo");
  return free;
}

void setPoolReleaseThreshold(unsigned long long bytes) {
  attn::CUmemoryPool pool = nullptr;
  attn::check(attn::driver().cuDeviceGetDefaultMemPool(&pool, 0), "cuDeviceGetDefaultMemPool");
  attn::check(attn::driver().cuMemPoolSetAttribute(pool, attn::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                                                   &bytes),
              "cuMemPoolSetAttribute");
}

/// Memory in use once the default pool gave back what earlier cases left in
/// it (a threshold of 0 releases at the next synchronization). From then on
/// the pool keeps all it gets, so that memoryInUse() after a run still
/// includes the peak of the backward's stream-ordered scratch.
std::size_t baselineInUse() {
  setPoolReleaseThreshold(0);
  synchronize();
  std::size_t inUse = memoryInUse();
  setPoolReleaseThreshold(~0ull);
  return inUse;
}

std::size_t l2Bytes() {
  const attn::DriverApi &api = attn::driver();
  attn::CUdevice device = 0;
  int bytes = 0;
  if (api.cuDeviceGet(&device, 0) != attn::CUDA_SUCCESS ||
      api.cuDeviceGetAttribute(&bytes, kL2CacheSizeAttribute, device) != attn::CUDA_SUCCESS ||
      bytes <= 0)
    return kAssumedL2Bytes;
  return static_cast<std::size_t>(bytes);
}

/// The median of `iters` timed runs after `warmup` untimed ones (the mean of
/// the middle two for an even count); run(k) gets the run's number, warm-ups
/// included, to pick its operand set.
double medianMs(const std::function<void(int)> &run, int warmup, int iters) {
  for (int w = 0; w < warmup; ++w)
    run(w);
  attn::EventTimer timer;
  std::vector<float> times;
  for (int it = 0; it < iters; ++it) {
    timer.start();
    run(warmup + it);
    times.push_back(timer.stop());
  }
  std::sort(times.begin(), times.end());
  size_t middle = times.size() / 2;
  return times.size() % 2 ? times[middle] : (double(times[middle - 1]) + times[middle]) / 2;
}

/// One [B, heads, N, D] operand on the device.
struct Operand {
  std::unique_ptr<attn::DeviceBuffer> buffer;
  attn::Tensor tensor;

  Operand(const Case &c, int64_t heads)
      : buffer(std::make_unique<attn::DeviceBuffer>(c.B * heads * c.N * c.D * sizeof(uint16_t))),
        tensor(attn::Tensor::bhnd(buffer->pointer(), dtypeOf(c), c.B, heads, c.N, c.D)) {}

  /// Uniform in ±[1, 2), made as bit patterns (the exponent of 1, a random
  /// sign and mantissa): no NaN or infinity, nothing to convert, and the
  /// speed does not depend on the values.
  void randomize(uint64_t seed) {
    bool bf16 = tensor.dtype == attn::DType::BF16;
    uint16_t one = bf16 ? 0x3F80 : 0x3C00, mantissa = bf16 ? 0x007F : 0x03FF;
    std::vector<uint16_t> bits(buffer->size() / sizeof(uint16_t));
    for (uint16_t &value : bits) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull; // an LCG is plenty
      uint16_t random = static_cast<uint16_t>(seed >> 48);
      value = (random & 0x8000) | one | (random & mantissa);
    }
    buffer->upload(bits.data());
  }
};

/// What one forward and backward read and write.
struct OperandSet {
  Operand q, k, v, o, dO, dq, dk, dv;
  attn::DeviceBuffer lse;

  OperandSet(const Case &c, uint64_t seed)
      : q(c, c.H), k(c, c.Hkv), v(c, c.Hkv), o(c, c.H), dO(c, c.H), dq(c, c.H), dk(c, c.Hkv),
        dv(c, c.Hkv), lse(c.B * c.H * c.N * sizeof(float)) {
    q.randomize(seed);
    k.randomize(seed + 1);
    v.randomize(seed + 2);
    dO.randomize(seed + 3);
  }

  static std::size_t bytes(const Case &c) {
    return c.B * c.N * c.D * sizeof(uint16_t) * (4 * c.H + 4 * c.Hkv) + c.B * c.H * c.N * 4;
  }
};

/// Operand sets for each timed run to read other memory than the last: as
/// many as exceed twice the L2 cache together (at least two), at most
/// kMaxOperandSets and at most half the free memory (but one).
int operandSetCount(const Case &c) {
  std::size_t set = OperandSet::bytes(c);
  std::size_t wanted = std::max<std::size_t>(2, 2 * l2Bytes() / set + 1);
  std::size_t fit = memoryFree() / 2 / set + 1; // the first set is already there
  return static_cast<int>(std::max<std::size_t>(
      1, std::min({wanted, fit, static_cast<std::size_t>(kMaxOperandSets)})));
}

/// A temporary kernel cache folder, removed with everything in it.
class TemporaryDirectory {
public:
  TemporaryDirectory() {
    if (std::error_code error = llvm::sys::fs::createUniqueDirectory("attnc-bench-cache", path_))
      throw attn::Error("cannot create a temporary kernel cache folder: " + error.message());
  }
  ~TemporaryDirectory() { llvm::sys::fs::remove_directories(path_); }
  std::string path() const { return path_.str().str(); }

private:
  llvm::SmallString<128> path_;
};

/// The cold time must come from NVRTC and the warm one from the disk cache
/// alone, or the figure measures something else: checked with the cache's
/// own counts. (NVRTC's own cache, which these counts cannot see, is off:
/// nvrtcOptions passes --no-cache.)
void requireCacheUse(const attn::KernelCacheStats &stats, bool compiled, const char *what) {
  bool expected = compiled ? stats.compiles > 0 && stats.diskHits == 0 && stats.memoryHits == 0
                           : stats.compiles == 0 && stats.diskHits > 0;
  if (!expected)
    throw attn::Error(std::string(what) + " did not measure what it says: the kernel cache " +
                      "compiled " + std::to_string(stats.compiles) + ", read " +
                      std::to_string(stats.diskHits) + " from disk, " +
                      std::to_string(stats.memoryHits) + " from memory");
}

double tflops(double flop, double ms) { return flop / (ms * 1e-3) / 1e12; }

} // namespace

Bench::Bench(const Suite &suite, MeasureOptions options) : suite_(suite), options_(options) {}

Variant &Bench::variant(const Case &c, bool withCounter) {
  const attn::Bundle &bundle = bundles_.get(c); // may throw: before the entry exists
  std::string key = bundleKey(c) + "\nD=" + std::to_string(c.D) + " " + c.dtype +
                    " BQ=" + std::to_string(c.blockQ);
  auto [entry, inserted] = variants_.try_emplace(key);
  Variant &variant = entry->second;
  if (inserted) {
    try {
      attn::KernelOptions training{static_cast<int>(c.blockQ), /*backward=*/true};
      if (options_.cold) {
        // Cold: nothing in memory or on disk; warm: from that disk cache,
        // as a new process would find it.
        TemporaryDirectory folder;
        auto start = std::chrono::steady_clock::now();
        {
          attn::KernelCache empty(folder.path());
          attn::Attention cold(bundle, dtypeOf(c), static_cast<int>(c.D), &empty, training);
          variant.compileColdS = secondsSince(start);
          requireCacheUse(empty.stats(), /*compiled=*/true, "cold compile");
        }
        attn::KernelCache onDisk(folder.path());
        start = std::chrono::steady_clock::now();
        variant.training = std::make_unique<attn::Attention>(bundle, dtypeOf(c),
                                                             static_cast<int>(c.D), &onDisk,
                                                             training);
        variant.loadWarmMs = 1e3 * secondsSince(start);
        requireCacheUse(onDisk.stats(), /*compiled=*/false, "warm load");
      } else {
        variant.training = std::make_unique<attn::Attention>(
            bundle, dtypeOf(c), static_cast<int>(c.D), nullptr, training);
      }
      variant.inference = std::make_unique<attn::Attention>(
          bundle, dtypeOf(c), static_cast<int>(c.D), nullptr, attn::KernelOptions{static_cast<int>(c.blockQ), false});
    } catch (...) {
      variants_.erase(entry); // the next case of the variant tries again
      throw;
    }
  }
  if (withCounter && !variant.counter)
    variant.counter = std::make_unique<PairCounter>(bundle);
  return variant;
}

llvm::json::Object Bench::measureCase(const Case &c) {
  Variant &variant = this->variant(c, /*withCounter=*/true);
  const attn::Attention &attention = *variant.training;
  llvm::json::Object result;
  if (options_.check)
    result["check"] = checkPairCounts(suite_, c, bundles_, attention, *variant.counter);

  // The peak: pattern tensors, the training layout, one operand set and the
  // backward's scratch, above what was in use before them.
  std::size_t baseline = baselineInUse();
  PatternBuffers pattern(tensorsOf(suite_, c, bundles_));
  attn::Problem problem{c.B, c.H, c.Hkv, c.N, c.N};
  attn::BlockLayout layout = attention.layout(problem, pattern.args);
  uint64_t pairs = sum(variant.counter->countLayout(layout, c.D, pattern.args));
  TileCounts tiles = countTiles(layout);
  std::vector<std::unique_ptr<OperandSet>> sets;
  sets.push_back(std::make_unique<OperandSet>(c, 1));
  auto forward = [&](int run) {
    const OperandSet &s = *sets[run % sets.size()];
    attention.forward(layout, s.q.tensor, s.k.tensor, s.v.tensor, s.o.tensor, s.lse.pointer());
  };
  auto backward = [&](int run) {
    const OperandSet &s = *sets[run % sets.size()];
    attention.backward(layout, s.q.tensor, s.k.tensor, s.v.tensor, s.o.tensor, s.lse.pointer(),
                       s.dO.tensor, {s.dq.tensor, s.dk.tensor, s.dv.tensor, {}});
  };
  forward(0);
  backward(0);
  synchronize();
  std::size_t peak = memoryInUse() - baseline;

  for (int k = 1, count = operandSetCount(c); k < count; ++k)
    sets.push_back(std::make_unique<OperandSet>(c, 1 + 4 * k));
  double fwdMs = medianMs(forward, options_.warmup, options_.iters);
  for (size_t k = 0; k < sets.size(); ++k)
    forward(static_cast<int>(k)); // every set's O and LSE for its backward
  double bwdMs = medianMs(backward, options_.warmup, options_.iters);
  double bothMs = medianMs(
      [&](int run) {
        forward(run);
        backward(run);
      },
      options_.warmup, options_.iters);
  double layoutTrainMs = medianMs(
      [&](int) { layout = attention.layout(problem, pattern.args); }, options_.warmup,
      options_.iters);
  double layoutFwdMs = medianMs(
      [&](int) { variant.inference->layout(problem, pattern.args); }, options_.warmup,
      options_.iters);

  double flop = 4.0 * double(c.D) * double(pairs); // DESIGN.md §7
  result["pairs"] = static_cast<int64_t>(pairs);
  result["density"] = double(pairs) / (double(c.B) * c.H * double(c.N) * double(c.N));
  result["fwd_ms"] = fwdMs;
  result["bwd_ms"] = bwdMs;
  result["fwdbwd_ms"] = bothMs;
  result["fwd_tflops"] = tflops(flop, fwdMs);
  result["bwd_tflops"] = tflops(2.5 * flop, bwdMs);
  result["fwdbwd_tflops"] = tflops(3.5 * flop, bothMs);
  result["layout_fwd_ms"] = layoutFwdMs;
  result["layout_train_ms"] = layoutTrainMs;
  result["compile_cold_s"] = variant.compileColdS ? llvm::json::Value(*variant.compileColdS)
                                                  : llvm::json::Value(nullptr);
  result["load_warm_ms"] = variant.loadWarmMs ? llvm::json::Value(*variant.loadWarmMs)
                                              : llvm::json::Value(nullptr);
  result["peak_bytes"] = static_cast<int64_t>(peak);
  result["tiles_full"] = tiles.full;
  result["tiles_partial"] = tiles.partial;
  result["component_tiles_full"] = tiles.componentFull;
  result["component_tiles_partial"] = tiles.componentPartial;
  result["operand_sets"] = static_cast<int64_t>(sets.size());
  return result;
}

llvm::json::Object Bench::measureLayoutCase(const Case &c) {
  Variant &variant = this->variant(c, /*withCounter=*/false);
  PatternBuffers pattern(tensorsOf(suite_, c, bundles_));
  attn::Problem problem{c.B, c.H, c.Hkv, c.N, c.N};
  TileCounts tiles = countTiles(variant.inference->layout(problem, pattern.args));
  double layoutFwdMs = medianMs(
      [&](int) { variant.inference->layout(problem, pattern.args); }, options_.warmup,
      options_.iters);
  double layoutTrainMs = medianMs(
      [&](int) { variant.training->layout(problem, pattern.args); }, options_.warmup,
      options_.iters);
  return llvm::json::Object{{"layout_fwd_ms", layoutFwdMs},
          {"layout_train_ms", layoutTrainMs},
          {"tiles_full", tiles.full},
          {"tiles_partial", tiles.partial},
          {"component_tiles_full", tiles.componentFull},
          {"component_tiles_partial", tiles.componentPartial}};
}

} // namespace attnc::bench
