//===- GpuLayoutTest.cpp - The GPU layout kernel matches the CPU builder --===//
//
// For every pattern of the corpus and a spread of shapes (lengths that are not
// multiples of the tile, Nq != Nk, up to 8 heads, tiles of 32, 64 and 128),
// the layout built on the GPU by the generated layout kernel must equal the
// CPU builder's tile by tile: both evaluate the same interval twin with the
// same interval math. Where there is no GPU, the kernels are still compiled
// with NVRTC and the GPU tests skip.
//
//===----------------------------------------------------------------------===//
#include "GpuTestSupport.h"
#include "PatternCorpus.h"

#include "attnc/codegen/CudaEmitter.h"
#include "attnc/frontend/Frontend.h"
#include "attnc/layout/Layout.h"
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/pipeline/Pipeline.h"

#include "attn/Error.h"
#include "attn/Kernels.h"
#include "attn/Layout.h"
#include "attn/Nvrtc.h"

#include <gtest/gtest.h>

#include <chrono>

// The runtime's namespace is ::attn; attn:: here is the dialect's (attnc::attn).
namespace attnc {
namespace {

/// One pattern after the layout pipeline, with its layout kernel.
struct LoweredPattern {
  const CheckedFile *file;
  const ast::Pattern *pattern;
  std::vector<std::string> defines;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  KernelSource kernel;

  attn::PatternOp op() { return *module->getBody()->getOps<attn::PatternOp>().begin(); }
};

void lower(mlir::MLIRContext &context, LoweredPattern &lowered) {
  lowered.module = mlirGen(context, lowered.file->ast, *lowered.file->source, lowered.pattern);
  ASSERT_TRUE(mlir::succeeded(runLayoutPipeline(*lowered.module, lowered.defines)))
      << lowered.pattern->name;
  auto kernel = emitKernelSource(lowered.op());
  ASSERT_TRUE(static_cast<bool>(kernel))
      << lowered.pattern->name << ": " << llvm::toString(kernel.takeError());
  lowered.kernel = std::move(*kernel);
}

/// Every pattern of the corpus, with default parameters.
std::vector<LoweredPattern> lowerCorpus(const std::vector<CheckedFile> &files,
                                        mlir::MLIRContext &context) {
  std::vector<LoweredPattern> patterns;
  for (const CheckedFile &file : files)
    for (const auto &pattern : file.ast.patterns) {
      patterns.push_back({&file, pattern.get(), {}, {}, {}});
      lower(context, patterns.back());
    }
  return patterns;
}

/// The test's tensors in the kernel's slot order.
std::vector<::attn::HostTensorArg> tensorArgs(const test::Tensors &tensors,
                                            const std::vector<std::string> &slots) {
  std::vector<::attn::HostTensorArg> args;
  for (const std::string &name : slots) {
    const attn::TensorData &tensor = tensors.ir.at(name);
    args.push_back({tensor.data, tensor.elementType.getIntOrFloatBitWidth() / 8u, tensor.shape});
  }
  return args;
}

/// The element types of the pattern's tensors in the kernel's slot order.
std::vector<::attn::ElementType> tensorTypes(LoweredPattern &lowered) {
  std::vector<::attn::ElementType> types;
  for (const std::string &name : lowered.kernel.tensorSlots)
    for (const auto &param : lowered.pattern->params)
      if (param->kind == ast::ParamKind::Tensor && param->name == name)
        types.push_back(param->elemType == ast::ElemType::I64   ? ::attn::ElementType::I64
                        : param->elemType == ast::ElemType::I32 ? ::attn::ElementType::I32
                                                                : ::attn::ElementType::F32);
  return types;
}

struct Shape {
  int64_t numHeads, seqQ, seqK, blockQ, blockK;
};

// Lengths mostly not multiples of the tile, Nq below, equal to and above Nk.
constexpr Shape kShapes[] = {
    {1, 1, 1, 32, 32},      {3, 1000, 1000, 64, 64},   {8, 2500, 1700, 128, 32},
    {2, 777, 3001, 32, 128}, {5, 4096, 4096, 128, 128}, {4, 129, 2049, 64, 32},
};

/// Builds the layout of `shape` on both sides and counts differing rows.
int64_t compareOnShape(LoweredPattern &lowered, const ::attn::LayoutKernel &kernel,
                       const Shape &shape, std::mt19937 &rng) {
  auto values = interp::bindParams(*lowered.pattern, lowered.defines);
  EXPECT_TRUE(static_cast<bool>(values)) << llvm::toString(values.takeError());
  if (!values)
    return 1;
  interp::Shape sizesForTensors{shape.numHeads, shape.seqQ, shape.seqK, 64};
  test::Tensors tensors;
  test::makeTensors(*lowered.pattern, *values, sizesForTensors, *lowered.op()->getContext(), rng,
                    tensors);
  attn::Sizes sizes{shape.numHeads, shape.seqQ, shape.seqK, 64};
  attn::PatternEvaluator twins(lowered.op(), sizes, tensors.ir);
  auto cpu = layout::buildLayout(twins, nullptr, sizes, {shape.blockQ, shape.blockK, false});
  EXPECT_TRUE(static_cast<bool>(cpu)) << llvm::toString(cpu.takeError());
  if (!cpu)
    return 1;
  ::attn::GpuLayout gpu =
      kernel.build({shape.numHeads, shape.seqQ, shape.seqK, 64}, shape.blockQ, shape.blockK,
                   tensorArgs(tensors, lowered.kernel.tensorSlots));
  std::string where = lowered.pattern->name + " H=" + std::to_string(shape.numHeads) +
                      " Nq=" + std::to_string(shape.seqQ) + " Nk=" + std::to_string(shape.seqK) +
                      " tiles " + std::to_string(shape.blockQ) + "x" +
                      std::to_string(shape.blockK);
  return test::countLayoutMismatches(*cpu, gpu, where);
}

// Needs no GPU: the generated kernels are valid CUDA for the architectures
// the runtime targets.
TEST(GpuLayout, EveryLayoutKernelCompilesWithNvrtc) {
  std::vector<CheckedFile> files = test::checkedCorpus();
  mlir::MLIRContext context;
  std::vector<LoweredPattern> patterns = lowerCorpus(files, context);
  ASSERT_GE(patterns.size(), test::bundledPatternCount());
  for (LoweredPattern &lowered : patterns) {
    ::attn::CompileRequest request;
    request.source = lowered.kernel.source;
    request.headers = ::attn::kernelHeaders();
    request.arch = "sm_90a";
    request.kind = ::attn::BinaryKind::Ptx;
    ::attn::Binary ptx;
    ASSERT_NO_THROW(ptx = ::attn::compileWithNvrtc(request)) << lowered.pattern->name;
    EXPECT_NE(ptx.bytes.find(lowered.kernel.layoutKernel), std::string::npos)
        << lowered.pattern->name;
  }
}

TEST(GpuLayout, MatchesTheCpuLayoutTileByTile) {
  SKIP_WITHOUT_GPU();
  std::vector<CheckedFile> files = test::checkedCorpus();
  mlir::MLIRContext context;
  std::vector<LoweredPattern> patterns = lowerCorpus(files, context);
  ::attn::KernelCache cache;
  std::mt19937 rng(4711);
  int64_t cases = 0, mismatches = 0;
  for (LoweredPattern &lowered : patterns) {
    ::attn::LayoutKernel kernel(lowered.kernel.source, lowered.kernel.layoutKernel,
                                tensorTypes(lowered), cache);
    for (const Shape &shape : kShapes) {
      mismatches += compareOnShape(lowered, kernel, shape, rng);
      ++cases;
    }
  }
  EXPECT_EQ(mismatches, 0);
  std::printf("GPU layout: %zu patterns, %lld cases, %lld rows differing from the CPU layout\n",
              patterns.size(), static_cast<long long>(cases),
              static_cast<long long>(mismatches));
}

// Informational: how long the layout of a long sequence takes on the GPU.
TEST(GpuLayout, ReportsTheBuildTimeOfALongStridedLayout) {
  SKIP_WITHOUT_GPU();
  std::vector<CheckedFile> files = test::checkedCorpus();
  auto strided = std::find_if(files.begin(), files.end(), [](const CheckedFile &file) {
    return !file.ast.patterns.empty() && file.ast.patterns.front()->name == "strided";
  });
  ASSERT_NE(strided, files.end());
  mlir::MLIRContext context;
  LoweredPattern lowered{&*strided, strided->ast.patterns.front().get(), {"stride=362"}, {}, {}};
  lower(context, lowered);
  ::attn::KernelCache cache;
  ::attn::LayoutKernel kernel(lowered.kernel.source, lowered.kernel.layoutKernel,
                                tensorTypes(lowered), cache);
  const ::attn::LayoutShape shape{16, 131072, 131072, 128};
  kernel.build(shape, 128, 128, {}); // warm-up: module load, first allocations
  auto start = std::chrono::steady_clock::now();
  ::attn::GpuLayout layout = kernel.build(shape, 128, 128, {});
  double totalMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  int64_t visited = 0;
  for (size_t r = 0; r < layout.fullCount.size(); ++r)
    visited += layout.fullCount[r] + layout.partialCount[r];
  std::printf("GPU layout of strided (stride 362), H=%lld, N=%lld, 128x128 tiles (%lld tiles): "
              "kernel %.3f ms, with allocation and download %.3f ms; %lld tiles visited\n",
              static_cast<long long>(shape.numHeads), static_cast<long long>(shape.seqQ),
              static_cast<long long>(layout.numHeads * layout.rows * layout.cols),
              layout.kernelMs, totalMs, static_cast<long long>(visited));
  EXPECT_GT(visited, 0);
}

} // namespace
} // namespace attnc
