// The attn IR, evaluated on the CPU, must mean what the reference interpreter
// says the pattern means: right after MLIRGen, and after the passes; and the
// interval twins the passes add must be sound on random tiles.
#include "PatternCorpus.h"
#include "attnc/Dialect/Attn/Evaluator.h"
#include "attnc/Dialect/Attn/Passes.h"
#include "attnc/frontend/Frontend.h"
#include "attnc/interp/Interpreter.h"
#include "attnc/mlirgen/MLIRGen.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

namespace {

using namespace attnc;

/// Compares every pair of one shape; returns the number of attended pairs.
int64_t compare(const interp::Interpreter &interp, attn::PatternEvaluator &ir,
                const interp::Shape &shape, const std::string &where) {
  int64_t attended = 0;
  int64_t pair = 0;
  for (int64_t h = 0; h < shape.numHeads; ++h)
    for (int64_t i = 0; i < shape.seqQ; ++i)
      for (int64_t j = 0; j < shape.seqK; ++j) {
        bool expected = interp.attends(0, h, i, j);
        auto got = ir.attends(0, h, i, j);
        EXPECT_TRUE(mlir::succeeded(got)) << where;
        EXPECT_EQ(*got, expected) << where << " h=" << h << " i=" << i << " j=" << j;
        attended += expected;
        double bias = interp.bias(0, h, i, j);
        EXPECT_NEAR(*ir.bias(0, h, i, j), bias, 1e-5 * (1 + std::fabs(bias))) << where;
        // Incoming scores spread over [-12, 12], rounded to f32 for both sides.
        double s = static_cast<float>(12.0 * std::sin(0.37 * static_cast<double>(++pair)));
        double score = interp.score(s, 0, h, i, j);
        EXPECT_NEAR(*ir.score(static_cast<float>(s), 0, h, i, j), score,
                    1e-5 * (1 + std::fabs(score)))
            << where;
      }
  EXPECT_NEAR(*ir.scale(), interp.scale(), 1e-6 * interp.scale()) << where;
  return attended;
}

void runPasses(mlir::MLIRContext &context, mlir::ModuleOp module) {
  mlir::PassManager pm(&context);
  mlir::OpPassManager &perPattern = pm.nest<attnc::attn::PatternOp>();
  perPattern.addPass(attnc::attn::createAttnSpecialize());
  perPattern.addPass(attnc::attn::createAttnMakeCausalExplicit());
  perPattern.addPass(mlir::createCanonicalizerPass());
  perPattern.addPass(mlir::createCSEPass());
  perPattern.addPass(attnc::attn::createAttnIntervalTwin());
  perPattern.addPass(mlir::createCanonicalizerPass());
  perPattern.addPass(mlir::createCSEPass());
  ASSERT_TRUE(mlir::succeeded(pm.run(module)));
}

/// The twin of a random tile must never claim FULL when a pair of the tile is
/// outside the set, nor EMPTY when one is inside. Returns how many tiles were
/// decided (not "maybe"), so a twin that always says "maybe" shows up.
int64_t checkTwinSoundness(const interp::Interpreter &interp, attn::PatternEvaluator &ir,
                           const interp::Shape &shape, std::mt19937 &rng,
                           const std::string &where) {
  int64_t decided = 0;
  for (int trial = 0; trial < 60; ++trial) {
    std::uniform_int_distribution<int64_t> qi(0, shape.seqQ - 1), kj(0, shape.seqK - 1),
        hd(0, shape.numHeads - 1);
    int64_t i0 = qi(rng), i1 = qi(rng), j0 = kj(rng), j1 = kj(rng), h = hd(rng);
    if (trial % 3 == 0) { // small tiles decide more often
      i1 = std::min(shape.seqQ - 1, i0 + trial % 5);
      j1 = std::min(shape.seqK - 1, j0 + trial % 7);
    }
    auto [iLo, iHi] = std::minmax(i0, i1);
    auto [jLo, jHi] = std::minmax(j0, j1);
    auto twin = ir.classify(h, iLo, iHi, jLo, jHi);
    EXPECT_TRUE(mlir::succeeded(twin)) << where;
    auto [mayBeTrue, mayBeFalse] = *twin;
    EXPECT_TRUE(mayBeTrue || mayBeFalse) << where;
    bool anyIn = false, anyOut = false;
    for (int64_t i = iLo; i <= iHi; ++i)
      for (int64_t j = jLo; j <= jHi; ++j)
        (interp.attends(0, h, i, j) ? anyIn : anyOut) = true;
    EXPECT_TRUE(!anyIn || mayBeTrue) << where << " h=" << h << " tile i[" << iLo << ","
                                     << iHi << "] j[" << jLo << "," << jHi
                                     << "] has an attended pair but the twin says never";
    EXPECT_TRUE(!anyOut || mayBeFalse) << where << " h=" << h << " tile i[" << iLo << ","
                                       << iHi << "] j[" << jLo << "," << jHi
                                       << "] has a dropped pair but the twin says always";
    decided += !(mayBeTrue && mayBeFalse);
  }
  return decided;
}

TEST(IRvsInterpreter, EveryPatternAgreesBeforeAndAfterPassesAndTwinsAreSound) {
  std::mt19937 rng(20261123);
  const interp::Shape shapes[] = {{3, 1, 1, 64}, {3, 19, 19, 32}, {2, 9, 23, 128}};
  int patterns = 0;
  int64_t decided = 0;
  for (const CheckedFile &file : test::checkedCorpus()) {
    for (const auto &pattern : file.ast.patterns) {
      ++patterns;
      auto values = interp::bindParams(*pattern, {});
      ASSERT_TRUE(static_cast<bool>(values)) << llvm::toString(values.takeError());
      for (bool afterPasses : {false, true}) {
        mlir::MLIRContext context;
        auto module = mlirGen(context, file.ast, *file.source, pattern.get());
        ASSERT_TRUE(mlir::succeeded(mlir::verify(*module)));
        if (afterPasses)
          runPasses(context, *module);
        auto op = *module->getBody()->getOps<attnc::attn::PatternOp>().begin();
        for (const interp::Shape &shape : shapes) {
          test::Tensors tensors;
          test::makeTensors(*pattern, *values, shape, context, rng, tensors);
          auto interp = interp::Interpreter::create(*pattern, *values, shape, tensors.host);
          ASSERT_TRUE(static_cast<bool>(interp)) << llvm::toString(interp.takeError());
          attnc::attn::PatternEvaluator ir(
              op, {shape.numHeads, shape.seqQ, shape.seqK, shape.headDim}, tensors.ir);
          std::string where = pattern->name + (afterPasses ? " after passes" : " from MLIRGen") +
                              " Nq=" + std::to_string(shape.seqQ) +
                              " Nk=" + std::to_string(shape.seqK);
          compare(*interp, ir, shape, where);
          if (afterPasses)
            decided += checkTwinSoundness(*interp, ir, shape, rng, where);
        }
      }
    }
  }
  EXPECT_GE(patterns, 3);
  // The twins must decide a fair share of tiles, not answer "maybe" always.
  EXPECT_GT(decided, 100);
}

} // namespace
