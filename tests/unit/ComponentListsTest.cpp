// The runtime's component tile lists (attn::buildComponentTileLists, what the
// component kernels read), by query and by key, against brute force: every
// row and column a list names, mapped to (i, j) the way the kernel maps
// them, is in range; every pair of the component (its own predicate,
// evaluated on the IR) lies in exactly one listed tile of its class, no
// position in two; a FULL tile holds only pairs of the component, and for an
// exact component every listed tile holds a pair and is FULL exactly when all
// of it is pairs (strided_merged and fixed, whose later components are exact
// through the bounds of their negated earlier terms, also at random
// strides); with every row asked for, the same tiles and each query in
// exactly one row. The components come from the bundle, written and read
// back. Bundled strided, strided_merged, fixed (c = 16, 32) and the
// three-component test pattern at lengths that are not multiples of the
// stride or the tiles, Nq != Nk, the kernel's 128 x 64 tiles and small ones;
// random patterns; fixed at N = 1M in closed form; which sets the runtime
// runs through their components, and ATTNC_COMPONENTS=0.
#include "attnc/Dialect/Attn/Evaluator.h"
#include "attnc/frontend/Frontend.h"
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/pipeline/Pipeline.h"

#include "RandomPatterns.h"

#include "attn/attn.h"

#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace {

using attnc::attn::ComponentOp;

std::string readSource(const std::string &relative) {
  std::ifstream file(std::string(ATTNC_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

/// Position of tile row t of `map` from a class's base, written out here as
/// the kernel computes it (attnc_components.cuh), which needs t >= 0.
int64_t position(const attn::TileMap &map, int64_t base, int64_t t) {
  EXPECT_GE(t, 0);
  return base + (t / map[2]) * map[3] + (t % map[2]) * map[4];
}

/// The pattern through the layout pipeline (with `defines`) for its
/// components' predicates, and its bundle (written and read back) for what
/// the runtime knows of them.
struct Compiled {
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  attnc::attn::PatternOp pattern;
  attn::Bundle bundle;
};

std::unique_ptr<Compiled> compile(const std::string &source,
                                  const std::vector<std::pair<std::string, std::string>> &params) {
  auto out = std::make_unique<Compiled>();
  std::string errors;
  llvm::raw_string_ostream os(errors);
  attnc::CheckedFile file = attnc::checkSource("lists.pattern", source, os);
  EXPECT_TRUE(file.ok) << source << errors;
  if (!file.ok)
    return nullptr;
  std::vector<std::string> defines;
  attn::CompileOptions options;
  for (const auto &[name, value] : params) {
    defines.push_back(name + "=" + value);
    options.params[name] = value;
  }
  out->module = attnc::mlirGen(out->context, file.ast, *file.source);
  EXPECT_TRUE(mlir::succeeded(attnc::runLayoutPipeline(*out->module, defines))) << source;
  out->pattern = *out->module->getBody()->getOps<attnc::attn::PatternOp>().begin();
  std::stringstream text;
  attn::writeBundle(attn::compileString(source, options, "lists.pattern"), text);
  out->bundle = attn::readBundle(text, "lists.bundle");
  return out;
}

struct Stats {
  int64_t components = 0, rows = 0, tiles = 0, full = 0, pairs = 0;
  int64_t exactTiles = 0; // tiles of exact components, whose kinds were checked
};

/// Tile `index` of row r of `lists` as attnc_mma::TileList reads it: the
/// listed ones, then the row's FULL run.
int64_t tileAt(const attn::ComponentTileLists &lists, int64_t r, int64_t index) {
  const int64_t listed = lists.start[r + 1] - lists.start[r];
  return index < listed ? lists.tiles[lists.start[r] + index]
                        : lists.fullRange[2 * r] + (index - listed);
}

/// The lists with every row (what the only, first and last component of a
/// set run over): the same tiles, and each query in exactly one row's tile.
void checkEveryRow(const attn::BundleComponent &spec, const attn::ComponentTileLists &lists,
                   int64_t seqQ, int64_t seqK, const std::string &where) {
  attn::ComponentTileLists every = attn::buildComponentTileLists(
      spec, seqQ, seqK, lists.blockQ, lists.blockK, attn::LayoutOrder::ByQuery, true);
  const int64_t offset = spec.aligned ? seqK - seqQ : 0;
  std::vector<int> reached(seqQ);
  int64_t matched = 0, outOfRange = 0;
  for (int64_t r = 0, s = 0; r < every.rows(); ++r) {
    const int64_t c = every.rowOf[2 * r], tq = every.rowOf[2 * r + 1];
    const int64_t *cls = &every.classes[6 * c];
    for (int64_t a = tq * lists.blockQ; a < std::min(cls[2], (tq + 1) * lists.blockQ); ++a) {
      const int64_t i = position(spec.queryMap, cls[0], cls[1] + a) - offset;
      if (i < 0 || i >= seqQ)
        ++outOfRange;
      else
        ++reached[i];
    }
    if (every.rowTiles(r) == 0)
      continue;
    // The rows with tiles are the lists' own, in order.
    const bool same = s < lists.rows() && lists.rowOf[2 * s] == c &&
                      lists.rowOf[2 * s + 1] == tq && lists.rowTiles(s) == every.rowTiles(r) &&
                      lists.partialCount[s] == every.partialCount[r] &&
                      lists.fullRange[2 * s] == every.fullRange[2 * r];
    EXPECT_TRUE(same) << where << ": every row's lists, row " << r << " is not row " << s;
    matched += same;
    ++s;
  }
  EXPECT_EQ(matched, lists.rows()) << where << ": rows with tiles lost in every row's lists";
  EXPECT_EQ(outOfRange, 0) << where << ": every row's lists reach past the queries";
  const int64_t once = std::count(reached.begin(), reached.end(), 1);
  EXPECT_EQ(once, seqQ) << where << ": every row's lists do not reach each query once";
}

/// One component's lists with blockQ x blockK tiles in `order` against
/// `in`, its pairs.
void checkTiles(const attn::BundleComponent &spec, const std::vector<char> &in, int64_t seqQ,
                int64_t seqK, int64_t blockQ, int64_t blockK, attn::LayoutOrder order,
                std::string where, Stats &stats) {
  const bool byKey = order == attn::LayoutOrder::ByKey;
  where += fmt::format(" tiles {}x{} by {}", blockQ, blockK, byKey ? "key" : "query");
  attn::ComponentTileLists lists =
      attn::buildComponentTileLists(spec, seqQ, seqK, blockQ, blockK, order);
  ASSERT_EQ(lists.classes.size(), static_cast<std::size_t>(6 * spec.classes)) << where;
  ASSERT_EQ(lists.start.size(), static_cast<std::size_t>(lists.rows() + 1)) << where;
  ASSERT_EQ(lists.rowOf.size(), static_cast<std::size_t>(2 * lists.rows())) << where;
  ASSERT_EQ(lists.fullRange.size(), static_cast<std::size_t>(2 * lists.rows())) << where;
  const int64_t offset = spec.aligned ? seqK - seqQ : 0;
  std::vector<int> covered(seqQ * seqK);
  int64_t outOfRange = 0, fullButNotAttended = 0, emptyButListed = 0, misclassified = 0;
  for (int64_t r = 0; r < lists.rows(); ++r) {
    const int64_t c = lists.rowOf[2 * r], rowTile = lists.rowOf[2 * r + 1];
    const int64_t *cls = &lists.classes[6 * c]; // attnc_component_class
    const int64_t count = lists.rowTiles(r);
    EXPECT_GT(count, 0) << where << ": row " << r << " lists no tile";
    EXPECT_LE(lists.partialCount[r], lists.start[r + 1] - lists.start[r]) << where;
    EXPECT_GE(lists.fullRange[2 * r + 1], 0) << where;
    for (int64_t index = 0; index < count; ++index) {
      const int64_t other = tileAt(lists, r, index);
      const int64_t tq = byKey ? other : rowTile, tk = byKey ? rowTile : other;
      const bool full = index >= lists.partialCount[r];
      ++stats.tiles, stats.full += full;
      int64_t elements = 0, attended = 0;
      for (int64_t a = tq * blockQ; a < std::min(cls[2], (tq + 1) * blockQ); ++a) {
        const int64_t i = position(spec.queryMap, cls[0], cls[1] + a) - offset;
        for (int64_t b = tk * blockK; b < std::min(cls[5], (tk + 1) * blockK); ++b) {
          const int64_t j = position(spec.keyMap, cls[3], cls[4] + b);
          if (i < 0 || i >= seqQ || j < 0 || j >= seqK) {
            ++outOfRange;
            continue;
          }
          ++covered[i * seqK + j];
          fullButNotAttended += full && !in[i * seqK + j];
          ++elements, attended += in[i * seqK + j];
        }
      }
      if (spec.exact) {
        ++stats.exactTiles;
        emptyButListed += attended == 0;
        misclassified += full != (attended == elements);
      }
    }
  }
  EXPECT_EQ(outOfRange, 0) << where << ": positions outside [0, Nq) x [0, Nk)";
  EXPECT_EQ(fullButNotAttended, 0) << where << ": pairs of FULL tiles outside the component";
  EXPECT_EQ(emptyButListed, 0) << where << ": tiles of an exact component without pairs";
  EXPECT_EQ(misclassified, 0) << where << ": tiles of an exact component FULL but not all "
                                          "pairs, or all pairs but PARTIAL";
  int64_t missed = 0, twice = 0, pairs = 0;
  for (int64_t p = 0; p < seqQ * seqK; ++p) {
    twice += covered[p] > 1;
    missed += in[p] && covered[p] == 0;
    pairs += in[p];
  }
  EXPECT_EQ(twice, 0) << where << ": positions in more than one tile";
  EXPECT_EQ(missed, 0) << where << ": pairs of the component in no listed tile";
  stats.rows += lists.rows(), stats.pairs += pairs;
  if (!byKey)
    checkEveryRow(spec, lists, seqQ, seqK, where);
}

using Blocks = std::vector<std::pair<int64_t, int64_t>>;

/// Checks the lists, for each of `blocks` (query rows, key columns per
/// tile), of every component of `compiled` whose class has a head among H =
/// 2 and that has a closed form.
void checkLists(const Compiled &compiled, int64_t seqQ, int64_t seqK, const Blocks &blocks,
                const std::string &source, Stats &stats) {
  attnc::attn::Sizes sizes{2, seqQ, seqK, 64};
  attnc::attn::PatternOp pattern = compiled.pattern;
  attnc::attn::PatternEvaluator eval(pattern, sizes, {});
  auto range = pattern.getBodyBlock().getOps<ComponentOp>();
  std::vector<ComponentOp> ops(range.begin(), range.end());
  ASSERT_EQ(ops.size(), compiled.bundle.components.size()) << source;
  for (std::size_t k = 0; k < ops.size(); ++k) {
    const attn::BundleComponent &spec = compiled.bundle.components[k];
    int64_t head = -1;
    for (int64_t h = 1; h >= 0; --h)
      if (attn::headSet(compiled.bundle, h) == spec.set)
        head = h;
    if (head < 0 || !attn::isAnalytic(spec))
      continue;
    ++stats.components;
    std::string where = fmt::format("{}Nq={} Nk={} component {} ({} of set '{}')", source, seqQ,
                                    seqK, k, spec.form, spec.set);
    std::vector<char> in(seqQ * seqK);
    for (int64_t i = 0; i < seqQ; ++i)
      for (int64_t j = 0; j < seqK; ++j) {
        attnc::attn::Scalar args[4];
        args[0].i = 0, args[1].i = head, args[2].i = i, args[3].i = j;
        auto value = eval.run(ops[k].getBody(), args);
        ASSERT_TRUE(mlir::succeeded(value)) << where;
        in[i * seqK + j] = (*value)[0].b;
      }

    for (const auto &[blockQ, blockK] : blocks)
      for (attn::LayoutOrder order : {attn::LayoutOrder::ByQuery, attn::LayoutOrder::ByKey})
        checkTiles(spec, in, seqQ, seqK, blockQ, blockK, order, where, stats);
    if (::testing::Test::HasFailure())
      return;
  }
}

struct Bundled {
  const char *file;
  std::vector<std::pair<std::string, std::string>> params;
};

const Bundled kBundled[] = {
    {"patterns/strided.pattern", {{"stride", "16"}}},
    {"patterns/strided.pattern", {{"stride", "128"}}},
    {"patterns/strided_merged.pattern", {{"stride", "24"}}},
    {"patterns/fixed.pattern", {{"stride", "64"}, {"c", "16"}}},
    {"patterns/fixed.pattern", {{"stride", "128"}, {"c", "32"}}},
    {"patterns/fixed_heads.pattern", {{"stride", "32"}}},
    {"patterns/dilated_sliding_window.pattern", {}},
    {"tests/patterns/three_components.pattern", {{"stride", "32"}, {"c", "4"}}},
    {"tests/patterns/three_components.pattern", {}},
};

TEST(ComponentLists, BundledPatternsAgainstBruteForce) {
  Stats stats;
  for (const Bundled &pattern : kBundled) {
    auto compiled = compile(readSource(pattern.file), pattern.params);
    ASSERT_TRUE(compiled);
    std::string name = std::string(pattern.file) + " ";
    for (const auto &[seqQ, seqK] : {std::pair<int64_t, int64_t>{1000, 1000}, {333, 1000},
                                     {1000, 333}, {1, 700}}) {
      checkLists(*compiled, seqQ, seqK, {{128, 64}, {16, 8}}, name, stats);
      if (::testing::Test::HasFailure())
        return;
    }
  }
  EXPECT_GT(stats.full, 1000);
  EXPECT_GT(stats.tiles, stats.full);
  std::printf("components %lld, rows %lld, tiles %lld (FULL %lld, of exact components %lld), "
              "pairs %lld\n",
              (long long)stats.components, (long long)stats.rows, (long long)stats.tiles,
              (long long)stats.full, (long long)stats.exactTiles, (long long)stats.pairs);
}

TEST(ComponentLists, StridedMergedAndFixedAtRandomStridesAreExact) {
  std::mt19937 rng(20261204);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  Stats stats;
  for (int trial = 0; trial < 40 && !::testing::Test::HasFailure(); ++trial) {
    int64_t stride = pick(2, 48);
    bool fixed = trial % 2;
    std::vector<std::pair<std::string, std::string>> params = {
        {"stride", std::to_string(stride)}};
    if (fixed)
      params.push_back({"c", std::to_string(pick(1, stride - 1))});
    auto compiled = compile(
        readSource(fixed ? "patterns/fixed.pattern" : "patterns/strided_merged.pattern"), params);
    ASSERT_TRUE(compiled);
    for (const attn::BundleComponent &spec : compiled->bundle.components)
      EXPECT_TRUE(spec.exact) << spec.form << " stride " << stride;
    std::string name = fmt::format("{} stride={} {} ", fixed ? "fixed" : "strided_merged", stride,
                                   fixed ? params[1].second : "");
    checkLists(*compiled, pick(1, 300), pick(1, 300),
               {{128, 64}, {pick(1, 20), pick(1, 20)}}, name, stats);
  }
  EXPECT_EQ(stats.exactTiles, stats.tiles);
  EXPECT_GT(stats.full, 1000);
  std::printf("components %lld, tiles %lld (FULL %lld), pairs %lld\n",
              (long long)stats.components, (long long)stats.tiles, (long long)stats.full,
              (long long)stats.pairs);
}

TEST(ComponentLists, RandomPatternsAgainstBruteForce) {
  std::mt19937 rng(20261203);
  attnc::testing::RandomPatterns gen{rng};
  Stats stats;
  for (int trial = 0; trial < 300 && !::testing::Test::HasFailure(); ++trial) {
    std::string source = gen.pattern();
    auto compiled = compile(source, {});
    ASSERT_TRUE(compiled);
    int64_t seqQ = gen.pick(1, 60), seqK = gen.pick(1, 60);
    checkLists(*compiled, seqQ, seqK, {{gen.pick(1, 9), gen.pick(1, 9)}}, source, stats);
  }
  EXPECT_GT(stats.components, 200);
  EXPECT_GT(stats.full, 100);
}

/// Lists at N = 1,048,576 cost O(rows + PARTIAL tiles), not O(tiles): fixed
/// (stride 128) has 8.4M (c = 16) and 16.8M (c = 32) FULL summary tiles by
/// query, each query tile's a run. Its summary component in closed form: the
/// queries of block t attend the gathered keys [0, t * c) of the earlier
/// blocks, so query tile t (one block) has floor(t * c / 64) FULL tiles and
/// one PARTIAL when 64 does not divide t * c. The backward's lists (64 x 64,
/// both orders) must hold as many tiles as the enumeration counts. Times are
/// printed, not checked.
TEST(ComponentLists, FixedAtOneMillionIsRunsOfFullTiles) {
  const int64_t n = int64_t(1) << 20, l = 128;
  for (int64_t c : {16, 32}) {
    attn::CompileOptions options;
    options.params = {{"stride", std::to_string(l)}, {"c", std::to_string(c)}};
    attn::Bundle bundle =
        attn::compileFile(std::string(ATTNC_SOURCE_DIR) + "/patterns/fixed.pattern", options);
    ASSERT_EQ(bundle.components.size(), 2u);
    const attn::BundleComponent &summary = bundle.components[1];
    ASSERT_EQ(summary.form, "column_range");
    auto timed = [&](const attn::BundleComponent &spec, int64_t bq, int64_t bk,
                     attn::LayoutOrder order, const char *what) {
      auto start = std::chrono::steady_clock::now();
      attn::ComponentTileLists lists = attn::buildComponentTileLists(spec, n, n, bq, bk, order);
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                            start)
                      .count();
      std::printf("fixed c=%lld %s %s: %lld rows, %zu PARTIAL tiles listed, in %.2f ms\n",
                  (long long)c, spec.form.c_str(), what, (long long)lists.rows(),
                  lists.tiles.size(), ms);
      return lists;
    };
    attn::ComponentTileLists forward =
        timed(summary, 128, 64, attn::LayoutOrder::ByQuery, "128x64 by query");
    int64_t full = 0, partial = 0;
    for (int64_t t = 0; t < n / l; ++t)
      full += t * c / 64, partial += (t * c) % 64 != 0;
    int64_t runs = 0;
    for (int64_t r = 0; r < forward.rows(); ++r)
      runs += forward.fullRange[2 * r + 1];
    EXPECT_EQ(runs, full) << "c = " << c;
    EXPECT_EQ(static_cast<int64_t>(forward.tiles.size()), partial) << "c = " << c;
    EXPECT_EQ(forward.fullTiles(), full) << "c = " << c;
    EXPECT_EQ(forward.partialTiles(), partial) << "c = " << c;
    for (const attn::BundleComponent &spec : bundle.components)
      for (attn::LayoutOrder order : {attn::LayoutOrder::ByQuery, attn::LayoutOrder::ByKey}) {
        const bool byKey = order == attn::LayoutOrder::ByKey;
        attn::ComponentTileLists lists =
            timed(spec, 64, 64, order, byKey ? "64x64 by key" : "64x64 by query");
        attn::ComponentTiles counted =
            attn::enumerateComponentTiles(spec, n, n, {64, 64, /*keepTiles=*/false, byKey});
        EXPECT_EQ(lists.fullTiles(), counted.full) << spec.form << " c = " << c;
        EXPECT_EQ(lists.partialTiles(), counted.partial) << spec.form << " c = " << c;
      }
  }
}

/// The row of a class that starts past the first query: Nq < Nk aligned, so
/// the class's rows begin at a position of its map other than 0.
TEST(ComponentLists, AlignedClassesStartWhereTheirQueriesDo) {
  attn::ComponentSpec strided;
  strided.form = "residue_diagonal";
  strided.aligned = strided.causal = strided.exact = true;
  strided.modulus = 10;
  strided.residue = 0;
  strided.classes = 10;
  strided.queryMap = {0, 1, 1, 10, 0};
  strided.keyMap = {0, 1, 1, 10, 0};
  // Nq = 25, Nk = 100: queries q = 75 .. 99; class 3 holds q = 83, 93 and
  // keys 3, 13, ..., 93.
  attn::ComponentTileLists lists = attn::buildComponentTileLists(strided, 25, 100, 128, 64);
  EXPECT_EQ(std::vector<int64_t>(lists.classes.begin() + 18, lists.classes.begin() + 24),
            (std::vector<int64_t>{83, 0, 2, 3, 0, 10}));
  // Nq = 100, Nk = 25: queries q = -75 .. 24, class 3 from q = -67, from a
  // base of whole groups below it (tile rows stay non-negative).
  lists = attn::buildComponentTileLists(strided, 100, 25, 128, 64);
  EXPECT_EQ(std::vector<int64_t>(lists.classes.begin() + 18, lists.classes.begin() + 24),
            (std::vector<int64_t>{-67, 0, 10, 3, 0, 3}));
}

TEST(ComponentLists, WhichSetsRunThroughTheirComponents) {
  auto sets = [](const std::string &file, attn::CompileOptions options = {}) {
    return attn::componentPathSets(
        attn::compileFile(std::string(ATTNC_SOURCE_DIR) + "/" + file, options));
  };
  using Sets = std::vector<std::string>;
  EXPECT_EQ(sets("patterns/strided.pattern"), Sets{"strided"});
  EXPECT_EQ(sets("patterns/strided_merged.pattern"), Sets{""});
  EXPECT_EQ(sets("patterns/fixed.pattern"), Sets{""});
  EXPECT_EQ(sets("patterns/fixed.pattern", {"", {{"c", "16"}}}), Sets{""});
  EXPECT_EQ(sets("tests/patterns/three_components.pattern"), Sets{""});
  EXPECT_EQ(sets("patterns/dilated_sliding_window.pattern"), Sets{""});
  // A summary column range that depends on h has no closed form: its own tiles.
  EXPECT_EQ(sets("patterns/fixed_heads.pattern"), Sets{});
  // Contiguous components alone gain nothing from components.
  for (const char *file :
       {"patterns/causal.pattern", "patterns/sliding_window.pattern", "patterns/document.pattern",
        "patterns/alibi.pattern", "patterns/bigbird.pattern", "patterns/longformer.pattern",
        "patterns/prefix_lm.pattern"})
    EXPECT_EQ(sets(file), Sets{}) << file;
}

TEST(ComponentLists, TheEnvironmentTurnsTheComponentPathOff) {
  attn::Bundle bundle =
      attn::compileFile(std::string(ATTNC_SOURCE_DIR) + "/patterns/strided_merged.pattern");
  auto compiledWithComponents = [&](attn::KernelOptions options) {
    attn::CompileRequest request =
        attn::kernelCompileRequest(bundle, attn::DType::BF16, 64, "sm_90a", options);
    return std::count(request.options.begin(), request.options.end(), "-DATTNC_COMPONENTS") != 0;
  };
  attn::KernelOptions off;
  off.components = false;
  ASSERT_EQ(unsetenv("ATTNC_COMPONENTS"), 0);
  EXPECT_TRUE(compiledWithComponents({}));
  EXPECT_FALSE(compiledWithComponents(off));
  EXPECT_EQ(attn::forwardComponentSets(bundle, {}), std::vector<std::string>{""});
  ASSERT_EQ(setenv("ATTNC_COMPONENTS", "0", 1), 0);
  EXPECT_FALSE(compiledWithComponents({}));
  EXPECT_TRUE(attn::forwardComponentSets(bundle, {}).empty());
  ASSERT_EQ(setenv("ATTNC_COMPONENTS", "1", 1), 0);
  EXPECT_TRUE(compiledWithComponents({}));
  ASSERT_EQ(unsetenv("ATTNC_COMPONENTS"), 0);
}

/// The component backward is off unless asked for (it is not yet verified on
/// a GPU): by KernelOptions::componentsBackward or ATTNC_COMPONENTS_BACKWARD=1,
/// with the backward and the component path on; ATTNC_COMPONENTS=0 turns it
/// off too.
TEST(ComponentLists, TheComponentBackwardIsOptIn) {
  attn::Bundle bundle =
      attn::compileFile(std::string(ATTNC_SOURCE_DIR) + "/patterns/strided.pattern");
  auto compiledWithComponentBackward = [&](const attn::KernelOptions &options) {
    attn::CompileRequest request = attn::kernelCompileRequest(
        bundle, attn::DType::BF16, 64, "sm_90a", attn::kernelOptionsInEnvironment(options));
    return std::count(request.options.begin(), request.options.end(),
                      "-DATTNC_COMPONENTS_BACKWARD") != 0;
  };
  auto onInEnvironment = [](attn::KernelOptions options) {
    return attn::kernelOptionsInEnvironment(options).componentsBackward;
  };
  attn::KernelOptions training, asked, noComponents;
  training.backward = asked.backward = noComponents.backward = true;
  asked.componentsBackward = noComponents.componentsBackward = true;
  noComponents.components = false;
  ASSERT_EQ(unsetenv("ATTNC_COMPONENTS"), 0);
  ASSERT_EQ(unsetenv("ATTNC_COMPONENTS_BACKWARD"), 0);
  EXPECT_FALSE(attn::KernelOptions{}.componentsBackward);
  EXPECT_FALSE(onInEnvironment(training));
  EXPECT_FALSE(compiledWithComponentBackward(training));
  EXPECT_TRUE(onInEnvironment(asked));
  EXPECT_TRUE(compiledWithComponentBackward(asked));
  EXPECT_FALSE(onInEnvironment(noComponents));
  EXPECT_FALSE(compiledWithComponentBackward(noComponents));
  ASSERT_EQ(setenv("ATTNC_COMPONENTS_BACKWARD", "1", 1), 0);
  EXPECT_TRUE(onInEnvironment(training));
  EXPECT_TRUE(compiledWithComponentBackward(training));
  EXPECT_FALSE(onInEnvironment({})) << "no backward, no component backward";
  ASSERT_EQ(setenv("ATTNC_COMPONENTS", "0", 1), 0);
  EXPECT_FALSE(onInEnvironment(training));
  EXPECT_FALSE(onInEnvironment(asked));
  EXPECT_FALSE(compiledWithComponentBackward(asked));
  ASSERT_EQ(setenv("ATTNC_COMPONENTS_BACKWARD", "0", 1), 0);
  ASSERT_EQ(unsetenv("ATTNC_COMPONENTS"), 0);
  EXPECT_FALSE(onInEnvironment(training));
  ASSERT_EQ(unsetenv("ATTNC_COMPONENTS_BACKWARD"), 0);
}

} // namespace
