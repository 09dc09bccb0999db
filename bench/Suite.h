//===- Suite.h - Benchmark suite files for attnc-bench ---------------------===//
//
// A suite file (bench/suites/default.json; schema in bench/README.md) names
// patterns, their parameters, the fills of their tensors and problem sizes;
// each shape key may be a list, and the lists expand into one case per
// combination. Parsing needs no GPU and no compiler, so that unit tests and
// `attnc-bench --list` can run anywhere; every error names the suite file and
// either a line:col (JSON syntax) or the case and key (schema).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace attnc::bench {

/// How to make the contents of one pattern tensor (bench/README.md).
struct Fill {
  enum class Kind { Documents, Uniform };
  Kind kind = Kind::Documents;
  int64_t count = 1; // Documents: ids 0..count-1
  double low = 0, high = 1; // Uniform: values in [low, high)
  uint64_t seed = 0;
};

/// attn::KernelOptions' default query block, the rows of one forward tile.
constexpr int64_t kDefaultBlockQ = 128;

/// One expanded case: a pattern with parameter values, tensor fills and one
/// problem size.
struct Case {
  std::string id;      // see caseId()
  std::string pattern; // the pattern's name
  std::string file;    // its .pattern file, as found
  // Parameter values as text, as `attnc -D name=value` takes them, by name.
  std::vector<std::pair<std::string, std::string>> params;
  std::map<std::string, Fill> tensors;
  int64_t B = 1, H = 16, Hkv = 16, N = 0, D = 128;
  std::string dtype = "bf16";
  int64_t blockQ = kDefaultBlockQ; // "BQ": the forward's query rows per tile
  bool layoutOnly = false; // from "layout_cases": only the layout is timed
};

struct Suite {
  std::string path;
  std::string description;
  std::vector<Case> cases, layoutCases;
};

/// The head dimension the Attention of a layout case is made for.
constexpr int64_t kLayoutCaseHeadDim = 128;

/// "causal B=1 H=16 Hkv=16 N=8192 D=128 bf16", with "(name=value,...)" after
/// the pattern when it has parameters; layout cases stop after N; " BQ=64"
/// at the end when the query block is not the default.
std::string caseId(const Case &c);

/// Parses and expands suite text. `path` names the file in errors and
/// locates the patterns: `<name>.pattern` in `patternsDir` when it is not
/// empty, else in patterns/ of the suite file's folder's parent or
/// grandparent; a case's "file" key is relative to the suite file's folder.
llvm::Expected<Suite> parseSuite(llvm::StringRef text, const std::string &path,
                                 const std::string &patternsDir = "");

/// Reads `path` and parses it.
llvm::Expected<Suite> loadSuite(const std::string &path, const std::string &patternsDir = "");

/// Document ids of N keys in `count` non-empty documents (bench/README.md):
/// `count - 1` distinct cut points drawn from the generator, sorted; doc[j]
/// is the number of cuts <= j. Needs 1 <= count <= n.
std::vector<int32_t> documentIds(int64_t n, int64_t count, uint64_t seed);

/// `elements` values low + (high - low) * next() / 2^31, in order.
std::vector<float> uniformValues(int64_t elements, double low, double high, uint64_t seed);

} // namespace attnc::bench
