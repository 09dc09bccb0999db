//===- CudaCodegenTest.cpp - Generated CUDA compiles with NVRTC -----------===//
//
// Every pattern of the corpus (the bundled patterns first, then forms that
// exercise every expression) is compiled to CUDA and handed to NVRTC for sm_80
// and sm_90a, with the device helpers as an in-memory header and a probe
// kernel that calls every generated entry point, so that code is generated
// for all of them. No GPU is needed.
//
//===----------------------------------------------------------------------===//
#include "PatternCorpus.h"

#include "attnc/codegen/CudaEmitter.h"
#include "attnc/frontend/Frontend.h"
#include "attnc/mlirgen/MLIRGen.h"
#include "attnc/pipeline/Pipeline.h"

#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>
#include <nvrtc.h>

#include <fstream>
#include <sstream>

using namespace attnc;

namespace {

std::string builtinsHeader() {
  std::ifstream in(std::string(ATTNC_SOURCE_DIR) + "/runtime/kernels/" + kCudaBuiltinsHeader);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The CUDA source of one pattern after the layout pipeline; fails the test
/// with the emitter's error.
std::string emitPattern(const CheckedFile &file, const ast::Pattern &pattern) {
  mlir::MLIRContext context;
  auto module = mlirGen(context, file.ast, *file.source, &pattern);
  EXPECT_TRUE(mlir::succeeded(runLayoutPipeline(*module, {}))) << pattern.name;
  std::string source;
  llvm::raw_string_ostream os(source);
  auto op = *module->getBody()->getOps<attn::PatternOp>().begin();
  if (llvm::Error err = emitCuda(op, os))
    ADD_FAILURE() << pattern.name << ": " << llvm::toString(std::move(err));
  return source;
}

/// A kernel that calls the entry points, and the optional element functions
/// when the pattern has them, so that NVRTC generates code for each.
std::string probeKernel(const std::string &pattern, const std::string &source) {
  std::string prefix = "attnc_" + pattern + "_";
  std::string body =
      "extern \"C\" __global__ void attnc_probe(attnc_shape shape, attnc_tensors tensors, "
      "float *out) {\n"
      "  int64_t h = threadIdx.x, i = blockIdx.x, j = blockIdx.y;\n"
      "  out[0] = " + prefix + "attends(shape, tensors, 0, h, i, j);\n"
      "  attnc_truth t = " + prefix + "classify(shape, tensors, 0, h, i, i + 63, j, j + 63);\n"
      "  out[1] = t.may_be_true + 2 * t.may_be_false;\n";
  auto callIfPresent = [&](const std::string &name, const std::string &args) {
    if (source.find(prefix + name + "(") != std::string::npos)
      body += "  out[2] += " + prefix + name + "(shape, tensors" + args + ");\n";
  };
  callIfPresent("bias", ", 0, h, i, j");
  callIfPresent("score", ", 0, h, i, j, out[3]");
  callIfPresent("score_grad", ", 0, h, i, j, out[3]");
  callIfPresent("scale", "");
  return body + "}\n";
}

/// Compiles `source` for `arch`; returns NVRTC's log, empty on success.
std::string compileWithNvrtc(const std::string &source, const std::string &arch,
                             const std::string &header) {
  nvrtcProgram program;
  const char *headers[] = {header.c_str()};
  const char *names[] = {kCudaBuiltinsHeader};
  if (nvrtcCreateProgram(&program, source.c_str(), "pattern.cu", 1, headers, names) !=
      NVRTC_SUCCESS)
    return "nvrtcCreateProgram failed";
  std::string archOption = "--gpu-architecture=" + arch;
  std::string include = "-I" CUDA_INCLUDE_DIR;
  const char *options[] = {archOption.c_str(), include.c_str(), "-std=c++17"};
  nvrtcResult result = nvrtcCompileProgram(program, 3, options);
  size_t logSize = 0;
  nvrtcGetProgramLogSize(program, &logSize);
  std::string log(logSize, '\0');
  nvrtcGetProgramLog(program, log.data());
  log.resize(logSize ? logSize - 1 : 0); // the size counts the final NUL
  nvrtcDestroyProgram(&program);
  return result == NVRTC_SUCCESS ? std::string() : "NVRTC: " + log;
}

TEST(CudaCodegen, EveryPatternCompilesWithNvrtc) {
  std::string header = builtinsHeader();
  ASSERT_FALSE(header.empty());
  int compiled = 0;
  for (const CheckedFile &file : test::checkedCorpus()) {
    for (const auto &pattern : file.ast.patterns) {
      std::string source = emitPattern(file, *pattern);
      source += probeKernel(pattern->name, source);
      for (const char *arch : {"sm_80", "sm_90a"}) {
        EXPECT_EQ(compileWithNvrtc(source, arch, header), "")
            << pattern->name << " for " << arch << ":\n"
            << source;
        ++compiled;
      }
    }
  }
  EXPECT_GE(compiled, 2 * static_cast<int>(test::bundledPatternCount()));
}

TEST(CudaCodegen, RefusesAPatternThatSkippedThePipeline) {
  CheckedFile file = checkSource("causal.pattern", "pattern p { causal; }", llvm::nulls());
  ASSERT_TRUE(file.ok);
  mlir::MLIRContext context;
  auto module = mlirGen(context, file.ast, *file.source);
  auto op = *module->getBody()->getOps<attn::PatternOp>().begin();
  std::string ignored;
  llvm::raw_string_ostream os(ignored);
  llvm::Error err = emitCuda(op, os);
  ASSERT_TRUE(static_cast<bool>(err));
  EXPECT_NE(llvm::toString(std::move(err)).find("layout pipeline"), std::string::npos);
}

} // namespace
