//===- PatternCorpus.cpp --------------------------------------------------===//
#include "PatternCorpus.h"
#include "attnc/frontend/Frontend.h"

#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace attnc::test {
namespace {

/// Patterns that exercise every expression form, beside the bundled ones.
const char *const kCorpus = R"(
pattern exprs(l: int = 5, w: float = 2.5, on: bool = true) {
  causal;
  let d = i - j;
  set sa = (d % l == 0 || -d / l < -2) && on;
  set sb = max(i, j) - min(i, j) < l * 2 != (abs(d - 3) > 4);
  set sc = float(d) * w >= 7.5 ? j % 3 == 0 : int(float(i) / w) == j / 2;
  heads = [sa, sb, sc];
  bias = -alibi_slope(h, H) * float(d) + (j > i ? 1 : 0);
  score = w * tanh(score / w) + exp(-abs(score)) * sqrt(float(D)) - log(1.5);
  scale = 0.5 / sqrt(float(D));
}
pattern tensors(doc: tensor<i32>[Nk], t: tensor<f32>[H, 4], u: tensor<i64>[Nq]) {
  attend = doc[j] == doc[max(0, min(i + Nk - Nq, Nk - 1))] || u[i] % 2 == 1;
  bias = t[h, min(abs(i - j), 3)];
}
pattern bidirectional { attend = !(i < 3 && j > Nk - 3); }
)";

} // namespace

std::vector<std::filesystem::path> bundledFiles() {
  std::vector<std::filesystem::path> files;
  std::filesystem::path dir = std::filesystem::path(ATTNC_SOURCE_DIR) / "patterns";
  if (std::filesystem::exists(dir))
    for (const auto &entry : std::filesystem::directory_iterator(dir))
      if (entry.path().extension() == ".pattern")
        files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

size_t bundledPatternCount() { return bundledFiles().size(); }

std::vector<Case> corpus() {
  std::vector<Case> cases;
  for (const auto &path : bundledFiles()) {
    auto text = readFile(path.string());
    if (text)
      cases.push_back({path.string(), *text});
    else
      llvm::consumeError(text.takeError());
  }
  cases.push_back({"<corpus>", kCorpus});
  return cases;
}

std::vector<CheckedFile> checkedCorpus() {
  std::vector<CheckedFile> files;
  for (const Case &c : corpus()) {
    std::string diagnostics;
    llvm::raw_string_ostream os(diagnostics);
    CheckedFile file = checkSource(c.name, c.text, os);
    if (file.ok)
      files.push_back(std::move(file));
    else
      ADD_FAILURE() << c.name << ":\n" << diagnostics;
  }
  return files;
}

void makeTensors(const ast::Pattern &pattern, const interp::ParamValues &values,
                 const interp::Shape &shape, mlir::MLIRContext &context, std::mt19937 &rng,
                 Tensors &out) {
  for (const auto &param : pattern.params) {
    if (param->kind != ast::ParamKind::Tensor)
      continue;
    auto dims = interp::Interpreter::tensorShape(pattern, *param, values, shape);
    ASSERT_TRUE(static_cast<bool>(dims)) << llvm::toString(dims.takeError());
    int64_t count = 1;
    for (int64_t d : *dims)
      count *= d;
    const void *data = nullptr;
    mlir::Type type;
    std::uniform_int_distribution<int> small(0, 3);
    if (param->elemType == ast::ElemType::I32) {
      // Sorted ids look like packed documents.
      std::vector<int32_t> ids(count);
      int32_t id = 0;
      for (auto &v : ids)
        v = (id += small(rng) == 0);
      out.storage32.push_back(std::move(ids));
      data = out.storage32.back().data();
      type = mlir::IntegerType::get(&context, 32);
    } else if (param->elemType == ast::ElemType::I64) {
      std::vector<int64_t> v(count);
      for (auto &x : v)
        x = small(rng) - 1;
      out.storage64.push_back(std::move(v));
      data = out.storage64.back().data();
      type = mlir::IntegerType::get(&context, 64);
    } else {
      std::normal_distribution<float> normal;
      std::vector<float> v(count);
      for (auto &x : v)
        x = normal(rng);
      out.storageF.push_back(std::move(v));
      data = out.storageF.back().data();
      type = mlir::Float32Type::get(&context);
    }
    out.host[param->name] = {param->elemType, *dims, data};
    out.ir[param->name] = {type, *dims, data};
  }
}

} // namespace attnc::test
