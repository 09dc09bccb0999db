//===- ScoreDerivativeTest.cpp - attn-score-derivative vs finite differences ===//
//
// For every pattern of the corpus with a `score` statement (soft-capping and
// a corpus pattern using every float function), the compiler's derivative
// (attn.score_grad after the layout pipeline, evaluated on the CPU) must match
// central differences of the reference interpreter's score. The interpreter
// computes in binary32, so the step is a hundredth of the score's size; a
// sample whose two step sizes disagree straddles a kink (abs, min, max) and
// is skipped, but most samples must be checked.
//
//===----------------------------------------------------------------------===//
#include "PatternCorpus.h"
#include "ReferenceAttention.h"

#include "attnc/Dialect/Attn/Evaluator.h"
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/pipeline/Pipeline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace {

using namespace attnc;

/// Central difference of the interpreter's score at s with step `step`.
double centralDifference(const interp::Interpreter &interp, double s, double step, int64_t h,
                         int64_t i, int64_t j) {
  return (interp.score(s + step, 0, h, i, j) - interp.score(s - step, 0, h, i, j)) / (2 * step);
}

TEST(ScoreDerivative, MatchesFiniteDifferencesOfTheInterpreter) {
  std::mt19937 rng(20261202);
  std::uniform_real_distribution<double> scores(-40.0, 40.0);
  const interp::Shape shape{4, 33, 47, 64};
  int patterns = 0, checked = 0, skipped = 0;
  for (const CheckedFile &file : test::checkedCorpus())
    for (const auto &pattern : file.ast.patterns) {
      if (!pattern->score)
        continue;
      ++patterns;
      auto values = interp::bindParams(*pattern, {});
      ASSERT_TRUE(static_cast<bool>(values)) << llvm::toString(values.takeError());
      mlir::MLIRContext context;
      auto module = mlirGen(context, file.ast, *file.source, pattern.get());
      ASSERT_TRUE(mlir::succeeded(runLayoutPipeline(*module, {}))) << pattern->name;
      auto op = *module->getBody()->getOps<attnc::attn::PatternOp>().begin();
      ASSERT_TRUE(op.getUnique<attnc::attn::ScoreGradOp>()) << pattern->name;
      test::Tensors tensors;
      test::makeTensors(*pattern, *values, shape, context, rng, tensors);
      interp::Interpreter interp = test::makeInterpreter(*pattern, shape, tensors.host);
      attnc::attn::PatternEvaluator ir(
          op, {shape.numHeads, shape.seqQ, shape.seqK, shape.headDim}, tensors.ir);
      for (int sample = 0; sample < 2000; ++sample) {
        float s = static_cast<float>(scores(rng));
        int64_t h = sample % shape.numHeads, i = sample % shape.seqQ, j = (7 * sample) % shape.seqK;
        double step = 1e-2 * std::max(1.0, std::fabs(static_cast<double>(s)));
        double coarse = centralDifference(interp, s, step, h, i, j);
        double fine = centralDifference(interp, s, step / 2, h, i, j);
        double tolerance = 2e-3 * std::max(1.0, std::fabs(fine));
        if (std::fabs(coarse - fine) > tolerance) {
          ++skipped;
          continue;
        }
        auto grad = ir.scoreGrad(s, 0, h, i, j);
        ASSERT_TRUE(mlir::succeeded(grad)) << pattern->name;
        EXPECT_NEAR(*grad, fine, tolerance)
            << pattern->name << " at s=" << s << " h=" << h << " i=" << i << " j=" << j;
        ++checked;
      }
    }
  EXPECT_GE(patterns, 2);
  EXPECT_GT(checked, 9 * skipped) << "too many samples straddle a kink to mean anything";
}

TEST(ScoreDerivative, IsOneWithoutAScoreRewrite) {
  CheckedFile file = checkSource("p.pattern", "pattern p { causal; }", llvm::nulls());
  ASSERT_TRUE(file.ok);
  mlir::MLIRContext context;
  auto module = mlirGen(context, file.ast, *file.source);
  ASSERT_TRUE(mlir::succeeded(runLayoutPipeline(*module, {})));
  auto op = *module->getBody()->getOps<attnc::attn::PatternOp>().begin();
  attnc::attn::PatternEvaluator ir(op, {1, 4, 4, 64}, {});
  EXPECT_EQ(*ir.scoreGrad(3.5f, 0, 0, 1, 1), 1.0f);
}

} // namespace
