//===- NarrowMaskTest.cpp - 32-bit masks: which patterns, and soundness ---===//
//
// attn-narrow-mask (run by the layout pipeline) marks a pattern whose mask
// provably fits in int32. Here: which bundled patterns are narrow, that the
// generated CUDA then computes the mask in int32_t, and that the bounds of
// the proof hold: every integer the IR evaluator computes inside a mask
// region, on random shapes and pairs, lies within the bound the analysis gave
// that value.
//
//===----------------------------------------------------------------------===//
#include "PatternCorpus.h"

#include "attnc/Dialect/Attn/Evaluator.h"
#include "attnc/Dialect/Attn/NarrowMask.h"
#include "attnc/codegen/CudaEmitter.h"
#include "attnc/frontend/Frontend.h"
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/pipeline/Pipeline.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <iostream>
#include <random>
#include <set>

namespace {

using namespace attnc;

/// One pattern after the layout pipeline.
struct Lowered {
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  attn::PatternOp op;
};

void lower(const CheckedFile &file, const ast::Pattern &pattern, Lowered &out) {
  out.module = mlirGen(out.context, file.ast, *file.source, &pattern);
  ASSERT_TRUE(mlir::succeeded(runLayoutPipeline(*out.module, {}))) << pattern.name;
  out.op = *out.module->getBody()->getOps<attn::PatternOp>().begin();
}

std::string emit(attn::PatternOp op) {
  std::string source;
  llvm::raw_string_ostream os(source);
  if (llvm::Error err = emitCuda(op, os))
    ADD_FAILURE() << llvm::toString(std::move(err));
  return source;
}

TEST(NarrowMask, WhichBundledPatternsAreNarrow) {
  std::set<std::string> narrow, wide;
  for (const CheckedFile &file : test::checkedCorpus()) {
    if (file.source->name().find("/patterns/") == std::string::npos)
      continue; // the extra corpus
    for (const auto &pattern : file.ast.patterns) {
      Lowered lowered;
      lower(file, *pattern, lowered);
      attn::MaskRanges ranges = attn::analyzeMaskRanges(lowered.op);
      bool marked = lowered.op->hasAttr(attn::kNarrowMaskAttr);
      EXPECT_EQ(marked, ranges.narrow()) << pattern->name;
      (marked ? narrow : wide).insert(pattern->name);
      std::cout << "[ narrow   ] " << pattern->name << ": "
                << (marked ? "int32" : "int64 (" + ranges.whyNot + ")") << "\n";
      auto kernel = emitKernelSource(lowered.op);
      ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
      EXPECT_NE(kernel->source.find(std::string("static constexpr bool narrow_mask = ") +
                            (marked ? "true" : "false")),
                std::string::npos)
          << pattern->name;
    }
  }
  for (const char *name : {"causal", "sliding_window", "strided", "strided_merged", "fixed",
                            "fixed_heads", "document", "dense", "dilated_sliding_window",
                            "longformer", "prefix_lm", "alibi", "alibi_bidirectional",
                            "softcap"})
    EXPECT_TRUE(narrow.count(name)) << name << " should be narrow";
  // bigbird's hash squares values up to 2^31 - 2: it needs 64 bits.
  EXPECT_TRUE(wide.count("bigbird"));
  EXPECT_EQ(narrow.size() + wide.size(), test::bundledPatternCount());
}

TEST(NarrowMask, NarrowMasksComputeInInt32) {
  CheckedFile file = checkSource("w.pattern",
                                 "pattern w(window: int = 256) {\n"
                                 "  causal;\n"
                                 "  attend = i + Nk - Nq - j < window && j % 7 != max(i, 3);\n"
                                 "}\n"
                                 "pattern wide { attend = i * j % 2 == 0; }\n",
                                 llvm::errs());
  ASSERT_TRUE(file.ok);
  Lowered narrow, wide;
  lower(file, *file.ast.patterns[0], narrow);
  lower(file, *file.ast.patterns[1], wide);
  std::string source = emit(narrow.op);
  // The attend function takes and computes int32_t; attends keeps its
  // 64-bit signature and converts once.
  EXPECT_NE(source.find("bool attnc_w_attend(attnc_shape v1, const attnc_tensors & v2, "
                        "int32_t v3, int32_t v4, int32_t v5, int32_t v6)"),
            std::string::npos)
      << source;
  std::string attend = source.substr(0, source.find("// attnc: attnc_w_bounds_attend"));
  EXPECT_NE(attend.find("int32_t v25 = attnc_floormod(v6, v8);"), std::string::npos) << attend;
  EXPECT_EQ(attend.find("int64_t"), std::string::npos) << attend;
  EXPECT_NE(source.find("bool attnc_w_attends(attnc_shape shape, const attnc_tensors &tensors, "
                        "int64_t b_wide, int64_t h_wide, int64_t i_wide, int64_t j_wide)"),
            std::string::npos)
      << source;
  EXPECT_NE(source.find("const int32_t b = (int32_t)b_wide"), std::string::npos) << source;
  // The twins stay in 64 bits.
  EXPECT_NE(source.find("attnc_truth attnc_w_bounds_attend(attnc_shape v1, const attnc_tensors "
                        "& v2, int64_t v3"),
            std::string::npos)
      << source;
  std::string wideSource = emit(wide.op);
  EXPECT_EQ(wideSource.find("int32_t v"), std::string::npos) << wideSource;
  EXPECT_NE(wideSource.find("bool attnc_wide_attends(attnc_shape shape, const attnc_tensors "
                            "&tensors, int64_t b, int64_t h, int64_t i, int64_t j)"),
            std::string::npos)
      << wideSource;
}

TEST(NarrowMask, AStaleMarkIsAnErrorNotWrongCode) {
  CheckedFile file =
      checkSource("p.pattern", "pattern p { attend = i * j < 5; }\n", llvm::errs());
  ASSERT_TRUE(file.ok);
  Lowered lowered;
  lower(file, *file.ast.patterns[0], lowered);
  ASSERT_FALSE(lowered.op->hasAttr(attn::kNarrowMaskAttr));
  lowered.op->setAttr(attn::kNarrowMaskAttr, mlir::UnitAttr::get(&lowered.context));
  std::string ignored;
  llvm::raw_string_ostream os(ignored);
  llvm::Error err = emitCuda(lowered.op, os);
  ASSERT_TRUE(static_cast<bool>(err));
  EXPECT_NE(llvm::toString(std::move(err)).find("'arith.muli' in attn.attend may reach"),
            std::string::npos);
}

TEST(NarrowMask, PairValuesComputeInInt32WhenTheyFit) {
  CheckedFile file = checkSource(
      "v.pattern",
      "pattern v {\n"
      "  causal;\n"
      "  let q = i + Nk - Nq;\n"
      "  bias = -alibi_slope(h, H) * (q - j);\n"
      "  score = 30.0 * tanh(score / 30.0) + (j % 3);\n"
      "}\n"
      "pattern w { bias = 0.5 * (i * j % 7); }\n",
      llvm::errs());
  ASSERT_TRUE(file.ok);
  Lowered narrow, wide;
  lower(file, *file.ast.patterns[0], narrow);
  lower(file, *file.ast.patterns[1], wide);
  for (const char *op : {"bias", "score", "score_grad"})
    EXPECT_TRUE(llvm::any_of(narrow.op.getBodyBlock(), [&](mlir::Operation &element) {
      return element.getName().stripDialect() == op && element.hasAttr(attn::kNarrowAttr);
    }))
        << op << " should carry " << attn::kNarrowAttr;
  auto kernel = emitKernelSource(narrow.op);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  // The functions take and compute int32_t; the members of attnc_v_elements
  // keep their 64-bit signatures and convert at the call.
  EXPECT_NE(kernel->source.find("float attnc_v_bias(attnc_shape v1, const attnc_tensors & v2, "
                                "int32_t v3, int32_t v4, int32_t v5, int32_t v6)"),
            std::string::npos)
      << kernel->source;
  std::string bias = kernel->source.substr(kernel->source.find("float attnc_v_bias("));
  bias = bias.substr(0, bias.find("\n}\n"));
  EXPECT_EQ(bias.find("int64_t"), std::string::npos) << bias;
  EXPECT_NE(bias.find("(float) v"), std::string::npos) << bias;
  for (const char *call : {"attnc_v_bias(shape, tensors, (int32_t)b, (int32_t)h, (int32_t)i, "
                           "(int32_t)j)",
                           "attnc_v_score(shape, tensors, (int32_t)b, (int32_t)h, (int32_t)i, "
                           "(int32_t)j, score)",
                           "attnc_v_score_grad(shape, tensors, (int32_t)b, (int32_t)h, "
                           "(int32_t)i, (int32_t)j, score)"})
    EXPECT_NE(kernel->source.find(call), std::string::npos) << call << "\n" << kernel->source;
  // i * j may reach (2^29 - 1)^2: the bias of w stays in 64 bits.
  attn::BiasOp wideBias = wide.op.getUnique<attn::BiasOp>();
  EXPECT_FALSE(wideBias->hasAttr(attn::kNarrowAttr));
  EXPECT_NE(attn::analyzeValueRanges(wide.op, *wideBias).whyNot.find("'arith.muli' in attn.bias"),
            std::string::npos);
  auto wideKernel = emitKernelSource(wide.op);
  ASSERT_TRUE(static_cast<bool>(wideKernel)) << llvm::toString(wideKernel.takeError());
  EXPECT_NE(wideKernel->source.find("attnc_w_bias(shape, tensors, b, h, i, j)"),
            std::string::npos)
      << wideKernel->source;
  // A stale mark on it is an error, not wrong code.
  wideBias->setAttr(attn::kNarrowAttr, mlir::UnitAttr::get(&wide.context));
  std::string ignored;
  llvm::raw_string_ostream os(ignored);
  llvm::Error err = emitCuda(wide.op, os);
  ASSERT_TRUE(static_cast<bool>(err));
  EXPECT_NE(llvm::toString(std::move(err)).find("'attn.bias' of pattern 'w' is marked attn.narrow"),
            std::string::npos);
}

/// The regions whose bounds checkBounds checks, each with the analysis that
/// bounds it: the mask's, or its own for bias, score and score_grad
/// (tensor_grad's region only accumulates, and the evaluator needs gradient
/// buffers for it).
std::vector<std::pair<mlir::Operation *, attn::MaskRanges>> boundedRegions(attn::PatternOp op) {
  std::vector<std::pair<mlir::Operation *, attn::MaskRanges>> regions;
  attn::MaskRanges mask = attn::analyzeMaskRanges(op);
  for (mlir::Operation &element : op.getBodyBlock()) {
    if (mlir::isa<attn::SetOp, attn::AttendOp>(element))
      regions.emplace_back(&element, mask);
    else if (mlir::isa<attn::BiasOp, attn::ScoreOp, attn::ScoreGradOp>(element))
      regions.emplace_back(&element, attn::analyzeValueRanges(op, element));
  }
  return regions;
}

/// Evaluates the bounded regions of `op` at random pairs of `shape` (random
/// incoming scores) and checks each integer against its bound; returns how
/// many values were checked.
int64_t checkBounds(attn::PatternOp op, attn::PatternEvaluator &ir, const interp::Shape &shape,
                    std::mt19937 &rng, const std::string &where) {
  int64_t checked = 0;
  std::uniform_int_distribution<int64_t> bd(0, 3), hd(0, shape.numHeads - 1),
      qi(0, shape.seqQ - 1), kj(0, shape.seqK - 1);
  std::normal_distribution<float> score(0.f, 8.f);
  for (auto &[element, ranges] : boundedRegions(op)) {
    for (int trial = 0; trial < 40; ++trial) {
      llvm::SmallVector<attn::Scalar> args(element->getRegion(0).getNumArguments());
      args[0].i = bd(rng);
      args[1].i = hd(rng);
      args[2].i = qi(rng);
      args[3].i = kj(rng);
      for (size_t k = attn::kNumIndexArgs; k < args.size(); ++k)
        args[k].f = score(rng);
      auto observe = [&](mlir::Value v, const attn::Scalar &s) {
        if (!v.getType().isInteger(64))
          return;
        auto it = ranges.bounds.find(v);
        ASSERT_NE(it, ranges.bounds.end()) << where << ": an i64 value without a bound";
        EXPECT_TRUE(it->second.lo <= s.i && s.i <= it->second.hi)
            << where << ": " << s.i << " outside [" << it->second.lo << ", " << it->second.hi
            << "] at b=" << args[0].i << " h=" << args[1].i << " i=" << args[2].i
            << " j=" << args[3].i;
        ++checked;
      };
      // A set no head uses may divide by zero or index out of range; skip.
      (void)ir.run(element->getRegion(0), args, observe);
    }
  }
  return checked;
}

TEST(NarrowMask, BoundsHoldOnRandomPairs) {
  std::mt19937 rng(20260512);
  const interp::Shape shapes[] = {{1, 1, 1, 64}, {4, 37, 37, 128}, {3, 9, 61, 64},
                                  {2, 200, 130, 64}};
  int64_t checked = 0;
  int patterns = 0;
  for (const CheckedFile &file : test::checkedCorpus()) {
    for (const auto &pattern : file.ast.patterns) {
      auto values = interp::bindParams(*pattern, {});
      ASSERT_TRUE(static_cast<bool>(values)) << llvm::toString(values.takeError());
      Lowered lowered;
      lower(file, *pattern, lowered);
      ++patterns;
      // Loads out of range (a set evaluated where no head uses it) are skipped.
      mlir::ScopedDiagnosticHandler quiet(&lowered.context,
                                          [](mlir::Diagnostic &) { return mlir::success(); });
      for (const interp::Shape &shape : shapes) {
        test::Tensors tensors;
        test::makeTensors(*pattern, *values, shape, lowered.context, rng, tensors);
        attn::PatternEvaluator ir(lowered.op,
                                  {shape.numHeads, shape.seqQ, shape.seqK, shape.headDim},
                                  tensors.ir);
        checked += checkBounds(lowered.op, ir, shape, rng,
                               pattern->name + " Nq=" + std::to_string(shape.seqQ) +
                                   " Nk=" + std::to_string(shape.seqK));
      }
    }
  }
  EXPECT_GT(patterns, static_cast<int>(test::bundledPatternCount()));
  EXPECT_GT(checked, 10000);
}

} // namespace
