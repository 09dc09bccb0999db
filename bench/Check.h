//===- Check.h - attnc-bench --check: the pair count, checked twice -------===//
//
// The layout-based count (PairCounter::countLayout) against two brute-force
// counts: the reference interpreter's over every pair at a small N
// (kInterpreterN), and the GPU's over every (b, h, i, j) at the case's N, or
// at N halved until B * H * N^2 <= kAllPairsLimit pairs (a few seconds on a
// current GPU).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Bundles.h"
#include "PairCounter.h"
#include "Suite.h"

#include "attn/Attention.h"

#include "llvm/Support/JSON.h"

namespace attnc::bench {

constexpr int64_t kInterpreterN = 1000;
constexpr double kAllPairsLimit = 17179869184.0; // 2^34

/// {"interpreter_n", "interpreter_pairs", "all_pairs_n", "all_pairs"}: the
/// lengths and the brute-force counts, each equal to the layout's at that
/// length; throws attn::Error when the counts of some head differ.
llvm::json::Object checkPairCounts(const Suite &suite, const Case &c, BundleCache &bundles,
                                   const attn::Attention &attention, const PairCounter &counter);

} // namespace attnc::bench
