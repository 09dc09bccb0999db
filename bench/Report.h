//===- Report.h - attnc-bench's markdown tables and JSON report -----------===//
//
// Each case's row goes to stdout as soon as it is measured, and the JSON
// report (--json) is rewritten whole after each case, so that a run cut
// short still leaves the finished cases; --skip-done copies the cases of a
// previous report instead of measuring them again.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Suite.h"

#include "llvm/Support/JSON.h"

#include <map>
#include <optional>
#include <string>

namespace attnc::bench {

struct ReportHeader {
  std::string gpu, driver, cuda, date, suite;
  int iters = 0, warmup = 0;
};

/// The results of a previous report (--skip-done), by id.
class PreviousResults {
public:
  /// Throws attn::Error when `path` cannot be read or is not a report.
  explicit PreviousResults(const std::string &path);
  PreviousResults() = default;

  /// The case's result when it was measured without error.
  std::optional<llvm::json::Object> find(const Case &c) const;

private:
  std::map<std::string, llvm::json::Object> cases_, layoutCases_;
};

class Report {
public:
  /// `jsonPath` empty: no JSON file. Writes the empty report at once;
  /// throws attn::Error when it cannot.
  Report(ReportHeader header, std::string jsonPath);

  /// Adds a row (a case's fields and metrics, or "error") to its table and
  /// the JSON file. Throws attn::Error when the file cannot be written.
  void add(const Case &c, llvm::json::Object row);
  bool anyFailed() const { return failed_; }

private:
  void writeJson() const;

  ReportHeader header_;
  std::string jsonPath_;
  llvm::json::Array cases_, layoutCases_;
  bool failed_ = false;
};

} // namespace attnc::bench
