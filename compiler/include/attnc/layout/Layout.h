//===- Layout.h - Block layouts of a pattern (CPU) ------------------------===//
//
// The attention matrix of one head is cut into tiles of blockQ queries by
// blockK keys. A tile is FULL when every pair in it is attended, EMPTY when
// none is, PARTIAL otherwise (or when the interval twin cannot tell). Kernels
// visit FULL and PARTIAL tiles and evaluate the mask only in PARTIAL ones, so
// a FULL or EMPTY claim must be true; PARTIAL is always safe.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc/Dialect/Attn/Evaluator.h"
#include "attnc/interp/Interpreter.h"

#include "attn/ComponentTiles.h"

#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace llvm {
class raw_ostream;
}

namespace attnc::layout {

enum class TileKind : uint8_t { Empty, Partial, Full };

struct LayoutOptions {
  int64_t blockQ = 128;
  int64_t blockK = 128;
  /// Refine PARTIAL tiles pair by pair with the reference interpreter.
  bool exact = false;
};

/// Largest number of pairs `exact` refinement will evaluate.
constexpr int64_t kMaxExactPairs = int64_t(1) << 26;

/// The counts of enumerateComponentTiles (ComponentTiles.h) for one head of
/// a component's class, as `attnc layout --components-tiles` reports them.
struct ComponentTileCounts {
  std::string status; // exact, cover, not analytic
  std::string reason; // why not exact
  int64_t blockQ = 0, blockK = 0, classes = 0, full = 0, partial = 0, pairs = 0, area = 0;
};

/// One disjoint component of a head class's set (attn.component), as the
/// layout reports it: its form, bands and tile maps (the spec), and where it
/// belongs.
struct ComponentInfo : ::attn::ComponentSpec {
  std::string set;            // the attn.set, or empty for attn.attend
  std::vector<int64_t> heads; // the heads of that class
  int64_t index = 0;
  /// Its tiles in its own coordinates, when asked for (printed after it).
  std::optional<ComponentTileCounts> tiles;
};

struct Layout {
  int64_t seqQ = 0, seqK = 0, numHeads = 0, blockQ = 0, blockK = 0;
  int64_t rows = 0, cols = 0; // query tiles, key tiles
  /// tiles[h][row * cols + col]
  std::vector<std::vector<TileKind>> tiles;
  /// The components of each head class (after attn-components), if computed.
  std::vector<ComponentInfo> components;

  TileKind at(int64_t h, int64_t row, int64_t col) const { return tiles[h][row * cols + col]; }
  /// Groups of heads with identical tile grids, in order of their first head.
  std::vector<std::vector<int64_t>> headGroups() const;
};

/// Classifies every tile of every head of `pattern`, which must have been
/// through the layout pipeline (it holds interval twins). `oracle`, when
/// `options.exact`, refines PARTIAL tiles; it must describe the same pattern
/// and shape.
llvm::Expected<Layout> buildLayout(attn::PatternEvaluator &twins,
                                   const interp::Interpreter *oracle, const attn::Sizes &sizes,
                                   const LayoutOptions &options);

/// The attn.component ops of `pattern` for heads 0..numHeads-1.
std::vector<ComponentInfo> describeComponents(attn::PatternOp pattern, int64_t numHeads);

/// The form, bands and tile maps of one attn.component.
::attn::ComponentSpec componentSpec(attn::ComponentOp component);

/// One character per tile ('#' FULL, '+' PARTIAL, '.' EMPTY) per head group,
/// with counts and density.
void printText(const Layout &layout, llvm::raw_ostream &os);

/// {"seq_q":..,"seq_k":..,"num_heads":..,"block_q":..,"block_k":..,
///  "heads":[{"head":0,"rows":[{"full":[...],"partial":[...]}, ...]}, ...]}
void printJson(const Layout &layout, llvm::raw_ostream &os);

/// A picture of the layout: one panel per head group.
llvm::Error writePng(const Layout &layout, const std::string &path);

} // namespace attnc::layout
