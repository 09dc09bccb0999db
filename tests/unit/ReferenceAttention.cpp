//===- ReferenceAttention.cpp ---------------------------------------------===//
#include "ReferenceAttention.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
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

double dot(const float *a, const float *b, int64_t n) {
  double sum = 0;
  for (int64_t d = 0; d < n; ++d)
    sum += static_cast<double>(a[d]) * b[d];
  return sum;
}

/// One query row: the attended keys' logits, then a softmax shifted by their
/// maximum (so exp never overflows) and the weighted sum of values.
class RowEvaluator {
public:
  RowEvaluator(const interp::Interpreter &pattern, const AttentionSizes &sizes,
               const HostInputs &inputs)
      : pattern_(pattern), sizes_(sizes), inputs_(inputs) {}

  void evaluate(int64_t b, int64_t h, int64_t i, double *o, double &lse) {
    const int64_t D = sizes_.headDim;
    const int64_t kvHead = h / (sizes_.heads / sizes_.kvHeads);
    const float *q = inputs_.q + ((b * sizes_.heads + h) * sizes_.seqQ + i) * D;
    const int64_t kvBase = (b * sizes_.kvHeads + kvHead) * sizes_.seqK * D;
    keys_.clear();
    logits_.clear();
    for (int64_t j = 0; j < sizes_.seqK; ++j)
      if (pattern_.attends(b, h, i, j)) {
        keys_.push_back(j);
        logits_.push_back(pattern_.logit(dot(q, inputs_.k + kvBase + j * D, D), b, h, i, j));
      }
    std::fill(o, o + D, 0.0);
    if (keys_.empty()) {
      lse = -std::numeric_limits<double>::infinity();
      return;
    }
    double max = *std::max_element(logits_.begin(), logits_.end());
    double sum = 0;
    for (size_t n = 0; n < keys_.size(); ++n) {
      double weight = std::exp(logits_[n] - max);
      sum += weight;
      const float *v = inputs_.v + kvBase + keys_[n] * D;
      for (int64_t d = 0; d < D; ++d)
        o[d] += weight * v[d];
    }
    for (int64_t d = 0; d < D; ++d)
      o[d] /= sum;
    lse = max + std::log(sum);
  }

private:
  const interp::Interpreter &pattern_;
  const AttentionSizes &sizes_;
  const HostInputs &inputs_;
  std::vector<int64_t> keys_;   // reused across rows
  std::vector<double> logits_;
};

void checkSizes(const interp::Interpreter &pattern, const AttentionSizes &sizes) {
  const interp::Shape &shape = pattern.shape();
  if (shape.numHeads != sizes.heads || shape.seqQ != sizes.seqQ || shape.seqK != sizes.seqK ||
      shape.headDim != sizes.headDim)
    throw std::invalid_argument("the interpreter was created for another shape");
  if (sizes.batch < 1 || sizes.kvHeads < 1 || sizes.heads % sizes.kvHeads != 0)
    throw std::invalid_argument("batch must be positive and kvHeads must divide heads");
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
  // Worker t takes rows t, t + T, t + 2T, ... of the flattened (b, h, row)
  // order: interleaving balances causal heads, whose late rows cost more.
  const int64_t workers =
      std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, std::max<int64_t>(total, 1));
  auto work = [&](int64_t first) {
    RowEvaluator row(pattern, sizes, inputs);
    for (int64_t n = first; n < total; n += workers) {
      int64_t r = n % rowsPerHead, bh = n / rowsPerHead;
      row.evaluate(bh / sizes.heads, bh % sizes.heads, out.rows[r],
                   out.o.data() + n * sizes.headDim, out.lse[n]);
    }
  };
  std::vector<std::future<void>> running;
  for (int64_t t = 0; t < workers; ++t)
    running.push_back(std::async(std::launch::async, work, t));
  for (auto &future : running)
    future.get(); // rethrows a worker's EvalError
  return out;
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
