//===- ReferenceAttention.cpp ---------------------------------------------===//
#include "ReferenceAttention.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <future>
#include <limits>
#include <stdexcept>
#include <thread>

namespace attnc::test {

std::vector<int64_t> allRows(int64_t seqQ) {
  std::vector<int64_t> rows(seqQ);
  for (int64_t i = 0; i < seqQ; ++i)
    rows[i] = i;
  return rows;
}

namespace {

template <typename A, typename B> double dot(const A *a, const B *b, int64_t n) {
  double sum = 0;
  for (int64_t d = 0; d < n; ++d)
    sum += static_cast<double>(a[d]) * b[d];
  return sum;
}

/// Offset of row i of query head h in batch b in q (and dO, dQ).
int64_t queryOffset(const AttentionSizes &sizes, int64_t b, int64_t h, int64_t i) {
  return ((b * sizes.heads + h) * sizes.seqQ + i) * sizes.headDim;
}

/// Offset of row j of the key/value head that query head h reads, in k and v.
int64_t keyOffset(const AttentionSizes &sizes, int64_t b, int64_t h, int64_t j) {
  const int64_t kvHead = h / (sizes.heads / sizes.kvHeads);
  return ((b * sizes.kvHeads + kvHead) * sizes.seqK + j) * sizes.headDim;
}

/// The softmax of one query row over its attended keys.
struct RowSoftmax {
  std::vector<int64_t> keys;  // the attended keys, ascending
  std::vector<double> scores; // s = scale * q.k + bias of each, before the `score` rewrite
  std::vector<double> probs;  // P; sums to 1
  double lse = 0;             // natural log; -inf when no key is attended
};

/// Turns the logits in row.probs into probabilities, shifted by their
/// maximum so that exp never overflows, and sets row.lse.
void normalize(RowSoftmax &row) {
  if (row.probs.empty()) {
    row.lse = -std::numeric_limits<double>::infinity();
    return;
  }
  double max = *std::max_element(row.probs.begin(), row.probs.end());
  double sum = 0;
  for (double &p : row.probs) {
    p = std::exp(p - max);
    sum += p;
  }
  for (double &p : row.probs)
    p /= sum;
  row.lse = max + std::log(sum);
}

/// The forward pass of one query row at a time; one per thread, as it
/// reuses its buffers across rows.
class RowEvaluator {
public:
  RowEvaluator(const interp::Interpreter &pattern, const AttentionSizes &sizes,
               const HostInputs &inputs)
      : pattern_(pattern), sizes_(sizes), inputs_(inputs), scale_(pattern.scale()) {}

  /// The softmax of row i of head h in batch b; valid until the next call.
  const RowSoftmax &softmax(int64_t b, int64_t h, int64_t i) {
    const float *q = inputs_.q + queryOffset(sizes_, b, h, i);
    row_.keys.clear();
    row_.scores.clear();
    row_.probs.clear();
    for (int64_t j = 0; j < sizes_.seqK; ++j)
      if (pattern_.attends(b, h, i, j)) {
        // Interpreter::logit in its two steps, as the backward pass needs s.
        double s = scale_ * dot(q, inputs_.k + keyOffset(sizes_, b, h, j), sizes_.headDim) +
                   pattern_.bias(b, h, i, j);
        row_.keys.push_back(j);
        row_.scores.push_back(s);
        row_.probs.push_back(pattern_.score(s, b, h, i, j));
      }
    normalize(row_);
    return row_;
  }

  /// O = P V of `row`, a softmax of head h in batch b, into o[0, D).
  void output(const RowSoftmax &row, int64_t b, int64_t h, double *o) const {
    const int64_t D = sizes_.headDim;
    std::fill(o, o + D, 0.0);
    for (size_t n = 0; n < row.keys.size(); ++n) {
      const float *v = inputs_.v + keyOffset(sizes_, b, h, row.keys[n]);
      for (int64_t d = 0; d < D; ++d)
        o[d] += row.probs[n] * v[d];
    }
  }

  double scale() const { return scale_; }

private:
  const interp::Interpreter &pattern_;
  const AttentionSizes &sizes_;
  const HostInputs &inputs_;
  const double scale_;
  RowSoftmax row_; // reused across rows
};

void checkSizes(const interp::Interpreter &pattern, const AttentionSizes &sizes) {
  const interp::Shape &shape = pattern.shape();
  if (shape.numHeads != sizes.heads || shape.seqQ != sizes.seqQ || shape.seqK != sizes.seqK ||
      shape.headDim != sizes.headDim)
    throw std::invalid_argument("the interpreter was created for another shape");
  if (sizes.batch < 1 || sizes.kvHeads < 1 || sizes.heads % sizes.kvHeads != 0)
    throw std::invalid_argument("batch must be positive and kvHeads must divide heads");
}

/// Runs work(first, stride) on one thread per core, at most `items` threads;
/// each is to take items first, first + stride, first + 2 stride, ...:
/// interleaving balances causal heads, whose late rows cost more. Rethrows
/// a thread's exception (the interpreter's EvalError).
void runInterleaved(int64_t items, const std::function<void(int64_t, int64_t)> &work) {
  const int64_t workers =
      std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, std::max<int64_t>(items, 1));
  std::vector<std::future<void>> running;
  for (int64_t t = 0; t < workers; ++t)
    running.push_back(std::async(std::launch::async, work, t, workers));
  for (auto &future : running)
    future.get();
}

/// d loss / d logit of each key of `row` (a softmax of head h in batch b
/// whose output is `o`), for loss = sum(dO * O) over the row:
/// dL = P * (dP - rowsum(dO * O)), dP = dO V^T.
void logitGradients(const RowSoftmax &row, const AttentionSizes &sizes, const HostInputs &inputs,
                    const float *dO, const double *o, int64_t b, int64_t h,
                    std::vector<double> &dLogits) {
  const int64_t D = sizes.headDim;
  // Every probability of the row moves with every logit through the
  // softmax's normalization: this is that coupling.
  const double rowsum = dot(dO, o, D);
  dLogits.resize(row.keys.size());
  for (size_t n = 0; n < row.keys.size(); ++n) {
    const float *v = inputs.v + keyOffset(sizes, b, h, row.keys[n]);
    dLogits[n] = row.probs[n] * (dot(dO, v, D) - rowsum);
  }
}

/// The gradients before the sum over groups of query heads: dK and dV hold
/// one [Nk, D] per query head ([B, H, Nk, D]), so that threads working on
/// different heads never write the same element.
struct PerQueryHead {
  std::vector<double> dq, dk, dv;
};

/// The backward pass of one query row at a time, adding its terms to
/// PerQueryHead. One per thread, as it reuses its buffers across rows.
class RowBackward {
public:
  RowBackward(const interp::Interpreter &pattern, const AttentionSizes &sizes,
              const HostInputs &inputs, const float *dO, const ScoreDerivative &scoreDerivative,
              PerQueryHead &perHead)
      : forward_(pattern, sizes, inputs), sizes_(sizes), inputs_(inputs), dO_(dO),
        scoreDerivative_(scoreDerivative), perHead_(perHead), o_(sizes.headDim) {}

  void accumulate(int64_t b, int64_t h, int64_t i) {
    const RowSoftmax &row = forward_.softmax(b, h, i);
    if (row.keys.empty())
      return; // O is 0 whatever q, k and v are
    const int64_t D = sizes_.headDim;
    const float *q = inputs_.q + queryOffset(sizes_, b, h, i);
    const float *dO = dO_ + queryOffset(sizes_, b, h, i);
    double *dq = perHead_.dq.data() + queryOffset(sizes_, b, h, i);
    const int64_t headBase = (b * sizes_.heads + h) * sizes_.seqK * D;
    forward_.output(row, b, h, o_.data());
    logitGradients(row, sizes_, inputs_, dO, o_.data(), b, h, dLogits_);
    for (size_t n = 0; n < row.keys.size(); ++n) {
      const int64_t j = row.keys[n];
      const float *k = inputs_.k + keyOffset(sizes_, b, h, j);
      const double p = row.probs[n];
      const double dS = dLogits_[n] * derivative(row.scores[n], b, h, i, j);
      const double dDot = forward_.scale() * dS; // of the raw q.k
      double *dk = perHead_.dk.data() + headBase + j * D;
      double *dv = perHead_.dv.data() + headBase + j * D;
      for (int64_t d = 0; d < D; ++d) {
        dv[d] += p * dO[d];
        dq[d] += dDot * k[d];
        dk[d] += dDot * q[d];
      }
    }
  }

private:
  double derivative(double s, int64_t b, int64_t h, int64_t i, int64_t j) const {
    return scoreDerivative_ ? scoreDerivative_(s, b, h, i, j) : 1.0;
  }

  RowEvaluator forward_;
  const AttentionSizes &sizes_;
  const HostInputs &inputs_;
  const float *dO_;
  const ScoreDerivative &scoreDerivative_;
  PerQueryHead &perHead_;
  std::vector<double> o_, dLogits_; // reused across rows
};

/// Sums the per-query-head rows [B, H, Nk, D] of each group of query heads
/// into its key/value head's [B, Hkv, Nk, D], in head order (so the result
/// does not depend on threads).
std::vector<double> sumGroups(const std::vector<double> &perHead, const AttentionSizes &sizes) {
  const int64_t headSize = sizes.seqK * sizes.headDim;
  const int64_t group = sizes.heads / sizes.kvHeads;
  std::vector<double> sum(sizes.batch * sizes.kvHeads * headSize, 0.0);
  // Query head (b, h) is b * H + h in [B, H]; its key/value head, b * Hkv +
  // h / group in [B, Hkv], is that divided by group since H = Hkv * group.
  for (int64_t bh = 0; bh < sizes.batch * sizes.heads; ++bh)
    for (int64_t n = 0; n < headSize; ++n)
      sum[bh / group * headSize + n] += perHead[bh * headSize + n];
  return sum;
}

void checkDistinctRows(std::vector<int64_t> rows) {
  std::sort(rows.begin(), rows.end());
  if (std::adjacent_find(rows.begin(), rows.end()) != rows.end())
    throw std::invalid_argument("rows must be distinct: a repeated row would count twice");
}

void checkBackwardArguments(const interp::Interpreter &pattern, const std::vector<int64_t> &rows,
                            const ScoreDerivative &scoreDerivative) {
  checkDistinctRows(rows);
  if (pattern.pattern().score && !scoreDerivative)
    throw std::invalid_argument("the pattern rewrites the score: pass the rewrite's derivative");
}

} // namespace

ReferenceOutput referenceForward(const interp::Interpreter &pattern, const AttentionSizes &sizes,
                                 const HostInputs &inputs, std::vector<int64_t> rows) {
  checkSizes(pattern, sizes);
  ReferenceOutput out;
  out.batch = sizes.batch;
  out.heads = sizes.heads;
  out.headDim = sizes.headDim;
  out.rows = std::move(rows);
  const int64_t rowsPerHead = static_cast<int64_t>(out.rows.size());
  const int64_t total = sizes.batch * sizes.heads * rowsPerHead;
  out.o.resize(total * sizes.headDim);
  out.lse.resize(total);
  runInterleaved(total, [&](int64_t first, int64_t stride) {
    RowEvaluator evaluator(pattern, sizes, inputs);
    for (int64_t n = first; n < total; n += stride) {
      const int64_t r = n % rowsPerHead, bh = n / rowsPerHead;
      const int64_t b = bh / sizes.heads, h = bh % sizes.heads;
      const RowSoftmax &row = evaluator.softmax(b, h, out.rows[r]);
      evaluator.output(row, b, h, out.o.data() + n * sizes.headDim);
      out.lse[n] = row.lse;
    }
  });
  return out;
}

ReferenceGradients referenceBackward(const interp::Interpreter &pattern,
                                     const AttentionSizes &sizes, const HostInputs &inputs,
                                     const float *dO, const std::vector<int64_t> &rows,
                                     const ScoreDerivative &scoreDerivative) {
  checkSizes(pattern, sizes);
  checkBackwardArguments(pattern, rows, scoreDerivative);
  const int64_t heads = sizes.batch * sizes.heads;
  PerQueryHead perHead;
  perHead.dq.assign(heads * sizes.seqQ * sizes.headDim, 0.0);
  perHead.dk.assign(heads * sizes.seqK * sizes.headDim, 0.0);
  perHead.dv.assign(heads * sizes.seqK * sizes.headDim, 0.0);
  runInterleaved(heads, [&](int64_t first, int64_t stride) {
    RowBackward backward(pattern, sizes, inputs, dO, scoreDerivative, perHead);
    for (int64_t bh = first; bh < heads; bh += stride)
      for (int64_t i : rows)
        backward.accumulate(bh / sizes.heads, bh % sizes.heads, i);
  });
  return {std::move(perHead.dq), sumGroups(perHead.dk, sizes), sumGroups(perHead.dv, sizes)};
}

std::map<std::string, std::vector<double>>
referenceTensorGradients(const interp::Interpreter &pattern, const AttentionSizes &sizes,
                         const HostInputs &inputs, const float *dO,
                         const std::vector<int64_t> &rows,
                         const std::map<std::string, interp::HostTensor> &tensors,
                         const LogitTensorDerivative &derivative) {
  checkSizes(pattern, sizes);
  checkDistinctRows(rows);
  using Gradients = std::map<std::string, std::vector<double>>;
  Gradients zero;
  for (const auto &[name, tensor] : tensors)
    if (tensor.type == ast::ElemType::F32) {
      int64_t size = 1;
      for (int64_t d : tensor.shape)
        size *= d;
      zero[name].assign(size, 0.0);
    }
  const int64_t heads = sizes.batch * sizes.heads;
  std::vector<Gradients> perHead(heads, zero);
  runInterleaved(heads, [&](int64_t first, int64_t stride) {
    RowEvaluator forward(pattern, sizes, inputs);
    std::vector<double> o(sizes.headDim), dLogits;
    for (int64_t bh = first; bh < heads; bh += stride) {
      const int64_t b = bh / sizes.heads, h = bh % sizes.heads;
      Gradients &gradients = perHead[bh];
      for (int64_t i : rows) {
        const RowSoftmax &row = forward.softmax(b, h, i);
        forward.output(row, b, h, o.data());
        const float *rowDO = dO + queryOffset(sizes, b, h, i);
        logitGradients(row, sizes, inputs, rowDO, o.data(), b, h, dLogits);
        for (size_t n = 0; n < row.keys.size(); ++n) {
          const int64_t j = row.keys[n];
          const double value =
              forward.scale() * dot(inputs.q + queryOffset(sizes, b, h, i),
                                    inputs.k + keyOffset(sizes, b, h, j), sizes.headDim);
          derivative(value, b, h, i, j,
                     [&](const std::string &tensor, int64_t offset, double d) {
                       gradients.at(tensor).at(offset) += dLogits[n] * d;
                     });
        }
      }
    }
  });
  for (const Gradients &gradients : perHead) // in head order: a fixed sum
    for (const auto &[name, gradient] : gradients)
      for (size_t n = 0; n < gradient.size(); ++n)
        zero[name][n] += gradient[n];
  return zero;
}

CheckedFile checkBundledPattern(const std::string &name) {
  const std::string path = std::string(ATTNC_SOURCE_DIR) + "/patterns/" + name + ".pattern";
  auto text = readFile(path);
  if (!text)
    throw std::runtime_error(llvm::toString(text.takeError()));
  return checkOrThrow(path, *text);
}

CheckedFile checkOrThrow(const std::string &name, const std::string &text) {
  std::string diagnostics;
  llvm::raw_string_ostream os(diagnostics);
  CheckedFile file = checkSource(name, text, os);
  if (!file.ok)
    throw std::runtime_error(name + ":\n" + diagnostics);
  return file;
}

interp::Interpreter makeInterpreter(const ast::Pattern &pattern, const interp::Shape &shape,
                                    std::map<std::string, interp::HostTensor> tensors,
                                    const std::vector<std::string> &defines) {
  auto values = interp::bindParams(pattern, defines);
  if (!values)
    throw std::runtime_error(llvm::toString(values.takeError()));
  auto interpreter = interp::Interpreter::create(pattern, *values, shape, std::move(tensors));
  if (!interpreter)
    throw std::runtime_error(llvm::toString(interpreter.takeError()));
  return std::move(*interpreter);
}

} // namespace attnc::test
