//===- ReferenceAttention.h - The attention forward pass on the CPU -------===//
//
// The oracle of the GPU forward tests: O = softmax(logits) V and the row
// log-sum-exp, in float64, with every mask and logit taken from the reference
// interpreter (attends, logit), so that it means what the language says and
// nothing else. Inputs are the floats the GPU sees: bf16 or fp16 values
// widened (tools/attnc/HalfPrecision.h rounds and widens them).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc/frontend/Frontend.h"
#include "attnc/interp/Interpreter.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace attnc::test {

struct AttentionSizes {
  int64_t batch = 1;
  int64_t heads = 1;   // query heads; the pattern's H
  int64_t kvHeads = 1; // divides heads: query head h reads key/value head h / (heads / kvHeads)
  int64_t seqQ = 1, seqK = 1;
  int64_t headDim = 64;
};

/// Contiguous host tensors in logical order: q [B, H, Nq, D], k and v
/// [B, Hkv, Nk, D].
struct HostInputs {
  const float *q = nullptr;
  const float *k = nullptr;
  const float *v = nullptr;
};

/// The forward pass of some query rows, the same rows for every (b, h).
struct ReferenceOutput {
  int64_t batch = 0, heads = 0, headDim = 0;
  std::vector<int64_t> rows; // query indices
  std::vector<double> o;     // [B, H, rows, D]; zeros for a row with no attended key
  std::vector<double> lse;   // [B, H, rows]; natural log; -inf for a row with no attended key

  /// Index of row `r` (a position in `rows`) of head h of batch b in `lse`;
  /// times headDim, of its first element in `o`.
  int64_t rowIndex(int64_t b, int64_t h, int64_t r) const {
    return (b * heads + h) * static_cast<int64_t>(rows.size()) + r;
  }
};

/// 0, 1, ..., seqQ - 1.
std::vector<int64_t> allRows(int64_t seqQ);

/// Evaluates `rows` of every (b, h) in parallel threads. `pattern` must have
/// been created for sizes.heads, seqQ, seqK and headDim (else
/// std::invalid_argument); the interpreter's EvalError propagates.
ReferenceOutput referenceForward(const interp::Interpreter &pattern, const AttentionSizes &sizes,
                                 const HostInputs &inputs, std::vector<int64_t> rows);

/// Checks `text`; throws std::runtime_error with the diagnostics if it has errors.
CheckedFile checkOrThrow(const std::string &name, const std::string &text);

/// The interpreter of `pattern` with default parameters overridden by
/// `defines` ("name=value"), for `shape`; throws std::runtime_error with the
/// interpreter's message when a value or tensor does not fit.
interp::Interpreter makeInterpreter(const ast::Pattern &pattern, const interp::Shape &shape,
                                    std::map<std::string, interp::HostTensor> tensors = {},
                                    const std::vector<std::string> &defines = {});

} // namespace attnc::test
