//===- Listing.cpp - attnc-bench --list: the expanded cases as JSON -------===//
#include "Listing.h"

#include "attn/Error.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Path.h"

#include <cstdlib>

namespace attnc::bench {
namespace {

/// A parameter's text as JSON: a number where it reads as one (so that
/// Python gets 1024, not "1024"), else the string.
llvm::json::Value paramValue(const std::string &text) {
  char *end = nullptr;
  long long integer = std::strtoll(text.c_str(), &end, 10);
  if (!text.empty() && *end == '\0')
    return static_cast<int64_t>(integer);
  double number = std::strtod(text.c_str(), &end);
  if (!text.empty() && *end == '\0')
    return number;
  return text;
}

const char *npyTypeName(attn::ElementType type) {
  switch (type) {
  case attn::ElementType::I32: return "int32";
  case attn::ElementType::I64: return "int64";
  case attn::ElementType::F32: return "float32";
  }
  return "?";
}

llvm::json::Object fillFields(const Fill &fill) {
  if (fill.kind == Fill::Kind::Documents)
    return llvm::json::Object{{"fill", "documents"}, {"count", fill.count}, {"seed", int64_t(fill.seed)}};
  return llvm::json::Object{{"fill", "uniform"}, {"low", fill.low}, {"high", fill.high},
          {"seed", int64_t(fill.seed)}};
}

void writeNpy(const std::string &path, const CaseTensor &tensor) {
  std::error_code error;
  llvm::raw_fd_ostream file(path, error);
  if (!error) {
    file << npyBytes(tensor);
    file.close();
    error = file.error();
  }
  if (error)
    throw attn::Error("cannot write " + path + ": " + error.message());
}

/// One case of the listing; `name` ("case3") names its .npy files.
llvm::json::Object listCase(const Suite &suite, const Case &c, const std::string &name,
                            BundleCache &bundles, const std::string &tensorsDir) {
  llvm::json::Object entry = caseFields(c);
  entry["file"] = c.file;
  llvm::json::Object tensors;
  for (const CaseTensor &tensor : tensorsOf(suite, c, bundles)) {
    llvm::json::Object fields = fillFields(tensor.fill);
    fields["dtype"] = npyTypeName(tensor.type);
    fields["shape"] = llvm::json::Array(tensor.shape);
    if (!tensorsDir.empty()) {
      std::string path = tensorsDir + "/" + name + "_" + tensor.name + ".npy";
      writeNpy(path, tensor);
      fields["npy"] = path;
    }
    tensors[tensor.name] = std::move(fields);
  }
  entry["tensors"] = std::move(tensors);
  return entry;
}

} // namespace

std::vector<CaseTensor> tensorsOf(const Suite &suite, const Case &c, BundleCache &bundles) {
  llvm::Expected<std::vector<CaseTensor>> tensors = makeTensors(c, bundles.get(c));
  if (!tensors)
    throw attn::Error(suite.path + ": " + llvm::toString(tensors.takeError()));
  return std::move(*tensors);
}

llvm::json::Object caseFields(const Case &c) {
  llvm::json::Object params;
  for (const auto &[name, value] : c.params)
    params[name] = paramValue(value);
  return llvm::json::Object{{"id", c.id}, {"pattern", c.pattern}, {"params", std::move(params)},
          {"B", c.B},   {"H", c.H},             {"Hkv", c.Hkv},
          {"N", c.N},   {"D", c.D},             {"dtype", c.dtype},
          {"BQ", c.blockQ}};
}

void printListing(const Suite &suite, BundleCache &bundles, const std::string &tensorsDir,
                  llvm::raw_ostream &os) {
  if (!tensorsDir.empty())
    if (std::error_code error = llvm::sys::fs::create_directories(tensorsDir))
      throw attn::Error("cannot create " + tensorsDir + ": " + error.message());
  llvm::json::Array cases, layoutCases;
  for (size_t k = 0; k < suite.cases.size(); ++k)
    cases.push_back(listCase(suite, suite.cases[k], "case" + std::to_string(k), bundles,
                             tensorsDir));
  for (size_t k = 0; k < suite.layoutCases.size(); ++k)
    layoutCases.push_back(listCase(suite, suite.layoutCases[k], "layout" + std::to_string(k),
                                   bundles, tensorsDir));
  llvm::json::Object listing{{"suite", suite.path},
                             {"cases", std::move(cases)},
                             {"layout_cases", std::move(layoutCases)}};
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(listing))) << "\n";
}

} // namespace attnc::bench
