// Robustness of the front end and the reference interpreter against hostile
// input: mutated patterns, pathological nesting, binary garbage.
//
// For every input, checkSource must return (no crash, no hang) and be
// consistent: `ok` exactly when no error is printed, the error count equal to
// the errors printed, every diagnostic well formed (header, quoted line, caret
// line). For every input that checks, the tree must be fully resolved and the
// interpreter must give values or EvalError for a few positions, nothing else.
//
// The mutation loop is reproducible: it prints its seed, and the environment
// variable ATTNC_FUZZ_SEED replaces it (ATTNC_FUZZ_ITERATIONS the count).
// Everything runs on a thread with a deliberately small stack (1 MiB in an
// optimized build) to show that the depth limits leave a margin.
#include "attnc/frontend/ASTPrinter.h"
#include "attnc/frontend/Frontend.h"
#include "attnc/frontend/Parser.h"
#include "attnc/frontend/Sema.h"
#include "attnc/interp/Interpreter.h"

#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace attnc;
using attnc::interp::EvalError;
using attnc::interp::HostTensor;
using attnc::interp::Interpreter;
using attnc::interp::Shape;

// 1 MiB in optimized builds; unoptimized frames are several times larger.
#ifdef NDEBUG
constexpr size_t kSmallStack = size_t(1) << 20;
#else
constexpr size_t kSmallStack = size_t(8) << 20;
#endif

// ---------------------------------------------------------------------------
// Seed corpus. Kept permanently as the fallback for patterns/*.pattern, and
// written to cover every statement, type, operator and builtin.
// ---------------------------------------------------------------------------
const char *const kSeeds[] = {
    R"(pattern causal { causal; }
)",
    R"(# Every query sees every key.
pattern dense { }
)",
    R"(pattern sliding_window(window: int = 256) {
  causal;
  attend = i - j < window;
}
)",
    R"(pattern strided(stride: int = 128) {
  causal;
  set local   = i - j < stride;
  set strided = (i - j) % stride == 0;
  heads = [local, strided];                   # multi-head factorization
}
)",
    R"(pattern strided_merged(stride: int = 128) {
  causal;
  attend = i - j < stride || (i - j) % stride == 0;
}
)",
    R"(pattern fixed(stride: int = 128, c: int = 32) {
  causal;
  attend = i / stride == j / stride || j % stride >= stride - c;   # merged head
}
)",
    R"(pattern fixed_heads(stride: int = 128, c: int = 32, v: int = 4) {
  causal;
  let sub = h % v;
  set block = i / stride == j / stride;
  set summary = j % stride >= stride - c * (sub + 1) && j % stride < stride - c * sub;
  attend = block || summary;
}
)",
    R"(pattern alibi { causal; bias = -alibi_slope(h, H) * (i - j); }
)",
    R"(pattern alibi_bidirectional {
  bias = -alibi_slope(h, H) * float(abs(i - j));
}
)",
    R"(pattern document(doc: tensor<i32>[Nk]) { causal; attend = doc[i] == doc[j]; }
)",
    R"(pattern prefix_lm(prefix: int = 64) {
  attend = j < prefix || j <= i;
}
)",
    R"(pattern longformer(window: int = 128, globals: int = 2) {
  set local  = abs(i - j) <= window / 2;
  set global = i < globals || j < globals;
  attend = local || global;
}
)",
    R"(pattern bigbird(block: int = 64, window: int = 3, globals: int = 2, seed: int = 7) {
  let qb = i / block;
  let kb = j / block;
  set local  = abs(qb - kb) <= window / 2;
  set global = qb < globals || kb < globals;
  set random = (qb * 1103515245 + kb * 12345 + seed) % 8 == 0;
  attend = local || global || random;
}
)",
    R"(pattern dilated_sliding_window(window: int = 128, dilation: int = 2) {
  causal;
  attend = i - j < window * dilation && (i - j) % dilation == 0;
}
)",
    R"(pattern softcap(cap: float = 30.0) { causal; score = cap * tanh(score / cap); }
)",
    R"(// Everything at once.
pattern kitchen_sink(n: int = 3, f: float = 0.5, flag: bool = true,
                     t: tensor<f32>[Nq, Nk], ids: tensor<i64>[Nk + n]) {
  let d = i - j;  # distance
  let w = flag ? f * 2.0 : -f;
  set near = abs(d) <= n && !(ids[j] == 0);
  set far = d % n == 0 || min(i, j) > max(n, 1) && b >= 0;
  heads = [near, far, near];
  bias = w * t[i, j] + log(1.0 + exp(-float(d * d))) + sqrt(float(D)) - int(f * 10.0);
  score = score > 10.0 ? 10.0 + tanh(score - 10.0) : score;
  scale = 1.0 / sqrt(float(D)) * 0.5;
}
)",
    R"(pattern gqa(group: int = 2) { causal; attend = (h / group) % 2 == 0 || i - j < 4; }
pattern needs_value(w: int, s: float, on: bool) {
  attend = on != false && i - j < w;
  bias = s * .5e1 - 1e-3;
}
)",
};

std::string readWhole(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The seeds plus every bundled patterns/*.pattern (read at run time).
std::vector<std::string> corpus() {
  std::vector<std::string> files(std::begin(kSeeds), std::end(kSeeds));
  std::filesystem::path dir = std::filesystem::path(ATTNC_SOURCE_DIR) / "patterns";
  std::error_code ec;
  std::vector<std::filesystem::path> bundled;
  for (const auto &entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".pattern")
      bundled.push_back(entry.path());
  std::sort(bundled.begin(), bundled.end()); // order decides the mutations
  for (const auto &path : bundled)
    files.push_back(readWhole(path));
  return files;
}

// ---------------------------------------------------------------------------
// Running on a small stack.
// ---------------------------------------------------------------------------
void runOnStack(size_t bytes, const std::function<void()> &body) {
  struct Context {
    const std::function<void()> *body;
    std::exception_ptr error;
  } context{&body, nullptr};
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, bytes), 0);
  pthread_t thread;
  int rc = pthread_create(
      &thread, &attr,
      [](void *raw) -> void * {
        auto *ctx = static_cast<Context *>(raw);
        try {
          (*ctx->body)();
        } catch (...) {
          ctx->error = std::current_exception();
        }
        return nullptr;
      },
      &context);
  pthread_attr_destroy(&attr);
  ASSERT_EQ(rc, 0);
  pthread_join(thread, nullptr);
  if (context.error) {
    try {
      std::rethrow_exception(context.error);
    } catch (const std::exception &e) {
      FAIL() << "exception escaped: " << e.what();
    } catch (...) {
      FAIL() << "unknown exception escaped";
    }
  }
}

// ---------------------------------------------------------------------------
// Checking one input.
// ---------------------------------------------------------------------------
std::string escape(std::string_view text, size_t limit = 600) {
  std::string out;
  static const char *const kHex = "0123456789abcdef";
  for (size_t k = 0; k < text.size() && k < limit; ++k) {
    unsigned char c = text[k];
    if (c == '\n')
      out += "\\n";
    else if (c == '\\' || c == '"')
      out += std::string("\\") + char(c);
    else if (c >= 0x20 && c < 0x7F)
      out += char(c);
    else
      out += std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
  }
  if (text.size() > limit)
    out += "...(" + std::to_string(text.size()) + " bytes)";
  return out;
}

/// Largest depth of `e` with let/set references expanded, counted like
/// Sema counts (every node one level, a reference one more than its value).
unsigned expandedDepth(const ast::Expr &e, std::map<const ast::Expr *, unsigned> &memo) {
  if (auto it = memo.find(&e); it != memo.end())
    return it->second;
  unsigned depth = 1;
  if (e.kind == ast::ExprKind::ValueRef && e.value && e.value->value)
    depth = expandedDepth(*e.value->value, memo) + 1;
  for (const auto &operand : e.operands)
    depth = std::max(depth, expandedDepth(*operand, memo) + 1);
  memo[&e] = depth;
  return depth;
}

/// A failure report collected for one input.
struct Problems {
  std::vector<std::string> list;
  void add(const std::string &what) { list.push_back(what); }
};

/// The structure of a successful check: every node resolved and typed.
void checkTree(const ast::Expr &e, const ast::Pattern &p, Problems &problems) {
  using ast::ExprKind;
  if (e.type == ast::Type::Error)
    problems.add("node of type 'error' in a file that checked");
  switch (e.kind) {
  case ExprKind::ParamRef:
    if (!e.param || e.param->kind == ast::ParamKind::Tensor)
      problems.add("unresolved parameter reference '" + e.name + "'");
    break;
  case ExprKind::ValueRef:
    if (!e.value || !e.value->value || e.value->index >= p.numValues)
      problems.add("unresolved let/set reference '" + e.name + "'");
    break;
  case ExprKind::TensorLoad:
    if (!e.param || e.param->kind != ast::ParamKind::Tensor ||
        e.param->dims.size() != e.operands.size())
      problems.add("unresolved tensor read '" + e.name + "'");
    break;
  case ExprKind::Convert:
    if (e.operands.size() != 1 || e.operands[0]->type != ast::Type::Int ||
        e.type != ast::Type::Float)
      problems.add("malformed conversion node");
    break;
  case ExprKind::Error:
    problems.add("error node in a file that checked");
    break;
  default:
    break;
  }
  for (const auto &operand : e.operands)
    checkTree(*operand, p, problems);
}

/// What a diagnostic stream holds, and whether it is well formed.
struct DiagSummary {
  unsigned errors = 0, warnings = 0, notes = 0, fatal = 0;
};

DiagSummary summarize(const std::string &name, const std::string &text,
                      const std::string &diags, Problems &problems) {
  DiagSummary summary;
  unsigned lines = 1 + std::count(text.begin(), text.end(), '\n');
  std::vector<std::string> out;
  std::istringstream in(diags);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  for (size_t k = 0; k < out.size();) {
    const std::string &line = out[k];
    if (line.rfind("fatal error: ", 0) == 0) {
      ++summary.fatal;
      if (k + 1 != out.size())
        problems.add("text after the fatal error");
      ++k;
      continue;
    }
    unsigned lineNo = 0, column = 0;
    char kind[16] = {};
    std::string prefix = name + ":";
    if (line.rfind(prefix, 0) != 0 ||
        std::sscanf(line.c_str() + prefix.size(), "%u:%u: %15[a-z]:", &lineNo, &column, kind) != 3) {
      problems.add("malformed diagnostic line: " + escape(line, 200));
      return summary;
    }
    std::string severity = kind;
    if (severity == "error")
      ++summary.errors;
    else if (severity == "warning")
      ++summary.warnings;
    else if (severity == "note")
      ++summary.notes;
    else
      problems.add("unknown severity '" + severity + "'");
    if (lineNo < 1 || lineNo > lines || column < 1)
      problems.add("diagnostic position " + std::to_string(lineNo) + ":" +
                   std::to_string(column) + " is outside the file");
    if (k + 2 >= out.size()) {
      problems.add("diagnostic without quoted line and caret");
      return summary;
    }
    const std::string &quoted = out[k + 1];
    const std::string &caret = out[k + 2];
    if (caret.find('^') == std::string::npos)
      problems.add("caret line without '^': " + escape(caret, 200));
    // Long lines are quoted as a window of 120 bytes (plus "..." marks and
    // at most a UTF-8 sequence either side).
    if (quoted.size() > 140)
      problems.add("quoted line of " + std::to_string(quoted.size()) + " bytes");
    for (unsigned char c : quoted)
      if ((c < 0x20 && c != '\t') || c == 0x7F)
        problems.add("control character in a quoted line");
    k += 3;
  }
  return summary;
}

/// Shapes used to run accepted patterns: more keys than queries, and fewer.
const Shape kShape{/*numHeads=*/3, /*seqQ=*/5, /*seqK=*/7, /*headDim=*/16};
const Shape kTallShape{/*numHeads=*/2, /*seqQ=*/7, /*seqK=*/4, /*headDim=*/8};

/// Runs one accepted pattern through the interpreter at a few positions.
void interpret(const ast::Pattern &pattern, std::mt19937_64 &rng, Problems &problems) {
  const Shape &shape = rng() % 4 == 0 ? kTallShape : kShape;
  // Defaults, and a value for every parameter that has none.
  std::vector<std::string> defines;
  for (const auto &param : pattern.params) {
    if (param->defaultValue || param->kind == ast::ParamKind::Tensor)
      continue;
    const char *value = param->kind == ast::ParamKind::Int     ? "3"
                        : param->kind == ast::ParamKind::Float ? "1.5"
                                                               : "true";
    defines.push_back(param->name + "=" + value);
  }
  auto params = interp::bindParams(pattern, defines);
  if (!params) {
    problems.add("bindParams failed: " + llvm::toString(params.takeError()));
    return;
  }
  std::map<std::string, HostTensor> tensors;
  std::vector<std::vector<int32_t>> i32s;
  std::vector<std::vector<int64_t>> i64s;
  std::vector<std::vector<float>> f32s;
  i32s.reserve(pattern.params.size());
  i64s.reserve(pattern.params.size());
  f32s.reserve(pattern.params.size());
  for (const auto &param : pattern.params) {
    if (param->kind != ast::ParamKind::Tensor)
      continue;
    auto dims = Interpreter::tensorShape(pattern, *param, *params, shape);
    if (!dims) { // e.g. a negative or undefined size: a reported error is fine
      llvm::consumeError(dims.takeError());
      return;
    }
    size_t count = 1;
    for (int64_t d : *dims) {
      if (d > (1 << 16) || count * size_t(std::max<int64_t>(d, 1)) > (1u << 20))
        return; // too big to build here; not a front-end question
      count *= size_t(d);
    }
    HostTensor tensor{param->elemType, *dims, nullptr};
    switch (param->elemType) {
    case ast::ElemType::I32:
      i32s.emplace_back(std::max<size_t>(count, 1));
      for (size_t k = 0; k < i32s.back().size(); ++k)
        i32s.back()[k] = int32_t(k % 3) + 1;
      tensor.data = i32s.back().data();
      break;
    case ast::ElemType::I64:
      i64s.emplace_back(std::max<size_t>(count, 1));
      for (size_t k = 0; k < i64s.back().size(); ++k)
        i64s.back()[k] = int64_t(k % 5) + 1;
      tensor.data = i64s.back().data();
      break;
    case ast::ElemType::F32:
      f32s.emplace_back(std::max<size_t>(count, 1));
      for (size_t k = 0; k < f32s.back().size(); ++k)
        f32s.back()[k] = 0.25f * float(k % 7) + 0.5f;
      tensor.data = f32s.back().data();
      break;
    }
    tensors[param->name] = tensor;
  }
  auto interp = Interpreter::create(pattern, *params, shape, tensors);
  if (!interp) {
    problems.add("Interpreter::create failed for well-formed bindings: " +
                 llvm::toString(interp.takeError()));
    return;
  }
  std::uniform_int_distribution<int64_t> head(0, shape.numHeads - 1),
      query(0, shape.seqQ - 1), key(0, shape.seqK - 1), batch(0, 1);
  for (int k = 0; k < 4; ++k) {
    int64_t b = k == 0 ? 0 : batch(rng), h = k == 0 ? 0 : head(rng);
    int64_t i = k == 0 ? 0 : k == 1 ? shape.seqQ - 1 : query(rng);
    int64_t j = k == 0 ? 0 : k == 1 ? shape.seqK - 1 : key(rng);
    auto attempt = [&](const char *what, auto &&call) {
      try {
        call();
      } catch (const EvalError &) {
        // A located run-time error of the pattern: acceptable.
      } catch (const std::exception &e) {
        problems.add(std::string(what) + " threw a non-EvalError exception: " + e.what());
      } catch (...) {
        problems.add(std::string(what) + " threw a non-exception");
      }
    };
    attempt("attends", [&] { (void)interp->attends(b, h, i, j); });
    attempt("bias", [&] { (void)interp->bias(b, h, i, j); });
    attempt("score", [&] { (void)interp->score(0.75, b, h, i, j); });
    attempt("scale", [&] { (void)interp->scale(); });
    attempt("logit", [&] { (void)interp->logit(1.25, b, h, i, j); });
  }
}

/// Checks one input; returns the problems found (empty when all is well).
struct Outcome {
  bool ok = false;
  unsigned errors = 0;
  std::string diags;
  std::vector<std::string> problems;
};

Outcome checkInput(const std::string &text, std::mt19937_64 &rng, bool runInterpreter = true) {
  const std::string name = "fuzz.pattern";
  Outcome outcome;
  Problems problems;
  {
    llvm::raw_string_ostream os(outcome.diags);
    CheckedFile file = checkSource(name, text, os);
    os.flush();
    outcome.ok = file.ok;
    outcome.errors = file.errors;
    DiagSummary summary = summarize(name, text, outcome.diags, problems);
    bool printedError = summary.errors + summary.fatal > 0;
    // The plain reading too (no input here spells "error:" itself).
    bool errorText = outcome.diags.find("error:") != std::string::npos;
    if (errorText != printedError && text.find("error:") == std::string::npos)
      problems.add("'error:' appears in the diagnostics outside an error header");
    if (file.ok == printedError)
      problems.add(std::string("ok is ") + (file.ok ? "true" : "false") + " but " +
                   (printedError ? "an error was printed" : "no error was printed"));
    if (file.errors != summary.errors + summary.fatal)
      problems.add("errors = " + std::to_string(file.errors) + " but " +
                   std::to_string(summary.errors) + " errors and " +
                   std::to_string(summary.fatal) + " fatal errors were printed");
    if (summary.errors > 20 || summary.fatal > 1)
      problems.add("more errors printed than the limit of 20");
    if (file.ok) {
      for (const auto &pattern : file.ast.patterns) {
        std::map<const ast::Expr *, unsigned> memo;
        auto visit = [&](const ast::Expr &e) {
          checkTree(e, *pattern, problems);
          unsigned depth = expandedDepth(e, memo);
          if (depth > kMaxExpandedDepth)
            problems.add("accepted an expression " + std::to_string(depth) +
                         " levels deep once expanded (limit " +
                         std::to_string(kMaxExpandedDepth) + ")");
        };
        for (const auto &param : pattern->params)
          for (const auto &dim : param->dims)
            visit(*dim);
        for (const auto &stmt : pattern->stmts)
          if (stmt->value)
            visit(*stmt->value);
        if (pattern->heads)
          for (const auto &entry : pattern->heads->heads)
            if (!entry.set)
              problems.add("unresolved head set '" + entry.name + "'");
        // The tree dump walks every node too.
        std::string dump;
        llvm::raw_string_ostream dumpStream(dump);
        printAST(*pattern, *file.source, {}, dumpStream);
        dumpStream.flush();
        if (dump.find(pattern->name) == std::string::npos)
          problems.add("AST dump does not name the pattern");
        if (runInterpreter)
          interpret(*pattern, rng, problems);
      }
    }
  }
  outcome.problems = std::move(problems.list);
  return outcome;
}

// ---------------------------------------------------------------------------
// Mutations.
// ---------------------------------------------------------------------------
/// Byte ranges of the tokens of `text` (whitespace and comments are tokens
/// too, so that deleting one can glue its neighbours together).
std::vector<std::pair<size_t, size_t>> tokenSpans(const std::string &text) {
  std::vector<std::pair<size_t, size_t>> spans;
  auto identChar = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  };
  for (size_t k = 0; k < text.size();) {
    size_t begin = k;
    char c = text[k];
    if (c == '#' || (c == '/' && k + 1 < text.size() && text[k + 1] == '/')) {
      while (k < text.size() && text[k] != '\n')
        ++k;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      while (k < text.size() && std::isspace(static_cast<unsigned char>(text[k])))
        ++k;
    } else if (identChar(c)) {
      while (k < text.size() && identChar(text[k]))
        ++k;
    } else if (k + 1 < text.size() &&
               std::string("== != <= >= && ||").find(text.substr(k, 2)) != std::string::npos &&
               text[k + 1] != ' ') {
      k += 2;
    } else {
      ++k;
    }
    spans.emplace_back(begin, k - begin);
  }
  return spans;
}

const char *const kVocabulary[] = {
    "pattern", "causal", "let", "set", "attend", "heads", "bias", "score", "scale",
    "int", "float", "bool", "tensor", "<i32>", "<i64>", "<f32>", "true", "false",
    "i", "j", "h", "b", "H", "Nq", "Nk", "D", "min", "max", "abs", "exp", "log",
    "tanh", "sqrt", "alibi_slope", "(", ")", "[", "]", "{", "}", ",", ";", ":", "?",
    "=", "+", "-", "*", "/", "%", "!", "&&", "||", "==", "!=", "<", "<=", ">", ">=",
    "&", "|", "0", "1", "-1", "2", "7", "0.0", "0.5", "1e308", "1e309", ".5",
    "9223372036854775807", "9223372036854775808", "99999999999999999999", "12abc",
    "1e", "#", "//", "\n", " ", "\t", "\r", "@", "$", "\"", "'", "\\", "`", "~",
    "x", "window", "stride", "local", "i[j]", "score(", "int(", "float(",
    "pattern p { }", "tensor<i32>[Nk]", "tensor<f32>[Nq, Nk]", "t[i, j]",
};

std::string mutate(const std::vector<std::string> &files, std::mt19937_64 &rng,
                   std::string &how) {
  auto pick = [&](size_t n) { return size_t(std::uniform_int_distribution<size_t>(0, n - 1)(rng)); };
  std::string text = files[pick(files.size())];
  // Mostly one edit, so that a good share of the inputs still checks and
  // reaches Sema and the interpreter; sometimes up to four.
  unsigned steps = pick(3) ? 1 : 1 + pick(4);
  for (unsigned step = 0; step < steps; ++step) {
    auto spans = tokenSpans(text);
    unsigned kind = pick(10);
    size_t at = text.empty() ? 0 : pick(text.size() + 1);
    switch (kind) {
    case 0: // flip a bit
      if (!text.empty()) {
        size_t k = pick(text.size());
        text[k] = char(text[k] ^ (1u << pick(8)));
        how += " flip@" + std::to_string(k);
      }
      break;
    case 1: { // insert a byte: NUL, high bytes, anything
      static const unsigned char special[] = {0x00, 0x80, 0xBF, 0xC0, 0xC3, 0xE2, 0xF0,
                                              0xFF, 0x7F, 0x0B, 0x0C, 0x1B, '\r', '\t'};
      unsigned char byte = pick(2) ? special[pick(sizeof special)] : (unsigned char)pick(256);
      text.insert(text.begin() + std::min(at, text.size()), char(byte));
      how += " insert@" + std::to_string(at);
      break;
    }
    case 2: // replace a byte with a random one
      if (!text.empty()) {
        size_t k = pick(text.size());
        text[k] = char(pick(256));
        how += " replace@" + std::to_string(k);
      }
      break;
    case 3: // delete one to three tokens
      if (!spans.empty()) {
        size_t first = pick(spans.size());
        size_t last = std::min(spans.size() - 1, first + pick(3));
        size_t begin = spans[first].first;
        size_t end = spans[last].first + spans[last].second;
        text.erase(begin, end - begin);
        how += " deltok@" + std::to_string(begin);
      }
      break;
    case 4: // duplicate a run of tokens in place (several times, sometimes)
      if (!spans.empty()) {
        size_t first = pick(spans.size());
        size_t last = std::min(spans.size() - 1, first + pick(4));
        size_t begin = spans[first].first;
        std::string run = text.substr(begin, spans[last].first + spans[last].second - begin);
        size_t times = pick(8) == 0 ? 1 + pick(300) : 1;
        std::string copies;
        for (size_t t = 0; t < times; ++t)
          copies += run;
        text.insert(begin, copies);
        how += " duptok@" + std::to_string(begin) + "x" + std::to_string(times);
      }
      break;
    case 5: // replace a token with one from the vocabulary
      if (!spans.empty()) {
        auto [begin, length] = spans[pick(spans.size())];
        text.replace(begin, length, kVocabulary[pick(std::size(kVocabulary))]);
        how += " vocab@" + std::to_string(begin);
      }
      break;
    case 6: // insert a vocabulary token
      text.insert(std::min(at, text.size()), kVocabulary[pick(std::size(kVocabulary))]);
      how += " vocabins@" + std::to_string(at);
      break;
    case 7: // swap two tokens
      if (spans.size() >= 2) {
        size_t a = pick(spans.size()), b = pick(spans.size());
        if (a > b)
          std::swap(a, b);
        if (a != b) {
          std::string ta = text.substr(spans[a].first, spans[a].second);
          std::string tb = text.substr(spans[b].first, spans[b].second);
          text.replace(spans[b].first, spans[b].second, ta);
          text.replace(spans[a].first, spans[a].second, tb);
          how += " swap";
        }
      }
      break;
    case 8: { // splice: a prefix of this with a suffix of another file
      const std::string &other = files[pick(files.size())];
      size_t cut = other.empty() ? 0 : pick(other.size() + 1);
      text = text.substr(0, std::min(at, text.size())) + other.substr(cut);
      how += " splice@" + std::to_string(at) + "+" + std::to_string(cut);
      break;
    }
    default: // truncate
      text.resize(std::min(at, text.size()));
      how += " truncate@" + std::to_string(at);
      break;
    }
  }
  return text;
}

uint64_t fuzzSeed() {
  if (const char *env = std::getenv("ATTNC_FUZZ_SEED"))
    return std::strtoull(env, nullptr, 0);
  return 0xA77E5EEDull;
}

unsigned fuzzIterations() {
  if (const char *env = std::getenv("ATTNC_FUZZ_ITERATIONS"))
    return unsigned(std::strtoul(env, nullptr, 0));
  return 400000;
}

/// Collects failures of many inputs; reports the first few in detail.
struct FailureLog {
  unsigned failures = 0;
  void record(const std::string &label, const std::string &input, const Outcome &outcome) {
    if (outcome.problems.empty())
      return;
    if (++failures > 10)
      return;
    std::string message = label + ": input \"" + escape(input) + "\"\n";
    for (const auto &problem : outcome.problems)
      message += "  - " + problem + "\n";
    message += "  diagnostics:\n" + outcome.diags.substr(0, 2000);
    ADD_FAILURE() << message;
  }
};

// ---------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------
TEST(Robustness, SeedCorpusChecksAndRuns) {
  std::mt19937_64 rng(1);
  auto files = corpus();
  std::cout << "[ corpus   ] " << std::size(kSeeds) << " embedded seeds, "
            << files.size() - std::size(kSeeds) << " files from patterns/\n";
  runOnStack(kSmallStack, [&] {
    for (size_t k = 0; k < files.size(); ++k) {
      Outcome outcome = checkInput(files[k], rng);
      EXPECT_TRUE(outcome.ok) << "corpus file " << k << " does not check:\n" << outcome.diags;
      EXPECT_TRUE(outcome.problems.empty())
          << "corpus file " << k << ": " << (outcome.problems.empty() ? "" : outcome.problems[0]);
    }
  });
}

TEST(Robustness, MutatedPatterns) {
  uint64_t seed = fuzzSeed();
  unsigned iterations = fuzzIterations();
  std::cout << "[ fuzz     ] seed " << seed << " (set ATTNC_FUZZ_SEED to change), "
            << iterations << " mutations\n";
  RecordProperty("seed", std::to_string(seed));
  auto files = corpus();
  auto start = std::chrono::steady_clock::now();
  unsigned accepted = 0, rejected = 0;
  FailureLog log;
  runOnStack(kSmallStack, [&] {
    std::mt19937_64 rng(seed);
    for (unsigned n = 0; n < iterations; ++n) {
      std::string how;
      std::string text = mutate(files, rng, how);
      Outcome outcome = checkInput(text, rng);
      (outcome.ok ? accepted : rejected)++;
      if (n % 16 == 0) { // the same input gives the same diagnostics
        std::mt19937_64 again(n);
        Outcome repeat = checkInput(text, again, /*runInterpreter=*/false);
        if (repeat.diags != outcome.diags || repeat.ok != outcome.ok)
          outcome.problems.push_back("a second check of the same input differs");
      }
      log.record("mutation " + std::to_string(n) + " (seed " + std::to_string(seed) + ":" + how +
                     ")",
                 text, outcome);
    }
  });
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ fuzz     ] " << accepted << " accepted, " << rejected << " rejected in "
            << seconds << " s\n";
  EXPECT_EQ(log.failures, 0u) << "inputs with problems (the first 10 are reported above)";
  // A fuzzer whose inputs are all rejected tests only the lexer.
  EXPECT_GT(accepted, iterations / 10);
  EXPECT_GT(rejected, iterations / 2);
}

TEST(Robustness, EveryTruncationOfEveryFile) {
  auto files = corpus();
  FailureLog log;
  unsigned inputs = 0;
  runOnStack(kSmallStack, [&] {
    std::mt19937_64 rng(2);
    for (size_t f = 0; f < files.size(); ++f) {
      for (size_t length = 0; length <= files[f].size(); ++length) {
        std::string text = files[f].substr(0, length);
        ++inputs;
        log.record("file " + std::to_string(f) + " truncated to " + std::to_string(length),
                   text, checkInput(text, rng));
      }
    }
  });
  std::cout << "[ truncate ] " << inputs << " inputs\n";
  EXPECT_EQ(log.failures, 0u);
}

TEST(Robustness, SplicesOfEveryPairOfFiles) {
  auto files = corpus();
  FailureLog log;
  runOnStack(kSmallStack, [&] {
    std::mt19937_64 rng(3);
    for (size_t a = 0; a < files.size(); ++a)
      for (size_t b = 0; b < files.size(); ++b)
        for (int k = 0; k < 4; ++k) {
          size_t cutA = std::uniform_int_distribution<size_t>(0, files[a].size())(rng);
          size_t cutB = std::uniform_int_distribution<size_t>(0, files[b].size())(rng);
          std::string text = files[a].substr(0, cutA) + files[b].substr(cutB);
          log.record("splice " + std::to_string(a) + "@" + std::to_string(cutA) + " + " +
                         std::to_string(b) + "@" + std::to_string(cutB),
                     text, checkInput(text, rng));
        }
    // Whole files glued together: the pattern names may clash, but each
    // file alone is fine.
    for (size_t a = 0; a < files.size(); ++a)
      for (size_t b = 0; b < files.size(); ++b) {
        std::string text = files[a] + files[b];
        log.record("concatenation " + std::to_string(a) + " + " + std::to_string(b), text,
                   checkInput(text, rng));
      }
  });
  EXPECT_EQ(log.failures, 0u);
}

// ---- specific nasty inputs -------------------------------------------------

/// Checks `text` on the small stack and returns the outcome.
Outcome checkOnSmallStack(const std::string &text, bool runInterpreter = true) {
  Outcome outcome;
  runOnStack(kSmallStack, [&] {
    std::mt19937_64 rng(4);
    outcome = checkInput(text, rng, runInterpreter);
  });
  for (const auto &problem : outcome.problems)
    ADD_FAILURE() << problem << "\n" << outcome.diags.substr(0, 2000);
  return outcome;
}

std::string repeat(const std::string &piece, size_t times) {
  std::string out;
  out.reserve(piece.size() * times);
  for (size_t k = 0; k < times; ++k)
    out += piece;
  return out;
}

bool mentions(const Outcome &outcome, const std::string &text) {
  return outcome.diags.find(text) != std::string::npos;
}

TEST(Robustness, HundredThousandNestedParentheses) {
  std::string text = "pattern p { attend = " + repeat("(", 100000) + "true" +
                     repeat(")", 100000) + "; }\n";
  Outcome outcome = checkOnSmallStack(text);
  EXPECT_FALSE(outcome.ok);
  EXPECT_TRUE(mentions(outcome, "nested too deeply")) << outcome.diags.substr(0, 1000);
  EXPECT_EQ(outcome.errors, 1u) << "one cause, one error:\n" << outcome.diags.substr(0, 2000);
}

TEST(Robustness, NestingJustUnderTheLimitIsAccepted) {
  // kMaxExprDepth levels of parentheses around a literal: accepted.
  unsigned levels = kMaxExprDepth - 1;
  std::string text = "pattern p { attend = " + repeat("(", levels) + "true" +
                     repeat(")", levels) + "; }\n";
  Outcome outcome = checkOnSmallStack(text);
  EXPECT_TRUE(outcome.ok) << outcome.diags.substr(0, 1000);
}

TEST(Robustness, HundredThousandUnaryMinuses) {
  std::string text = "pattern p { bias = " + repeat("-", 100000) + "1.0; }\n";
  Outcome outcome = checkOnSmallStack(text);
  EXPECT_FALSE(outcome.ok);
  EXPECT_TRUE(mentions(outcome, "nested too deeply")) << outcome.diags.substr(0, 1000);
  // Alternating '-' and '!' (type errors aside) must not recurse without bound either.
  checkOnSmallStack("pattern p { attend = " + repeat("!-", 50000) + "true; }\n");
}

TEST(Robustness, HundredThousandTermSum) {
  std::string text = "pattern p { bias = 1" + repeat("+1", 99999) + "; }\n";
  Outcome outcome = checkOnSmallStack(text);
  // A left-associated chain is a tree as deep as it is long; the front end
  // reports it instead of recursing 100,000 levels deep.
  EXPECT_FALSE(outcome.ok);
  EXPECT_TRUE(mentions(outcome, "nested too deeply")) << outcome.diags.substr(0, 1000);
  // The same count of terms as a balanced tree is fine and is evaluated.
  std::function<std::string(unsigned)> balanced = [&](unsigned n) -> std::string {
    if (n == 1)
      return "1";
    return "(" + balanced(n / 2) + "+" + balanced(n - n / 2) + ")";
  };
  std::string tree = "pattern p { bias = float(" + balanced(100000) + "); }\n";
  Outcome ok = checkOnSmallStack(tree);
  ASSERT_TRUE(ok.ok) << ok.diags.substr(0, 1000);
  runOnStack(kSmallStack, [&] {
    std::string diags;
    llvm::raw_string_ostream os(diags);
    CheckedFile file = checkSource("tree.pattern", tree, os);
    ASSERT_TRUE(file.ok);
    auto interp = Interpreter::create(*file.ast.patterns[0], {}, kShape, {});
    ASSERT_TRUE(bool(interp)) << llvm::toString(interp.takeError());
    EXPECT_EQ(interp->bias(0, 0, 0, 0), 100000.0);
  });
}

TEST(Robustness, HundredThousandNestedConditionals) {
  // Nested in the else branch (right-associated) and in the then branch.
  std::string elseChain = "pattern p { bias = " + repeat("i > 0 ? 1.0 : ", 100000) + "0.0; }\n";
  Outcome a = checkOnSmallStack(elseChain);
  EXPECT_FALSE(a.ok);
  EXPECT_TRUE(mentions(a, "nested too deeply")) << a.diags.substr(0, 1000);
  std::string thenChain = "pattern p { bias = " + repeat("i > 0 ? ", 100000) + "1.0" +
                          repeat(" : 0.0", 100000) + "; }\n";
  Outcome b = checkOnSmallStack(thenChain);
  EXPECT_FALSE(b.ok);
  EXPECT_TRUE(mentions(b, "nested too deeply")) << b.diags.substr(0, 1000);
}

TEST(Robustness, FiveThousandChainedLets) {
  std::string text = "pattern p {\n  let a0 = i;\n";
  for (int k = 1; k <= 5000; ++k)
    text += "  let a" + std::to_string(k) + " = a" + std::to_string(k - 1) + " + 1;\n";
  text += "  attend = a5000 > j;\n}\n";
  Outcome outcome = checkOnSmallStack(text);
  // Expanded, the chain is 10,000 levels deep: reported, not followed.
  EXPECT_FALSE(outcome.ok);
  EXPECT_TRUE(mentions(outcome, "once 'let' and 'set' definitions are expanded"))
      << outcome.diags.substr(0, 1000);
}

/// A chain of `levels` lets, each using the previous one twice, checked and
/// evaluated on the small stack. Without memoization it would take 2^levels
/// (or 4^levels) evaluations.
void runDoublingChain(unsigned levels, bool floats) {
  std::string text = "pattern p {\n";
  text += floats ? "  let a0 = float(i + 1);\n" : "  let a0 = i + 1;\n";
  for (unsigned k = 1; k <= levels; ++k) {
    std::string prev = "a" + std::to_string(k - 1);
    text += "  let a" + std::to_string(k) + " = " +
            (floats ? prev + " * 0.5 + " + prev + " * 0.5" : prev + " + " + prev) + ";\n";
  }
  std::string last = "a" + std::to_string(levels);
  text += floats ? "  bias = " + last + ";\n" : "  bias = float(" + last + " % 1000003);\n";
  text += "  attend = " + last + (floats ? " > 0.0" : " != 12345") + ";\n}\n";
  auto start = std::chrono::steady_clock::now();
  runOnStack(kSmallStack, [&] {
    std::string diags;
    llvm::raw_string_ostream os(diags);
    CheckedFile file = checkSource("chain.pattern", text, os);
    os.flush();
    ASSERT_TRUE(file.ok) << diags.substr(0, 1000);
    Shape shape{2, 4, 4, 8};
    auto interp = Interpreter::create(*file.ast.patterns[0], {}, shape, {});
    ASSERT_TRUE(bool(interp)) << llvm::toString(interp.takeError());
    for (int64_t i = 0; i < 4; ++i) {
      double expected;
      if (floats) {
        expected = double(i + 1);
      } else {
        // (i + 1) * 2^levels, wrapped to 64 bits, then floor mod 1000003.
        uint64_t value = uint64_t(i + 1);
        for (unsigned k = 0; k < levels; ++k)
          value *= 2;
        int64_t wrapped = int64_t(value);
        int64_t r = wrapped % 1000003;
        if (r < 0)
          r += 1000003;
        expected = double(r);
      }
      EXPECT_EQ(interp->bias(0, 1, i, 0), expected) << "i = " << i;
      EXPECT_TRUE(interp->attends(0, 1, i, 3));
    }
  });
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 2.0) << "the doubling chain of " << levels << " lets took " << seconds << " s";
}

TEST(Robustness, DoublingLetChainIsMemoized) {
  runDoublingChain(40, /*floats=*/false);  // wraps nowhere yet: (i+1) * 2^40
  runDoublingChain(70, /*floats=*/false);  // wraps around 2^64
  runDoublingChain(600, /*floats=*/true);  // 4^600 evaluations without memoization
}

/// The longest chain `let a_k = FORM;` (X standing for a_{k-1}) that checks.
std::string longestAcceptedChain(const std::string &form, unsigned &levels) {
  auto chain = [&](unsigned count) {
    std::string text = "pattern p(tt: tensor<i64>[8]) {\n  let a0 = i;\n";
    for (unsigned k = 1; k <= count; ++k) {
      std::string body = form;
      for (size_t at; (at = body.find('X')) != std::string::npos;)
        body.replace(at, 1, "a" + std::to_string(k - 1));
      text += "  let a" + std::to_string(k) + " = " + body + ";\n";
    }
    return text + "  bias = float(a" + std::to_string(count) + ");\n}\n";
  };
  unsigned lo = 1, hi = 5000; // lo checks, hi does not
  while (hi - lo > 1) {
    unsigned mid = (lo + hi) / 2;
    std::string diags;
    llvm::raw_string_ostream os(diags);
    (checkSource("c.pattern", chain(mid), os).ok ? lo : hi) = mid;
  }
  levels = lo;
  return chain(lo);
}

TEST(Robustness, DeepestAcceptedLetChainsRunOnSmallStack) {
  // For several shapes of chain, the longest one the depth limit accepts is
  // evaluated on the small stack, and its value checked. (Measured in a
  // Release build: the tensor-read chains need about 800 KiB; a plain
  // `X + 1` chain about 530 KiB.)
  std::vector<int64_t> table = {1, 4, 7, 2, 5, 0, 3, 6}; // tt[k] = (3k + 1) % 8
  struct Form {
    const char *text;
    std::function<int64_t(int64_t)> step;
  };
  const Form forms[] = {
      {"X + 1", [](int64_t x) { return x + 1; }},
      {"int(sqrt(X))", [](int64_t x) { return int64_t(std::sqrt(double(x))); }},
      {"tt[tt[X % 8] % 8]", [&](int64_t x) { return table[table[x % 8] % 8]; }},
      {"tt[int(sqrt(X))]", [&](int64_t x) { return table[int64_t(std::sqrt(double(x)))]; }},
      {"min(X, 1) + abs(X - X)", [](int64_t x) { return std::min<int64_t>(x, 1); }},
      {"X > 0 && X < 3 ? X + 1 : X - 1", [](int64_t x) { return x > 0 && x < 3 ? x + 1 : x - 1; }},
  };
  for (const Form &form : forms) {
    unsigned levels = 0;
    std::string text = longestAcceptedChain(form.text, levels);
    EXPECT_GT(levels, 300u) << form.text;
    int64_t expected = 4; // a0 = i = 4
    for (unsigned k = 0; k < levels; ++k)
      expected = form.step(expected);
    runOnStack(kSmallStack, [&] {
      std::string diags;
      llvm::raw_string_ostream os(diags);
      CheckedFile file = checkSource("c.pattern", text, os);
      ASSERT_TRUE(file.ok);
      HostTensor tt{ast::ElemType::I64, {8}, table.data()};
      auto interp = Interpreter::create(*file.ast.patterns[0], {}, kShape, {{"tt", tt}});
      ASSERT_TRUE(bool(interp)) << llvm::toString(interp.takeError());
      EXPECT_EQ(interp->bias(0, 0, 4, 0), double(expected))
          << form.text << " x " << levels << " levels";
    });
  }
}

/// The documented meaning of kMaxExpandedDepth: "deepest expression accepted
/// once let/set references are expanded, which is how deep the interpreter
/// recurses". Implicit int->float conversions inserted by Sema are levels the
/// interpreter recurses through too, so they must be counted.
TEST(Robustness, ExpandedDepthLimitCountsImplicitConversions) {
  // Each level: a reference, int(), sqrt() and the conversion Sema inserts
  // around the int argument of sqrt.
  auto chain = [](unsigned levels) {
    std::string text = "pattern p {\n  let a0 = i;\n";
    for (unsigned k = 1; k <= levels; ++k)
      text += "  let a" + std::to_string(k) + " = int(sqrt(a" + std::to_string(k - 1) + "));\n";
    return text + "  bias = float(a" + std::to_string(levels) + ");\n}\n";
  };
  unsigned lo = 1, hi = 3000; // lo checks, hi does not
  while (hi - lo > 1) {
    unsigned mid = (lo + hi) / 2;
    std::string diags;
    llvm::raw_string_ostream os(diags);
    (checkSource("c.pattern", chain(mid), os).ok ? lo : hi) = mid;
  }
  std::string text = chain(lo);
  std::string diags;
  llvm::raw_string_ostream os(diags);
  CheckedFile file = checkSource("c.pattern", text, os);
  ASSERT_TRUE(file.ok);
  std::map<const ast::Expr *, unsigned> memo;
  unsigned depth = expandedDepth(*file.ast.patterns[0]->bias->value, memo);
  EXPECT_LE(depth, kMaxExpandedDepth)
      << "a chain of " << lo << " lets 'let a_k = int(sqrt(a_(k-1)));' is accepted, but "
      << "expanded it is " << depth << " levels deep";
  // Whatever the count, the accepted chain must evaluate on the small stack.
  runOnStack(kSmallStack, [&] {
    auto interp = Interpreter::create(*file.ast.patterns[0], {}, kShape, {});
    ASSERT_TRUE(bool(interp));
    EXPECT_EQ(interp->bias(0, 0, 4, 0), 1.0); // int(sqrt(4)) = 2, then 1, 1, ...
  });
}

TEST(Robustness, MegabyteOfRandomBytes) {
  std::mt19937_64 rng(0xB17E5);
  std::string text(1 << 20, '\0');
  for (char &c : text)
    c = char(rng() & 0xFF);
  auto start = std::chrono::steady_clock::now();
  Outcome outcome = checkOnSmallStack(text);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(outcome.ok);
  EXPECT_TRUE(mentions(outcome, "too many errors")) << outcome.diags.substr(0, 2000);
  EXPECT_LT(seconds, 5.0);
  // Random bytes drawn from the language's own alphabet parse much further.
  static const char alphabet[] = "pattern attend let set causal heads bias score scale "
                                 "ijhbHD()[]{};:?=+-*/%!&|<>,.0123456789 \n#";
  std::string soup(1 << 20, ' ');
  for (char &c : soup)
    c = alphabet[rng() % (sizeof alphabet - 1)];
  Outcome soupOutcome = checkOnSmallStack(soup);
  EXPECT_FALSE(soupOutcome.ok);
}

TEST(Robustness, OnlyNulBytes) {
  Outcome outcome = checkOnSmallStack(std::string(65536, '\0'));
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.errors, 1u) << outcome.diags;
  EXPECT_TRUE(mentions(outcome, "invalid character")) << outcome.diags;
}

TEST(Robustness, EmptyFileAndCommentOnlyFiles) {
  for (const char *text : {"", "# just a comment\n", "# no newline at the end",
                           "// a C++ comment\n\n\n", "   \n\t\r\n\f\v  "}) {
    Outcome outcome = checkOnSmallStack(text);
    EXPECT_TRUE(outcome.ok) << "'" << escape(text) << "': " << outcome.diags;
    EXPECT_EQ(outcome.diags, "") << escape(text);
  }
}

TEST(Robustness, MegabyteLineWithoutNewline) {
  // A valid pattern, a megabyte of spaces, then a bad character: the error
  // is at column ~1M and its quoted line is a short window.
  std::string valid = "pattern p { causal; attend = i - j < 4; }";
  Outcome farError = checkOnSmallStack(valid + std::string(1 << 20, ' ') + "@");
  EXPECT_FALSE(farError.ok);
  EXPECT_EQ(farError.errors, 1u) << farError.diags.substr(0, 1000);
  EXPECT_TRUE(mentions(farError, ":1:" + std::to_string(valid.size() + (1 << 20) + 1) + ": "))
      << farError.diags.substr(0, 1000);
  // Only the valid pattern and spaces: accepted.
  Outcome spaces = checkOnSmallStack(valid + std::string(1 << 20, ' '));
  EXPECT_TRUE(spaces.ok);
  // A megabyte-long comment on the only line.
  Outcome comment = checkOnSmallStack(valid + " # " + std::string(1 << 20, 'c'));
  EXPECT_TRUE(comment.ok);
  // A megabyte-long identifier and a megabyte-long number.
  checkOnSmallStack("pattern p { attend = " + std::string(1 << 20, 'x') + "; }");
  checkOnSmallStack("pattern p { bias = " + std::string(1 << 20, '7') + ".0; }");
  checkOnSmallStack("pattern p { bias = 0." + std::string(1 << 20, '7') + "; }");
  // A megabyte of one statement repeated on one line.
  checkOnSmallStack("pattern p { " + repeat("causal; ", 1 << 17) + "}");
}

TEST(Robustness, LongRunOfInvalidUtf8IsQuotedAsAWindow) {
  // Bytes 0x80-0xBF are UTF-8 continuation bytes. A long line of them (here
  // after a valid pattern) must still be quoted as a short window: the
  // window may step over one UTF-8 sequence, not over the whole line.
  std::string valid = "pattern p { causal; }";
  for (size_t run : {200u, 100000u}) {
    std::string text = valid + std::string(run, '\x80') + " @";
    std::string diags;
    llvm::raw_string_ostream os(diags);
    CheckedFile file = checkSource("utf8.pattern", text, os);
    os.flush();
    EXPECT_FALSE(file.ok);
    size_t longest = 0;
    std::istringstream in(diags);
    for (std::string line; std::getline(in, line);)
      longest = std::max(longest, line.size());
    EXPECT_LE(longest, 140u) << "a run of " << run << " continuation bytes: the diagnostics ("
                             << diags.size() << " bytes) quote a line of " << longest
                             << " bytes";
  }
}

TEST(Robustness, ManyLetsAndOneExpressionOfUnknownNamesFinishQuickly) {
  // Each unknown name is reported (only the first 20) with a "did you mean"
  // search over every let declared so far. The search must not run for
  // names that will never be reported, or the time grows with the product
  // of the two counts.
  std::string text = "pattern p {\n";
  for (int k = 0; k < 10000; ++k)
    text += "let v" + std::to_string(k) + "=1;";
  std::function<std::string(unsigned)> balanced = [&](unsigned n) -> std::string {
    if (n == 1)
      return "zz";
    return "(" + balanced(n / 2) + "+" + balanced(n - n / 2) + ")";
  };
  text += "\nbias = float(" + balanced(10000) + ");\n}\n";
  auto start = std::chrono::steady_clock::now();
  Outcome outcome = checkOnSmallStack(text);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(outcome.ok);
  EXPECT_LT(seconds, 1.0) << "checking " << text.size() << " bytes took " << seconds << " s";
}

} // namespace
