//===- PairCounter.h - Counting attended pairs on the GPU -----------------===//
//
// The useful work of a case is its number of attended pairs (DESIGN.md §7).
// PairCounter counts them exactly, from the block layout the forward kernel
// reads: a FULL tile adds its area clipped to Nq x Nk, a PARTIAL tile the
// pairs its pattern attends, evaluated per element by the same
// attnc_<p>_elements::attends the forward kernel calls. A brute-force count
// over every (b, h, i, j) checks it (--check).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attn/Attention.h"
#include "attn/Module.h"

#include <cstdint>
#include <vector>

namespace attnc::bench {

class PairCounter {
public:
  /// Compiles the counting kernels over `bundle`'s source (through the
  /// default kernel cache). Throws attn::Error.
  explicit PairCounter(const attn::Bundle &bundle);

  /// Attended pairs per head (summed over the batch) of `layout`, which an
  /// Attention built for head dim `headDim` with the pattern tensors
  /// `tensors`; for the heads that run through their components
  /// (BlockLayout::componentHeads), those of countAllPairs.
  std::vector<uint64_t> countLayout(const attn::BlockLayout &layout, int64_t headDim,
                                    const std::vector<attn::PatternTensor> &tensors) const;

  /// Attended pairs per head, evaluating the mask on every pair.
  std::vector<uint64_t> countAllPairs(const attn::Problem &problem, int64_t headDim,
                                      const std::vector<attn::PatternTensor> &tensors) const;

private:
  attn::Module module_;
  attn::CUfunction layoutPairs_, allPairs_;
};

/// FULL and PARTIAL tiles of a layout's forward lists (from the row offsets
/// and partial counts, not the lists, so that huge layouts stay cheap), and
/// of its component lists (the heads that run through their components).
struct TileCounts {
  int64_t full = 0, partial = 0;
  int64_t componentFull = 0, componentPartial = 0;
};
TileCounts countTiles(const attn::BlockLayout &layout);

uint64_t sum(const std::vector<uint64_t> &values);

} // namespace attnc::bench
