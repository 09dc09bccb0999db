#include "attn/ComponentTiles.h"

#include <algorithm>
#include <climits>
#include <functional>
#include <memory>
#include <optional>

namespace attn {

namespace {

/// An unbounded side of a band (far from overflow for any sequence length).
constexpr int64_t kUnbounded = INT64_MAX / 4;

/// Floor division and modulo, b > 0, one hardware division (the per-row
/// intervals below call them a few times per row).
int64_t floorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return q * b > a ? q - 1 : q;
}
int64_t floorMod(int64_t a, int64_t b) { return a - floorDiv(a, b) * b; }
int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }

/// One class in its own coordinates: rows a in [0, na), columns b in [0,
/// nb), and per row the interval of columns [lo(a), hi(a)] it attends
/// (unclipped; empty when lo > hi), whose ends do not decrease with a: true
/// of every form's bands and bounds below, and kept by transposed().
struct Space {
  int64_t na = 0, nb = 0;
  std::function<std::pair<int64_t, int64_t>(int64_t)> range;
  // A band lo <= b - a <= hi: rows of tiles in closed form (bandScan).
  std::optional<std::pair<int64_t, int64_t>> band;
};

/// The band lo <= b - a <= hi.
Space band(int64_t na, int64_t nb, int64_t lo, int64_t hi) {
  Space space;
  space.na = na, space.nb = nb;
  space.range = [lo, hi](int64_t a) { return std::make_pair(a + lo, a + hi); };
  space.band = {lo, hi};
  return space;
}

/// sum over x in [x0, x1] of clamp(x, 0, w), w >= 1.
int64_t sumClamp(int64_t x0, int64_t x1, int64_t w) {
  if (x0 > x1)
    return 0;
  int64_t sum = 0;
  int64_t lo = std::max<int64_t>(x0, 1), hi = std::min<int64_t>(x1, w - 1);
  if (lo <= hi)
    sum += (lo + hi) * (hi - lo + 1) / 2;
  lo = std::max(x0, w);
  if (lo <= x1)
    sum += w * (x1 - lo + 1);
  return sum;
}

/// Pairs (a, b) of rows [a0, a1] by columns [0, nb) with lo <= b - a <= hi.
int64_t bandPairs(int64_t a0, int64_t a1, int64_t nb, int64_t lo, int64_t hi) {
  // #{b - a <= x}: for each row, clamp(a + x + 1, 0, nb).
  auto below = [&](int64_t x) {
    x = std::clamp(x, -a1 - 1, nb - 1 - a0);
    return sumClamp(a0 + x + 1, a1 + x + 1, nb);
  };
  return lo > hi || nb < 1 ? 0 : below(hi) - below(lo - 1);
}

/// The same pairs with rows and columns swapped: column b of `space` is
/// attended by the rows [first a with hi(a) >= b, last a with lo(a) <= b],
/// all of which hold b since both ends are monotone. Two cursors find them
/// in O(na + nb) over a scan of increasing b (a scan that goes back starts
/// them over).
Space transposed(const Space &space) {
  if (space.band)
    return band(space.nb, space.na, -space.band->second, -space.band->first);
  struct Cursors {
    int64_t last = -1;
    int64_t first = 0, firstHi = 0; // first a with hi(a) >= b, and its hi
    int64_t past = 0, pastLo = 0;   // first a with lo(a) > b, and its lo
  };
  Space out;
  out.na = space.nb, out.nb = space.na;
  auto cursors = std::make_shared<Cursors>();
  out.range = [space, cursors](int64_t b) {
    Cursors &at = *cursors;
    if (b < at.last || at.last < 0) {
      at = Cursors{};
      if (space.na > 0)
        at.firstHi = space.range(0).second, at.pastLo = space.range(0).first;
    }
    at.last = b;
    while (at.first < space.na && at.firstHi < b)
      if (++at.first < space.na)
        at.firstHi = space.range(at.first).second;
    while (at.past < space.na && at.pastLo <= b)
      if (++at.past < space.na)
        at.pastLo = space.range(at.past).first;
    return std::make_pair(at.first, at.past - 1);
  };
  return out;
}

/// Adds the pairs of `rows` (one interval of columns each, clipped to the
/// class) to counts[k - k0] of tile k, in O(rows + tiles) rather than rows x
/// tiles: a row adds the ends of its interval to the tiles they fall in and a
/// whole tile's width to each tile strictly between them.
void countRowIntervals(int64_t k0, int64_t bk, const std::vector<std::pair<int64_t, int64_t>> &rows,
                       std::vector<int64_t> &counts) {
  std::vector<int64_t> covering(counts.size() + 1, 0); // difference array of whole tiles
  for (const auto &[first, last] : rows) {
    if (first > last)
      continue;
    const int64_t kf = first / bk - k0, kl = last / bk - k0;
    if (kf == kl) {
      counts[kf] += last - first + 1;
      continue;
    }
    counts[kf] += (kf + k0 + 1) * bk - first;
    counts[kl] += last - (kl + k0) * bk + 1;
    covering[kf + 1] += 1;
    covering[kl] -= 1;
  }
  int64_t whole = 0;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    whole += covering[k];
    counts[k] += whole * bk; // tiles strictly inside an interval are never clipped
  }
}

/// What one row of tiles is made of, gathered from its rows' intervals.
struct RowTileScan {
  std::vector<std::pair<int64_t, int64_t>> rows;     // clipped intervals, to count pairs
  std::vector<std::pair<int64_t, int64_t>> segments; // their union, increasing
  int64_t maxLo = 0, minHi = 0;                      // their intersection
  int64_t pairs = 0;
};

/// RowTileScan of rows [a0, a1] of a band, in O(1): with columns at all,
/// its rows [-hi, nb - 1 - lo] are not empty and make one segment; the
/// intersection is that of the first and last rows (when a row is empty, it
/// is empty too).
void bandScan(const Space &space, int64_t a0, int64_t a1, RowTileScan &scan) {
  const auto [lo, hi] = *space.band;
  scan.rows.clear();
  scan.segments.clear();
  scan.maxLo = std::max<int64_t>(0, a1 + lo), scan.minHi = std::min(space.nb - 1, a0 + hi);
  scan.pairs = bandPairs(a0, a1, space.nb, lo, hi);
  const int64_t first = std::max(a0, -hi), last = std::min(a1, space.nb - 1 - lo);
  if (lo <= hi && first <= last && space.nb > 0)
    scan.segments.emplace_back(std::max<int64_t>(0, first + lo),
                               std::min(space.nb - 1, last + hi));
}

/// RowTileScan of rows [a0, a1] row by row, keeping each row's interval
/// when `keepRows` (to count each tile's pairs).
void scanRows(const Space &space, int64_t a0, int64_t a1, bool keepRows, RowTileScan &scan) {
  scan.rows.clear();
  scan.segments.clear();
  scan.maxLo = 0, scan.minHi = space.nb - 1;
  scan.pairs = 0;
  for (int64_t a = a0; a <= a1; ++a) {
    auto [lo, hi] = space.range(a);
    lo = std::max<int64_t>(lo, 0), hi = std::min(hi, space.nb - 1);
    if (keepRows)
      scan.rows.emplace_back(lo, hi);
    scan.maxLo = std::max(scan.maxLo, lo), scan.minHi = std::min(scan.minHi, hi);
    if (lo > hi)
      continue;
    scan.pairs += hi - lo + 1;
    // Both ends are monotone: a row overlaps or follows the last segment.
    if (!scan.segments.empty() && lo <= scan.segments.back().second + 1)
      scan.segments.back().second = std::max(scan.segments.back().second, hi);
    else
      scan.segments.emplace_back(lo, hi);
  }
}

/// Visits the rows of tiles of one class of `space`: per row of tiles, the
/// tiles its rows' intervals touch; those inside every interval (when
/// `exact`) are its FULL run, the others PARTIAL. O(na + tiles visited), a
/// band's O(rows of tiles + PARTIAL tiles) unless each PARTIAL tile's pairs
/// are counted.
void visitClass(const Space &space, int64_t cls, int64_t blockRows, int64_t blockCols,
                bool exact, const ComponentTileOptions &options, ComponentTileRow &row,
                const ComponentRowVisitor &visit) {
  const bool countPairs = options.keepTiles;
  const int64_t br = blockRows, bc = blockCols;
  RowTileScan scan;
  std::vector<int64_t> counts;
  for (int64_t t = 0; t * br < space.na; ++t) {
    const int64_t a0 = t * br, a1 = std::min(space.na, a0 + br) - 1;
    if (space.band && !countPairs)
      bandScan(space, a0, a1, scan);
    else
      scanRows(space, a0, a1, countPairs, scan);
    if (scan.segments.empty() && !options.emptyRows)
      continue;
    row.cls = cls, row.tile = t, row.rows = a1 - a0 + 1, row.columns = space.nb;
    row.pairs = scan.pairs;
    // A tile is FULL when it lies inside every row's interval; the last,
    // clipped tile when the intersection reaches the end.
    int64_t fullFirst = 0, fullLast = -1;
    if (exact && scan.maxLo <= scan.minHi) {
      fullFirst = ceilDiv(scan.maxLo, bc);
      fullLast = scan.minHi == space.nb - 1 ? scan.minHi / bc : (scan.minHi + 1) / bc - 1;
    }
    row.fullFirst = fullFirst;
    row.fullCount = std::max<int64_t>(0, fullLast - fullFirst + 1);
    row.partial.clear();
    for (const auto &[lo, hi] : scan.segments)
      for (int64_t k = lo / bc; k <= hi / bc; ++k) {
        if (k >= fullFirst && k <= fullLast) {
          k = fullLast;
          continue;
        }
        if (row.partial.empty() || row.partial.back() < k)
          row.partial.push_back(k);
      }
    row.partialPairs.clear();
    if (countPairs && !row.partial.empty()) {
      const int64_t k0 = scan.segments.front().first / bc;
      counts.assign(scan.segments.back().second / bc - k0 + 1, 0);
      countRowIntervals(k0, bc, scan.rows, counts);
      for (int64_t k : row.partial)
        row.partialPairs.push_back(counts[k - k0]);
    }
    visit(row);
  }
}

bool mapIs(const TileMap &map, std::initializer_list<int64_t> want) {
  return map == TileMap(want);
}

} // namespace

bool isContiguousMap(const TileMap &map) { return mapIs(map, {0, 0, 1, 1, 1}); }

int64_t mapIndexAtLeast(const TileMap &map, int64_t cls, int64_t x) {
  const int64_t inner = map[2], outer = map[3], innerStride = map[4];
  int64_t y = x - (map[0] + cls * map[1]);
  // The groups of `inner` rows that start below x, then the rows of the
  // group x is in that are below it.
  int64_t groups = floorDiv(y, outer), rest = y - groups * outer;
  int64_t partial = innerStride > 0 ? ceilDiv(rest, innerStride) : (rest > 0 ? inner : 0);
  return groups * inner + std::min(inner, partial);
}

bool isAnalytic(const ComponentSpec &component) {
  return enumerateComponentTiles(component, 1, 1, {1, 1, false}).status !=
         ComponentTiles::Status::NotAnalytic;
}

const char *statusName(ComponentTiles::Status status) {
  switch (status) {
  case ComponentTiles::Status::Exact: return "exact";
  case ComponentTiles::Status::Cover: return "cover";
  case ComponentTiles::Status::NotAnalytic: return "not analytic";
  }
  return "?";
}

namespace {

/// visitComponentTileRows into `out` (status, reason, classes).
void visitInto(const ComponentSpec &c, int64_t seqQ, int64_t seqK,
               const ComponentTileOptions &options, const ComponentRowVisitor &visit,
               ComponentTiles &out) {
  auto notAnalytic = [&](std::string why) {
    out.status = ComponentTiles::Status::NotAnalytic;
    out.reason = std::move(why);
  };
  if (options.blockQ < 1 || options.blockK < 1 || seqQ < 0 || seqK < 0)
    return notAnalytic("tile sizes must be at least 1 and sequence lengths non-negative");
  const int64_t off = c.aligned ? seqK - seqQ : 0;
  const bool causal = c.causal;
  const std::optional<int64_t> window = c.window, minDistance = c.minDistance,
                               earlierBlocks = c.earlierBlocks;
  const bool exact = c.exact;
  out.status = exact ? ComponentTiles::Status::Exact : ComponentTiles::Status::Cover;
  if (!exact)
    out.reason = "the component is a subset of its form and bounds: the tiles cover it";
  ComponentTileRow row;
  auto emit = [&](const Space &space, int64_t cls) {
    if (options.byKey)
      visitClass(transposed(space), cls, options.blockK, options.blockQ, exact, options, row,
                 visit);
    else
      visitClass(space, cls, options.blockQ, options.blockK, exact, options, row, visit);
  };
  // The keys row q may attend under the bands and bounds alone: [first,
  // last], empty when first > last; both ends increase with q.
  auto keyBounds = [=](int64_t q) -> std::pair<int64_t, int64_t> {
    int64_t jl = window ? std::max<int64_t>(0, q - *window + 1) : 0;
    int64_t jh = causal ? std::min(seqK - 1, q) : seqK - 1;
    if (minDistance)
      jh = std::min(jh, q - *minDistance);
    if (earlierBlocks)
      jh = std::min(jh, floorDiv(q, *earlierBlocks) * *earlierBlocks - 1);
    return {jl, jh};
  };
  // Earlier blocks bound keys per row, which breaks the bands of the others.
  if (earlierBlocks && c.form != "column_range" && c.form != "same_block")
    return notAnalytic("earlier_blocks on a form without per-row key intervals");

  if (c.form == "contiguous") {
    if (!exact)
      return notAnalytic("contiguous and not exactly its bands: no closed form");
    if (!isContiguousMap(c.queryMap) || !isContiguousMap(c.keyMap))
      return notAnalytic("unexpected tile maps for contiguous");
    // b - a = j - i = j - q + off: causal j <= q, window q - j < w.
    int64_t lo = -kUnbounded, hi = kUnbounded;
    if (causal)
      hi = off;
    if (window)
      lo = off - *window + 1;
    if (minDistance) // q - j >= m
      hi = std::min(hi, off - *minDistance);
    out.classes = 1;
    emit(band(seqQ, seqK, lo, hi), 0);
    return;
  }
  if (!c.modulus || *c.modulus < 1)
    return notAnalytic("form " + c.form + " without a modulus");
  const int64_t l = *c.modulus;

  if (c.form == "residue_diagonal") {
    if (!c.residue)
      return notAnalytic("residue_diagonal without a residue");
    const int64_t r = *c.residue;
    if (!mapIs(c.queryMap, {0, 1, 1, l, 0}) || !mapIs(c.keyMap, {-r, 1, 1, l, 0}) ||
        c.classes != l || r < 0 || r >= l)
      return notAnalytic("unexpected tile maps for residue_diagonal");
    out.classes = l;
    for (int64_t cls = 0; cls < l; ++cls) {
      // Rows: q = q0 + a * l in [off, off + Nq); columns: j = j0 + b * l in [0, Nk).
      int64_t q0 = off + floorMod(cls - off, l), qEnd = off + seqQ;
      int64_t j0 = floorMod(cls - r, l);
      const int64_t na = q0 < qEnd ? (qEnd - 1 - q0) / l + 1 : 0;
      const int64_t nb = j0 < seqK ? (seqK - 1 - j0) / l + 1 : 0;
      // q - j = r + (delta + a - b) * l, 0 <= r < l.
      int64_t delta = floorDiv(q0 - j0 - r, l), lo = -kUnbounded, hi = kUnbounded;
      if (causal) // r + k * l >= 0 <=> k >= 0
        hi = delta;
      if (window) // r + k * l < w <=> k <= ceil((w - r) / l) - 1
        lo = delta - ceilDiv(*window - r, l) + 1;
      if (minDistance) // r + k * l >= m <=> k >= ceil((m - r) / l)
        hi = std::min(hi, delta - ceilDiv(*minDistance - r, l));
      emit(band(na, nb, lo, hi), cls);
    }
    return;
  }

  if (c.form == "column_range") {
    if (!c.lo || !c.hi || !(0 <= *c.lo && *c.lo < *c.hi && *c.hi <= l))
      return notAnalytic("column_range without a range in [0, modulus)");
    const int64_t lo = *c.lo, width = *c.hi - *c.lo;
    if (!isContiguousMap(c.queryMap) || !mapIs(c.keyMap, {lo, 0, width, l, 1}) || c.classes != 1)
      return notAnalytic("unexpected tile maps for column_range");
    // Gathered keys below x (j mod l in [lo, hi)); column b is the b-th. It
    // does not decrease with x, so neither do the rows' ends.
    auto gathered = [=](int64_t x) {
      const int64_t block = floorDiv(x, l);
      return block * width + std::clamp<int64_t>(x - block * l - lo, 0, width);
    };
    Space space;
    space.na = seqQ, space.nb = gathered(seqK);
    space.range = [=](int64_t a) -> std::pair<int64_t, int64_t> {
      auto [jl, jh] = keyBounds(a + off);
      return {gathered(jl), gathered(jh + 1) - 1};
    };
    out.classes = 1;
    emit(space, 0);
    return;
  }

  if (c.form == "same_block") {
    if (!isContiguousMap(c.queryMap) || !isContiguousMap(c.keyMap) || c.classes != 1)
      return notAnalytic("unexpected tile maps for same_block");
    Space space;
    space.na = seqQ, space.nb = seqK;
    space.range = [=](int64_t a) -> std::pair<int64_t, int64_t> {
      int64_t q = a + off, start = floorDiv(q, l) * l;
      auto [jl, jh] = keyBounds(q);
      return {std::max(jl, start), std::min(jh, start + l - 1)};
    };
    out.classes = 1;
    emit(space, 0);
    return;
  }
  return notAnalytic("unknown form " + c.form);
}

/// Columns [k * block, (k + 1) * block) clipped at `length`.
int64_t tileExtent(int64_t k, int64_t block, int64_t length) {
  return std::min(length, (k + 1) * block) - k * block;
}

} // namespace

ComponentTiles visitComponentTileRows(const ComponentSpec &component, int64_t seqQ, int64_t seqK,
                                      const ComponentTileOptions &options,
                                      const ComponentRowVisitor &visit) {
  ComponentTiles out;
  visitInto(component, seqQ, seqK, options, visit, out);
  return out;
}

ComponentTiles enumerateComponentTiles(const ComponentSpec &component, int64_t seqQ,
                                       int64_t seqK, const ComponentTileOptions &options) {
  ComponentTiles out;
  const int64_t blockOther = options.byKey ? options.blockQ : options.blockK;
  auto add = [&](const ComponentTileRow &row) {
    out.full += row.fullCount;
    out.partial += static_cast<int64_t>(row.partial.size());
    out.pairs += row.pairs;
    int64_t columns = row.fullCount ? std::min(row.columns, (row.fullFirst + row.fullCount) *
                                                                blockOther) -
                                          row.fullFirst * blockOther
                                    : 0;
    for (int64_t k : row.partial)
      columns += tileExtent(k, blockOther, row.columns);
    out.area += row.rows * columns;
    if (!options.keepTiles)
      return;
    auto keep = [&](int64_t k, int64_t pairs, bool full) {
      ComponentTile tile;
      tile.cls = row.cls;
      tile.tq = options.byKey ? k : row.tile;
      tile.tk = options.byKey ? row.tile : k;
      const int64_t extent = tileExtent(k, blockOther, row.columns);
      tile.rows = options.byKey ? extent : row.rows;
      tile.cols = options.byKey ? row.rows : extent;
      tile.pairs = pairs, tile.full = full;
      out.tiles.push_back(tile);
    };
    // By row tile, then by the other tile: the PARTIAL ones and the FULL
    // run interleaved in order.
    std::size_t p = 0;
    auto keepPartialBelow = [&](int64_t k) {
      for (; p < row.partial.size() && row.partial[p] < k; ++p)
        keep(row.partial[p], row.partialPairs[p], false);
    };
    for (int64_t k = row.fullFirst; k < row.fullFirst + row.fullCount; ++k) {
      keepPartialBelow(k);
      keep(k, tileExtent(k, blockOther, row.columns) * row.rows, true);
    }
    keepPartialBelow(kUnbounded);
  };
  visitInto(component, seqQ, seqK, options, add, out);
  return out;
}

} // namespace attn
