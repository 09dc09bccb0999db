// The bundled patterns (patterns/*.pattern) against independent C++
// definitions of the same masks, through the reference interpreter.
//
// The bundled patterns are the product's showcase and the inputs every later
// stage is checked on, so each one is compared pair by pair on awkward sizes
// (1, 7, 33, 100; Nq < Nk and Nq > Nk), several head counts and several
// parameter values. The expected masks here are written from the papers'
// formulas, with this file's own floor division, not from the .pattern text.
// A few hand-computed pairs per pattern guard against the pattern and its
// lambda sharing a misreading.
#include "attnc/frontend/Frontend.h"
#include "attnc/Dialect/Attn/AlibiSlope.h"
#include "attnc/interp/Interpreter.h"

#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using namespace attnc;
using interp::HostTensor;
using interp::Interpreter;
using interp::Shape;

using Defines = std::vector<std::string>;
using Tensors = std::map<std::string, HostTensor>;

// ---------------------------------------------------------------------------
// The language's arithmetic, written independently of the interpreter.
// ---------------------------------------------------------------------------

/// Python's a // b (b != 0).
int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/// Python's a % b: the sign of b (b != 0).
int64_t floorMod(int64_t a, int64_t b) { return a - floorDiv(a, b) * b; }

/// Query i's position among the keys: the queries are the last Nq keys, the
/// alignment `causal;` uses (j <= i + Nk - Nq).
int64_t alignedQuery(const Shape &s, int64_t i) { return i + s.seqK - s.seqQ; }

bool causalAllows(const Shape &s, int64_t i, int64_t j) { return j <= alignedQuery(s, i); }

// ---------------------------------------------------------------------------
// The bundled patterns and their parameter signatures.
// ---------------------------------------------------------------------------

/// Every bundled pattern with its parameters as "name: type = default".
const std::map<std::string, std::string> kSignatures = {
    {"causal", ""},
    {"dense", ""},
    {"sliding_window", "window: int = 256"},
    {"strided", "stride: int = 128"},
    {"strided_merged", "stride: int = 128"},
    {"fixed", "stride: int = 128, c: int = 32"},
    {"fixed_heads", "stride: int = 128, c: int = 16, v: int = 4"},
    {"alibi", ""},
    {"alibi_bidirectional", ""},
    {"document", "doc: tensor<i32>"},
    {"prefix_lm", "prefix: int = 128"},
    {"longformer", "window: int = 512, globals: int = 16"},
    {"bigbird", "block: int = 64, window: int = 3, globals: int = 2, random: int = 3"},
    {"dilated_sliding_window", "window: int = 256, dilation: int = 2"},
    {"softcap", "cap: float = 30"},
    {"relative_bias", "K: int = 128, table: tensor<f32>"},
};

std::string describeDefault(const ast::Literal &value) {
  switch (value.type) {
  case ast::Type::Int: return std::to_string(value.intValue);
  case ast::Type::Float: {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value.floatValue);
    return text;
  }
  case ast::Type::Bool: return value.boolValue ? "true" : "false";
  case ast::Type::Error: break;
  }
  return "?";
}

std::string describeParam(const ast::Param &param) {
  std::string text = param.name + ": ";
  if (param.kind == ast::ParamKind::Tensor)
    return text + "tensor<" + ast::toString(param.elemType) + ">";
  text += ast::toString(param.kind);
  if (param.defaultValue)
    text += " = " + describeDefault(*param.defaultValue);
  return text;
}

std::string signature(const ast::Pattern &pattern) {
  std::string text;
  for (const auto &param : pattern.params)
    text += (text.empty() ? "" : ", ") + describeParam(*param);
  return text;
}

/// Setup failures (a file that does not load, a define that does not bind)
/// end the test with the reason; the helpers return values, so they throw.
[[noreturn]] void fatal(const std::string &message) { throw std::runtime_error(message); }

std::string bundledPath(const std::string &name) {
  return std::string(ATTNC_SOURCE_DIR) + "/patterns/" + name + ".pattern";
}

/// patterns/<name>.pattern, loaded once. It must check without a single
/// diagnostic (`attnc check` prints nothing) and hold exactly one pattern,
/// named <name>.
const ast::Pattern &bundled(const std::string &name) {
  static std::map<std::string, CheckedFile> cache;
  auto it = cache.find(name);
  if (it != cache.end())
    return *it->second.ast.patterns.front();
  std::string path = bundledPath(name);
  auto text = readFile(path);
  if (!text)
    fatal(llvm::toString(text.takeError()));
  std::string diagnostics;
  llvm::raw_string_ostream os(diagnostics);
  CheckedFile file = checkSource(path, std::move(*text), os);
  os.flush();
  if (!file.ok || !diagnostics.empty())
    fatal(path + " does not check cleanly:\n" + diagnostics);
  if (file.ast.patterns.size() != 1 || file.ast.patterns.front()->name != name)
    fatal(path + " must hold exactly one pattern, named '" + name + "'");
  return *cache.emplace(name, std::move(file)).first->second.ast.patterns.front();
}

std::string def(const std::string &name, int64_t value) {
  return name + "=" + std::to_string(value);
}

Shape shape(int64_t heads, int64_t seqQ, int64_t seqK) { return Shape{heads, seqQ, seqK, 64}; }

std::string describeRun(const std::string &name, const Defines &defines, const Shape &s) {
  std::string text = name;
  for (const std::string &define : defines)
    text += " -D " + define;
  return text + " (H=" + std::to_string(s.numHeads) + ", Nq=" + std::to_string(s.seqQ) +
         ", Nk=" + std::to_string(s.seqK) + ")";
}

Interpreter makeInterpreter(const std::string &name, const Defines &defines, const Shape &s,
                            const Tensors &tensors = {}) {
  const ast::Pattern &pattern = bundled(name);
  auto params = interp::bindParams(pattern, defines);
  if (!params)
    fatal(describeRun(name, defines, s) + ": " + llvm::toString(params.takeError()));
  auto interp = Interpreter::create(pattern, *params, s, tensors);
  if (!interp)
    fatal(describeRun(name, defines, s) + ": " + llvm::toString(interp.takeError()));
  return std::move(*interp);
}

// ---------------------------------------------------------------------------
// Shapes.
// ---------------------------------------------------------------------------

/// Square problems: lengths that are not powers of two (and 1), each with
/// several head counts, so head lists of 2 and v = 3 or 4 wrap unevenly.
std::vector<Shape> squareShapes() {
  std::vector<Shape> shapes;
  for (int64_t n : {1, 7, 33, 100})
    for (int64_t heads : {1, 2, 3, 8})
      shapes.push_back(shape(heads, n, n));
  return shapes;
}

/// Fewer queries than keys (decoding, chunked prefill) and more queries than
/// keys (cross attention; under `causal;` the first rows then see nothing).
const std::vector<Shape> kRectangularShapes = {shape(3, 17, 40), shape(8, 1, 33),
                                               shape(2, 5, 100), shape(2, 40, 17),
                                               shape(1, 100, 7)};

std::vector<Shape> allShapes() {
  std::vector<Shape> shapes = squareShapes();
  shapes.insert(shapes.end(), kRectangularShapes.begin(), kRectangularShapes.end());
  return shapes;
}

// ---------------------------------------------------------------------------
// Comparing masks and values.
// ---------------------------------------------------------------------------

using MaskFn = std::function<bool(const Shape &, int64_t h, int64_t i, int64_t j)>;
using ValueFn = std::function<double(const Shape &, int64_t h, int64_t i, int64_t j)>;

/// How many pairs the comparisons saw attended and dropped: a test insists
/// on both where its pattern implies both, so agreement on an empty or full
/// mask cannot pass for agreement on the structure.
struct MaskStats {
  int64_t attended = 0;
  int64_t dropped = 0;
  MaskStats &operator+=(const MaskStats &other) {
    attended += other.attended;
    dropped += other.dropped;
    return *this;
  }
};

void expectMixed(const MaskStats &stats, const std::string &what) {
  EXPECT_GT(stats.attended, 0) << what << ": no pair attended";
  EXPECT_GT(stats.dropped, 0) << what << ": no pair dropped";
}

/// Calls visit(h, i, j) on every pair of `s`; batch 0, since no bundled
/// pattern reads b.
template <typename Visit>
void forEachPair(const Shape &s, Visit visit) {
  for (int64_t h = 0; h < s.numHeads; ++h)
    for (int64_t i = 0; i < s.seqQ; ++i)
      for (int64_t j = 0; j < s.seqK; ++j)
        visit(h, i, j);
}

/// Counts the pairs where the interpreter and the expectation differ and
/// prints the first few: enough to read, with the total to judge.
class Mismatches {
public:
  explicit Mismatches(std::string context) : context_(std::move(context)) {}

  template <typename T>
  void check(int64_t h, int64_t i, int64_t j, T actual, T expected, bool same) {
    if (same || ++count_ > kMaxReported)
      return;
    ADD_FAILURE() << context_ << ": (h=" << h << ", i=" << i << ", j=" << j << ") gives "
                  << actual << ", expected " << expected;
  }
  void expectNone() const { EXPECT_EQ(count_, 0) << context_ << ": pairs that differ"; }

private:
  static constexpr int64_t kMaxReported = 5;
  std::string context_;
  int64_t count_ = 0;
};

/// interp.attends against `expected` on every pair of the interpreter's shape.
MaskStats compareMasks(const Interpreter &interp, const MaskFn &expected,
                       const std::string &context) {
  const Shape &s = interp.shape();
  MaskStats stats;
  Mismatches mismatches(context);
  try {
    forEachPair(s, [&](int64_t h, int64_t i, int64_t j) {
      bool actual = interp.attends(0, h, i, j), want = expected(s, h, i, j);
      ++(actual ? stats.attended : stats.dropped);
      mismatches.check(h, i, j, actual, want, actual == want);
    });
  } catch (const interp::EvalError &e) {
    ADD_FAILURE() << context << ": evaluation failed: " << e.what();
  }
  mismatches.expectNone();
  return stats;
}

/// The bundled pattern `name` with `defines` against `expected` on every shape.
MaskStats checkMask(const std::string &name, const Defines &defines, const MaskFn &expected,
                    const std::vector<Shape> &shapes = allShapes()) {
  MaskStats total;
  for (const Shape &s : shapes)
    total += compareMasks(makeInterpreter(name, defines, s), expected,
                          describeRun(name, defines, s));
  return total;
}

/// interp.bias against `expected` on every pair of every shape (bias is
/// defined on dropped pairs too); a slope times a distance is one rounding,
/// so the tolerance is tight. Returns how many values were nonzero.
int64_t checkBias(const std::string &name, const ValueFn &expected) {
  int64_t nonzero = 0;
  for (const Shape &s : allShapes()) {
    Interpreter interp = makeInterpreter(name, {}, s);
    Mismatches mismatches(describeRun(name, {}, s) + " bias");
    forEachPair(s, [&](int64_t h, int64_t i, int64_t j) {
      double actual = interp.bias(0, h, i, j), want = expected(s, h, i, j);
      nonzero += actual != 0;
      bool same = std::fabs(actual - want) <= 1e-12 * std::fabs(want);
      mismatches.check(h, i, j, actual, want, same);
    });
    mismatches.expectNone();
  }
  return nonzero;
}

/// One pair and whether the pattern attends it, computed by hand.
struct Spot {
  int64_t h, i, j;
  bool attends;
};

void checkSpots(const std::string &name, const Defines &defines, const Shape &s,
                std::initializer_list<Spot> spots, const Tensors &tensors = {}) {
  Interpreter interp = makeInterpreter(name, defines, s, tensors);
  for (const Spot &spot : spots)
    EXPECT_EQ(interp.attends(0, spot.h, spot.i, spot.j), spot.attends)
        << describeRun(name, defines, s) << ": (h=" << spot.h << ", i=" << spot.i
        << ", j=" << spot.j << ")";
}

// ---------------------------------------------------------------------------
// The set of bundled patterns.
// ---------------------------------------------------------------------------

TEST(BundledPatterns, DirectoryHoldsExactlyTheSixteen) {
  std::set<std::string> found;
  for (const auto &entry :
       std::filesystem::directory_iterator(std::string(ATTNC_SOURCE_DIR) + "/patterns"))
    if (entry.path().extension() == ".pattern")
      found.insert(entry.path().stem().string());
  std::set<std::string> expected;
  for (const auto &[name, params] : kSignatures)
    expected.insert(name);
  EXPECT_EQ(expected.size(), 16u);
  EXPECT_EQ(found, expected);
}

TEST(BundledPatterns, CheckCleanlyWithTheDocumentedParameters) {
  for (const auto &[name, params] : kSignatures)
    EXPECT_EQ(signature(bundled(name)), params) << bundledPath(name);
}

TEST(BundledPatterns, StartWithACommentBlock) {
  for (const auto &[name, params] : kSignatures) {
    auto text = readFile(bundledPath(name));
    ASSERT_TRUE(bool(text)) << llvm::toString(text.takeError());
    EXPECT_EQ(text->rfind("# " + name + ": ", 0), 0u)
        << bundledPath(name) << " should open with '# " << name << ": <what it is>'";
  }
}

// ---------------------------------------------------------------------------
// One test per pattern.
// ---------------------------------------------------------------------------

TEST(PatternMask, Causal) {
  MaskFn expected = [](const Shape &s, int64_t, int64_t i, int64_t j) {
    return causalAllows(s, i, j);
  };
  expectMixed(checkMask("causal", {}, expected), "causal");
  checkSpots("causal", {}, shape(1, 4, 4), {{0, 2, 2, true}, {0, 2, 3, false}});
  // Nq < Nk: query 0 stands at key 3. Nq > Nk: queries 0..22 precede key 0.
  checkSpots("causal", {}, shape(1, 2, 5), {{0, 0, 3, true}, {0, 0, 4, false}});
  checkSpots("causal", {}, shape(1, 40, 17), {{0, 22, 0, false}, {0, 23, 0, true}});
}

TEST(PatternMask, DenseAttendsEveryPair) {
  MaskFn everything = [](const Shape &, int64_t, int64_t, int64_t) { return true; };
  MaskStats stats = checkMask("dense", {}, everything);
  EXPECT_GT(stats.attended, 0);
  EXPECT_EQ(stats.dropped, 0);
}

TEST(PatternMask, SlidingWindow) {
  for (int64_t window : {1, 5, 12}) {
    MaskFn expected = [=](const Shape &s, int64_t, int64_t i, int64_t j) {
      int64_t q = alignedQuery(s, i);
      return j <= q && q - j < window;
    };
    expectMixed(checkMask("sliding_window", {def("window", window)}, expected),
                "sliding_window " + def("window", window));
  }
  checkSpots("sliding_window", {"window=3"}, shape(1, 10, 10),
             {{0, 5, 3, true}, {0, 5, 2, false}, {0, 5, 6, false}});
  // Decoding: the last query sees the last 3 keys, not all of them.
  checkSpots("sliding_window", {"window=3"}, shape(1, 2, 10),
             {{0, 1, 7, true}, {0, 1, 6, false}, {0, 0, 6, true}, {0, 0, 5, false}});
}

TEST(PatternMask, StridedGivesEvenHeadsLocalAndOddHeadsStrided) {
  for (int64_t stride : {3, 8}) {
    MaskFn expected = [=](const Shape &s, int64_t h, int64_t i, int64_t j) {
      int64_t q = alignedQuery(s, i);
      if (j > q)
        return false;
      return h % 2 == 0 ? q - j < stride : floorMod(q - j, stride) == 0;
    };
    expectMixed(checkMask("strided", {def("stride", stride)}, expected),
                "strided " + def("stride", stride));
  }
  checkSpots("strided", {"stride=4"}, shape(3, 10, 10),
             {{0, 9, 6, true}, {0, 9, 5, false},   // local: i - j < 4
              {1, 9, 5, true}, {1, 9, 1, true}, {1, 9, 6, false}, // strided: 4 | i - j
              {2, 9, 6, true}, {2, 9, 5, false}}); // head 2 wraps to local
}

TEST(PatternMask, StridedMergedAttendsTheUnion) {
  for (int64_t stride : {3, 8}) {
    MaskFn expected = [=](const Shape &s, int64_t, int64_t i, int64_t j) {
      int64_t q = alignedQuery(s, i);
      return j <= q && (q - j < stride || floorMod(q - j, stride) == 0);
    };
    expectMixed(checkMask("strided_merged", {def("stride", stride)}, expected),
                "strided_merged " + def("stride", stride));
  }
  checkSpots("strided_merged", {"stride=4"}, shape(2, 10, 10),
             {{0, 9, 6, true}, {1, 9, 5, true}, {0, 9, 1, true}, {1, 9, 4, false}});
}

TEST(PatternMask, Fixed) {
  for (auto [stride, c] : {std::pair<int64_t, int64_t>{4, 1}, {8, 3}, {5, 5}}) {
    MaskFn expected = [=](const Shape &s, int64_t, int64_t i, int64_t j) {
      int64_t q = alignedQuery(s, i);
      bool sameBlock = floorDiv(q, stride) == floorDiv(j, stride);
      bool summary = floorMod(j, stride) >= stride - c;
      return j <= q && (sameBlock || summary);
    };
    Defines defines = {def("stride", stride), def("c", c)};
    expectMixed(checkMask("fixed", defines, expected), "fixed");
  }
  checkSpots("fixed", {"stride=4", "c=1"}, shape(1, 12, 12),
             {{0, 6, 4, true},    // own block [4, 8)
              {0, 6, 3, true},    // 3 % 4 == 3: the summary of block 0
              {0, 6, 2, false},
              {0, 10, 7, true}, {0, 10, 6, false}, {0, 6, 7, false}});
}

TEST(PatternMask, FixedHeadsUseDistinctSummarySubBlocks) {
  for (auto [stride, c, v] : {std::tuple<int64_t, int64_t, int64_t>{8, 2, 4}, {12, 3, 3},
                              {6, 1, 2}}) {
    MaskFn expected = [=](const Shape &s, int64_t h, int64_t i, int64_t j) {
      int64_t q = alignedQuery(s, i);
      int64_t sub = floorMod(h, v);
      int64_t col = floorMod(j, stride);
      bool sameBlock = floorDiv(q, stride) == floorDiv(j, stride);
      bool summary = col >= stride - c * (sub + 1) && col < stride - c * sub;
      return j <= q && (sameBlock || summary);
    };
    Defines defines = {def("stride", stride), def("c", c), def("v", v)};
    expectMixed(checkMask("fixed_heads", defines, expected), "fixed_heads");
  }
  // stride 8, c 2: head s summarizes columns {6,7}, {4,5}, {2,3}, {0,1} of
  // each block for s = 0..3; query 12 is in block [8, 16).
  checkSpots("fixed_heads", {"stride=8", "c=2", "v=4"}, shape(5, 16, 16),
             {{0, 12, 6, true}, {0, 12, 5, false},
              {1, 12, 5, true}, {1, 12, 6, false},
              {3, 12, 0, true}, {3, 12, 1, true}, {3, 12, 2, false},
              {4, 12, 7, true}, {4, 12, 5, false}, // head 4 wraps to sub-block 0
              {2, 12, 9, true}, {2, 12, 13, false}});
}

TEST(PatternMask, AlibiIsCausalWithLinearBias) {
  MaskFn causal = [](const Shape &s, int64_t, int64_t i, int64_t j) {
    return causalAllows(s, i, j);
  };
  expectMixed(checkMask("alibi", {}, causal), "alibi");
  ValueFn expected = [](const Shape &s, int64_t h, int64_t i, int64_t j) {
    return -attn::alibiSlopeValue(h, s.numHeads) * double(alignedQuery(s, i) - j);
  };
  EXPECT_GT(checkBias("alibi", expected), 0);
  // H = 8: slopes 1/2, 1/4, ...; the bias is not scaled, the score untouched.
  Interpreter square = makeInterpreter("alibi", {}, shape(8, 6, 6));
  EXPECT_DOUBLE_EQ(square.bias(0, 0, 5, 2), -1.5);
  EXPECT_DOUBLE_EQ(square.bias(0, 1, 5, 2), -0.75);
  EXPECT_DOUBLE_EQ(square.bias(0, 3, 4, 4), 0.0);
  EXPECT_DOUBLE_EQ(square.score(2.5, 0, 0, 5, 2), 2.5);
  // Nq < Nk: query 0 of 2 stands at key 4, three keys after key 1.
  Interpreter decode = makeInterpreter("alibi", {}, shape(8, 2, 6));
  EXPECT_DOUBLE_EQ(decode.bias(0, 0, 0, 1), -1.5);
}

TEST(PatternMask, AlibiBidirectionalIsSymmetric) {
  MaskFn everything = [](const Shape &, int64_t, int64_t, int64_t) { return true; };
  EXPECT_EQ(checkMask("alibi_bidirectional", {}, everything).dropped, 0);
  ValueFn expected = [](const Shape &s, int64_t h, int64_t i, int64_t j) {
    return -attn::alibiSlopeValue(h, s.numHeads) * double(std::llabs(i - j));
  };
  EXPECT_GT(checkBias("alibi_bidirectional", expected), 0);
  Interpreter square = makeInterpreter("alibi_bidirectional", {}, shape(8, 6, 6));
  EXPECT_DOUBLE_EQ(square.bias(0, 0, 5, 2), -1.5);
  EXPECT_DOUBLE_EQ(square.bias(0, 0, 2, 5), -1.5);
}

/// Document ids of `n` packed keys: sorted runs of random length 1..maxRun,
/// starting from a random nonzero id, as sequence packing lays them out.
std::vector<int32_t> randomDocuments(int64_t n, int64_t maxRun, std::mt19937 &rng) {
  std::uniform_int_distribution<int64_t> runLength(1, maxRun);
  std::uniform_int_distribution<int32_t> firstId(1, 1000);
  std::vector<int32_t> ids;
  int32_t id = firstId(rng);
  while (int64_t(ids.size()) < n) {
    ids.insert(ids.end(), std::min(runLength(rng), n - int64_t(ids.size())), id);
    ++id;
  }
  return ids;
}

HostTensor documentTensor(const std::vector<int32_t> &ids) {
  return HostTensor{ast::ElemType::I32, {int64_t(ids.size())}, ids.data()};
}

TEST(PatternMask, DocumentStaysInsideEachPackedSequence) {
  std::mt19937 rng(20240611);
  MaskStats stats;
  for (int64_t maxRun : {3, 12, 40}) {
    for (const Shape &s : allShapes()) {
      std::vector<int32_t> ids = randomDocuments(s.seqK, maxRun, rng);
      MaskFn expected = [&](const Shape &, int64_t, int64_t i, int64_t j) {
        int64_t q = alignedQuery(s, i);
        return j <= q && ids[q] == ids[j]; // q < 0 drops the row before reading ids
      };
      std::string context = describeRun("document", {}, s) + " max run " +
                            std::to_string(maxRun);
      Interpreter interp = makeInterpreter("document", {}, s, {{"doc", documentTensor(ids)}});
      stats += compareMasks(interp, expected, context);
    }
  }
  expectMixed(stats, "document");
  std::vector<int32_t> ids = {1, 1, 1, 2, 2, 3};
  checkSpots("document", {}, shape(1, 6, 6),
             {{0, 4, 3, true}, {0, 4, 2, false}, {0, 5, 5, true}, {0, 5, 4, false},
              {0, 3, 4, false}},
             {{"doc", documentTensor(ids)}});
  // Nq < Nk: query 0 of 2 is key 4, in document 2 with key 3.
  checkSpots("document", {}, shape(1, 2, 6), {{0, 0, 3, true}, {0, 0, 2, false}},
             {{"doc", documentTensor(ids)}});
}

TEST(PatternMask, PrefixLmSeesThePrefixBothWays) {
  for (int64_t prefix : {0, 3, 20}) {
    MaskFn expected = [=](const Shape &s, int64_t, int64_t i, int64_t j) {
      return j < prefix || causalAllows(s, i, j);
    };
    expectMixed(checkMask("prefix_lm", {def("prefix", prefix)}, expected),
                "prefix_lm " + def("prefix", prefix));
  }
  checkSpots("prefix_lm", {"prefix=3"}, shape(1, 8, 8),
             {{0, 0, 2, true}, {0, 0, 3, false}, {0, 5, 4, true}, {0, 5, 6, false}});
  // Nq > Nk: a query before every key still sees the prefix.
  checkSpots("prefix_lm", {"prefix=3"}, shape(1, 40, 17), {{0, 0, 2, true}, {0, 0, 3, false}});
}

TEST(PatternMask, LongformerWindowPlusGlobalTokens) {
  for (auto [window, globals] : {std::pair<int64_t, int64_t>{4, 2}, {7, 0}, {20, 3}}) {
    MaskFn expected = [=](const Shape &, int64_t, int64_t i, int64_t j) {
      bool local = std::llabs(i - j) <= floorDiv(window, 2);
      return local || i < globals || j < globals;
    };
    Defines defines = {def("window", window), def("globals", globals)};
    expectMixed(checkMask("longformer", defines, expected), "longformer");
  }
  checkSpots("longformer", {"window=4", "globals=1"}, shape(1, 10, 10),
             {{0, 5, 3, true}, {0, 5, 2, false}, {0, 5, 7, true}, {0, 5, 8, false},
              {0, 5, 0, true},   // every query sees the global key
              {0, 0, 9, true}}); // the global query sees every key
}

/// The bigbird pattern's documented hash, over this file's floor modulo.
int64_t bigbirdHash(int64_t queryBlock, int64_t keyBlock, int64_t head) {
  const int64_t p = 2147483647; // 2^31 - 1
  int64_t x = floorMod(7919 * queryBlock + 104729 * keyBlock + 1299709 * head + 12345, p);
  for (int round = 0; round < 2; ++round)
    x = floorMod(x * x + 40503, p);
  return x;
}

struct BigBirdParams {
  int64_t block, window, globals, random;
  Defines defines() const {
    return {def("block", block), def("window", window), def("globals", globals),
            def("random", random)};
  }
};

bool bigbirdAttends(const BigBirdParams &p, const Shape &s, int64_t h, int64_t i, int64_t j) {
  int64_t qb = floorDiv(i, p.block), kb = floorDiv(j, p.block);
  int64_t keyBlocks = floorDiv(s.seqK + p.block - 1, p.block);
  bool local = std::llabs(qb - kb) <= floorDiv(p.window, 2);
  bool global = qb < p.globals || kb < p.globals;
  bool sampled = floorMod(bigbirdHash(qb, kb, h), keyBlocks) < p.random;
  return local || global || sampled;
}

TEST(PatternMask, BigBirdWindowGlobalAndHashedRandomBlocks) {
  for (BigBirdParams p : {BigBirdParams{4, 3, 1, 2}, {3, 5, 0, 1}, {8, 1, 2, 0}, {2, 1, 0, 4}}) {
    MaskFn expected = [=](const Shape &s, int64_t h, int64_t i, int64_t j) {
      return bigbirdAttends(p, s, h, i, j);
    };
    expectMixed(checkMask("bigbird", p.defines(), expected), "bigbird");
  }
  // Without random blocks: block 2, window 3 blocks, the first block global;
  // query 6 is in block 3 and sees blocks 2..4 and block 0.
  checkSpots("bigbird", BigBirdParams{2, 3, 1, 0}.defines(), shape(2, 10, 10),
             {{0, 6, 3, false}, {0, 6, 2, false}, {0, 6, 4, true}, {1, 6, 9, true},
              {0, 6, 1, true}, {1, 0, 9, true}});
}

TEST(PatternMask, BigBirdDrawsAboutRandomBlocksPerQueryBlockPerHead) {
  // Only the diagonal block is local and nothing is global, so every other
  // attended block was drawn: 3 of 25 blocks on average, 24/25 of them off
  // the diagonal, varying with the head.
  BigBirdParams p{4, 1, 0, 3};
  Interpreter interp = makeInterpreter("bigbird", p.defines(), shape(8, 100, 100));
  int64_t blocks = 25, drawn = 0;
  std::set<std::vector<bool>> distinctHeads;
  for (int64_t h = 0; h < 8; ++h) {
    std::vector<bool> mask;
    for (int64_t qb = 0; qb < blocks; ++qb)
      for (int64_t kb = 0; kb < blocks; ++kb) {
        bool on = interp.attends(0, h, qb * p.block, kb * p.block);
        mask.push_back(on);
        drawn += on && kb != qb;
      }
    distinctHeads.insert(mask);
  }
  double perQueryBlock = double(drawn) / double(8 * blocks);
  EXPECT_GT(perQueryBlock, 2.4);
  EXPECT_LT(perQueryBlock, 3.4);
  EXPECT_EQ(distinctHeads.size(), 8u);
}

TEST(PatternMask, DilatedSlidingWindow) {
  for (auto [window, dilation] : {std::pair<int64_t, int64_t>{3, 2}, {4, 3}, {5, 1}}) {
    MaskFn expected = [=](const Shape &s, int64_t, int64_t i, int64_t j) {
      int64_t q = alignedQuery(s, i);
      return j <= q && q - j < window * dilation && floorMod(q - j, dilation) == 0;
    };
    Defines defines = {def("window", window), def("dilation", dilation)};
    expectMixed(checkMask("dilated_sliding_window", defines, expected),
                "dilated_sliding_window");
  }
  checkSpots("dilated_sliding_window", {"window=3", "dilation=2"}, shape(1, 12, 12),
             {{0, 10, 10, true}, {0, 10, 8, true}, {0, 10, 6, true}, {0, 10, 4, false},
              {0, 10, 9, false}, {0, 10, 11, false}});
}

TEST(PatternMask, SoftcapIsCausalAndSquashesScores) {
  MaskFn causal = [](const Shape &s, int64_t, int64_t i, int64_t j) {
    return causalAllows(s, i, j);
  };
  expectMixed(checkMask("softcap", {}, causal), "softcap");
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> scores(-200.0, 200.0);
  for (auto [defines, cap] : {std::pair<Defines, double>{{}, 30.0}, {{"cap=5.5"}, 5.5}}) {
    Interpreter interp = makeInterpreter("softcap", defines, shape(3, 17, 40));
    EXPECT_DOUBLE_EQ(interp.bias(0, 1, 3, 7), 0.0);
    EXPECT_DOUBLE_EQ(interp.score(0.0, 0, 0, 0, 0), 0.0);
    for (int k = 0; k < 200; ++k) {
      double s = scores(rng);
      int64_t h = k % 3, i = k % 17, j = k % 40;
      double capped = interp.score(s, 0, h, i, j);
      // The language's floats are binary32: the same operations in float.
      float fcap = static_cast<float>(cap), fs = static_cast<float>(s);
      EXPECT_EQ(capped, double(fcap * std::tanh(fs / fcap))) << "score " << s;
      EXPECT_LE(std::fabs(capped), cap) << "score " << s;
      EXPECT_LT(std::fabs(capped), std::fabs(s)) << "score " << s;
    }
  }
}

} // namespace
