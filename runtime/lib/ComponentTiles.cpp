#include "attn/ComponentTiles.h"

#include <algorithm>
#include <climits>
#include <functional>

namespace attn {

namespace {

/// An unbounded side of a band (far from overflow for any sequence length).
constexpr int64_t kUnbounded = INT64_MAX / 4;

int64_t floorMod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return r < 0 ? r + b : r;
}
int64_t floorDiv(int64_t a, int64_t b) { return (a - floorMod(a, b)) / b; }
int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }

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

/// Pairs (a, b) of rows [a0, a1] by columns [b0, b1] with lo <= b - a <= hi.
int64_t bandCount(int64_t a0, int64_t a1, int64_t b0, int64_t b1, int64_t lo, int64_t hi) {
  int64_t width = b1 - b0 + 1;
  // #{b - a <= x}: for each row, clamp(a + x - b0 + 1, 0, width).
  auto below = [&](int64_t x) {
    x = std::clamp(x, b0 - a1 - 1, b1 - a0);
    return sumClamp(a0 + x - b0 + 1, a1 + x - b0 + 1, width);
  };
  return lo > hi ? 0 : below(hi) - below(lo - 1);
}

/// One class in its own coordinates: rows a in [0, na), columns b in [0, nb).
/// Either a band lo <= b - a <= hi, or per row an interval of columns whose
/// ends do not decrease with the row.
struct Space {
  int64_t na = 0, nb = 0;
  bool band = false;
  int64_t lo = -kUnbounded, hi = kUnbounded;
  std::function<std::pair<int64_t, int64_t>(int64_t)> range; // inclusive; empty if first > second
};

/// Adds the pairs of `rows` (one interval of columns each, clipped to the
/// class) to counts[k - k0] of key tile k, in O(rows + key tiles) rather than
/// rows x key tiles: a row adds the ends of its interval to the tiles they
/// fall in and a whole tile's width to each tile strictly between them.
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

void enumerate(const Space &space, int64_t cls, const ComponentTileOptions &options, bool exact,
               ComponentTiles &out) {
  const int64_t bq = options.blockQ, bk = options.blockK;
  std::vector<std::pair<int64_t, int64_t>> rows;
  std::vector<int64_t> counts;
  for (int64_t tq = 0; tq * bq < space.na; ++tq) {
    int64_t a0 = tq * bq, a1 = std::min(space.na, a0 + bq) - 1;
    int64_t bmin, bmax;
    if (space.band) {
      if (space.lo > space.hi)
        return;
      bmin = std::max<int64_t>(0, a0 + space.lo);
      bmax = std::min(space.nb - 1, a1 + space.hi);
    } else {
      rows.clear();
      bmin = space.nb, bmax = -1;
      for (int64_t a = a0; a <= a1; ++a) {
        auto r = space.range(a);
        r.first = std::max<int64_t>(r.first, 0), r.second = std::min(r.second, space.nb - 1);
        rows.push_back(r);
        if (r.first <= r.second)
          bmin = std::min(bmin, r.first), bmax = std::max(bmax, r.second);
      }
    }
    if (bmin > bmax)
      continue;
    const int64_t k0 = bmin / bk;
    if (!space.band) {
      counts.assign(bmax / bk - k0 + 1, 0);
      countRowIntervals(k0, bk, rows, counts);
    }
    for (int64_t tk = k0; tk <= bmax / bk; ++tk) {
      int64_t b0 = tk * bk, b1 = std::min(space.nb, b0 + bk) - 1;
      int64_t count = space.band ? bandCount(a0, a1, b0, b1, space.lo, space.hi) : counts[tk - k0];
      if (count == 0)
        continue;
      ComponentTile tile;
      tile.cls = cls, tile.tq = tq, tile.tk = tk;
      tile.rows = a1 - a0 + 1, tile.cols = b1 - b0 + 1;
      tile.pairs = count;
      tile.full = exact && count == tile.rows * tile.cols;
      (tile.full ? out.full : out.partial) += 1;
      out.pairs += count;
      out.area += tile.rows * tile.cols;
      if (options.keepTiles)
        out.tiles.push_back(tile);
    }
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

/// enumerateComponentTiles into `out`.
void enumerateInto(const ComponentSpec &c, int64_t seqQ, int64_t seqK,
                   const ComponentTileOptions &options, ComponentTiles &out) {
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
  bool exact = c.exact;
  out.status = exact ? ComponentTiles::Status::Exact : ComponentTiles::Status::Cover;
  if (!exact)
    out.reason = "the component is a subset of its form and bounds: the tiles cover it";
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
    Space space;
    space.na = seqQ, space.nb = seqK, space.band = true;
    if (causal)
      space.hi = off;
    if (window)
      space.lo = off - *window + 1;
    if (minDistance) // q - j >= m
      space.hi = std::min(space.hi, off - *minDistance);
    out.classes = 1;
    enumerate(space, 0, options, exact, out);
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
      Space space;
      space.na = q0 < qEnd ? (qEnd - 1 - q0) / l + 1 : 0;
      space.nb = j0 < seqK ? (seqK - 1 - j0) / l + 1 : 0;
      space.band = true;
      // q - j = r + (delta + a - b) * l, 0 <= r < l.
      int64_t delta = floorDiv(q0 - j0 - r, l);
      if (causal) // r + k * l >= 0 <=> k >= 0
        space.hi = delta;
      if (window) // r + k * l < w <=> k <= ceil((w - r) / l) - 1
        space.lo = delta - ceilDiv(*window - r, l) + 1;
      if (minDistance) // r + k * l >= m <=> k >= ceil((m - r) / l)
        space.hi = std::min(space.hi, delta - ceilDiv(*minDistance - r, l));
      enumerate(space, cls, options, exact, out);
    }
    return;
  }

  if (c.form == "column_range") {
    if (!c.lo || !c.hi || !(0 <= *c.lo && *c.lo < *c.hi && *c.hi <= l))
      return notAnalytic("column_range without a range in [0, modulus)");
    const int64_t lo = *c.lo, width = *c.hi - *c.lo;
    if (!isContiguousMap(c.queryMap) || !mapIs(c.keyMap, {lo, 0, width, l, 1}) || c.classes != 1)
      return notAnalytic("unexpected tile maps for column_range");
    // Gathered keys below x >= 0 (j mod l in [lo, hi)); column b is the b-th.
    auto gathered = [=](int64_t x) {
      return floorDiv(x, l) * width + std::clamp<int64_t>(floorMod(x, l) - lo, 0, width);
    };
    Space space;
    space.na = seqQ, space.nb = gathered(seqK);
    space.range = [=](int64_t a) -> std::pair<int64_t, int64_t> {
      auto [jl, jh] = keyBounds(a + off);
      if (jl > jh)
        return {1, 0};
      return {gathered(jl), gathered(jh + 1) - 1};
    };
    out.classes = 1;
    enumerate(space, 0, options, exact, out);
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
    enumerate(space, 0, options, exact, out);
    return;
  }
  return notAnalytic("unknown form " + c.form);
}

} // namespace

ComponentTiles enumerateComponentTiles(const ComponentSpec &c, int64_t seqQ, int64_t seqK,
                                       const ComponentTileOptions &options) {
  ComponentTiles out;
  if (options.keepTiles) {
    // Counting first is cheaper than growing the list: its reallocations and
    // page faults took most of the time of fixed's lists.
    ComponentTileOptions counting = options;
    counting.keepTiles = false;
    ComponentTiles counts;
    enumerateInto(c, seqQ, seqK, counting, counts);
    out.tiles.reserve(static_cast<std::size_t>(counts.full + counts.partial));
  }
  enumerateInto(c, seqQ, seqK, options, out);
  return out;
}

} // namespace attn
