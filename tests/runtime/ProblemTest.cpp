// attn::checkProblem: the sizes Attention::layout accepts, checked on the CPU.
#include "attn/Attention.h"
#include "attn/Error.h"

#include <gtest/gtest.h>

namespace {

using attn::Problem;

std::string problemError(const Problem &problem) {
  try {
    attn::checkProblem(problem);
  } catch (const attn::Error &e) {
    return e.what();
  }
  return "";
}

Problem sized(int64_t batch, int64_t heads, int64_t seqQ, int64_t seqK) {
  Problem problem;
  problem.batch = batch;
  problem.heads = problem.kvHeads = heads;
  problem.seqQ = seqQ;
  problem.seqK = seqK;
  return problem;
}

TEST(Problem, AcceptsTheLargestSizesTheMasksAreProvenFor) {
  EXPECT_EQ(problemError(sized(1, 1, 1, 1)), "");
  EXPECT_EQ(problemError(sized(1, 16, 4096, attn::kMaxSequenceLength)), "");
  EXPECT_EQ(problemError(sized(attn::kMaxBatch, 1, 128, 128)), "");
  EXPECT_EQ(problemError(sized(1, attn::kMaxHeads, 128, 128)), "");
}

TEST(Problem, RejectsSequencesLongerThan2To29) {
  EXPECT_EQ(attn::kMaxSequenceLength, 536870912);
  EXPECT_EQ(problemError(sized(1, 1, 128, attn::kMaxSequenceLength + 1)),
            "sequence lengths Nq = 128, Nk = 536870913 are too long: at most 2^29 = 536870912 "
            "(the masks use 32-bit indices)");
  EXPECT_EQ(problemError(sized(1, 1, attn::kMaxSequenceLength + 1, 128)),
            "sequence lengths Nq = 536870913, Nk = 128 are too long: at most 2^29 = 536870912 "
            "(the masks use 32-bit indices)");
}

TEST(Problem, RejectsTooManyHeadsOrTooLargeABatch) {
  EXPECT_EQ(problemError(sized(1, attn::kMaxHeads + 1, 128, 128)),
            "H = 65537 heads are too many: at most 65536");
  EXPECT_EQ(problemError(sized(attn::kMaxBatch + 1, 1, 128, 128)),
            "batch 1048577 is too large: at most 1048576");
}

TEST(Problem, RejectsEmptySizesAndBadKeyValueHeads) {
  EXPECT_EQ(problemError(sized(1, 1, 0, 1)),
            "batch, heads, key/value heads and sequence lengths must be at least 1");
  Problem gqa = sized(1, 6, 8, 8);
  gqa.kvHeads = 4;
  EXPECT_EQ(problemError(gqa), "key/value heads (4) must divide query heads (6)");
}

TEST(Problem, RejectsMoreQueryTilesThanTheGridHolds) {
  // 65535 tiles of 128 rows.
  EXPECT_EQ(problemError(sized(1, 1, 65535 * 128, 128)), "");
  EXPECT_EQ(problemError(sized(1, 1, 65535 * 128 + 1, 128)),
            "Nq = 8388481 is too long: at most 8388480");
}

} // namespace
