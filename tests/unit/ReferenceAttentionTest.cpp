//===- ReferenceAttentionTest.cpp - The CPU reference on hand-worked cases ===//
//
// The GPU forward tests trust ReferenceAttention, so it is checked here on
// cases small enough to work out by hand. No GPU needed.
//
//===----------------------------------------------------------------------===//
#include "ReferenceAttention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace attnc::test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// A pattern with small hand-written inputs, contiguous as HostInputs wants.
struct Tiny {
  std::string text;
  AttentionSizes sizes;
  std::vector<float> q, k, v;

  ReferenceOutput run(std::vector<int64_t> rows = {}) const {
    CheckedFile file = checkOrThrow("<tiny>", text);
    interp::Interpreter pattern = makeInterpreter(
        *file.ast.patterns.front(), {sizes.heads, sizes.seqQ, sizes.seqK, sizes.headDim});
    if (rows.empty())
      rows = allRows(sizes.seqQ);
    return referenceForward(pattern, sizes, {q.data(), k.data(), v.data()}, std::move(rows));
  }
};

/// Sizes of one batch and one head.
AttentionSizes oneHead(int64_t seqQ, int64_t seqK, int64_t headDim) {
  return {1, 1, 1, seqQ, seqK, headDim};
}

void expectRow(const ReferenceOutput &out, int64_t row, const std::vector<double> &o,
               double lse) {
  for (int64_t d = 0; d < out.headDim; ++d)
    EXPECT_NEAR(out.o[row * out.headDim + d], o[d], 1e-12) << "row " << row << ", d " << d;
  if (std::isinf(lse))
    EXPECT_EQ(out.lse[row], lse) << "row " << row;
  else
    EXPECT_NEAR(out.lse[row], lse, 1e-12) << "row " << row;
}

TEST(ReferenceAttention, OneKeyGivesItsValue) {
  // scale = 1/sqrt(4) = 0.5; q.k = 1 * 3 + 2 * (-1) = 1.
  Tiny tiny{"pattern dense {}", oneHead(1, 1, 4), {1, 2, 0, 0}, {3, -1, 5, 7}, {4, 5, 6, 7}};
  expectRow(tiny.run(), 0, {4, 5, 6, 7}, 0.5);
}

TEST(ReferenceAttention, EqualLogitsAverageTheValues) {
  Tiny tiny{"pattern dense {}", oneHead(1, 2, 4), {1, 1, 1, 1},
            {1, 0, 0, 1, 1, 0, 0, 1},   // two equal keys: q.k = 2, logit 1
            {2, 4, 6, 8, 0, 0, 2, -8}};
  expectRow(tiny.run(), 0, {1, 2, 4, 0}, 1 + std::log(2.0));
}

TEST(ReferenceAttention, CausalRowsSeeOnlyEarlierKeys) {
  // Keys 0 and 1 give row 1 the logits 0.5 * 2 = 1 and 0.5 * 0 = 0.
  Tiny tiny{"pattern causal { causal; }", oneHead(2, 2, 4), {9, 9, 9, 9, 1, 1, 0, 0},
            {1, 1, 0, 0, 0, 0, 1, -1},
            {1, 0, 0, 0, 0, 1, 0, 0}};
  ReferenceOutput out = tiny.run();
  expectRow(out, 0, {1, 0, 0, 0}, 0.5 * 18); // row 0: key 0 alone, q.k = 18
  double e = std::exp(1.0);
  expectRow(out, 1, {e / (e + 1), 1 / (e + 1), 0, 0}, std::log(e + 1));
}

TEST(ReferenceAttention, RowsWithoutKeysGiveZerosAndMinusInfinity) {
  // Nq = 3 > Nk = 1: causal aligns the queries to the end of the keys, so
  // rows 0 and 1 see no key and row 2 sees key 0.
  Tiny tiny{"pattern causal { causal; }", oneHead(3, 1, 2), {1, 1, 1, 1, 0, 0}, {1, 1},
            {3, 4}};
  ReferenceOutput out = tiny.run();
  expectRow(out, 0, {0, 0}, -kInf);
  expectRow(out, 1, {0, 0}, -kInf);
  expectRow(out, 2, {3, 4}, 0);
}

TEST(ReferenceAttention, BiasIsAddedAfterTheScaleAndScoreSeesIt) {
  // q.k = 2: scale 0.25 gives 0.5, the bias makes it 1.5 (not 0.25 * 3),
  // then the score rewrite squashes it.
  Tiny tiny{"pattern p { scale = 0.25; bias = 1.0; score = 2.0 * tanh(score / 2.0); }",
            oneHead(1, 1, 2), {1, 1}, {1, 1}, {5, 6}};
  ReferenceOutput out = tiny.run();
  EXPECT_NEAR(out.lse[0], 2.0 * std::tanh(0.75), 1e-6); // the language's floats are binary32
  EXPECT_EQ(out.o[0], 5);
}

TEST(ReferenceAttention, QueryHeadsShareTheirGroupsKeyValueHead) {
  // Heads 0 and 1 read key/value head 0 (all values 1), heads 2 and 3 read
  // head 1 (all values 2): whatever the weights, the output is that value.
  AttentionSizes sizes{1, 4, 2, 1, 3, 2};
  std::vector<float> q = {1, -2, 3, 0.5f, -1, 1, 2, 2};
  std::vector<float> k = {1, 2, 3, 4, 5, 6, -1, -2, -3, 0, 1, 1};
  std::vector<float> v = {1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2};
  ReferenceOutput out = Tiny{"pattern dense {}", sizes, q, k, v}.run();
  for (int64_t h = 0; h < 4; ++h)
    for (int64_t d = 0; d < 2; ++d)
      EXPECT_NEAR(out.o[out.rowIndex(0, h, 0) * 2 + d], h < 2 ? 1.0 : 2.0, 1e-12) << "head " << h;
}

TEST(ReferenceAttention, ASubsetOfRowsEqualsThoseRowsOfAll) {
  AttentionSizes sizes{2, 2, 1, 37, 37, 8};
  std::vector<float> q(2 * 2 * 37 * 8), kv(2 * 1 * 37 * 8);
  for (size_t n = 0; n < q.size(); ++n)
    q[n] = static_cast<float>(std::sin(0.37 * n));
  for (size_t n = 0; n < kv.size(); ++n)
    kv[n] = static_cast<float>(std::cos(0.11 * n));
  Tiny tiny{"pattern causal { causal; }", sizes, q, kv, kv};
  ReferenceOutput all = tiny.run();
  ReferenceOutput some = tiny.run({36, 0, 5});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t r = 0; r < 3; ++r) {
        int64_t from = all.rowIndex(b, h, some.rows[r]), to = some.rowIndex(b, h, r);
        EXPECT_EQ(some.lse[to], all.lse[from]);
        for (int64_t d = 0; d < 8; ++d)
          EXPECT_EQ(some.o[to * 8 + d], all.o[from * 8 + d]);
      }
}

} // namespace
} // namespace attnc::test
