// enumerateComponentTiles against brute force: every pair of every class of
// a component, mapped through its tile maps, is placed in its tile; an exact
// enumeration must list exactly the tiles that hold a pair, FULL exactly when
// every in-range element of the tile is a pair, with the right pair counts
// summing to the component's pair count. A cover must list every tile that
// holds a pair and claim no FULL tile. Bundled strided, strided_merged and
// fixed patterns (every component exact, the later ones through the bounds of
// their negated earlier terms) and random patterns, random shapes (Nq != Nk, lengths not
// multiples of l or of the tiles), random tile sizes; by key, the same tiles;
// counted without keeping the tiles, the same totals.
// Then strided at N = 1,048,576 (stride 1024), counted in closed form.
#include "attnc/Dialect/Attn/Evaluator.h"
#include "attnc/Dialect/Attn/Passes.h"
#include "attnc/frontend/Frontend.h"
#include "attnc/layout/ComponentTiles.h"
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/pipeline/Pipeline.h"

#include "RandomPatterns.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>

namespace {

using namespace attnc;
using attnc::attn::ComponentOp;
using layout::ComponentTiles;

int64_t floorMod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return r < 0 ? r + b : r;
}

/// Whether `pos` is in the image of `map` for class c (some integer t).
bool inImage(const std::vector<int64_t> &map, int64_t c, int64_t pos) {
  int64_t d = pos - (map[0] + c * map[1]);
  for (int64_t b = 0; b < map[2]; ++b)
    if (floorMod(d - b * map[4], map[3]) == 0)
      return true;
  return false;
}

struct Compiled {
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  attnc::attn::PatternOp pattern;
};

/// Parses, lowers for the layout and splits into components; the first pattern.
std::unique_ptr<Compiled> compile(const std::string &source) {
  auto out = std::make_unique<Compiled>();
  std::string errors;
  llvm::raw_string_ostream os(errors);
  CheckedFile file = checkSource("tiles.pattern", source, os);
  EXPECT_TRUE(file.ok) << source << errors;
  if (!file.ok)
    return nullptr;
  out->module = mlirGen(out->context, file.ast, *file.source);
  EXPECT_TRUE(mlir::succeeded(mlir::verify(*out->module))) << source;
  mlir::PassManager pm(&out->context);
  buildLayoutPipeline(pm, {});
  pm.nest<attnc::attn::PatternOp>().addPass(attnc::attn::createAttnComponents());
  EXPECT_TRUE(mlir::succeeded(pm.run(*out->module))) << source;
  out->pattern = *out->module->getBody()->getOps<attnc::attn::PatternOp>().begin();
  return out;
}

struct Stats {
  int64_t components = 0, exact = 0, cover = 0, notAnalytic = 0, tiles = 0, full = 0, pairs = 0;
  // Exact components bounded by negated earlier terms (min_distance, earlier_blocks).
  int64_t exactBounded = 0;
};

struct TileCount {
  int64_t pairs = 0, rows = 0, cols = 0;
};

/// The totals of `tiles` counted without keeping the tiles (bands in
/// closed form) are those of the tiles kept.
void checkCounts(const layout::ComponentInfo &info, const attnc::attn::Sizes &sizes,
                 int64_t blockQ, int64_t blockK, bool byKey, const ComponentTiles &tiles,
                 const std::string &where) {
  ComponentTiles counted = layout::enumerateComponentTiles(info, sizes.seqQ, sizes.seqK,
                                                           {blockQ, blockK, false, byKey});
  const std::string what = where + (byKey ? " by key" : " by query") + ", counted only";
  EXPECT_EQ(counted.full, tiles.full) << what;
  EXPECT_EQ(counted.partial, tiles.partial) << what;
  EXPECT_EQ(counted.pairs, tiles.pairs) << what;
  EXPECT_EQ(counted.area, tiles.area) << what;
}

/// By key, the same tiles with the same kinds and counts, listed by class,
/// key tile and query tile.
void checkByKey(const layout::ComponentInfo &info, const attnc::attn::Sizes &sizes,
                int64_t blockQ, int64_t blockK, const ComponentTiles &byQuery,
                const std::string &where) {
  ComponentTiles byKey = layout::enumerateComponentTiles(info, sizes.seqQ, sizes.seqK,
                                                         {blockQ, blockK, true, /*byKey=*/true});
  checkCounts(info, sizes, blockQ, blockK, false, byQuery, where);
  checkCounts(info, sizes, blockQ, blockK, true, byKey, where);
  EXPECT_EQ(byKey.status, byQuery.status) << where << " by key";
  EXPECT_EQ(byKey.full, byQuery.full) << where << " by key";
  EXPECT_EQ(byKey.partial, byQuery.partial) << where << " by key";
  EXPECT_EQ(byKey.pairs, byQuery.pairs) << where << " by key";
  EXPECT_EQ(byKey.area, byQuery.area) << where << " by key";
  auto key = [](const layout::ComponentTile &t) {
    return std::make_tuple(t.cls, t.tk, t.tq, t.rows, t.cols, t.pairs, t.full);
  };
  std::vector<decltype(key(byQuery.tiles[0]))> want, got;
  for (const layout::ComponentTile &t : byQuery.tiles)
    want.push_back(key(t));
  std::sort(want.begin(), want.end());
  for (const layout::ComponentTile &t : byKey.tiles)
    got.push_back(key(t));
  EXPECT_EQ(got, want) << where << ": by key, other tiles or another order";
}

/// Checks every component of `pattern` at `sizes` with blockQ x blockK
/// tiles, by query and by key.
void checkPattern(attnc::attn::PatternOp pattern, const attnc::attn::Sizes &sizes, int64_t blockQ,
                  int64_t blockK, const std::string &source, Stats &stats) {
  attnc::attn::PatternEvaluator eval(pattern, sizes, {});
  auto infos = layout::describeComponents(pattern, sizes.numHeads);
  size_t k = 0;
  for (ComponentOp op : pattern.getBodyBlock().getOps<ComponentOp>()) {
    const layout::ComponentInfo &info = infos[k++];
    if (info.heads.empty())
      continue;
    ++stats.components;
    std::string where = fmt::format("{}Nq={} Nk={} tiles {}x{} component {}{} ({}{})", source,
                                    sizes.seqQ, sizes.seqK, blockQ, blockK, info.set, info.index,
                                    info.form, info.exact ? ", exact" : "");
    ComponentTiles got =
        layout::enumerateComponentTiles(info, sizes.seqQ, sizes.seqK, {blockQ, blockK, true});
    if (got.status == ComponentTiles::Status::NotAnalytic) {
      ++stats.notAnalytic;
      // Only a contiguous component that is not exactly its bands lacks a closed form.
      EXPECT_TRUE(info.form == "contiguous" && !info.exact) << where << got.reason;
      continue;
    }
    bool exact = got.status == ComponentTiles::Status::Exact;
    EXPECT_EQ(exact, info.exact) << where;
    (exact ? stats.exact : stats.cover) += 1;
    stats.exactBounded += exact && (info.minDistance || info.earlierBlocks);

    // The component's pairs for one head of its class.
    int64_t h = info.heads.front(), total = 0;
    std::vector<char> in(sizes.seqQ * sizes.seqK);
    for (int64_t i = 0; i < sizes.seqQ; ++i)
      for (int64_t j = 0; j < sizes.seqK; ++j) {
        attnc::attn::Scalar args[4];
        args[0].i = 0, args[1].i = h, args[2].i = i, args[3].i = j;
        auto value = eval.run(op.getBody(), args);
        ASSERT_TRUE(mlir::succeeded(value));
        in[i * sizes.seqK + j] = (*value)[0].b;
        total += (*value)[0].b;
      }

    // Brute force: each class's rows and columns through the maps, each pair into its tile.
    int64_t off = info.aligned ? sizes.seqK - sizes.seqQ : 0, placed = 0;
    std::map<std::tuple<int64_t, int64_t, int64_t>, TileCount> want;
    for (int64_t c = 0; c < got.classes; ++c) {
      std::vector<int64_t> rows, cols;
      for (int64_t i = 0; i < sizes.seqQ; ++i)
        if (inImage(info.queryMap, c, i + off))
          rows.push_back(i);
      for (int64_t j = 0; j < sizes.seqK; ++j)
        if (inImage(info.keyMap, c, j))
          cols.push_back(j);
      int64_t nr = rows.size(), nc = cols.size();
      for (int64_t a = 0; a < nr; ++a)
        for (int64_t b = 0; b < nc; ++b)
          if (in[rows[a] * sizes.seqK + cols[b]]) {
            TileCount &t = want[{c, a / blockQ, b / blockK}];
            ++t.pairs, ++placed;
            t.rows = std::min(blockQ, nr - a / blockQ * blockQ);
            t.cols = std::min(blockK, nc - b / blockK * blockK);
          }
    }
    // The classes' images partition the component's pairs.
    EXPECT_EQ(placed, total) << where;

    std::map<std::tuple<int64_t, int64_t, int64_t>, layout::ComponentTile> listed;
    int64_t full = 0, sum = 0, area = 0;
    for (const layout::ComponentTile &t : got.tiles) {
      EXPECT_TRUE(listed.emplace(std::make_tuple(t.cls, t.tq, t.tk), t).second)
          << where << fmt::format(" tile ({}, {}, {}) listed twice", t.cls, t.tq, t.tk);
      EXPECT_GT(t.pairs, 0) << where;
      full += t.full;
      sum += t.pairs, area += t.rows * t.cols;
    }
    EXPECT_EQ(full, got.full) << where;
    EXPECT_EQ(int64_t(got.tiles.size()) - full, got.partial) << where;
    EXPECT_EQ(sum, got.pairs) << where;
    EXPECT_EQ(area, got.area) << where;
    for (const auto &[key, count] : want) {
      auto it = listed.find(key);
      auto [c, tq, tk] = key;
      std::string tile = fmt::format(" tile ({}, {}, {})", c, tq, tk);
      if (it == listed.end()) {
        ADD_FAILURE() << where << tile << " holds " << count.pairs << " pairs but is not listed";
        continue;
      }
      EXPECT_EQ(it->second.rows, count.rows) << where << tile;
      EXPECT_EQ(it->second.cols, count.cols) << where << tile;
      if (exact) {
        EXPECT_EQ(it->second.pairs, count.pairs) << where << tile;
        EXPECT_EQ(it->second.full, count.pairs == count.rows * count.cols)
            << where << tile;
      } else {
        EXPECT_GE(it->second.pairs, count.pairs) << where << tile;
        EXPECT_FALSE(it->second.full) << where << tile;
      }
    }
    if (exact) {
      EXPECT_EQ(listed.size(), want.size()) << where << ": tiles listed without pairs";
      EXPECT_EQ(got.pairs, total) << where;
    }
    checkByKey(info, sizes, blockQ, blockK, got, where);
    stats.tiles += got.tiles.size(), stats.full += got.full, stats.pairs += total;
    if (::testing::Test::HasFailure())
      return;
  }
}

std::string readPattern(const std::string &name) {
  std::ifstream file(std::string(ATTNC_SOURCE_DIR) + "/patterns/" + name + ".pattern");
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

/// The bundled pattern with its defaults replaced.
std::string bundled(const std::string &name, int64_t stride, int64_t c = 0) {
  std::string text = readPattern(name);
  text = std::regex_replace(text, std::regex("stride: int = [0-9]+"),
                            fmt::format("stride: int = {}", stride));
  text = std::regex_replace(text, std::regex("c: int = [0-9]+"), fmt::format("c: int = {}", c));
  return text;
}

TEST(ComponentTiles, BundledStridedStridedMergedFixedAgainstBruteForce) {
  std::mt19937 rng(7);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  Stats stats;
  for (int trial = 0; trial < 150 && !::testing::Test::HasFailure(); ++trial) {
    // (stride 1 and c = stride fold to true: no form to tile.)
    int64_t stride = pick(2, 12);
    std::string source;
    switch (trial % 3) {
    case 0: source = bundled("strided", stride); break;
    case 1: source = bundled("strided_merged", stride); break;
    default: source = bundled("fixed", stride, pick(1, stride - 1)); break;
    }
    auto compiled = compile(source);
    ASSERT_TRUE(compiled);
    attnc::attn::Sizes sizes;
    sizes.numHeads = 2;
    sizes.seqQ = pick(1, 70);
    sizes.seqK = trial % 4 == 0 ? sizes.seqQ : pick(1, 70);
    bool kernel = trial % 5 == 0; // the forward kernel's tiles on a larger shape
    if (kernel)
      sizes.seqQ = pick(100, 400), sizes.seqK = pick(100, 400);
    checkPattern(compiled->pattern, sizes, kernel ? 128 : pick(1, 9), kernel ? 64 : pick(1, 9),
                 source.substr(source.find("pattern ")), stats);
  }
  // Every component exact: strided_merged's and fixed's second ones (100 of
  // them) through the bounds of the negated window and same_block.
  EXPECT_EQ(stats.exact, stats.components);
  EXPECT_EQ(stats.exactBounded, 100);
  EXPECT_EQ(stats.cover, 0);
  EXPECT_EQ(stats.notAnalytic, 0);
  EXPECT_GT(stats.full, 1000);
  std::printf("components %lld (exact %lld, %lld bounded by earlier terms), tiles %lld (FULL "
              "%lld), pairs %lld\n",
              (long long)stats.components, (long long)stats.exact, (long long)stats.exactBounded,
              (long long)stats.tiles, (long long)stats.full, (long long)stats.pairs);
}

TEST(ComponentTiles, RandomPatternsAgainstBruteForce) {
  std::mt19937 rng(20261202);
  attnc::testing::RandomPatterns gen{rng};
  Stats stats;
  for (int trial = 0; trial < 1000 && !::testing::Test::HasFailure(); ++trial) {
    std::string source = gen.pattern();
    auto compiled = compile(source);
    ASSERT_TRUE(compiled);
    attnc::attn::Sizes sizes;
    sizes.numHeads = 2;
    sizes.seqQ = gen.pick(1, 50);
    sizes.seqK = gen.pick(1, 50);
    checkPattern(compiled->pattern, sizes, gen.pick(1, 9), gen.pick(1, 9), source, stats);
  }
  EXPECT_GT(stats.exact, 300);
  EXPECT_GT(stats.exactBounded, 50);
  EXPECT_GT(stats.cover, 100);
  EXPECT_GT(stats.notAnalytic, 10);
  EXPECT_GT(stats.full, 1000);
  std::printf("components %lld (exact %lld, %lld bounded by earlier terms, cover %lld, not "
              "analytic %lld), tiles %lld (FULL %lld), pairs %lld\n",
              (long long)stats.components, (long long)stats.exact, (long long)stats.exactBounded,
              (long long)stats.cover, (long long)stats.notAnalytic, (long long)stats.tiles,
              (long long)stats.full, (long long)stats.pairs);
}

/// strided, stride 1024, at N = 2^20 with the forward kernel's 128 x 64 tiles:
/// 1024 classes of 1024 rows and columns, each a dense causal problem.
TEST(ComponentTiles, StridedAtOneMillionCountsInClosedForm) {
  auto compiled = compile(bundled("strided", 1024));
  ASSERT_TRUE(compiled);
  const int64_t n = int64_t(1) << 20, l = 1024, bq = 128, bk = 64;
  auto infos = layout::describeComponents(compiled->pattern, 2);
  ASSERT_EQ(infos.size(), 2u);
  const layout::ComponentInfo &strided = infos[1];
  ASSERT_EQ(strided.form, "residue_diagonal");
  ASSERT_TRUE(strided.exact);

  auto start = std::chrono::steady_clock::now();
  ComponentTiles got = layout::enumerateComponentTiles(strided, n, n, {bq, bk, false});
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count();
  std::printf("strided N = %lld: %lld tiles (FULL %lld, PARTIAL %lld), density %.4f, in %.2f ms\n",
              (long long)n, (long long)(got.full + got.partial), (long long)got.full,
              (long long)got.partial, got.density(), ms);

  // Per class, m = n / l rows and columns, j <= q: query tile tq meets key tiles
  // 0 .. (tq * bq + bq - 1) / bk; those ending at or before row tq * bq are FULL.
  int64_t m = n / l, full = 0, partial = 0;
  for (int64_t tq = 0; tq * bq < m; ++tq) {
    int64_t last = (tq * bq + bq - 1) / bk, fullTiles = (tq * bq + 1) / bk;
    full += fullTiles, partial += last + 1 - fullTiles;
  }
  EXPECT_EQ(got.status, ComponentTiles::Status::Exact);
  EXPECT_EQ(got.classes, l);
  EXPECT_EQ(got.full, l * full);       // 1024 * 56
  EXPECT_EQ(got.partial, l * partial); // 1024 * 16
  EXPECT_EQ(got.pairs, l * m * (m + 1) / 2);
  EXPECT_TRUE(got.tiles.empty());

  // local: a window of 1024 keys, contiguous.
  start = std::chrono::steady_clock::now();
  ComponentTiles local = layout::enumerateComponentTiles(infos[0], n, n, {bq, bk, false});
  ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("local N = %lld: %lld tiles (FULL %lld), density %.4f, in %.2f ms\n", (long long)n,
              (long long)(local.full + local.partial), (long long)local.full, local.density(), ms);
  EXPECT_EQ(local.status, ComponentTiles::Status::Exact);
  // Each row attends min(q + 1, 1024) keys.
  EXPECT_EQ(local.pairs, l * (l + 1) / 2 + (n - l) * l);
}

} // namespace
