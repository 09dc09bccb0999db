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
// Every form gives each row an interval of columns whose ends do not
// decrease with the row (a band is one), so a row of tiles is the union of
// its rows' intervals (PARTIAL tiles at its edges) around their intersection
// (a run of FULL tiles): the work is O(rows + PARTIAL tiles), and by key the
// same on the transposed intervals.
#pragma once

#include <cstdint>
#include <functional>
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
  // Keep the tiles (and count the pairs of each PARTIAL one); without it
  // only the totals are computed.
  bool keepTiles = true;
  // Rows of tiles are key tiles, each listing query tiles (dK and dV);
  // else query tiles listing key tiles.
  bool byKey = false;
  // Visit the rows of tiles that meet no tile too.
  bool emptyRows = false;
};

// One row of a component's tiles: a class's query tile (by key: key tile)
// and the tiles of the other side it meets. The PARTIAL ones are listed; the
// FULL ones, those inside every row's interval of the form, are one run:
// each row of every form attends an interval whose ends do not decrease with
// the row, so their intersection is an interval too.
struct ComponentTileRow {
  int64_t cls = 0, tile = 0;
  int64_t rows = 0;    // positions of the row's tile (clipped at the class's end)
  int64_t columns = 0; // positions of the class on the other side
  std::vector<int64_t> partial;      // increasing, none in the run
  std::vector<int64_t> partialPairs; // their pairs, when keepTiles
  int64_t fullFirst = 0, fullCount = 0;
  int64_t pairs = 0; // pairs of the form in the row's tiles
};

using ComponentRowVisitor = std::function<void(const ComponentTileRow &)>;

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
  std::vector<ComponentTile> tiles; // when keepTiles

  // Useful fraction of the visited tiles' area.
  double density() const { return area ? double(pairs) / double(area) : 0.0; }
};

// Visits the rows of tiles of `component` that meet at least one tile (every
// row with emptyRows), for one head of its class at Nq = seqQ, Nk = seqK, by
// class and row tile, in O(query (by key: key) positions + PARTIAL tiles),
// bands in O(rows of tiles + PARTIAL tiles): the FULL tiles cost nothing
// each. Returns the status, reason and classes (no counts, no tiles).
ComponentTiles visitComponentTileRows(const ComponentSpec &component, int64_t seqQ, int64_t seqK,
                                      const ComponentTileOptions &options,
                                      const ComponentRowVisitor &visit);

// The non-empty tiles of `component` for one head of its class at Nq =
// seqQ, Nk = seqK, counted, and listed when keepTiles (by class, query tile
// and key tile; by key: by class, key tile and query tile).
ComponentTiles enumerateComponentTiles(const ComponentSpec &component, int64_t seqQ,
                                       int64_t seqK, const ComponentTileOptions &options = {});

// Whether enumerateComponentTiles has a closed form for `component` (exact
// or cover), for any shape: it depends on the form and maps alone.
bool isAnalytic(const ComponentSpec &component);

const char *statusName(ComponentTiles::Status status);

} // namespace attn
