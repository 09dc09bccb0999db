// The tiles of one disjoint component of a head class's set, analytically,
// on the CPU and without MLIR: what `attnc layout --components-tiles` reports
// and what the runtime's component layouts are built from.
//
// A component (attn.component; ComponentSpec here) is tiled in its own
// coordinates: for class c, its query rows are the rows i whose query
// coordinate q = i (+ Nk - Nq when aligned) lies in the image of the query
// map, in increasing order (row a of the class is the a-th of them); its key
// columns likewise are the keys j in the image of the key map. Tile (c, tq,
// tk) holds rows a in [tq * blockQ, (tq + 1) * blockQ) and columns b in
// [tk * blockK, (tk + 1) * blockK), clipped at the ends of the class's rows
// and columns.
//
// For each recognized form the set, in these coordinates, has closed-form key
// ranges per row, so the non-empty tiles are enumerated without looking at
// pairs:
//   - residue_diagonal (l, r): class c has q = q0 + a * l, j = j0 + b * l and
//     q - j = r + (delta + a - b) * l, so causal, window and min_distance
//     become a band lo <= b - a <= hi: a dense causal (or windowed) problem
//     per class;
//   - contiguous with causal / window / min_distance: the same band with
//     a = i, b = j;
//   - column_range (l, [lo, hi)): the gathered keys j mod l in [lo, hi); the
//     causal / window / min_distance / earlier_blocks bounds on j become
//     bounds on b through the count of gathered keys below a position;
//   - same_block (l): per row, the block of q intersected with those bounds.
// Band tiles are classified in O(1) each; the others in O(rows of the tile),
// so the work is O(non-empty tiles + query tiles) tiles.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attn {

// A tile map, [base, base_step, inner, outer_stride, inner_stride]: for
// class c it sends tile row t >= 0 to base + c * base_step + (t / inner) *
// outer_stride + (t % inner) * inner_stride.
using TileMap = std::vector<int64_t>;

// What the runtime and the layout report know of one component
// (attn.component's attributes).
struct ComponentSpec {
  std::string form; // contiguous, residue_diagonal, column_range, same_block
  bool aligned = false, causal = false;
  // The component is exactly the pairs of its form and bounds (else a subset).
  bool exact = false;
  std::optional<int64_t> window, modulus, residue, lo, hi;
  // Bounds from negated earlier terms: q - j >= minDistance, and j <
  // earlierBlocks * floor(q / earlierBlocks) (a negated same_block under
  // causal; only column_range and same_block have it).
  std::optional<int64_t> minDistance, earlierBlocks;
  int64_t classes = 1;
  TileMap queryMap, keyMap; // query maps in q, key maps in j
};

// Whether `map` is the identity, t -> t (contiguous tiles).
bool isContiguousMap(const TileMap &map);

// The smallest t (any integer: a map's image extends both ways) whose
// position in class `cls` of `map` is at least `x`; the image must increase
// with t, as every map of attn-components does. The positions in [x, y) are
// those of t in [mapIndexAtLeast(x), mapIndexAtLeast(y)).
int64_t mapIndexAtLeast(const TileMap &map, int64_t cls, int64_t x);

struct ComponentTileOptions {
  int64_t blockQ = 128; // query rows per tile (the forward kernel's)
  int64_t blockK = 64;  // key columns per tile
  // Keep the tiles; without it only the counts are computed.
  bool keepTiles = true;
};

struct ComponentTile {
  int64_t cls = 0, tq = 0, tk = 0;
  int64_t rows = 0, cols = 0; // clipped at the ends of the class's rows and columns
  int64_t pairs = 0;          // pairs of the described set in the tile
  bool full = false;          // every pair of the tile is in the component (else PARTIAL)
};

struct ComponentTiles {
  enum class Status {
    // The component is exactly its form and bands: the tiles, kinds and
    // pair counts are exact.
    Exact,
    // The component is a subset of its form and bands (negated earlier terms
    // or conjuncts not in the form): the tiles cover it; all are PARTIAL and
    // `pairs` counts the form's pairs, an upper bound.
    Cover,
    // No closed form (a contiguous component that is not exact, or an
    // unknown form): nothing was enumerated; see `reason`.
    NotAnalytic,
  } status = Status::NotAnalytic;
  std::string reason;
  int64_t classes = 0;
  int64_t full = 0, partial = 0;
  int64_t pairs = 0; // summed over the tiles
  int64_t area = 0;  // rows * cols summed over the tiles
  std::vector<ComponentTile> tiles; // when keepTiles, by class, tq, tk

  // Useful fraction of the visited tiles' area.
  double density() const { return area ? double(pairs) / double(area) : 0.0; }
};

// The non-empty tiles of `component` for one head of its class at Nq =
// seqQ, Nk = seqK.
ComponentTiles enumerateComponentTiles(const ComponentSpec &component, int64_t seqQ,
                                       int64_t seqK, const ComponentTileOptions &options = {});

// Whether enumerateComponentTiles has a closed form for `component` (exact
// or cover), for any shape: it depends on the form and maps alone.
bool isAnalytic(const ComponentSpec &component);

const char *statusName(ComponentTiles::Status status);

} // namespace attn
