//===- ReferenceAttention.h - Attention on the CPU, forward and backward --===//
//
// The oracle of the GPU tests: O = softmax(logits) V and the row log-sum-exp,
// and the gradients of q, k and v, in float64, with every mask and logit
// taken from the reference interpreter (attends, logit), so that they mean
// what the language says and nothing else. Inputs are the floats the GPU
// sees: bf16 or fp16 values widened (tools/attnc/HalfPrecision.h rounds and
// widens them).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc/frontend/Frontend.h"
#include "attnc/interp/Interpreter.h"

#include <cstdint>
#include <functional>
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

/// The gradients of a loss with respect to the inputs of the forward pass.
struct ReferenceGradients {
  std::vector<double> dq; // [B, H, Nq, D]; zeros in rows not asked for
  std::vector<double> dk; // [B, Hkv, Nk, D]; summed over the query heads sharing a head
  std::vector<double> dv; // [B, Hkv, Nk, D]; likewise
};

/// d score' / d s of the pattern's `score` rewrite at s = scale * q.k + bias,
/// for the pair (b, h, i, j). Interpreter::score evaluates in binary32, too
/// coarse for a numeric derivative, so the caller supplies it: a test its
/// analytic form, later the compiler's derivative of the rewrite. Called
/// from several threads at once.
using ScoreDerivative =
    std::function<double(double s, int64_t b, int64_t h, int64_t i, int64_t j)>;

/// The backward pass of `rows` (distinct query indices) of every (b, h), in
/// parallel threads: the gradients of sum(dO * O) over those rows, the other
/// rows of dO ([B, H, Nq, D], the layout of q) being taken as zero, by
/// dV = P^T dO, dP = dO V^T, dL = P * (dP - rowsum(dO * O)), dS = dL * dscore,
/// dQ = scale dS K, dK = scale dS^T Q. `scoreDerivative` may be left empty
/// when the pattern has no `score` rewrite (the derivative is then 1), and
/// must not be otherwise (else std::invalid_argument). Other errors as
/// referenceForward. Besides the result it holds dK and dV for every query
/// head while it runs (threads then never share a row).
ReferenceGradients referenceBackward(const interp::Interpreter &pattern,
                                     const AttentionSizes &sizes, const HostInputs &inputs,
                                     const float *dO, const std::vector<int64_t> &rows,
                                     const ScoreDerivative &scoreDerivative = {});

/// Receives d logit / d element for one element of a float tensor: the
/// tensor's name and the element's row-major offset.
using TensorElementSink =
    std::function<void(const std::string &tensor, int64_t offset, double derivative)>;

/// How the logit of pair (b, h, i, j) moves with the float tensors the
/// pattern's bias and score read, at `value` = scale * q.k (before the
/// bias): calls `add` once per element read (an element read twice may come
/// twice; the sum counts). As for ScoreDerivative, the caller supplies it (a
/// test its analytic form, later the compiler's attn.tensor_grad). Called
/// from several threads at once.
using LogitTensorDerivative = std::function<void(double value, int64_t b, int64_t h, int64_t i,
                                                 int64_t j, const TensorElementSink &add)>;

/// The gradients of sum(dO * O) over `rows` (as referenceBackward) with
/// respect to the f32 tensors among `tensors` (those the interpreter was
/// created with), by name, row-major in each tensor's shape; integer tensors
/// get none. Each attended pair adds dL * d logit / d element, with dL = P *
/// (dP - rowsum(dO * O)) as in referenceBackward and the derivative from
/// `derivative`. Runs in parallel threads, holding one gradient per (b, h)
/// while it runs so that the sum is in a fixed order. Errors as
/// referenceBackward; an offset outside its tensor, or a name that is not an
/// f32 tensor of `tensors`, throws std::out_of_range.
std::map<std::string, std::vector<double>>
referenceTensorGradients(const interp::Interpreter &pattern, const AttentionSizes &sizes,
                         const HostInputs &inputs, const float *dO,
                         const std::vector<int64_t> &rows,
                         const std::map<std::string, interp::HostTensor> &tensors,
                         const LogitTensorDerivative &derivative);

/// patterns/<name>.pattern, checked as checkOrThrow does; throws
/// std::runtime_error when it cannot be read.
CheckedFile checkBundledPattern(const std::string &name);

/// Checks `text`; throws std::runtime_error with the diagnostics if it has errors.
CheckedFile checkOrThrow(const std::string &name, const std::string &text);

/// The interpreter of `pattern` with default parameters overridden by
/// `defines` ("name=value"), for `shape`; throws std::runtime_error with the
/// interpreter's message when a value or tensor does not fit.
interp::Interpreter makeInterpreter(const ast::Pattern &pattern, const interp::Shape &shape,
                                    std::map<std::string, interp::HostTensor> tensors = {},
                                    const std::vector<std::string> &defines = {});

} // namespace attnc::test
