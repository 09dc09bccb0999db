// attn-components must split every head class's set into components that
// partition it exactly (every attended pair in exactly one component, no
// other pair in any), and the form and tile maps it records must be right:
// every pair of a component satisfies its recognized form and bounds (bands
// and the bounds of negated earlier terms) and is reached through the query
// and key maps of one class; an exact component is exactly those pairs. Random patterns built
// from the recognized forms (and some it must not recognize), random shapes.
#include "attnc/Dialect/Attn/Evaluator.h"
#include "attnc/Dialect/Attn/Passes.h"
#include "attnc/frontend/Frontend.h"
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/pipeline/Pipeline.h"

#include "RandomPatterns.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <random>

namespace {

using namespace attnc;
using attnc::attn::ComponentForm;
using attnc::attn::ComponentOp;

int64_t floorMod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return r < 0 ? r + b : r;
}
int64_t floorDiv(int64_t a, int64_t b) { return (a - floorMod(a, b)) / b; }

/// Whether `pos` is base + c * step + (t / inner) * outer + (t % inner) * innerStride
/// for some integer t.
bool inImage(llvm::ArrayRef<int64_t> map, int64_t c, int64_t pos) {
  int64_t d = pos - (map[0] + c * map[1]);
  for (int64_t b = 0; b < map[2]; ++b)
    if (floorMod(d - b * map[4], map[3]) == 0)
      return true;
  return false;
}

struct Stats {
  int64_t cases = 0, components = 0, recognized = 0, attended = 0, exact = 0, exactChecked = 0;
  // Exact components bounded by a negated earlier window or same_block.
  int64_t exactMinDistance = 0, exactEarlierBlocks = 0;
};

/// Whether (i, j) satisfies the component's form and bounds: what `exact`
/// says the component is, and a superset of it otherwise.
bool described(ComponentOp c, const attn::Sizes &sizes, int64_t i, int64_t j) {
  int64_t q = i + (c.getAligned() ? sizes.seqK - sizes.seqQ : 0);
  int64_t l = static_cast<int64_t>(c.getModulus().value_or(1));
  bool in = true;
  switch (c.getForm()) {
  case ComponentForm::residue_diagonal:
    in = floorMod(q - j, l) == static_cast<int64_t>(*c.getResidue());
    break;
  case ComponentForm::column_range:
    in = floorMod(j, l) >= static_cast<int64_t>(*c.getLo()) &&
         floorMod(j, l) < static_cast<int64_t>(*c.getHi());
    break;
  case ComponentForm::same_block:
    in = floorDiv(q, l) == floorDiv(j, l);
    break;
  case ComponentForm::contiguous:
    break;
  }
  if (c.getCausal())
    in = in && j <= q;
  if (auto w = c.getWindow()) // I64Attr reads back as uint64_t
    in = in && q - j < static_cast<int64_t>(*w);
  if (auto m = c.getMinDistance())
    in = in && q - j >= static_cast<int64_t>(*m);
  if (auto blocks = c.getEarlierBlocks()) {
    int64_t b = static_cast<int64_t>(*blocks);
    in = in && j < floorDiv(q, b) * b;
  }
  return in;
}

void checkCase(const std::string &source, const attn::Sizes &sizes, Stats &stats) {
  std::string errors;
  llvm::raw_string_ostream os(errors);
  CheckedFile file = checkSource("random.pattern", source, os);
  ASSERT_TRUE(file.ok) << source << errors;
  mlir::MLIRContext context;
  auto module = mlirGen(context, file.ast, *file.source);
  ASSERT_TRUE(mlir::succeeded(mlir::verify(*module))) << source;
  mlir::PassManager pm(&context);
  buildLayoutPipeline(pm, {});
  pm.nest<attn::PatternOp>().addPass(attn::createAttnComponents());
  ASSERT_TRUE(mlir::succeeded(pm.run(*module))) << source;
  auto pattern = *module->getBody()->getOps<attn::PatternOp>().begin();
  attn::PatternEvaluator eval(pattern, sizes, {});

  // The components of each head's class.
  auto heads = pattern.getUnique<attn::HeadsOp>();
  std::vector<std::vector<ComponentOp>> byHead(sizes.numHeads);
  for (int64_t h = 0; h < sizes.numHeads; ++h)
    for (ComponentOp c : pattern.getBodyBlock().getOps<ComponentOp>()) {
      auto of = c.getOfAttr();
      bool mine = heads ? of && of == mlir::cast<mlir::FlatSymbolRefAttr>(
                                         heads.getSets()[h % heads.getSets().size()])
                        : !of;
      if (mine)
        byHead[h].push_back(c);
    }
  std::set<mlir::Operation *> all;
  for (auto &list : byHead)
    for (ComponentOp c : list)
      all.insert(c);
  stats.components += all.size();
  for (mlir::Operation *op : all) {
    auto c = mlir::cast<ComponentOp>(op);
    stats.recognized += c.getForm() != ComponentForm::contiguous;
    stats.exact += bool(c.getExact());
    stats.exactMinDistance += c.getExact() && c.getMinDistance();
    stats.exactEarlierBlocks += c.getExact() && c.getEarlierBlocks();
  }
  ++stats.cases;

  int failures = 0;
  for (int64_t h = 0; h < sizes.numHeads; ++h)
    for (int64_t i = 0; i < sizes.seqQ; ++i)
      for (int64_t j = 0; j < sizes.seqK; ++j) {
        auto expected = eval.attends(0, h, i, j);
        ASSERT_TRUE(mlir::succeeded(expected));
        stats.attended += *expected;
        int in = 0;
        for (ComponentOp c : byHead[h]) {
          attn::Scalar args[4];
          args[0].i = 0, args[1].i = h, args[2].i = i, args[3].i = j;
          auto got = eval.run(c.getBody(), args);
          ASSERT_TRUE(mlir::succeeded(got));
          if (c.getExact()) {
            ++stats.exactChecked;
            EXPECT_EQ(bool((*got)[0].b), described(c, sizes, i, j))
                << source
                << fmt::format("Nq={} Nk={} h={} i={} j={} exact component {}", sizes.seqQ,
                               sizes.seqK, h, i, j, c.getIndex());
          }
          if (!(*got)[0].b)
            continue;
          ++in;
          int64_t q = i + (c.getAligned() ? sizes.seqK - sizes.seqQ : 0);
          std::string where = fmt::format("{}Nq={} Nk={} h={} i={} j={} component {}", source,
                                          sizes.seqQ, sizes.seqK, h, i, j, c.getIndex());
          bool covered = false;
          for (int64_t k = 0; k < c.getClasses() && !covered; ++k)
            covered = inImage(c.getQueryMap(), k, q) && inImage(c.getKeyMap(), k, j);
          EXPECT_TRUE(covered) << where;
          EXPECT_TRUE(described(c, sizes, i, j)) << where << " outside its form and bounds";
          failures += ::testing::Test::HasFailure();
        }
        EXPECT_EQ(in, *expected ? 1 : 0)
            << source << fmt::format("Nq={} Nk={} h={} i={} j={}", sizes.seqQ, sizes.seqK, h, i, j);
        if (::testing::Test::HasFailure())
          return; // one report per case is enough
      }
}

TEST(Components, PartitionTheSetExactlyWithRightFormsAndMaps) {
  std::mt19937 rng(20261202);
  attnc::testing::RandomPatterns gen{rng};
  Stats stats;
  for (int trial = 0; trial < 2000 && !::testing::Test::HasFailure(); ++trial) {
    attn::Sizes sizes;
    bool large = trial % 100 == 0;
    sizes.numHeads = gen.pick(1, 4);
    sizes.seqQ = gen.pick(1, large ? 300 : 40);
    sizes.seqK = gen.pick(1, large ? 300 : 40);
    checkCase(gen.pattern(), sizes, stats);
  }
  // Not vacuous: most components have a recognized form, and pairs were attended.
  EXPECT_EQ(stats.cases, 2000);
  EXPECT_GT(stats.recognized * 2, stats.components);
  EXPECT_GT(stats.attended, 100000);
  // Exact components were compared with their form and bands on every pair.
  EXPECT_GT(stats.exact * 10, stats.components);
  EXPECT_GT(stats.exactChecked, 100000);
  // ... among them components made exact by the bounds of negated earlier terms.
  EXPECT_GT(stats.exactMinDistance, 50);
  EXPECT_GT(stats.exactEarlierBlocks, 20);
  std::printf("cases %lld, components %lld (recognized %lld, exact %lld, of which %lld with "
              "min_distance and %lld with earlier_blocks), attended pairs %lld\n",
              (long long)stats.cases, (long long)stats.components, (long long)stats.recognized,
              (long long)stats.exact, (long long)stats.exactMinDistance,
              (long long)stats.exactEarlierBlocks, (long long)stats.attended);
}

/// The bundled patterns: what the pass recognizes for each component.
TEST(Components, BundledStridedAndFixedForms) {
  const char *source = R"(
pattern strided_merged(stride: int = 16) {
  causal;
  let q = i + Nk - Nq;
  set local   = q - j < stride;
  set strided = (q - j) % stride == 0;
  attend = local || strided;
}
pattern fixed(stride: int = 16, c: int = 4) {
  causal;
  let q = i + Nk - Nq;
  attend = q / stride == j / stride || j % stride >= stride - c;
}
)";
  std::string errors;
  llvm::raw_string_ostream os(errors);
  CheckedFile file = checkSource("bundled.pattern", source, os);
  ASSERT_TRUE(file.ok) << errors;
  mlir::MLIRContext context;
  auto module = mlirGen(context, file.ast, *file.source);
  mlir::PassManager pm(&context);
  buildLayoutPipeline(pm, {});
  pm.nest<attn::PatternOp>().addPass(attn::createAttnComponents());
  ASSERT_TRUE(mlir::succeeded(pm.run(*module)));
  std::vector<std::string> got;
  for (auto pattern : module->getBody()->getOps<attn::PatternOp>())
    for (ComponentOp c : pattern.getBodyBlock().getOps<ComponentOp>())
      got.push_back(fmt::format(
          "{} {} {} l={} causal={} aligned={} min_distance={} earlier_blocks={} exact={}",
          pattern.getSymName().str(), c.getIndex(),
          attn::stringifyComponentForm(c.getForm()).str(), c.getModulus().value_or(0),
          bool(c.getCausal()), bool(c.getAligned()), c.getMinDistance().value_or(0),
          c.getEarlierBlocks().value_or(0), bool(c.getExact())));
  std::vector<std::string> want = {
      "strided_merged 0 contiguous l=0 causal=true aligned=true min_distance=0 earlier_blocks=0 "
      "exact=true",
      "strided_merged 1 residue_diagonal l=16 causal=true aligned=true min_distance=16 "
      "earlier_blocks=0 exact=true",
      "fixed 0 same_block l=16 causal=true aligned=true min_distance=0 earlier_blocks=0 "
      "exact=true",
      "fixed 1 column_range l=16 causal=true aligned=true min_distance=0 earlier_blocks=16 "
      "exact=true",
  };
  EXPECT_EQ(got, want);
}

} // namespace
