//===- Diagnostics.h - Source files and compiler-style diagnostics --------===//
//
// Every message the front end reports goes through a DiagnosticEngine, which
// prints it the way a C compiler does:
//
//   strided.pattern:3:23: error: use of undeclared name 'strid'
//     set local = i - j < strid;
//                         ^~~~~
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llvm {
class raw_ostream;
}

namespace attnc {

/// A byte range [begin, end) in one source file.
struct SourceRange {
  uint32_t begin = 0;
  uint32_t end = 0;
};

/// One input file, kept whole so that diagnostics can quote its lines.
class SourceFile {
public:
  SourceFile(std::string name, std::string text);

  const std::string &name() const { return name_; }
  std::string_view text() const { return text_; }

  /// 1-based line and byte column of an offset.
  std::pair<unsigned, unsigned> lineAndColumn(uint32_t offset) const;
  /// The text of a 1-based line, without its line break.
  std::string_view line(unsigned lineNo) const;

private:
  std::string name_;
  std::string text_;
  std::vector<uint32_t> lineStarts_;
};

enum class Severity { Error, Warning, Note };

/// Collects diagnostics and prints them in source order when flushed (or
/// destroyed), so that parse and semantic errors interleave as a reader
/// expects. A note stays with the error or warning before it.
class DiagnosticEngine {
public:
  /// After `errorLimit` errors the engine reports one fatal error and stops
  /// collecting; clients poll `shouldStop()` to end early.
  DiagnosticEngine(const SourceFile &file, llvm::raw_ostream &os,
                   unsigned errorLimit = 20);
  ~DiagnosticEngine();
  DiagnosticEngine(const DiagnosticEngine &) = delete;
  DiagnosticEngine &operator=(const DiagnosticEngine &) = delete;

  void error(SourceRange range, const std::string &message);
  void warning(SourceRange range, const std::string &message);
  void note(SourceRange range, const std::string &message);

  unsigned errorCount() const { return errors_; }
  bool hasErrors() const { return errors_ != 0; }
  bool shouldStop() const { return stopped_; }
  const SourceFile &file() const { return file_; }

  /// Prints what has been collected, in source order.
  void flush();

private:
  struct Diagnostic {
    Severity severity;
    SourceRange range;
    std::string message;
  };

  void print(const Diagnostic &diagnostic);
  void printSnippet(SourceRange range);

  const SourceFile &file_;
  llvm::raw_ostream &os_;
  unsigned errorLimit_;
  unsigned errors_ = 0;
  bool stopped_ = false;
  bool lastWasSuppressed_ = false;
  bool fatalPending_ = false;
  /// Each group is an error or warning followed by its notes.
  std::vector<std::vector<Diagnostic>> pending_;
};

/// Length of the valid UTF-8 sequence starting at `s[i]`, or 0 if the bytes
/// there are not one.
unsigned utf8Length(std::string_view s, size_t i);

/// Edit distance used for "did you mean" hints.
unsigned editDistance(std::string_view a, std::string_view b);

/// The candidate closest to `name`, or "" when none is close enough to help.
std::string closestMatch(std::string_view name,
                         const std::vector<std::string> &candidates);

} // namespace attnc
