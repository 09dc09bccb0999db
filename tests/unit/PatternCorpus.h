//===- PatternCorpus.h - Patterns and inputs shared by the unit tests -----===//
#pragma once

#include "attnc/Dialect/Attn/Evaluator.h"
#include "attnc/frontend/Frontend.h"
#include "attnc/interp/Interpreter.h"

#include "mlir/IR/MLIRContext.h"

#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace attnc::test {

struct Case {
  std::string name;
  std::string text;
};

/// The bundled patterns (patterns/*.pattern), then a corpus of extra patterns
/// that exercise every expression form.
std::vector<Case> corpus();

/// The corpus, each file checked; a file with diagnostics is a test failure
/// (reported with them) and left out.
std::vector<CheckedFile> checkedCorpus();

/// The files of patterns/, sorted.
std::vector<std::filesystem::path> bundledFiles();

/// Number of files in patterns/.
size_t bundledPatternCount();

/// Random contents for every tensor parameter, owned here, seen by both the
/// interpreter (`host`) and the IR evaluator (`ir`). Integer tensors look like
/// sorted document ids, so that layouts have structure.
struct Tensors {
  std::vector<std::vector<int64_t>> storage64;
  std::vector<std::vector<int32_t>> storage32;
  std::vector<std::vector<float>> storageF;
  std::map<std::string, interp::HostTensor> host;
  std::map<std::string, attn::TensorData> ir;
};

void makeTensors(const ast::Pattern &pattern, const interp::ParamValues &values,
                 const interp::Shape &shape, mlir::MLIRContext &context, std::mt19937 &rng,
                 Tensors &out);

} // namespace attnc::test
