// The reference interpreter's semantics, checked against expectations
// written independently of its code: Python's floor division and modulo,
// two's-complement wraparound, truncating int(), short-circuit evaluation,
// tensor reads, causal alignment, the head mapping, the logit order, and the
// errors of bindParams, Interpreter::create and alibi_slope.
#include "attnc/frontend/Frontend.h"
#include "attnc/Dialect/Attn/AlibiSlope.h"
#include "attnc/interp/Interpreter.h"

#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace attnc;
using attnc::interp::EvalError;
using attnc::interp::HostTensor;
using attnc::interp::Interpreter;
using attnc::interp::ParamValues;
using attnc::interp::Shape;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------
struct Compiled {
  CheckedFile file;
  std::string diags;
  const ast::Pattern &pattern() const { return *file.ast.patterns.at(0); }
  std::string_view text(SourceRange range) const {
    return file.source->text().substr(range.begin, range.end - range.begin);
  }
};

Compiled compile(const std::string &text) {
  Compiled c;
  llvm::raw_string_ostream os(c.diags);
  c.file = checkSource("test.pattern", text, os);
  os.flush();
  if (!c.file.ok || c.file.ast.patterns.empty())
    throw std::runtime_error("pattern does not check:\n" + text + "\n" + c.diags);
  return c;
}

std::string errorText(llvm::Error error) { return llvm::toString(std::move(error)); }

Interpreter build(const Compiled &c, const Shape &shape, const std::vector<std::string> &defines = {},
                  const std::map<std::string, HostTensor> &tensors = {}) {
  auto params = interp::bindParams(c.pattern(), defines);
  if (!params)
    throw std::runtime_error("bindParams: " + errorText(params.takeError()));
  auto interp = Interpreter::create(c.pattern(), *params, shape, tensors);
  if (!interp)
    throw std::runtime_error("create: " + errorText(interp.takeError()));
  return std::move(*interp);
}

ast::Literal intLiteral(int64_t value) {
  ast::Literal literal;
  literal.type = ast::Type::Int;
  literal.intValue = value;
  return literal;
}

ast::Literal floatLiteral(double value) {
  ast::Literal literal;
  literal.type = ast::Type::Float;
  literal.floatValue = value;
  return literal;
}

const Shape kOne{1, 1, 1, 64};

/// Whether the int expression `expr` equals `want`, with int parameters
/// `vars` bound exactly (no text round trip).
bool intEquals(const std::string &expr, int64_t want, const std::map<std::string, int64_t> &vars) {
  std::string source = "pattern p(";
  ParamValues values;
  for (const auto &[name, value] : vars) {
    source += name + ": int, ";
    values[name] = intLiteral(value);
  }
  source += "want_: int) { attend = (" + expr + ") == want_; }";
  values["want_"] = intLiteral(want);
  Compiled c = compile(source);
  auto interp = Interpreter::create(c.pattern(), values, kOne, {});
  if (!interp)
    throw std::runtime_error(errorText(interp.takeError()));
  return interp->attends(0, 0, 0, 0);
}

/// Asserts that `expr` is exactly `want` (and so not `want ^ 1`).
void expectInt(const std::string &expr, int64_t want,
               const std::map<std::string, int64_t> &vars = {}) {
  EXPECT_TRUE(intEquals(expr, want, vars)) << expr << " should be " << want;
  EXPECT_FALSE(intEquals(expr, want ^ 1, vars)) << expr << " should not be " << (want ^ 1);
}

/// The value of a numeric expression (as the bias of pair (0, 0, i, j)).
double evalFloat(const std::string &expr, int64_t i = 0, int64_t j = 0,
                 const Shape &shape = Shape{1, 8, 8, 64}) {
  Compiled c = compile("pattern p { bias = " + expr + "; }");
  return build(c, shape).bias(0, 0, i, j);
}

bool evalBool(const std::string &expr, int64_t i = 0, int64_t j = 0) {
  Compiled c = compile("pattern p { attend = " + expr + "; }");
  return build(c, Shape{1, 8, 8, 64}).attends(0, 0, i, j);
}

/// Runs `body` and returns the EvalError it raises, if any.
template <class F> std::optional<EvalError> evalError(F &&body) {
  try {
    body();
  } catch (const EvalError &e) {
    return e;
  }
  return std::nullopt;
}

/// Python's divmod, from its definition: a == b*q + r, with r zero or of the
/// sign of b and |r| < |b|. Exact in 128 bits; the quotient is then wrapped
/// to 64 bits as the language's integers are.
std::pair<int64_t, int64_t> pythonDivMod(int64_t a64, int64_t b64) {
  __int128 a = a64, b = b64;
  __int128 q = 0;
  // Search from an approximation; the loop settles on the unique q.
  q = a / b;
  for (;;) {
    __int128 r = a - b * q;
    bool signOk = r == 0 || ((r > 0) == (b > 0));
    bool sizeOk = (r < 0 ? -r : r) < (b < 0 ? -b : b);
    if (signOk && sizeOk)
      return {int64_t(uint64_t((unsigned __int128)q)), int64_t(r)};
    if (!signOk)
      q -= 1;
    else
      q += 1;
  }
}

// ---------------------------------------------------------------------------
// Integer arithmetic.
// ---------------------------------------------------------------------------
TEST(InterpreterArithmetic, PythonReferenceMatchesKnownPythonResults) {
  // Values printed by Python 3, to keep the reference honest.
  struct Case { int64_t a, b, q, r; };
  const Case cases[] = {{7, 2, 3, 1},     {-7, 2, -4, 1}, {7, -2, -4, -1}, {-7, -2, 3, -1},
                        {0, 5, 0, 0},     {0, -5, 0, 0},  {-1, 10, -1, 9}, {1, -10, -1, -9},
                        {kMin, 3, -3074457345618258603LL, 1},
                        {kMin, -3, 3074457345618258602LL, -2},
                        {kMin, kMax, -2, 9223372036854775806LL},
                        {1, kMin, -1, -9223372036854775807LL}};
  for (const Case &c : cases) {
    auto [q, r] = pythonDivMod(c.a, c.b);
    EXPECT_EQ(q, c.q) << c.a << " // " << c.b;
    EXPECT_EQ(r, c.r) << c.a << " % " << c.b;
  }
}

TEST(InterpreterArithmetic, FloorDivisionAndModuloExhaustivelyForSmallValues) {
  // a = i - 40 in [-40, 40], b = j - 10 in [-10, 10] (b = 0 raises).
  Compiled c = compile("pattern p {\n"
                       "  let a = i - 40;\n"
                       "  let d = j - 10;\n"
                       "  bias = float(a / d);\n"
                       "  score = float(a % d);\n"
                       "}\n");
  Interpreter interp = build(c, Shape{1, 81, 21, 64});
  int checked = 0;
  for (int64_t i = 0; i < 81; ++i) {
    for (int64_t j = 0; j < 21; ++j) {
      int64_t a = i - 40, b = j - 10;
      if (b == 0) {
        EXPECT_TRUE(evalError([&] { interp.bias(0, 0, i, j); })) << a << " / 0";
        EXPECT_TRUE(evalError([&] { interp.score(0, 0, 0, i, j); })) << a << " % 0";
        continue;
      }
      auto [q, r] = pythonDivMod(a, b);
      ASSERT_EQ(interp.bias(0, 0, i, j), double(q)) << a << " / " << b;
      ASSERT_EQ(interp.score(123.0, 0, 0, i, j), double(r)) << a << " % " << b;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 81 * 20);
}

TEST(InterpreterArithmetic, FloorDivisionAndModuloForLargeValues) {
  const int64_t values[] = {kMin, kMin + 1, kMin / 2, -4611686018427387905LL, -1000000007,
                            -12345678901234567LL, -3, -2, -1, 0, 1, 2, 3, 1000000007,
                            12345678901234567LL, kMax / 2, kMax - 1, kMax};
  for (int64_t a : values) {
    for (int64_t b : values) {
      if (b == 0)
        continue;
      auto [q, r] = pythonDivMod(a, b);
      EXPECT_TRUE(intEquals("x / y", q, {{"x", a}, {"y", b}})) << a << " / " << b << " != " << q;
      EXPECT_TRUE(intEquals("x % y", r, {{"x", a}, {"y", b}})) << a << " % " << b << " != " << r;
    }
  }
  // The identity a == b * (a / b) + a % b holds in wrapping arithmetic.
  for (int64_t a : values) {
    for (int64_t b : values) {
      if (b != 0) {
        EXPECT_TRUE(intEquals("y * (x / y) + x % y", a, {{"x", a}, {"y", b}})) << a << ", " << b;
      }
    }
  }
}

TEST(InterpreterArithmetic, DesignExampleNegativeDifferenceModuloStride) {
  // (i - j) % l is in [0, l) for negative i - j too.
  Compiled c = compile("pattern p(l: int = 4) { bias = float((i - j) % l); }");
  Interpreter interp = build(c, Shape{1, 8, 8, 64});
  EXPECT_EQ(interp.bias(0, 0, 0, 1), 3.0);
  EXPECT_EQ(interp.bias(0, 0, 0, 5), 3.0);
  EXPECT_EQ(interp.bias(0, 0, 1, 5), 0.0);
  EXPECT_EQ(interp.bias(0, 0, 2, 7), 3.0);
  EXPECT_EQ(interp.bias(0, 0, 7, 2), 1.0);
}

TEST(InterpreterArithmetic, SixtyFourBitWraparound) {
  std::map<std::string, int64_t> vars = {{"mx", kMax}, {"mn", kMin}};
  expectInt("mx + 1", kMin, vars);
  expectInt("mn - 1", kMax, vars);
  expectInt("-mn", kMin, vars);
  expectInt("mn * -1", kMin, vars);
  expectInt("mx * 2", -2, vars);
  expectInt("mx * mx", 1, vars);
  expectInt("abs(mn)", kMin, vars);
  expectInt("mn / -1", kMin, vars); // 2^63 wraps
  expectInt("mn % -1", 0, vars);
  expectInt("mx + mx + 2", 0, vars);
  // Literals up to 2^63 - 1 are exact; 4294967296 * 4294967296 = 2^64 wraps to 0.
  expectInt("9223372036854775807", kMax);
  expectInt("4294967296 * 4294967296", 0);
  expectInt("3037000500 * 3037000500", int64_t(uint64_t(3037000500ull) * 3037000500ull));
  // Values beyond 32 bits stay exact.
  expectInt("4294967296 * 3 + 1", 12884901889LL);
  expectInt("min(mn, mx)", kMin, vars);
  expectInt("max(mn, mx)", kMax, vars);
}

TEST(InterpreterArithmetic, IntegerDivisionByZeroIsLocatedError) {
  const std::string text = "pattern p {\n"
                           "  let z = j - j;\n"
                           "  set s = i / z == 0;\n"
                           "  bias = float(i % z);\n"
                           "  attend = s;\n"
                           "}\n";
  Compiled c = compile(text);
  Interpreter interp = build(c, Shape{1, 4, 4, 64});
  auto div = evalError([&] { interp.attends(0, 0, 2, 1); });
  ASSERT_TRUE(div);
  EXPECT_EQ(c.text(div->range()), "i / z");
  EXPECT_EQ(c.file.source->lineAndColumn(div->range().begin), std::make_pair(3u, 11u));
  EXPECT_NE(std::string(div->what()).find("division by zero"), std::string::npos) << div->what();
  auto mod = evalError([&] { interp.bias(0, 0, 2, 1); });
  ASSERT_TRUE(mod);
  EXPECT_EQ(c.text(mod->range()), "i % z");
  EXPECT_EQ(c.file.source->lineAndColumn(mod->range().begin), std::make_pair(4u, 16u));
  EXPECT_NE(std::string(mod->what()).find("modulo by zero"), std::string::npos) << mod->what();
  // Float division by zero is IEEE, not an error.
  EXPECT_EQ(evalFloat("1.0 / 0.0"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(evalFloat("-1.0 / float(j)", 0, 0), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(evalFloat("0.0 / 0.0")));
}

TEST(InterpreterArithmetic, IntTruncatesTowardZero) {
  EXPECT_EQ(evalFloat("float(int(2.7))"), 2.0);
  EXPECT_EQ(evalFloat("float(int(-2.7))"), -2.0);
  EXPECT_EQ(evalFloat("float(int(-0.5))"), 0.0);
  EXPECT_EQ(evalFloat("float(int(0.999999))"), 0.0);
  EXPECT_EQ(evalFloat("float(int(-7.0 / 2.0))"), -3.0); // not floor: -3, not -4
  EXPECT_EQ(evalFloat("float(int(true) + int(false))"), 1.0);
  EXPECT_EQ(evalFloat("float(int(i))", 5), 5.0);
  // Floats are binary32: 9.0e18 is first rounded to the nearest float.
  expectInt("int(9.0e18)", static_cast<int64_t>(9.0e18f));
  expectInt("int(-9.0e18)", static_cast<int64_t>(-9.0e18f));
  expectInt("int(9223371487098961920.0)", 9223371487098961920LL); // largest float < 2^63
}

TEST(InterpreterArithmetic, IntOfNanInfiniteOrHugeIsLocatedError) {
  for (const char *arg : {"sqrt(-1.0)", "0.0 / 0.0", "exp(1000.0)", "-exp(1000.0)",
                          "9223372036854775808.0", "1.0e19", "-1.0e19", "1e300"}) {
    std::string text = "pattern p { bias = float(int(" + std::string(arg) + ")); }";
    Compiled c = compile(text);
    Interpreter interp = build(c, kOne);
    auto err = evalError([&] { interp.bias(0, 0, 0, 0); });
    ASSERT_TRUE(err) << "int(" << arg << ") must raise";
    EXPECT_EQ(c.text(err->range()), "int(" + std::string(arg) + ")");
  }
}

TEST(InterpreterArithmetic, IntOfMinusTwoToThe63IsInRange) {
  // -2^63 is exactly representable both as a float and as a 64-bit int, so
  // int() of it is INT64_MIN (Python: int(-2.0**63) == -2**63); +2^63 is the
  // first value out of range.
  expectInt("int(-9223372036854775808.0)", kMin);
  expectInt("int(-9223371487098961920.0)", -9223371487098961920LL);
  Compiled c = compile("pattern p { bias = float(int(9223372036854775808.0)); }");
  Interpreter interp = build(c, kOne);
  EXPECT_TRUE(evalError([&] { interp.bias(0, 0, 0, 0); }));
  Compiled below = compile("pattern p { bias = float(int(-9223373136366403584.0)); }");
  Interpreter belowInterp = build(below, kOne); // the next float below -2^63
  EXPECT_TRUE(evalError([&] { belowInterp.bias(0, 0, 0, 0); }));
}

TEST(InterpreterArithmetic, FloatPromotionInMixedArithmetic) {
  EXPECT_EQ(evalFloat("i + 0.5", 3), 3.5);
  EXPECT_EQ(evalFloat("7 / 2.0"), 3.5);   // float division, not floor
  EXPECT_EQ(evalFloat("-7 / 2.0"), -3.5);
  EXPECT_EQ(evalFloat("7.0 / 2"), 3.5);
  EXPECT_EQ(evalFloat("1 / 2 + 0.25"), 0.25); // int division happens first
  EXPECT_EQ(evalFloat("(i / 2) * 1.0", 3), 1.0);
  EXPECT_EQ(evalFloat("-7 / 2 * 1.0"), -4.0);
  EXPECT_EQ(evalFloat("min(1, 2.5)"), 1.0);
  EXPECT_EQ(evalFloat("max(i, 0.5)", 3), 3.0);
  EXPECT_EQ(evalFloat("max(i, 0.5)", 0), 0.5);
  EXPECT_EQ(evalFloat("i > 2 ? 1 : 0.25", 3), 1.0);
  EXPECT_EQ(evalFloat("i > 2 ? 1 : 0.25", 1), 0.25);
  EXPECT_EQ(evalFloat("abs(-2.5)"), 2.5);
  EXPECT_EQ(evalFloat("abs(i - 5)", 2), 3.0);
  EXPECT_EQ(evalFloat("sqrt(16)"), 4.0);
  EXPECT_EQ(evalFloat("exp(0)"), 1.0);
  // Floats are binary32, computed with the float functions.
  EXPECT_EQ(evalFloat("log(i)", 4), double(std::log(4.0f)));
  EXPECT_EQ(evalFloat("tanh(1)"), double(std::tanh(1.0f)));
  EXPECT_TRUE(evalBool("i < 3.5", 3));
  EXPECT_FALSE(evalBool("i < 3.5", 4));
  EXPECT_TRUE(evalBool("i == 3.0", 3));
  EXPECT_TRUE(evalBool("i / 2 == 1.0", 3)); // 3 / 2 is the int 1
  EXPECT_FALSE(evalBool("i / 2 == 1.5", 3));
  // Float modulo is not part of the language.
  std::string diags;
  llvm::raw_string_ostream os(diags);
  EXPECT_FALSE(checkSource("m.pattern", "pattern p { bias = 7.5 % 2; }", os).ok);
}

TEST(InterpreterArithmetic, ComparisonOfBools) {
  EXPECT_TRUE(evalBool("(i < j) == (j > i)", 1, 2));
  EXPECT_TRUE(evalBool("(i < j) == (j > i)", 2, 1));
  EXPECT_TRUE(evalBool("true != false"));
  EXPECT_FALSE(evalBool("true == false"));
  EXPECT_TRUE(evalBool("(i == 0) == false", 1));
  EXPECT_FALSE(evalBool("(i == 0) == false", 0));
  EXPECT_TRUE(evalBool("(i == 0) != (j == 0)", 0, 1));
  EXPECT_FALSE(evalBool("(i == 0) != (j == 0)", 1, 1));
  EXPECT_TRUE(evalBool("!(i == j) == (i != j)", 2, 3));
  // Precedence: == binds tighter than &&, so this is (i == 1) && (j == 2).
  EXPECT_TRUE(evalBool("i == 1 && j == 2", 1, 2));
  EXPECT_FALSE(evalBool("i == 1 && j == 2", 1, 3));
  // ! binds tighter than ||.
  EXPECT_TRUE(evalBool("!(i == 0) || j == 0", 0, 0));
  EXPECT_FALSE(evalBool("!(i == 0) || j == 0", 0, 1));
}

// ---------------------------------------------------------------------------
// Short circuit and tensors.
// ---------------------------------------------------------------------------
TEST(InterpreterEvaluation, ShortCircuitGuardsOutOfRangeReads) {
  std::vector<int32_t> data = {1, 1, 2, 2, 3};
  HostTensor t{ast::ElemType::I32, {5}, data.data()};
  const char *guarded[] = {
      "j < 3 && t[j + 10] == 1",        // && stops at false
      "j < 100 || t[j + 10] == 1",      // || stops at true
      "j < 100 ? true : t[j + 10] == 1", // only the chosen branch
      "j >= 100 ? t[j + 10] == 1 : j == 4",
      "j != 0 && 10 / j > 1 || j == 0", // division guarded too
  };
  for (const char *expr : guarded) {
    Compiled c = compile("pattern p(t: tensor<i32>[Nk]) { attend = " + std::string(expr) + "; }");
    Interpreter interp = build(c, Shape{1, 5, 5, 64}, {}, {{"t", t}});
    for (int64_t j = 3; j < 5; ++j)
      EXPECT_NO_THROW(interp.attends(0, 0, 0, j)) << expr << " at j = " << j;
  }
  // The values are right, not merely error-free.
  Compiled c = compile("pattern p(t: tensor<i32>[Nk]) {\n"
                       "  let q = 10 / j;\n"
                       "  attend = j == 0 || q > 2 && t[j] >= 2;\n"
                       "}\n");
  Interpreter interp = build(c, Shape{1, 5, 5, 64}, {}, {{"t", t}});
  EXPECT_TRUE(interp.attends(0, 0, 0, 0));  // q never evaluated
  EXPECT_FALSE(interp.attends(0, 0, 0, 1)); // q = 10, t[1] = 1
  EXPECT_TRUE(interp.attends(0, 0, 0, 2));  // q = 5, t[2] = 2
  EXPECT_TRUE(interp.attends(0, 0, 0, 3));  // q = 3, t[3] = 2
  EXPECT_FALSE(interp.attends(0, 0, 0, 4)); // q = 2
  // Unguarded, the same read raises, located at the index.
  Compiled bad = compile("pattern p(t: tensor<i32>[Nk]) { attend = t[j + 10] == 1; }");
  Interpreter badInterp = build(bad, Shape{1, 5, 5, 64}, {}, {{"t", t}});
  auto err = evalError([&] { badInterp.attends(0, 0, 0, 3); });
  ASSERT_TRUE(err);
  EXPECT_EQ(bad.text(err->range()), "j + 10");
  EXPECT_NE(std::string(err->what()).find("13"), std::string::npos) << err->what();
}

TEST(InterpreterEvaluation, TensorReadsOfEveryElementTypeRowMajor) {
  // i32, 2-D [Nq, Nk]: m[r, c] = 100 r + c - 250 (negative values too).
  std::vector<int32_t> m(3 * 4);
  for (int r = 0; r < 3; ++r)
    for (int col = 0; col < 4; ++col)
      m[r * 4 + col] = 100 * r + col - 250;
  // i64 beyond 32 bits, [Nk + 1].
  std::vector<int64_t> big = {5000000000000LL, -5000000000001LL, kMax, kMin, 7};
  // f32, 3-D [2, H, Nk]: f[b, h, c] = b + 0.5 h + 0.25 c.
  std::vector<float> f(2 * 2 * 4);
  for (int b = 0; b < 2; ++b)
    for (int h = 0; h < 2; ++h)
      for (int col = 0; col < 4; ++col)
        f[(b * 2 + h) * 4 + col] = float(b) + 0.5f * float(h) + 0.25f * float(col);
  Compiled c = compile("pattern p(m: tensor<i32>[Nq, Nk], big: tensor<i64>[Nk + 1],\n"
                       "          f: tensor<f32>[2, H, Nk]) {\n"
                       "  attend = big[j] == big[j];\n"
                       "  bias = float(m[i, j]) * 1000.0 + f[b, h, j];\n"
                       "}\n");
  Shape shape{2, 3, 4, 64};
  Interpreter interp =
      build(c, shape, {},
            {{"m", HostTensor{ast::ElemType::I32, {3, 4}, m.data()}},
             {"big", HostTensor{ast::ElemType::I64, {5}, big.data()}},
             {"f", HostTensor{ast::ElemType::F32, {2, 2, 4}, f.data()}}});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 4; ++j)
          EXPECT_EQ(interp.bias(b, h, i, j),
                    double(100 * i + j - 250) * 1000.0 + double(b) + 0.5 * h + 0.25 * j)
              << b << " " << h << " " << i << " " << j;
  // Exact 64-bit values from the i64 tensor.
  std::map<std::string, HostTensor> bigOnly = {
      {"big", HostTensor{ast::ElemType::I64, {5}, big.data()}}};
  for (int64_t k = 0; k < 5; ++k) {
    Compiled eq = compile("pattern p(big: tensor<i64>[5], w: int = 0) { attend = big[j] == w; }");
    auto params = interp::bindParams(eq.pattern(), {"w=" + std::to_string(big[k])});
    ASSERT_TRUE(bool(params));
    auto exact = Interpreter::create(eq.pattern(), *params, Shape{1, 5, 5, 64}, bigOnly);
    ASSERT_TRUE(bool(exact)) << errorText(exact.takeError());
    for (int64_t j = 0; j < 5; ++j)
      EXPECT_EQ(exact->attends(0, 0, 0, j), big[j] == big[k]) << k << " " << j;
  }
}

TEST(InterpreterEvaluation, OutOfRangeTensorIndicesRaise) {
  std::vector<float> f(2 * 3, 1.0f);
  Compiled c = compile("pattern p(f: tensor<f32>[2, Nk]) { bias = f[b, j - 1]; }");
  Interpreter interp = build(c, Shape{1, 3, 3, 64}, {}, {{"f", {ast::ElemType::F32, {2, 3}, f.data()}}});
  EXPECT_EQ(interp.bias(1, 0, 0, 2), 1.0);
  auto negative = evalError([&] { interp.bias(0, 0, 0, 0); }); // j - 1 = -1
  ASSERT_TRUE(negative);
  EXPECT_EQ(c.text(negative->range()), "j - 1");
  EXPECT_NE(std::string(negative->what()).find("-1"), std::string::npos);
  auto batch = evalError([&] { interp.bias(2, 0, 0, 1); }); // b = 2 >= 2
  ASSERT_TRUE(batch);
  EXPECT_EQ(c.text(batch->range()), "b");
  EXPECT_NE(std::string(batch->what()).find("dimension 0"), std::string::npos) << batch->what();
}

TEST(InterpreterEvaluation, PositionsOutsideTheShapeRaise) {
  Compiled c = compile("pattern p { causal; }");
  Interpreter interp = build(c, Shape{2, 3, 4, 64});
  EXPECT_NO_THROW(interp.attends(5, 1, 2, 3));
  EXPECT_TRUE(evalError([&] { interp.attends(0, 2, 0, 0); }));  // h = H
  EXPECT_TRUE(evalError([&] { interp.attends(0, -1, 0, 0); })); // h < 0
  EXPECT_TRUE(evalError([&] { interp.attends(0, 0, 3, 0); }));  // i = Nq
  EXPECT_TRUE(evalError([&] { interp.attends(0, 0, 0, 4); }));  // j = Nk
  EXPECT_TRUE(evalError([&] { interp.attends(-1, 0, 0, 0); })); // b < 0
  EXPECT_TRUE(evalError([&] { interp.bias(0, 0, -1, 0); }));
  EXPECT_TRUE(evalError([&] { interp.score(1.0, 0, 0, 0, -1); }));
}

// ---------------------------------------------------------------------------
// Connectivity: causal alignment and heads.
// ---------------------------------------------------------------------------
void expectMask(const Interpreter &interp, int64_t h, const std::vector<std::string> &rows) {
  for (int64_t i = 0; i < int64_t(rows.size()); ++i)
    for (int64_t j = 0; j < int64_t(rows[i].size()); ++j)
      EXPECT_EQ(interp.attends(0, h, i, j), rows[i][j] == '#')
          << "h=" << h << " i=" << i << " j=" << j;
}

TEST(InterpreterConnectivity, CausalAlignsTheLastQueryWithTheLastKey) {
  Compiled c = compile("pattern p { causal; }");
  // Nq < Nk: j <= i + 2.
  expectMask(build(c, Shape{1, 3, 5, 64}), 0, {"###..", "####.", "#####"});
  // Nq > Nk: j <= i - 2; the first two queries see nothing.
  expectMask(build(c, Shape{1, 5, 3, 64}), 0, {"...", "...", "#..", "##.", "###"});
  // Nq == Nk: the lower triangle.
  expectMask(build(c, Shape{1, 3, 3, 64}), 0, {"#..", "##.", "###"});
  // Causal intersects with the set.
  Compiled window = compile("pattern p { causal; attend = j % 2 == 0; }");
  expectMask(build(window, Shape{1, 3, 5, 64}), 0, {"#.#..", "#.#..", "#.#.#"});
}

TEST(InterpreterConnectivity, HeadsUseTheirSetModuloTheListLength) {
  Compiled c = compile("pattern p {\n"
                       "  set s0 = j == 0;\n"
                       "  set s1 = j == 1;\n"
                       "  set s2 = j == 2 || j == 3;\n"
                       "  heads = [s0, s1, s2, s0, s1];\n"
                       "}\n");
  Interpreter interp = build(c, Shape{12, 2, 4, 64});
  const int expectedSet[] = {0, 1, 2, 0, 1};
  for (int64_t h = 0; h < 12; ++h) {
    int set = expectedSet[h % 5];
    for (int64_t j = 0; j < 4; ++j) {
      bool want = set == 0 ? j == 0 : set == 1 ? j == 1 : (j == 2 || j == 3);
      EXPECT_EQ(interp.attends(0, h, 1, j), want) << "h=" << h << " j=" << j;
    }
  }
  // Without 'attend' or 'heads' every key is attended.
  Compiled dense = compile("pattern p { }");
  expectMask(build(dense, Shape{1, 2, 3, 64}), 0, {"###", "###"});
}

// ---------------------------------------------------------------------------
// Logits: scale, bias, score.
// ---------------------------------------------------------------------------
TEST(InterpreterLogits, DefaultScaleIsOneOverSqrtD) {
  Compiled c = compile("pattern p { }");
  EXPECT_DOUBLE_EQ(build(c, Shape{1, 1, 1, 64}).scale(), 0.125);
  // 1/sqrt(D) rounded to binary32.
  EXPECT_EQ(build(c, Shape{1, 1, 1, 128}).scale(), double(float(1.0 / std::sqrt(128.0))));
  EXPECT_DOUBLE_EQ(build(c, Shape{1, 1, 1, 1}).scale(), 1.0);
  Interpreter interp = build(c, Shape{1, 2, 2, 16});
  EXPECT_DOUBLE_EQ(interp.logit(8.0, 0, 0, 1, 0), 2.0); // 8 / sqrt(16)
  EXPECT_EQ(interp.bias(0, 0, 1, 0), 0.0);
  EXPECT_EQ(interp.score(3.25, 0, 0, 1, 0), 3.25);
}

TEST(InterpreterLogits, ScaleStatement) {
  EXPECT_EQ(build(compile("pattern p { scale = 0.5; }"), Shape{1, 1, 1, 64}).scale(), 0.5);
  EXPECT_EQ(build(compile("pattern p { scale = 2; }"), Shape{1, 1, 1, 64}).scale(), 2.0);
  EXPECT_EQ(build(compile("pattern p { scale = 1.0 / float(D); }"), Shape{1, 1, 1, 32}).scale(),
            1.0 / 32.0);
  Compiled param = compile("pattern p(s: float = 0.25) { let t = s * 2.0; scale = t; }");
  EXPECT_EQ(build(param, kOne).scale(), 0.5);
  EXPECT_EQ(build(param, kOne, {"s=3"}).scale(), 6.0);
}

TEST(InterpreterLogits, ScoreSeesScaledDotPlusUnscaledBias) {
  Compiled c = compile("pattern p {\n"
                       "  scale = 0.5;\n"
                       "  bias = float(i - j);\n"
                       "  score = score * 2.0 + 1.0;\n"
                       "}\n");
  Interpreter interp = build(c, Shape{1, 4, 4, 64});
  // ((0.5 * 3) + (2 - 0)) * 2 + 1 = 8; scaling the bias too would give 6.
  EXPECT_DOUBLE_EQ(interp.logit(3.0, 0, 0, 2, 0), 8.0);
  EXPECT_DOUBLE_EQ(interp.bias(0, 0, 2, 0), 2.0);
  EXPECT_DOUBLE_EQ(interp.score(5.0, 0, 0, 2, 0), 11.0);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_DOUBLE_EQ(interp.logit(-1.5, 0, 0, i, j), (0.5 * -1.5 + double(i - j)) * 2.0 + 1.0);
}

TEST(InterpreterLogits, AlibiWithSoftcapAndDefaultScale) {
  Compiled c = compile("pattern p(cap: float = 30.0) {\n"
                       "  causal;\n"
                       "  bias = -alibi_slope(h, H) * (i - j);\n"
                       "  score = cap * tanh(score / cap);\n"
                       "}\n");
  Interpreter interp = build(c, Shape{8, 16, 16, 64});
  for (int64_t h : {0, 3, 7}) {
    // Powers of two: the binary32 bias is exact; the score is a float tanh.
    double slope = std::exp2(-8.0 * double(h + 1) / 8.0);
    double s = 0.125 * 40.0 - slope * 9.0;
    EXPECT_DOUBLE_EQ(interp.bias(0, h, 12, 3), -slope * 9.0);
    EXPECT_NEAR(interp.logit(40.0, 0, h, 12, 3), 30.0 * std::tanh(s / 30.0), 1e-6);
  }
}

// ---------------------------------------------------------------------------
// let / set.
// ---------------------------------------------------------------------------
TEST(InterpreterValues, LetAndSetAreRecomputedForEveryPosition) {
  Compiled c = compile("pattern p {\n"
                       "  let d = i - j;\n"
                       "  let d2 = d * d;\n"
                       "  set even = d % 2 == 0;\n"
                       "  set near = d2 <= 4;\n"
                       "  heads = [even, near];\n"
                       "  bias = float(d2 + d);\n"
                       "}\n");
  Interpreter interp = build(c, Shape{2, 6, 6, 64});
  // Alternate positions so that a value cached across calls would show.
  for (int round = 0; round < 2; ++round) {
    for (int64_t i = 0; i < 6; ++i) {
      for (int64_t j = 5; j >= 0; --j) {
        int64_t d = i - j;
        EXPECT_EQ(interp.attends(0, 0, i, j), d % 2 == 0) << i << " " << j;
        EXPECT_EQ(interp.attends(0, 1, i, j), d * d <= 4) << i << " " << j;
        EXPECT_EQ(interp.bias(0, 0, i, j), double(d * d + d)) << i << " " << j;
      }
    }
  }
}

TEST(InterpreterValues, ALetFirstSkippedThenNeededIsEvaluated) {
  // `q` is skipped by the short circuit in the first operand and needed in
  // the second: the memo must not hold a stale "not yet" or zero.
  Compiled c = compile("pattern p(t: tensor<i32>[Nk]) {\n"
                       "  let q = t[j] * 10;\n"
                       "  attend = (j > 2 && q == 10) || q == 20;\n"
                       "  bias = float(q) + float(q);\n"
                       "}\n");
  std::vector<int32_t> data = {2, 1, 2, 1, 2};
  Interpreter interp = build(c, Shape{1, 5, 5, 64}, {}, {{"t", {ast::ElemType::I32, {5}, data.data()}}});
  EXPECT_TRUE(interp.attends(0, 0, 0, 0));  // q = 20
  EXPECT_FALSE(interp.attends(0, 0, 0, 1)); // j <= 2, q = 10
  EXPECT_TRUE(interp.attends(0, 0, 0, 3));  // j > 2, q = 10
  EXPECT_TRUE(interp.attends(0, 0, 0, 4));  // q = 20
  EXPECT_EQ(interp.bias(0, 0, 0, 1), 20.0);
  EXPECT_EQ(interp.bias(0, 0, 0, 4), 40.0);
}

TEST(InterpreterValues, SetsBuiltFromSets) {
  Compiled c = compile("pattern p {\n"
                       "  set a = j < 2;\n"
                       "  set b2 = a || j == 4;\n"
                       "  set c2 = b2 && !(j == 0);\n"
                       "  heads = [a, b2, c2];\n"
                       "}\n");
  Interpreter interp = build(c, Shape{3, 1, 5, 64});
  expectMask(interp, 0, {"##..."});
  expectMask(interp, 1, {"##..#"});
  expectMask(interp, 2, {".#..#"});
}

// ---------------------------------------------------------------------------
// Parameters and bindings.
// ---------------------------------------------------------------------------
const char *const kParams = "pattern p(n: int = 3, f: float = 0.5, on: bool = false, w: int,\n"
                            "          t: tensor<i32>[n]) {\n"
                            "  attend = on || j < w;\n"
                            "  bias = f * float(n);\n"
                            "}\n";

TEST(InterpreterBindings, DefaultsAndDefines) {
  Compiled c = compile(kParams);
  auto values = interp::bindParams(c.pattern(), {"w=7"});
  ASSERT_TRUE(bool(values)) << errorText(values.takeError());
  EXPECT_EQ(values->at("n").intValue, 3);
  EXPECT_EQ(values->at("f").floatValue, 0.5);
  EXPECT_EQ(values->at("on").boolValue, false);
  EXPECT_EQ(values->at("w").intValue, 7);
  EXPECT_EQ(values->count("t"), 0u);
  auto over = interp::bindParams(c.pattern(), {"w=-2", "n=9223372036854775807", "f=3", "on=1"});
  ASSERT_TRUE(bool(over)) << errorText(over.takeError());
  EXPECT_EQ(over->at("n").intValue, kMax);
  EXPECT_EQ(over->at("f").type, ast::Type::Float);
  EXPECT_EQ(over->at("f").floatValue, 3.0);
  EXPECT_EQ(over->at("on").boolValue, true);
  EXPECT_EQ(over->at("w").intValue, -2);
  // The bound values reach the interpreter.
  std::vector<int32_t> data(4, 0);
  auto small = interp::bindParams(c.pattern(), {"w=2", "n=4", "f=0.25"});
  ASSERT_TRUE(bool(small));
  auto interp = Interpreter::create(c.pattern(), *small, Shape{1, 1, 4, 64},
                                    {{"t", {ast::ElemType::I32, {4}, data.data()}}});
  ASSERT_TRUE(bool(interp)) << errorText(interp.takeError());
  EXPECT_EQ(interp->bias(0, 0, 0, 0), 1.0);
  expectMask(*interp, 0, {"##.."});
}

TEST(InterpreterBindings, BindParamsErrors) {
  Compiled c = compile(kParams);
  auto failsWith = [&](std::vector<std::string> defines, const std::string &needle) {
    auto values = interp::bindParams(c.pattern(), defines);
    ASSERT_FALSE(bool(values)) << "accepted " << (defines.empty() ? "" : defines.back());
    std::string message = errorText(values.takeError());
    EXPECT_NE(message.find(needle), std::string::npos) << message;
  };
  failsWith({"w=1", "nosuch=1"}, "no parameter 'nosuch'");
  failsWith({}, "'w'");                               // w has no default
  failsWith({}, "no default");
  failsWith({"w=abc"}, "invalid value 'abc'");
  failsWith({"w=1.5"}, "invalid value '1.5'");
  failsWith({"w="}, "invalid value");
  failsWith({"w=99999999999999999999"}, "invalid value");
  failsWith({"w=1", "f=abc"}, "invalid value 'abc' for float");
  failsWith({"w=1", "f=nan"}, "invalid value");
  failsWith({"w=1", "f=1e999"}, "invalid value");
  failsWith({"w=1", "on=maybe"}, "invalid value 'maybe' for bool");
  failsWith({"w=1", "t=5"}, "tensor");                // tensors are not given with -D
  failsWith({"w"}, "malformed");
  failsWith({"=3"}, "malformed");
}

TEST(InterpreterBindings, CreateErrors) {
  Compiled c = compile(kParams);
  auto values = interp::bindParams(c.pattern(), {"w=1", "n=4"});
  ASSERT_TRUE(bool(values));
  std::vector<int32_t> i32(4, 1);
  std::vector<float> f32(4, 1.0f);
  Shape shape{1, 2, 4, 64};
  auto failsWith = [&](const ParamValues &params, const Shape &s,
                       std::map<std::string, HostTensor> tensors, const std::string &needle) {
    auto interp = Interpreter::create(c.pattern(), params, s, tensors);
    ASSERT_FALSE(bool(interp)) << "accepted; expected an error with '" << needle << "'";
    std::string message = errorText(interp.takeError());
    EXPECT_NE(message.find(needle), std::string::npos) << message;
  };
  HostTensor good{ast::ElemType::I32, {4}, i32.data()};
  ASSERT_TRUE(bool(Interpreter::create(c.pattern(), *values, shape, {{"t", good}})));
  failsWith(*values, shape, {}, "'t'");                                          // missing
  failsWith(*values, shape, {{"t", {ast::ElemType::F32, {4}, f32.data()}}}, "i32"); // dtype
  failsWith(*values, shape, {{"t", {ast::ElemType::I32, {3}, i32.data()}}}, "shape");
  failsWith(*values, shape, {{"t", {ast::ElemType::I32, {2, 2}, i32.data()}}}, "shape");
  failsWith(*values, shape, {{"t", good}, {"u", good}}, "'u'");                  // unknown
  failsWith(*values, shape, {{"t", good}, {"w", good}}, "'w'");                  // not a tensor
  // Invalid shapes.
  failsWith(*values, Shape{0, 2, 4, 64}, {{"t", good}}, "invalid shape");
  failsWith(*values, Shape{1, -1, 4, 64}, {{"t", good}}, "invalid shape");
  failsWith(*values, Shape{1, 2, -4, 64}, {{"t", good}}, "invalid shape");
  failsWith(*values, Shape{1, 2, 4, 0}, {{"t", good}}, "invalid shape");
  // Scalar values: missing, wrong type, unknown.
  ParamValues missing = *values;
  missing.erase("f");
  failsWith(missing, shape, {{"t", good}}, "'f'");
  ParamValues wrongType = *values;
  wrongType["n"] = floatLiteral(4.0);
  failsWith(wrongType, shape, {{"t", good}}, "'n' is an int");
  ParamValues boolAsInt = *values;
  boolAsInt["on"] = intLiteral(1);
  failsWith(boolAsInt, shape, {{"t", good}}, "'on' is a bool");
  ParamValues extra = *values;
  extra["zz"] = intLiteral(1);
  failsWith(extra, shape, {{"t", good}}, "'zz'");
  // A dimension that comes out negative.
  ParamValues negative = *values;
  negative["n"] = intLiteral(-3);
  failsWith(negative, shape, {{"t", good}}, "negative dimension");
  auto dims = Interpreter::tensorShape(c.pattern(), *c.pattern().findParam("t"), negative, shape);
  ASSERT_FALSE(bool(dims));
  EXPECT_NE(errorText(dims.takeError()).find("negative"), std::string::npos);
}

TEST(InterpreterBindings, TensorShapesFromParametersAndSizes) {
  Compiled c = compile("pattern p(n: int = 2, m: tensor<f32>[Nq, Nk / n + 1, H * D],\n"
                       "          z: tensor<i32>[n / (Nk - Nk)]) { }");
  auto values = interp::bindParams(c.pattern(), {});
  ASSERT_TRUE(bool(values));
  Shape shape{3, 5, 7, 16};
  auto dims = Interpreter::tensorShape(c.pattern(), *c.pattern().findParam("m"), *values, shape);
  ASSERT_TRUE(bool(dims)) << errorText(dims.takeError());
  EXPECT_EQ(*dims, (std::vector<int64_t>{5, 4, 48}));
  // A dimension that divides by zero is an error, not a crash.
  auto bad = Interpreter::tensorShape(c.pattern(), *c.pattern().findParam("z"), *values, shape);
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(errorText(bad.takeError()).find("division by zero"), std::string::npos);
}

TEST(InterpreterBindings, EmptyTensorNeedsNoData) {
  // With Nk = 0 a tensor<i32>[Nk] has no elements, so there is nothing to
  // point at: an empty std::vector's data() may be null. Binding it must
  // work (nothing can be read from it).
  Compiled c = compile("pattern p(doc: tensor<i32>[Nk]) { attend = doc[j] == doc[i]; }");
  auto values = interp::bindParams(c.pattern(), {});
  ASSERT_TRUE(bool(values));
  HostTensor tensor{ast::ElemType::I32, {0}, nullptr};
  auto interp = Interpreter::create(c.pattern(), *values, Shape{1, 0, 0, 64}, {{"doc", tensor}});
  EXPECT_TRUE(bool(interp)) << errorText(interp.takeError());
}

// ---------------------------------------------------------------------------
// alibi_slope.
// ---------------------------------------------------------------------------
TEST(InterpreterBuiltins, AlibiSlopeValuesAndArgumentErrors) {
  Compiled c = compile("pattern p(hh: int = 0, nh: int = 8) { bias = alibi_slope(hh, nh); }");
  auto run = [&](int64_t h, int64_t heads) {
    ParamValues values = {{"hh", intLiteral(h)}, {"nh", intLiteral(heads)}};
    auto interp = Interpreter::create(c.pattern(), values, kOne, {});
    if (!interp)
      throw std::runtime_error(errorText(interp.takeError()));
    return interp->bias(0, 0, 0, 0);
  };
  EXPECT_EQ(run(0, 8), 0.5);
  EXPECT_EQ(run(7, 8), 1.0 / 256.0);
  EXPECT_DOUBLE_EQ(run(0, 1), 1.0 / 256.0);
  EXPECT_EQ(run(8, 12), double(float(std::sqrt(0.5))));
  EXPECT_NO_THROW(run(0, int64_t(1) << 30));
  for (auto [h, heads] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 0}, {0, -8}, {-1, 8}, {8, 8}, {100, 8}, {0, (int64_t(1) << 30) + 1},
           {kMin, 8}, {0, kMax}, {kMax, kMax}}) {
    std::optional<EvalError> err;
    try {
      run(h, heads);
    } catch (const EvalError &e) {
      err = e;
    }
    ASSERT_TRUE(err) << "alibi_slope(" << h << ", " << heads << ") must raise";
    EXPECT_EQ(c.text(err->range()), "alibi_slope(hh, nh)");
    EXPECT_NE(std::string(err->what()).find("H = " + std::to_string(heads)), std::string::npos)
        << err->what();
  }
  // With the pattern's own h and H it never raises.
  Compiled alibi = compile("pattern p { bias = -alibi_slope(h, H) * float(i - j); }");
  Interpreter interp = build(alibi, Shape{12, 4, 4, 64});
  for (int64_t h = 0; h < 12; ++h)
    EXPECT_EQ(interp.bias(0, h, 3, 1), double(-2.0f * float(attn::alibiSlopeValue(h, 12))));
}

} // namespace
