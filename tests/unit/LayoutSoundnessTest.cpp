// Soundness of the block layout, as a property: for every pattern, random
// parameters and shapes, no FULL tile holds a dropped pair and no EMPTY tile
// an attended one, checked element by element against the reference
// interpreter; and the interval twins' answers only sharpen as a box narrows
// (what the GPU layout kernel's chunks rely on).
#include "PatternCorpus.h"
#include "attnc/frontend/Frontend.h"
#include "attnc/layout/Layout.h"
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/pipeline/Pipeline.h"

#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace {

using namespace attnc;

constexpr int kCases = 2000;
/// Cases whose FULL and EMPTY tiles hold at most this many pairs are checked
/// whole; larger ones on kSampledTiles random FULL or EMPTY tiles.
constexpr int64_t kWholeCasePairs = 200000;
constexpr int kSampledTiles = 8;

/// "name=value" for every scalar parameter, drawn around its default.
std::vector<std::string> randomDefines(const ast::Pattern &pattern, std::mt19937 &rng) {
  std::vector<std::string> defines;
  for (const auto &param : pattern.params) {
    const auto &d = param->defaultValue;
    switch (param->kind) {
    case ast::ParamKind::Int: {
      int64_t center = d && d->intValue > 0 ? d->intValue : 8;
      std::uniform_int_distribution<int64_t> value(1, 2 * center);
      defines.push_back(param->name + "=" + std::to_string(value(rng)));
      break;
    }
    case ast::ParamKind::Float: {
      std::uniform_real_distribution<double> value(0.5, 2 * (d ? std::fabs(d->floatValue) : 1) + 1);
      char text[64];
      std::snprintf(text, sizeof text, "%.9g", value(rng));
      defines.push_back(param->name + "=" + text);
      break;
    }
    case ast::ParamKind::Bool:
      defines.push_back(param->name + (rng() % 2 ? "=true" : "=false"));
      break;
    case ast::ParamKind::Tensor:
      break;
    }
  }
  return defines;
}

/// A length from 1 to 3000, spread evenly over orders of magnitude.
int64_t randomLength(std::mt19937 &rng) {
  std::uniform_real_distribution<double> exponent(0, std::log(3000.0));
  return std::max<int64_t>(1, std::llround(std::exp(exponent(rng))));
}

struct Violations {
  int64_t wholeCases = 0;
  int64_t tilesChecked = 0;
  int64_t failures = 0;
};

/// Checks the FULL and EMPTY tiles of a case pair by pair: all of them when
/// they are few enough, else a random sample.
void checkTiles(const layout::Layout &result, const interp::Interpreter &oracle,
                std::mt19937 &rng, const std::string &where, Violations &seen) {
  std::vector<std::tuple<int64_t, int64_t, int64_t>> decided;
  for (int64_t h = 0; h < result.numHeads; ++h)
    for (int64_t row = 0; row < result.rows; ++row)
      for (int64_t col = 0; col < result.cols; ++col)
        if (result.at(h, row, col) != layout::TileKind::Partial)
          decided.emplace_back(h, row, col);
  int64_t pairs = int64_t(decided.size()) * result.blockQ * result.blockK;
  if (pairs > kWholeCasePairs) {
    std::shuffle(decided.begin(), decided.end(), rng);
    decided.resize(std::min<size_t>(decided.size(), kSampledTiles));
  } else {
    ++seen.wholeCases;
  }
  for (auto [h, row, col] : decided) {
    bool full = result.at(h, row, col) == layout::TileKind::Full;
    int64_t iEnd = std::min(result.seqQ, (row + 1) * result.blockQ);
    int64_t jEnd = std::min(result.seqK, (col + 1) * result.blockK);
    ++seen.tilesChecked;
    for (int64_t i = row * result.blockQ; i < iEnd; ++i)
      for (int64_t j = col * result.blockK; j < jEnd; ++j)
        if (oracle.attends(0, h, i, j) != full) {
          if (++seen.failures <= 10)
            ADD_FAILURE() << where << ": tile (" << row << ", " << col << ") of head " << h
                          << " is " << (full ? "FULL" : "EMPTY") << " but pair (" << i << ", "
                          << j << ") is " << (full ? "dropped" : "attended");
          return;
        }
  }
}

/// One random case: a corpus pattern with random parameters and tensors at a
/// random shape, ready for the layout builder and the reference interpreter.
struct RandomCase {
  attnc::attn::PatternEvaluator &twins;
  const interp::Interpreter &oracle;
  attnc::attn::Sizes sizes;
  layout::LayoutOptions options;
  std::string where;
};

/// Calls `check` on `cases` random cases, tiles drawn from `tileSizes`.
template <typename Check>
void forRandomCases(int cases, uint32_t seed, const std::vector<int64_t> &tileSizes,
                    const Check &check) {
  std::mt19937 rng(seed);
  // Parse once; every case re-specializes.
  std::vector<CheckedFile> files = test::checkedCorpus();
  std::vector<std::pair<const CheckedFile *, const ast::Pattern *>> patterns;
  for (const CheckedFile &file : files)
    for (const auto &pattern : file.ast.patterns)
      patterns.emplace_back(&file, pattern.get());
  EXPECT_GE(test::bundledPatternCount(), 15u);

  for (int n = 0; n < cases && !::testing::Test::HasFailure(); ++n) {
    auto [file, pattern] = patterns[n % patterns.size()];
    std::vector<std::string> defines = randomDefines(*pattern, rng);
    auto values = interp::bindParams(*pattern, defines);
    ASSERT_TRUE(static_cast<bool>(values)) << llvm::toString(values.takeError());
    int64_t seqQ = randomLength(rng);
    int64_t seqK = rng() % 2 ? seqQ : randomLength(rng);
    interp::Shape shape{1 + int64_t(rng() % 8), seqQ, seqK, 64};
    layout::LayoutOptions options{tileSizes[rng() % tileSizes.size()],
                                  tileSizes[rng() % tileSizes.size()], false};

    mlir::MLIRContext context;
    test::Tensors tensors;
    test::makeTensors(*pattern, *values, shape, context, rng, tensors);
    auto oracle = interp::Interpreter::create(*pattern, *values, shape, tensors.host);
    ASSERT_TRUE(static_cast<bool>(oracle)) << llvm::toString(oracle.takeError());
    auto module = mlirGen(context, file->ast, *file->source, pattern);
    ASSERT_TRUE(mlir::succeeded(runLayoutPipeline(*module, defines)));
    attnc::attn::Sizes sizes{shape.numHeads, shape.seqQ, shape.seqK, shape.headDim};
    attnc::attn::PatternEvaluator twins(*module->getBody()->getOps<attnc::attn::PatternOp>().begin(), sizes,
                                 tensors.ir);
    std::string where = pattern->name + " Nq=" + std::to_string(seqQ) +
                        " Nk=" + std::to_string(seqK) + " H=" + std::to_string(shape.numHeads) +
                        " tiles " + std::to_string(options.blockQ) + "x" +
                        std::to_string(options.blockK);
    for (const std::string &define : defines)
      where += " -D " + define;
    check(RandomCase{twins, *oracle, sizes, options, where}, rng);
  }
}

TEST(LayoutSoundness, NoFullTileDropsAndNoEmptyTileAttendsAPair) {
  Violations seen;
  forRandomCases(kCases, 5309, {32, 64, 128}, [&](const RandomCase &c, std::mt19937 &rng) {
    auto result = layout::buildLayout(c.twins, nullptr, c.sizes, c.options);
    ASSERT_TRUE(static_cast<bool>(result)) << llvm::toString(result.takeError());
    checkTiles(*result, c.oracle, rng, c.where, seen);
  });
  EXPECT_EQ(seen.failures, 0);
  EXPECT_GT(seen.tilesChecked, kCases); // FULL and EMPTY tiles do occur
  std::printf("layout soundness: %d cases (%lld checked whole), %lld FULL/EMPTY tiles "
              "checked pair by pair, %lld violations\n",
              kCases, static_cast<long long>(seen.wholeCases),
              static_cast<long long>(seen.tilesChecked), static_cast<long long>(seen.failures));
}

/// The GPU layout kernel classifies a chunk of 32 tiles of a row (by key: of
/// a column) as one box first, skips it when the twin says it holds no pair
/// and lists it FULL when it says all pairs (runtime/kernels/attnc_layout.cuh).
/// That lists the tiles the CPU builder lists, one by one, only if every
/// tile of such a chunk gets the same answer alone: the twins' answers must
/// only sharpen as a box narrows. Checked on random chunks along rows and
/// along columns.
TEST(LayoutSoundness, TwinAnswersOnlySharpenAsTheBoxNarrows) {
  constexpr int64_t kChunk = 32;
  constexpr int kSamples = 200; // random chunks of each kind per case
  int64_t emptyChunks = 0, fullChunks = 0, contradicted = 0;
  forRandomCases(400, 2612, {1, 2, 4, 8, 16}, [&](const RandomCase &c, std::mt19937 &rng) {
    const int64_t bq = c.options.blockQ, bk = c.options.blockK;
    const int64_t rows = (c.sizes.seqQ + bq - 1) / bq, cols = (c.sizes.seqK + bk - 1) / bk;
    // The twin's (may be true, may be false) of query tiles [t0, t1] by key tiles [k0, k1].
    auto classify = [&](int64_t h, int64_t t0, int64_t t1, int64_t k0, int64_t k1) {
      auto answer = c.twins.classify(h, t0 * bq, std::min(c.sizes.seqQ, (t1 + 1) * bq) - 1,
                                     k0 * bk, std::min(c.sizes.seqK, (k1 + 1) * bk) - 1);
      EXPECT_TRUE(mlir::succeeded(answer)) << c.where;
      return mlir::succeeded(answer) ? *answer : std::make_pair(true, true);
    };
    auto check = [&](int64_t h, std::pair<bool, bool> chunk, int64_t t, int64_t k) {
      auto [mayBeTrue, mayBeFalse] = chunk;
      auto [tileTrue, tileFalse] = classify(h, t, t, k, k);
      if ((!mayBeTrue && tileTrue) || (!mayBeFalse && tileFalse)) {
        if (++contradicted <= 10)
          ADD_FAILURE() << c.where << ": head " << h << " tile (" << t << ", " << k
                        << ") is less sure alone than its chunk";
      }
    };
    auto count = [&](std::pair<bool, bool> chunk) {
      emptyChunks += !chunk.first;
      fullChunks += !chunk.second;
      return chunk.first != chunk.second; // decided: EMPTY or FULL
    };
    auto pick = [&](int64_t n) { return std::uniform_int_distribution<int64_t>(0, n - 1)(rng); };
    for (int sample = 0; sample < kSamples; ++sample) {
      // A chunk of a row (the by-query layout's), then one of a column (by key).
      const int64_t h = pick(c.sizes.numHeads), t = pick(rows), k = pick(cols);
      const int64_t k0 = k / kChunk * kChunk, k1 = std::min(cols, k0 + kChunk) - 1;
      auto chunk = classify(h, t, t, k0, k1);
      if (count(chunk))
        for (int64_t key = k0; key <= k1; ++key)
          check(h, chunk, t, key);
      const int64_t t0 = t / kChunk * kChunk, t1 = std::min(rows, t0 + kChunk) - 1;
      chunk = classify(h, t0, t1, k, k);
      if (count(chunk))
        for (int64_t query = t0; query <= t1; ++query)
          check(h, chunk, query, k);
    }
  });
  EXPECT_EQ(contradicted, 0);
  EXPECT_GT(emptyChunks, 10000);
  EXPECT_GT(fullChunks, 10000);
  std::printf("twin chunks: %lld EMPTY and %lld FULL chunks of up to %lld tiles, %lld tiles "
              "less sure alone\n",
              static_cast<long long>(emptyChunks), static_cast<long long>(fullChunks),
              static_cast<long long>(kChunk), static_cast<long long>(contradicted));
}

} // namespace
