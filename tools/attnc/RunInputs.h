//===- RunInputs.h - attnc run: the checked inputs of a run ---------------===//
//
// Everything a user can get wrong (shapes, dtypes, head counts, the pattern's
// tensors, which options go together, where the outputs go) is checked on the
// host, so it is reported the same way with or without a GPU.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Npy.h"
#include "RunCommand.h"

#include <optional>

namespace attnc {

/// q, k, v or dO, converted to the run's dtype, in its file's memory order.
struct Operand {
  const char *option = ""; // "--q", for messages
  std::string path;
  std::vector<int64_t> fileShape;
  int64_t batch = 0, heads = 0, tokens = 0, headDim = 0;
  std::vector<uint16_t> elements;

  std::string name() const { return "'" + path + "' (" + option + ")"; }
};

/// The checked inputs of a run, ready for the GPU.
struct RunInputs {
  Operand q, k, v;
  std::optional<Operand> dO; // with RunRequest::backward()
  ::attn::Problem problem;
  std::vector<npy::Array> tensors; // the pattern's, in the bundle's order
  // Per pattern tensor: the file its gradient goes to (--dtensor), or empty.
  std::vector<std::string> tensorGrads;
};

/// Checks the options of `request` and reads its input files.
llvm::Expected<RunInputs> loadRunInputs(const ::attn::Bundle &bundle, const RunRequest &request);

} // namespace attnc
