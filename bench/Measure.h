//===- Measure.h - Timings, pair counts and memory of a case (GPU) --------===//
//
// Per case: the forward, the backward and both back to back, each the
// median of `iters` runs after `warmup`, timed with driver events over
// operand sets that rotate so that the L2 cache does not keep a run's inputs
// for the next; the layout builds (inference and training); the attended
// pairs (PairCounter); the peak device memory of a forward and backward with
// one operand set; and, once per kernel variant, the cold JIT compile and
// the warm load from the disk cache. bench/README.md gives the details.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Bundles.h"
#include "PairCounter.h"
#include "Suite.h"

#include "attn/Attention.h"

#include "llvm/Support/JSON.h"

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace attnc::bench {

struct MeasureOptions {
  int iters = 20, warmup = 3;
  bool cold = true;  // measure the cold compile and warm load
  bool check = false;
};

/// The kernels of one (pattern, parameters, D, dtype): they do not depend
/// on the sizes, so every N of the variant shares them.
struct Variant {
  std::unique_ptr<attn::Attention> training, inference;
  std::unique_ptr<PairCounter> counter;
  std::optional<double> compileColdS, loadWarmMs;
};

class Bench {
public:
  Bench(const Suite &suite, MeasureOptions options);

  /// The metrics of one case (bench/README.md's report keys). Throws
  /// attn::Error (out of memory, a mismatch under --check, ...).
  llvm::json::Object measureCase(const Case &c);
  llvm::json::Object measureLayoutCase(const Case &c);

  BundleCache &bundles() { return bundles_; }

private:
  Variant &variant(const Case &c, bool withCounter);

  const Suite &suite_;
  MeasureOptions options_;
  BundleCache bundles_;
  std::map<std::string, Variant> variants_;
};

} // namespace attnc::bench
