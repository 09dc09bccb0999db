//===- ReferenceBackwardTest.cpp - The CPU backward pass, by differences --===//
//
// The GPU backward tests will trust referenceBackward, so it is checked here
// against central differences of referenceForward: both must agree on the
// gradient of loss = sum(dO * O) over the rows asked for, with random dO and
// inputs. No GPU needed.
//
//===----------------------------------------------------------------------===//
#include "ReferenceAttention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace attnc::test {
namespace {

/// One problem and how closely differences can follow it.
struct Case {
  CheckedFile file;
  AttentionSizes sizes;
  std::vector<std::string> defines = {};
  ScoreDerivative scoreDerivative = {};
  std::vector<int64_t> rows = {}; // every row when empty
  // Without a `score` rewrite the logits are float64 and a small step keeps
  // the differences' truncation error small; a rewrite evaluates in binary32,
  // whose rounding needs a larger step and a looser tolerance.
  double step = 1e-3;
  double tolerance = 1e-6; // relative to the largest gradient element
  std::map<std::string, interp::HostTensor> tensors = {}; // the pattern's, owned by the test
};

/// Uniform in [-2, 2]: logits of several units, so that the softmax is far
/// from uniform and each term of the gradient weighs.
std::vector<float> randomTensor(int64_t size, std::mt19937 &rng) {
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  std::vector<float> values(size);
  for (float &x : values)
    x = uniform(rng);
  return values;
}

/// The inputs of a case, random, and the loss that both passes differentiate.
/// The case must outlive it: the interpreter points into its syntax tree.
class Problem {
public:
  explicit Problem(const Case &c)
      : sizes_(c.sizes),
        pattern_(makeInterpreter(*c.file.ast.patterns.front(),
                                 {c.sizes.heads, c.sizes.seqQ, c.sizes.seqK, c.sizes.headDim},
                                 c.tensors, c.defines)),
        rows_(c.rows.empty() ? allRows(c.sizes.seqQ) : c.rows) {
    std::mt19937 rng(7);
    const int64_t queries = sizes_.batch * sizes_.heads * sizes_.seqQ * sizes_.headDim;
    const int64_t keys = sizes_.batch * sizes_.kvHeads * sizes_.seqK * sizes_.headDim;
    q_ = randomTensor(queries, rng);
    k_ = randomTensor(keys, rng);
    v_ = randomTensor(keys, rng);
    // Every row of dO is set, so a backward pass that read rows it was not
    // asked for would be caught.
    dO_ = randomTensor(queries, rng);
  }

  ReferenceOutput forward() const { return referenceForward(pattern_, sizes_, inputs(), rows_); }

  ReferenceGradients backward(const ScoreDerivative &scoreDerivative) const {
    return referenceBackward(pattern_, sizes_, inputs(), dO_.data(), rows_, scoreDerivative);
  }

  /// sum(dO * O) over rows_.
  double loss() const {
    ReferenceOutput out = forward();
    const int64_t D = sizes_.headDim;
    double sum = 0;
    for (int64_t b = 0; b < sizes_.batch; ++b)
      for (int64_t h = 0; h < sizes_.heads; ++h)
        for (size_t r = 0; r < rows_.size(); ++r) {
          const float *dO = dO_.data() + ((b * sizes_.heads + h) * sizes_.seqQ + rows_[r]) * D;
          const double *o = out.o.data() + out.rowIndex(b, h, r) * D;
          for (int64_t d = 0; d < D; ++d)
            sum += dO[d] * o[d];
        }
    return sum;
  }

  /// d loss / d x for every element x of `tensor` (q_, k_ or v_), by central
  /// differences of about `step`.
  std::vector<double> numericGradient(std::vector<float> &tensor, double step) const {
    std::vector<double> gradient(tensor.size());
    for (size_t n = 0; n < tensor.size(); ++n) {
      const float saved = tensor[n];
      // The steps binary32 can hold, so the divisor is the change made.
      const float up = static_cast<float>(saved + step);
      const float down = static_cast<float>(saved - step);
      tensor[n] = up;
      const double lossUp = loss();
      tensor[n] = down;
      const double lossDown = loss();
      tensor[n] = saved;
      gradient[n] = (lossUp - lossDown) / (static_cast<double>(up) - down);
    }
    return gradient;
  }

  std::map<std::string, std::vector<double>>
  tensorGradients(const std::map<std::string, interp::HostTensor> &tensors,
                  const LogitTensorDerivative &derivative) const {
    return referenceTensorGradients(pattern_, sizes_, inputs(), dO_.data(), rows_, tensors,
                                    derivative);
  }

  std::vector<float> &q() { return q_; }
  std::vector<float> &k() { return k_; }
  std::vector<float> &v() { return v_; }

private:
  HostInputs inputs() const { return {q_.data(), k_.data(), v_.data()}; }

  AttentionSizes sizes_;
  interp::Interpreter pattern_;
  std::vector<int64_t> rows_;
  std::vector<float> q_, k_, v_, dO_;
};

void expectClose(const char *name, const std::vector<double> &analytic,
                 const std::vector<double> &numeric, double tolerance) {
  ASSERT_EQ(analytic.size(), numeric.size()) << name;
  double largest = 0;
  for (double x : numeric)
    largest = std::max(largest, std::abs(x));
  ASSERT_GT(largest, 0) << name << " is zero: the case checks nothing";
  for (size_t n = 0; n < analytic.size(); ++n)
    EXPECT_NEAR(analytic[n], numeric[n], tolerance * largest) << name << "[" << n << "]";
}

void expectMatchesDifferences(const Case &c) {
  Problem problem(c);
  ReferenceGradients gradients = problem.backward(c.scoreDerivative);
  expectClose("dq", gradients.dq, problem.numericGradient(problem.q(), c.step), c.tolerance);
  expectClose("dk", gradients.dk, problem.numericGradient(problem.k(), c.step), c.tolerance);
  expectClose("dv", gradients.dv, problem.numericGradient(problem.v(), c.step), c.tolerance);
}

CheckedFile check(const std::string &text) { return checkOrThrow("<test>", text); }

/// d (cap tanh(s / cap)) / ds: the softcap rewrite's derivative.
ScoreDerivative softcapDerivative(double cap) {
  return [cap](double s, int64_t, int64_t, int64_t, int64_t) {
    const double t = std::tanh(s / cap);
    return 1 - t * t;
  };
}

TEST(ReferenceBackward, Dense) {
  expectMatchesDifferences({check("pattern dense {}"), {2, 2, 2, 5, 5, 4}});
}

TEST(ReferenceBackward, Causal) {
  expectMatchesDifferences({check("pattern causal { causal; }"), {1, 2, 2, 6, 6, 4}});
}

TEST(ReferenceBackward, AlibiBias) {
  // Four heads give the slopes 1/4, 1/16, 1/64, 1/256.
  expectMatchesDifferences({checkBundledPattern("alibi"), {1, 4, 4, 6, 6, 4}});
}

TEST(ReferenceBackward, SoftcapScoreRewrite) {
  // A cap of 1 bends logits of a few units far from the identity.
  Case c{checkBundledPattern("softcap"), {1, 2, 2, 6, 6, 4}, {"cap=1.0"}, softcapDerivative(1.0)};
  c.step = 1e-2;
  c.tolerance = 2e-4;
  expectMatchesDifferences(c);
}

TEST(ReferenceBackward, ScoreDerivativeIsTakenAfterTheBias) {
  Case c{check("pattern p { causal; bias = -0.5 * (i - j); score = tanh(score); }"),
         {1, 2, 2, 6, 6, 4}, {}, softcapDerivative(1.0)};
  c.step = 1e-2;
  c.tolerance = 2e-4;
  expectMatchesDifferences(c);
}

TEST(ReferenceBackward, GroupedQueryHeadsSumIntoTheirKeyValueHead) {
  expectMatchesDifferences({check("pattern causal { causal; }"), {2, 4, 2, 5, 5, 4}});
}

TEST(ReferenceBackward, FewerQueriesThanKeys) {
  // Causal aligns the 4 queries to the last 4 of the 7 keys.
  expectMatchesDifferences({check("pattern causal { causal; }"), {1, 2, 2, 4, 7, 4}});
}

TEST(ReferenceBackward, RowsWithoutKeysContributeNothing) {
  // 6 queries on 3 keys, aligned to the end: rows 0 to 2 see no key.
  Case c{check("pattern causal { causal; }"), {1, 2, 2, 6, 3, 4}};
  Problem problem(c);
  ASSERT_TRUE(std::isinf(problem.forward().lse[0])) << "row 0 should attend no key";
  ReferenceGradients gradients = problem.backward({});
  for (int64_t n = 0; n < 3 * 4; ++n) // rows 0 to 2 of head 0
    EXPECT_EQ(gradients.dq[n], 0.0) << n;
  expectMatchesDifferences(c);
}

TEST(ReferenceBackward, ASubsetOfRowsIgnoresTheOtherRowsOfDO) {
  Case c{check("pattern causal { causal; }"), {1, 2, 1, 9, 9, 4}};
  c.rows = {7, 2, 4};
  expectMatchesDifferences(c);
}

TEST(ReferenceBackward, ScoreRewriteWithoutItsDerivativeIsRefused) {
  Case c{checkBundledPattern("softcap"), {1, 1, 1, 2, 2, 4}};
  Problem problem(c);
  EXPECT_THROW(problem.backward({}), std::invalid_argument);
}

/// A float tensor `name` of `shape`, random, bound in `c`; `values` owns it.
void bindRandomTensor(Case &c, const std::string &name, std::vector<int64_t> shape,
                      std::vector<float> &values) {
  std::mt19937 rng(11);
  int64_t size = 1;
  for (int64_t d : shape)
    size *= d;
  values = randomTensor(size, rng);
  c.tensors[name] = {ast::ElemType::F32, std::move(shape), values.data()};
}

TEST(ReferenceTensorGradients, RelativeBiasTable) {
  // K = 4 distances for 6 queries: the last entry is shared by distances 3..5.
  constexpr int64_t K = 4;
  Case c{checkBundledPattern("relative_bias"), {2, 2, 2, 6, 6, 4}, {"K=4"}};
  std::vector<float> table;
  bindRandomTensor(c, "table", {2, K}, table);
  Problem problem(c);
  auto gradients = problem.tensorGradients(
      c.tensors, [](double, int64_t, int64_t h, int64_t i, int64_t j, const TensorElementSink &add) {
        add("table", h * K + std::clamp<int64_t>(i - j, 0, K - 1), 1.0);
      });
  ASSERT_EQ(gradients.size(), 1u);
  expectClose("dtable", gradients["table"], problem.numericGradient(table, c.step), c.tolerance);
}

TEST(ReferenceTensorGradients, GateInTheScoreAfterABias) {
  // d/dg[h] of 2 tanh(g[h] x / 2), x = value + bias: sech²(g[h] x / 2) x.
  Case c{check("pattern gate(g: tensor<f32>[H]) { causal; bias = -0.5 * float(i - j); "
               "score = 2.0 * tanh(score * g[h] / 2.0); }"),
         {1, 3, 3, 6, 6, 4}};
  c.step = 1e-2;
  c.tolerance = 2e-4;
  std::vector<float> gate;
  bindRandomTensor(c, "g", {3}, gate);
  Problem problem(c);
  auto gradients = problem.tensorGradients(
      c.tensors, [&](double value, int64_t, int64_t h, int64_t i, int64_t j,
                     const TensorElementSink &add) {
        const double x = value - 0.5 * static_cast<double>(i - j);
        const double t = std::tanh(gate[h] * x / 2);
        add("g", h, (1 - t * t) * x);
      });
  expectClose("dg", gradients["g"], problem.numericGradient(gate, c.step), c.tolerance);
}

TEST(ReferenceTensorGradients, IntegerTensorsGetNone) {
  Case c{checkBundledPattern("document"), {1, 1, 1, 4, 4, 4}};
  std::vector<int32_t> doc = {0, 0, 1, 1};
  c.tensors["doc"] = {ast::ElemType::I32, {4}, doc.data()};
  Problem problem(c);
  EXPECT_TRUE(problem.tensorGradients(c.tensors, [](double, int64_t, int64_t, int64_t, int64_t,
                                                    const TensorElementSink &) {})
                  .empty());
}

TEST(ReferenceBackward, RepeatedRowsAreRefused) {
  Case c{check("pattern dense {}"), {1, 1, 1, 3, 3, 4}, {}, {}, {1, 2, 1}};
  Problem problem(c);
  EXPECT_THROW(problem.backward({}), std::invalid_argument);
}

} // namespace
} // namespace attnc::test
