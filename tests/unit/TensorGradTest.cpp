//===- TensorGradTest.cpp - attn-tensor-grad vs finite differences --------===//
//
// The compiler's gradient of the logit with respect to each element of a
// float tensor (attn.tensor_grad after the layout pipeline, evaluated on the
// CPU with d_logit = 1) must match central differences of the reference
// interpreter's logit, score(value + bias), element by element. The
// interpreter computes in binary32, so the step is a hundredth of the
// element's size; a sample whose two step sizes disagree straddles a kink (a
// select flipping) and is skipped, but most samples must be checked.
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
using attnc::attn::PatternEvaluator;

/// One pair and the value its logit is taken at.
struct Pair {
  int64_t h, i, j;
  float value;
};

/// score(value + bias) of the interpreter, which reads the tensors in place.
double logit(const interp::Interpreter &interp, const Pair &p) {
  return interp.score(p.value + interp.bias(0, p.h, p.i, p.j), 0, p.h, p.i, p.j);
}

/// Central difference of the logit in element `x` (of a tensor the
/// interpreter reads), with the steps binary32 can hold.
double centralDifference(const interp::Interpreter &interp, const Pair &p, float &x,
                         double step) {
  const float saved = x;
  const float up = static_cast<float>(saved + step), down = static_cast<float>(saved - step);
  x = up;
  const double above = logit(interp, p);
  x = down;
  const double below = logit(interp, p);
  x = saved;
  return (above - below) / (static_cast<double>(up) - down);
}

/// Counts of one pattern's comparisons.
struct Counts {
  int checked = 0, skipped = 0, nonzero = 0;
};

/// The evaluator's d logit / d element against differences, for every
/// element of every f32 tensor, at `samples` random pairs.
Counts checkPattern(const CheckedFile &file, const std::vector<std::string> &defines,
                    const interp::Shape &shape, int samples, std::mt19937 &rng) {
  Counts counts;
  const ast::Pattern &pattern = *file.ast.patterns.front();
  auto values = interp::bindParams(pattern, defines);
  EXPECT_TRUE(static_cast<bool>(values)) << llvm::toString(values.takeError());
  mlir::MLIRContext context;
  auto module = mlirGen(context, file.ast, *file.source, &pattern);
  EXPECT_TRUE(mlir::succeeded(runLayoutPipeline(*module, defines))) << pattern.name;
  auto op = *module->getBody()->getOps<attn::PatternOp>().begin();
  EXPECT_TRUE(op.getUnique<attn::TensorGradOp>()) << pattern.name;
  test::Tensors tensors;
  test::makeTensors(pattern, *values, shape, context, rng, tensors);
  interp::Interpreter interp = test::makeInterpreter(pattern, shape, tensors.host, defines);
  PatternEvaluator ir(op, {shape.numHeads, shape.seqQ, shape.seqK, shape.headDim}, tensors.ir);

  // One gradient array per tensor slot; the f32 tensors' elements, by name.
  std::vector<std::vector<double>> grads(tensors.ir.size());
  std::vector<double *> pointers(tensors.ir.size(), nullptr);
  for (const auto &[name, tensor] : tensors.ir)
    if (tensor.elementType.isF32()) {
      unsigned slot = *ir.tensorSlot(name);
      int64_t size = 1;
      for (int64_t d : tensor.shape)
        size *= d;
      grads[slot].resize(size);
      pointers[slot] = grads[slot].data();
    }
  std::uniform_real_distribution<float> values01(-3.0f, 3.0f);
  for (int sample = 0; sample < samples; ++sample) {
    Pair p{sample % shape.numHeads, (5 * sample) % shape.seqQ, (3 * sample) % shape.seqK,
           values01(rng)};
    for (auto &g : grads)
      std::fill(g.begin(), g.end(), 0.0);
    EXPECT_TRUE(mlir::succeeded(ir.tensorGrad(p.value, 1.0f, 0, p.h, p.i, p.j, pointers)));
    for (const auto &[name, tensor] : tensors.ir) {
      if (!tensor.elementType.isF32())
        continue;
      auto *elements = static_cast<float *>(const_cast<void *>(tensor.data));
      const std::vector<double> &grad = grads[*ir.tensorSlot(name)];
      for (size_t n = 0; n < grad.size(); ++n) {
        double step = 1e-2 * std::max(1.0, std::fabs(static_cast<double>(elements[n])));
        double coarse = centralDifference(interp, p, elements[n], step);
        double fine = centralDifference(interp, p, elements[n], step / 2);
        double tolerance = 2e-3 * std::max(1.0, std::fabs(fine));
        if (std::fabs(coarse - fine) > tolerance) {
          ++counts.skipped;
          continue;
        }
        EXPECT_NEAR(grad[n], fine, tolerance) << pattern.name << ": " << name << "[" << n
                                              << "] at h=" << p.h << " i=" << p.i
                                              << " j=" << p.j << " value=" << p.value;
        ++counts.checked;
        counts.nonzero += grad[n] != 0.0;
      }
    }
  }
  return counts;
}

void expectMatchesDifferences(const CheckedFile &file, const std::vector<std::string> &defines,
                              const interp::Shape &shape) {
  std::mt19937 rng(20261207);
  Counts counts = checkPattern(file, defines, shape, 60, rng);
  EXPECT_GT(counts.nonzero, 30) << "the pattern's gradients are mostly zero: nothing is checked";
  EXPECT_GT(counts.checked, 9 * counts.skipped) << "too many samples straddle a kink";
}

TEST(TensorGrad, RelativeBiasTableMatchesFiniteDifferences) {
  // 2 heads x K = 6 distances; queries 0..9 reach distances up to 9, so
  // the last entry is shared.
  expectMatchesDifferences(test::checkBundledPattern("relative_bias"), {"K=6"},
                           {2, 10, 10, 64});
}

TEST(TensorGrad, GateInTheScoreMatchesFiniteDifferences) {
  // The chain rule through a bias that reads no tensor and a rewrite that
  // reads one: d/dg of 4 tanh(g[h] (value + bias) / 4).
  expectMatchesDifferences(
      test::checkOrThrow("<gate>", "pattern gate(g: tensor<f32>[H]) {\n"
                                   "  causal;\n"
                                   "  bias = 0.25 * float(j - i);\n"
                                   "  score = 4.0 * tanh(score * g[h] / 4.0);\n"
                                   "}\n"),
      {}, {3, 9, 9, 64});
}

TEST(TensorGrad, OnlyTheBranchTakenContributes) {
  // Both branches read w; the condition reads it too (no gradient through a
  // comparison). The score rewrite scales every bias gradient by its
  // derivative.
  expectMatchesDifferences(
      test::checkOrThrow("<pick>", "pattern pick(w: tensor<f32>[Nk]) {\n"
                                   "  bias = w[j] > 0.0 ? w[j] * w[i] : -w[i];\n"
                                   "  score = score * score / 8.0;\n"
                                   "}\n"),
      {}, {1, 7, 7, 64});
}

TEST(TensorGrad, DLogitScalesTheGradient) {
  CheckedFile file = test::checkBundledPattern("relative_bias");
  const ast::Pattern &pattern = *file.ast.patterns.front();
  mlir::MLIRContext context;
  auto module = mlirGen(context, file.ast, *file.source, &pattern);
  ASSERT_TRUE(mlir::succeeded(runLayoutPipeline(*module, {"K=4"})));
  auto op = *module->getBody()->getOps<attn::PatternOp>().begin();
  std::vector<float> table(2 * 4, 0.5f);
  PatternEvaluator ir(op, {2, 8, 8, 64},
                      {{"table", {mlir::Float32Type::get(&context), {2, 4}, table.data()}}});
  std::vector<double> grad(table.size(), 0.0);
  std::vector<double *> grads = {grad.data()};
  // Head 1, query 6, key 1: distance 5, clipped to entry 3; twice adds.
  ASSERT_TRUE(mlir::succeeded(ir.tensorGrad(0.3f, 2.5f, 0, 1, 6, 1, grads)));
  ASSERT_TRUE(mlir::succeeded(ir.tensorGrad(-1.0f, 0.5f, 0, 1, 7, 2, grads)));
  for (size_t n = 0; n < grad.size(); ++n)
    EXPECT_EQ(grad[n], n == 4 + 3 ? 3.0 : 0.0) << n;
  // A null array is no gradient: nothing is written.
  std::vector<double *> none = {nullptr};
  EXPECT_TRUE(mlir::succeeded(ir.tensorGrad(0.3f, 2.5f, 0, 1, 6, 1, none)));
}

TEST(TensorGrad, NoneWithoutFloatTensorsInBiasOrScore) {
  CheckedFile file = test::checkBundledPattern("document");
  mlir::MLIRContext context;
  auto module = mlirGen(context, file.ast, *file.source);
  ASSERT_TRUE(mlir::succeeded(runLayoutPipeline(*module, {})));
  auto op = *module->getBody()->getOps<attn::PatternOp>().begin();
  EXPECT_FALSE(op.getUnique<attn::TensorGradOp>());
  PatternEvaluator ir(op, {1, 4, 4, 64}, {});
  EXPECT_TRUE(mlir::succeeded(ir.tensorGrad(1.0f, 1.0f, 0, 0, 1, 1, {})));
}

} // namespace
