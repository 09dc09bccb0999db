//===- Report.cpp - attnc-bench's markdown tables and JSON report ---------===//
#include "Report.h"

#include "attn/Error.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>

namespace attnc::bench {
namespace {

/// A number of the row, "-" when it is missing or null (not measured).
std::string number(const llvm::json::Object &row, const char *key, const char *format,
                   double scale = 1) {
  std::optional<double> value = row.getNumber(key);
  if (!value)
    return "-";
  char text[64];
  std::snprintf(text, sizeof text, format, *value * scale);
  return text;
}

void printCaseHeader() {
  std::printf("| case | pairs | density | fwd ms | bwd ms | fwd+bwd ms | fwd TFLOP/s | "
              "bwd TFLOP/s | fwd+bwd TFLOP/s | layout ms fwd / train | cold compile s | "
              "warm load ms | peak GiB |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
}

void printLayoutHeader() {
  std::printf("\n| layout case | layout ms fwd | layout ms train | FULL tiles | PARTIAL tiles |\n"
              "|---|---|---|---|---|\n");
}

void printCaseRow(const std::string &id, const llvm::json::Object &row) {
  std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s |\n",
              id.c_str(), number(row, "pairs", "%.0f").c_str(),
              number(row, "density", "%.1f%%", 100).c_str(), number(row, "fwd_ms", "%.3f").c_str(),
              number(row, "bwd_ms", "%.3f").c_str(), number(row, "fwdbwd_ms", "%.3f").c_str(),
              number(row, "fwd_tflops", "%.1f").c_str(), number(row, "bwd_tflops", "%.1f").c_str(),
              number(row, "fwdbwd_tflops", "%.1f").c_str(),
              number(row, "layout_fwd_ms", "%.3f").c_str(),
              number(row, "layout_train_ms", "%.3f").c_str(),
              number(row, "compile_cold_s", "%.2f").c_str(),
              number(row, "load_warm_ms", "%.1f").c_str(),
              number(row, "peak_bytes", "%.2f", 1.0 / (1 << 30)).c_str());
}

void printLayoutRow(const std::string &id, const llvm::json::Object &row) {
  std::printf("| %s | %s | %s | %s | %s |\n", id.c_str(),
              number(row, "layout_fwd_ms", "%.3f").c_str(),
              number(row, "layout_train_ms", "%.3f").c_str(),
              number(row, "tiles_full", "%.0f").c_str(),
              number(row, "tiles_partial", "%.0f").c_str());
}

/// The report's cases with no "error", by id.
void indexResults(const llvm::json::Object &report, const char *key, const std::string &path,
                  std::map<std::string, llvm::json::Object> &out) {
  const llvm::json::Array *rows = report.getArray(key);
  if (!rows)
    throw attn::Error(path + ": not an attnc-bench report (no \"" + key + "\" list)");
  for (const llvm::json::Value &value : *rows) {
    const llvm::json::Object *row = value.getAsObject();
    if (!row || !row->getString("id") || row->get("error"))
      continue;
    out.emplace(row->getString("id")->str(), *row);
  }
}

} // namespace

PreviousResults::PreviousResults(const std::string &path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    throw attn::Error("cannot read " + path + ": " + buffer.getError().message());
  llvm::Expected<llvm::json::Value> json = llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    throw attn::Error(path + ": " + llvm::toString(json.takeError()));
  const llvm::json::Object *report = json->getAsObject();
  if (!report)
    throw attn::Error(path + ": not an attnc-bench report");
  indexResults(*report, "cases", path, cases_);
  indexResults(*report, "layout_cases", path, layoutCases_);
}

std::optional<llvm::json::Object> PreviousResults::find(const Case &c) const {
  const auto &results = c.layoutOnly ? layoutCases_ : cases_;
  auto found = results.find(c.id);
  if (found == results.end())
    return std::nullopt;
  return found->second;
}

Report::Report(ReportHeader header, std::string jsonPath)
    : header_(std::move(header)), jsonPath_(std::move(jsonPath)) {
  writeJson(); // an unwritable path fails now, not after the first case
}

void Report::add(const Case &c, llvm::json::Object row) {
  bool firstOfTable = c.layoutOnly ? layoutCases_.empty() : cases_.empty();
  if (firstOfTable)
    c.layoutOnly ? printLayoutHeader() : printCaseHeader();
  if (const llvm::json::Value *error = row.get("error")) {
    failed_ = true;
    // The table keeps one line; the JSON has the whole message.
    std::string message = error->getAsString() ? error->getAsString()->str() : "?";
    std::printf("| %s | error: %s |\n", c.id.c_str(), message.substr(0, message.find('\n')).c_str());
  } else if (c.layoutOnly) {
    printLayoutRow(c.id, row);
  } else {
    printCaseRow(c.id, row);
  }
  std::fflush(stdout);
  (c.layoutOnly ? layoutCases_ : cases_).push_back(std::move(row));
  writeJson();
}

void Report::writeJson() const {
  if (jsonPath_.empty())
    return;
  llvm::json::Object report{{"gpu", header_.gpu},     {"driver", header_.driver},
                            {"cuda", header_.cuda},   {"date", header_.date},
                            {"suite", header_.suite}, {"iters", header_.iters},
                            {"warmup", header_.warmup}, {"cases", llvm::json::Array(cases_)},
                            {"layout_cases", llvm::json::Array(layoutCases_)}};
  // A whole file or the previous one: written aside, then renamed.
  std::string temporary = jsonPath_ + ".tmp";
  std::error_code error;
  {
    llvm::raw_fd_ostream file(temporary, error);
    if (!error) {
      file << llvm::formatv("{0:2}", llvm::json::Value(std::move(report))) << "\n";
      file.close();
      error = file.error();
    }
  }
  if (!error)
    error = llvm::sys::fs::rename(temporary, jsonPath_);
  if (error)
    throw attn::Error("cannot write " + jsonPath_ + ": " + error.message());
}

} // namespace attnc::bench
