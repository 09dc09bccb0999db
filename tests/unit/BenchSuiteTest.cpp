//===- BenchSuiteTest.cpp - attnc-bench's suite files ---------------------===//
//
// Parsing, expansion and fills of bench/Suite.h and bench/CaseTensors.h, the
// part of attnc-bench that needs no GPU.
//
//===----------------------------------------------------------------------===//
#include "CaseTensors.h"
#include "Suite.h"

#include <gtest/gtest.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>

#include <algorithm>
#include <set>

namespace {

using namespace attnc::bench;

const std::string kPatterns = std::string(ATTNC_SOURCE_DIR) + "/patterns";

Suite parse(const std::string &text, const std::string &path = "suite.json") {
  llvm::Expected<Suite> suite = parseSuite(text, path, kPatterns);
  if (!suite) {
    ADD_FAILURE() << llvm::toString(suite.takeError());
    return {};
  }
  return std::move(*suite);
}

/// The message of a suite that must not parse.
std::string parseError(const std::string &text) {
  llvm::Expected<Suite> suite = parseSuite(text, "suite.json", kPatterns);
  if (suite) {
    ADD_FAILURE() << "parsed: " << text;
    return "";
  }
  return llvm::toString(suite.takeError());
}

std::vector<std::string> idsOf(const std::vector<Case> &cases) {
  std::vector<std::string> ids;
  for (const Case &c : cases)
    ids.push_back(c.id);
  return ids;
}

TEST(BenchSuite, DefaultSuiteExpandsNOuterDInner) {
  llvm::Expected<Suite> suite =
      loadSuite(std::string(ATTNC_SOURCE_DIR) + "/bench/suites/default.json");
  ASSERT_TRUE(static_cast<bool>(suite)) << llvm::toString(suite.takeError());
  // Six patterns at two N and two D, four single-N strided cases at two D,
  // two fixed cases at two N and two D.
  ASSERT_EQ(suite->cases.size(), 6u * 4 + 4 * 2 + 2 * 4);
  std::vector<std::string> ids = idsOf(suite->cases);
  EXPECT_EQ(std::vector<std::string>(ids.begin(), ids.begin() + 4),
            (std::vector<std::string>{"causal B=1 H=16 Hkv=16 N=8192 D=128 bf16",
                                      "causal B=1 H=16 Hkv=16 N=8192 D=64 bf16",
                                      "causal B=1 H=16 Hkv=16 N=32768 D=128 bf16",
                                      "causal B=1 H=16 Hkv=16 N=32768 D=64 bf16"}));
  EXPECT_EQ(ids[4], "sliding_window(window=1024) B=1 H=16 Hkv=16 N=8192 D=128 bf16");
  EXPECT_EQ(ids[20], "softcap(cap=30) B=1 H=16 Hkv=16 N=8192 D=128 bf16");
  EXPECT_EQ(ids[24], "strided(stride=64) B=1 H=16 Hkv=16 N=8192 D=128 bf16");
  EXPECT_EQ(ids.back(), "fixed(c=32,stride=128) B=1 H=16 Hkv=16 N=32768 D=64 bf16");
  const Case &document = suite->cases[12];
  EXPECT_EQ(document.pattern, "document");
  ASSERT_EQ(document.tensors.count("doc"), 1u);
  EXPECT_EQ(document.tensors.at("doc").count, 12);
  EXPECT_EQ(document.tensors.at("doc").seed, 1u);
  EXPECT_EQ(document.file, kPatterns + "/document.pattern");

  // Layout cases: one per N, at the head dim of kLayoutCaseHeadDim, whatever
  // the defaults' D list.
  EXPECT_EQ(idsOf(suite->layoutCases),
            (std::vector<std::string>{"strided(stride=256) B=1 H=16 Hkv=16 N=131072",
                                      "strided(stride=1024) B=1 H=16 Hkv=16 N=1048576",
                                      "sliding_window(window=1024) B=1 H=16 Hkv=16 N=131072",
                                      "sliding_window(window=1024) B=1 H=16 Hkv=16 N=1048576",
                                      "causal B=1 H=16 Hkv=16 N=131072",
                                      "causal B=1 H=16 Hkv=16 N=1048576"}));
  for (const Case &c : suite->layoutCases) {
    EXPECT_TRUE(c.layoutOnly);
    EXPECT_EQ(c.D, kLayoutCaseHeadDim);
  }
}

// A suite file that no longer parses (a renamed key, a pattern gone) would
// only show on the GPU machine.
TEST(BenchSuite, EverySuiteFileLoads) {
  std::error_code error;
  int files = 0;
  for (llvm::sys::fs::directory_iterator it(std::string(ATTNC_SOURCE_DIR) + "/bench/suites", error),
       end;
       it != end && !error; it.increment(error)) {
    if (llvm::sys::path::extension(it->path()) != ".json")
      continue;
    ++files;
    llvm::Expected<Suite> suite = loadSuite(it->path());
    ASSERT_TRUE(static_cast<bool>(suite)) << llvm::toString(suite.takeError());
    EXPECT_FALSE(suite->cases.empty()) << it->path();
  }
  EXPECT_FALSE(error) << error.message();
  EXPECT_GE(files, 3);
}

TEST(BenchSuite, LongSuiteHoldsIssue7sMillionTokenRuns) {
  llvm::Expected<Suite> suite =
      loadSuite(std::string(ATTNC_SOURCE_DIR) + "/bench/suites/long.json");
  ASSERT_TRUE(static_cast<bool>(suite)) << llvm::toString(suite.takeError());
  EXPECT_EQ(idsOf(suite->cases),
            (std::vector<std::string>{"strided(stride=1024) B=1 H=16 Hkv=16 N=1048576 D=64 bf16"}));
  EXPECT_EQ(idsOf(suite->layoutCases),
            (std::vector<std::string>{"strided(stride=1024) B=1 H=16 Hkv=16 N=1048576",
                                      "strided_merged(stride=1024) B=1 H=16 Hkv=16 N=1048576",
                                      "fixed(c=16,stride=128) B=1 H=16 Hkv=16 N=1048576",
                                      "fixed(c=32,stride=128) B=1 H=16 Hkv=16 N=1048576"}));
}

TEST(BenchSuite, CaseKeysOverrideDefaultsAndListsExpandInOrder) {
  Suite suite = parse(R"({"defaults": {"N": [8, 16], "D": 64, "H": 4},
    "cases": [
      {"pattern": "causal", "N": 32, "H": [2, 4], "dtype": ["bf16", "fp16"]},
      {"pattern": "sliding_window", "params": {"window": 3}, "Hkv": 2, "B": 3},
      {"file": "../patterns/softcap.pattern", "params": {"cap": 2.5}, "N": 8}
    ]})",
                      std::string(ATTNC_SOURCE_DIR) + "/bench/x.json"); // "file" is relative to it
  EXPECT_EQ(idsOf(suite.cases),
            (std::vector<std::string>{
                "causal B=1 H=2 Hkv=2 N=32 D=64 bf16", "causal B=1 H=2 Hkv=2 N=32 D=64 fp16",
                "causal B=1 H=4 Hkv=4 N=32 D=64 bf16", "causal B=1 H=4 Hkv=4 N=32 D=64 fp16",
                "sliding_window(window=3) B=3 H=4 Hkv=2 N=8 D=64 bf16",
                "sliding_window(window=3) B=3 H=4 Hkv=2 N=16 D=64 bf16",
                "softcap(cap=2.5) B=1 H=4 Hkv=4 N=8 D=64 bf16"}));
  EXPECT_TRUE(suite.layoutCases.empty());
}

TEST(BenchSuite, QueryBlockExpandsLastAndNamesOnlyTheOtherBlockInTheId) {
  Suite suite = parse(R"({"defaults": {"N": 8, "D": 64, "H": 2},
    "cases": [{"pattern": "causal", "dtype": ["bf16", "fp16"], "BQ": [128, 64]}],
    "layout_cases": [{"pattern": "causal", "BQ": 64}]})");
  EXPECT_EQ(idsOf(suite.cases),
            (std::vector<std::string>{"causal B=1 H=2 Hkv=2 N=8 D=64 bf16",
                                      "causal B=1 H=2 Hkv=2 N=8 D=64 bf16 BQ=64",
                                      "causal B=1 H=2 Hkv=2 N=8 D=64 fp16",
                                      "causal B=1 H=2 Hkv=2 N=8 D=64 fp16 BQ=64"}));
  EXPECT_EQ(suite.cases[0].blockQ, 128);
  EXPECT_EQ(suite.cases[1].blockQ, 64);
  EXPECT_EQ(idsOf(suite.layoutCases),
            (std::vector<std::string>{"causal B=1 H=2 Hkv=2 N=8 BQ=64"}));
}

TEST(BenchSuite, ParameterValuesAsAttncTakesThem) {
  Suite suite = parse(R"({"cases": [{"pattern": "causal", "N": 8,
    "params": {"w": 1024, "x": 30.0, "y": 0.125, "z": "text", "b": true}}]})");
  EXPECT_EQ(suite.cases[0].params,
            (std::vector<std::pair<std::string, std::string>>{
                {"b", "true"}, {"w", "1024"}, {"x", "30"}, {"y", "0.125"}, {"z", "text"}}));
}

TEST(BenchSuite, BuiltInDefaults) {
  Suite suite = parse(R"({"cases": [{"pattern": "causal", "N": 8}],
                          "layout_cases": [{"pattern": "causal", "N": 8}]})");
  ASSERT_EQ(suite.cases.size(), 1u);
  EXPECT_EQ(suite.cases[0].id, "causal B=1 H=16 Hkv=16 N=8 D=128 bf16");
  EXPECT_EQ(suite.layoutCases[0].id, "causal B=1 H=16 Hkv=16 N=8");
}

TEST(BenchSuite, DocumentsFillFollowsItsDefinition) {
  // By hand from the generator (bench/README.md): seed 1 gives next() =
  // 908834774, 1093944153, 1392341196, ...: cuts 1 + next % 9 = 6, 4, 1.
  EXPECT_EQ(documentIds(10, 4, 1), (std::vector<int32_t>{0, 1, 1, 1, 2, 2, 3, 3, 3, 3}));
  EXPECT_EQ(documentIds(5, 1, 3), (std::vector<int32_t>{0, 0, 0, 0, 0}));
  EXPECT_EQ(documentIds(4, 4, 9), (std::vector<int32_t>{0, 1, 2, 3}));
  std::vector<int32_t> ids = documentIds(8192, 12, 1);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(ids.back(), 11);
  for (size_t j = 1; j < ids.size(); ++j)
    EXPECT_LE(ids[j] - ids[j - 1], 1) << "every id appears, so no document is empty";
}

TEST(BenchSuite, UniformFillStaysInRange) {
  std::vector<float> values = uniformValues(1000, -2.0, 3.0, 1);
  EXPECT_FLOAT_EQ(values[0], float(-2.0 + 5.0 * (908834774.0 / 2147483648.0)));
  for (float value : values) {
    EXPECT_GE(value, -2.0f);
    EXPECT_LT(value, 3.0f);
  }
  EXPECT_NE(uniformValues(4, 0, 1, 1), uniformValues(4, 0, 1, 2));
}

/// A bundle declaring `doc: tensor<i32>[Nk]` and `table: tensor<f32>[H, 5]`.
attn::Bundle twoTensorBundle() {
  attn::Bundle bundle;
  bundle.pattern = "p";
  bundle.tensors.push_back({"doc", attn::ElementType::I32, {{attn::TensorDim::Kind::Nk, 0}}});
  bundle.tensors.push_back({"table", attn::ElementType::F32,
                            {{attn::TensorDim::Kind::H, 0}, {attn::TensorDim::Kind::Constant, 5}}});
  return bundle;
}

TEST(BenchSuite, TensorsFollowTheBundle) {
  Suite suite = parse(R"({"cases": [{"pattern": "causal", "N": 16, "H": 2, "tensors": {
      "doc": {"fill": "documents", "count": 3, "seed": 4},
      "table": {"fill": "uniform", "low": 0.5, "high": 1, "seed": 2}}}]})");
  llvm::Expected<std::vector<CaseTensor>> tensors = makeTensors(suite.cases[0], twoTensorBundle());
  ASSERT_TRUE(static_cast<bool>(tensors)) << llvm::toString(tensors.takeError());
  ASSERT_EQ(tensors->size(), 2u);
  EXPECT_EQ((*tensors)[0].shape, (std::vector<int64_t>{16}));
  EXPECT_EQ((*tensors)[0].bytes.size(), 16 * sizeof(int32_t));
  EXPECT_EQ((*tensors)[1].shape, (std::vector<int64_t>{2, 5}));
  std::vector<float> expected = uniformValues(10, 0.5, 1, 2);
  EXPECT_EQ((*tensors)[1].bytes,
            std::string(reinterpret_cast<const char *>(expected.data()), 10 * sizeof(float)));
  std::string npy = npyBytes((*tensors)[0]);
  EXPECT_NE(npy.find("{'descr': '<i4', 'fortran_order': False, 'shape': (16,), }"),
            std::string::npos);
  EXPECT_EQ(npy.size() % 64, 0u) << "a 128-byte header and 64 bytes of data";
}

std::string tensorError(const std::string &tensors) {
  Suite suite = parse(R"({"cases": [{"pattern": "causal", "N": 16, "H": 2, "tensors": )" +
                      tensors + "}]}");
  llvm::Expected<std::vector<CaseTensor>> made = makeTensors(suite.cases[0], twoTensorBundle());
  return made ? "" : llvm::toString(made.takeError());
}

TEST(BenchSuite, TensorErrors) {
  const std::string doc = R"("doc": {"fill": "documents", "count": 3})";
  const std::string table = R"("table": {"fill": "uniform", "low": 0, "high": 1})";
  EXPECT_EQ(tensorError("{" + doc + "}"),
            "causal B=1 H=2 Hkv=2 N=16 D=128 bf16: pattern 'p' takes tensor 'table': give it a "
            "fill in the case's \"tensors\"");
  EXPECT_EQ(tensorError(R"({"doc": {"fill": "uniform", "low": 0, "high": 1}, )" + table + "}"),
            "causal B=1 H=2 Hkv=2 N=16 D=128 bf16: tensor 'doc' is i32; a \"uniform\" fill makes "
            "f32");
  EXPECT_EQ(tensorError(R"({"table": {"fill": "documents", "count": 2}, )" + doc + "}"),
            "causal B=1 H=2 Hkv=2 N=16 D=128 bf16: tensor 'table' is f32 of 2 dimension(s); a "
            "\"documents\" fill makes i32 [Nk]");
  EXPECT_EQ(tensorError("{" + doc + ", " + table + R"(, "bias": {"fill": "documents", "count": 1}})"),
            "causal B=1 H=2 Hkv=2 N=16 D=128 bf16: pattern 'p' has no tensor 'bias' to fill");
}

TEST(BenchSuite, SyntaxErrorsHaveLineAndColumn) {
  EXPECT_EQ(parseError("{\"cases\": [\n  {\"pattern\": \"causal\", \"N\": 8,}\n]}"),
            "suite.json:2:33: Expected object key");
  EXPECT_EQ(parseError("{\"cases\": []\n  \"layout_cases\": []}"),
            "suite.json:2:4: Expected , or } after object property"); // just past the quote
}

TEST(BenchSuite, SchemaErrorsNameCaseAndKey) {
  EXPECT_EQ(parseError(R"({"cases": [{"pattern": "causal", "N": 8}, {"pattern": "causal", "N": "x"}]})"),
            "suite.json: cases[1].N: expected a positive integer or a list of them");
  EXPECT_EQ(parseError(R"({"cases": [{"pattern": "causal", "N": [8, 0]}]})"),
            "suite.json: cases[0].N: expected a positive integer or a list of them");
  EXPECT_EQ(parseError(R"({"cases": [{"pattern": "causal", "N": 8, "windw": 3}]})"),
            "suite.json: cases[0].windw: unknown key (known: B, BQ, D, H, Hkv, N, dtype, file, "
            "params, pattern, tensors)");
  EXPECT_EQ(parseError(R"({"cases": [], "default": {}})"),
            "suite.json: default: unknown key (known: cases, defaults, description, layout_cases)");
  EXPECT_EQ(parseError(R"({"defaults": {"N": 8, "params": {}}, "cases": []})"),
            "suite.json: defaults.params: unknown key (known: B, BQ, D, H, Hkv, N, dtype)");
  EXPECT_EQ(parseError(R"({"cases": [{"pattern": "causal", "N": 8, "dtype": "fp32"}]})"),
            "suite.json: cases[0].dtype: expected \"bf16\", \"fp16\" or a list of them");
  EXPECT_EQ(parseError(R"({"cases": [{"pattern": "causal", "N": 8, "D": 96}]})"),
            "suite.json: cases[0].D: the kernels take D = 64 or 128, not 96");
  EXPECT_EQ(parseError(R"({"cases": [{"pattern": "causal", "N": 8, "H": 4, "Hkv": 3}]})"),
            "suite.json: cases[0].Hkv: Hkv = 3 does not divide H = 4");
  EXPECT_EQ(parseError(R"({"cases": [{"pattern": "causal", "N": 8, "BQ": [128, 32]}]})"),
            "suite.json: cases[0].BQ: the forward takes query blocks of 64 or 128 rows, not 32");
  EXPECT_EQ(parseError(R"({"cases": [{"pattern": "causal"}]})"),
            "suite.json: cases[0]: no N (give it in the case or in \"defaults\")");
  EXPECT_EQ(parseError(R"({"cases": [{"pattern": "causal", "N": 8, "params": {"w": [1]}}]})"),
            "suite.json: cases[0].params.w: expected a number, a string or a boolean");
  EXPECT_EQ(parseError(R"({"layout_cases": [{"pattern": "causal", "N": 8, "D": 64}], "cases": []})"),
            "suite.json: layout_cases[0].D: unknown key (known: B, BQ, H, Hkv, N, dtype, file, "
            "params, pattern, tensors)");
  EXPECT_EQ(parseError(R"({"cases": [{"pattern": "causal", "N": 8}, {"pattern": "causal", "N": 8}]})"),
            "suite.json: two cases expand to the same id 'causal B=1 H=16 Hkv=16 N=8 D=128 bf16'");
  EXPECT_EQ(parseError(R"([1])"), "suite.json: expected an object with \"cases\"");
}

TEST(BenchSuite, FillErrors) {
  auto withFill = [](const std::string &fill) {
    return R"({"cases": [{"pattern": "document", "N": 8, "tensors": {"doc": )" + fill + "}}]}";
  };
  EXPECT_EQ(parseError(withFill(R"({"fill": "documents", "count": 12, "seed": 1})")),
            "suite.json: cases[0].tensors.doc.count: 12 non-empty documents need N >= 12, not "
            "N = 8");
  EXPECT_EQ(parseError(withFill(R"({"fill": "documents", "count": 2, "low": 1})")),
            "suite.json: cases[0].tensors.doc.low: unknown key (known: count, fill, seed)");
  EXPECT_EQ(parseError(withFill(R"({"fill": "documents"})")),
            "suite.json: cases[0].tensors.doc.count: expected a positive integer (the number of "
            "documents)");
  EXPECT_EQ(parseError(withFill(R"({"fill": "documents", "count": 2, "seed": -1})")),
            "suite.json: cases[0].tensors.doc.seed: expected a non-negative integer");
  EXPECT_EQ(parseError(withFill(R"({"fill": "uniform", "low": 1, "high": 1})")),
            "suite.json: cases[0].tensors.doc: expected finite low < high");
  EXPECT_EQ(parseError(withFill(R"({"fill": "zeros"})")),
            "suite.json: cases[0].tensors.doc.fill: expected \"documents\" or \"uniform\"");
  EXPECT_EQ(parseError(withFill("3")),
            "suite.json: cases[0].tensors.doc: expected a fill object such as {\"fill\": "
            "\"documents\", \"count\": 12, \"seed\": 1}");
}

TEST(BenchSuite, PatternFileErrors) {
  std::string message = parseError(R"({"cases": [{"pattern": "nosuch", "N": 8}]})");
  EXPECT_EQ(message.rfind("suite.json: cases[0].pattern: no such pattern file (looked for " +
                              kPatterns + "/nosuch.pattern)",
                          0),
            0u)
      << message;
  EXPECT_EQ(parseError(R"({"cases": [{"pattern": "../x", "N": 8}]})"),
            "suite.json: cases[0].pattern: expected a pattern name (letters, digits, _)");
  EXPECT_EQ(parseError(R"({"cases": [{"N": 8}]})"),
            "suite.json: cases[0]: a case needs \"pattern\" (a name) or \"file\"");
  // Without --patterns, patterns/ above the suite's folder.
  llvm::Expected<Suite> found =
      parseSuite(R"({"cases": [{"pattern": "causal", "N": 8}]})",
                 std::string(ATTNC_SOURCE_DIR) + "/bench/suites/x.json");
  ASSERT_TRUE(static_cast<bool>(found)) << llvm::toString(found.takeError());
  EXPECT_EQ(found->cases[0].file, kPatterns + "/causal.pattern");
}

} // namespace
