//===- Diagnostics.cpp ----------------------------------------------------===//
#include "attnc/frontend/Diagnostics.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>

namespace attnc {

SourceFile::SourceFile(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)) {
  lineStarts_.push_back(0);
  for (uint32_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n')
      lineStarts_.push_back(i + 1);
}

std::pair<unsigned, unsigned> SourceFile::lineAndColumn(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, text_.size());
  auto it = std::upper_bound(lineStarts_.begin(), lineStarts_.end(), offset);
  unsigned line = it - lineStarts_.begin();
  return {line, offset - lineStarts_[line - 1] + 1};
}

std::string_view SourceFile::line(unsigned lineNo) const {
  if (lineNo == 0 || lineNo > lineStarts_.size())
    return {};
  uint32_t begin = lineStarts_[lineNo - 1];
  uint32_t end = lineNo < lineStarts_.size() ? lineStarts_[lineNo] : text_.size();
  std::string_view text(text_.data() + begin, end - begin);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

DiagnosticEngine::DiagnosticEngine(const SourceFile &file, llvm::raw_ostream &os,
                                   unsigned errorLimit)
    : file_(file), os_(os), errorLimit_(errorLimit) {}

DiagnosticEngine::~DiagnosticEngine() { flush(); }

void DiagnosticEngine::error(SourceRange range, const std::string &message) {
  lastWasSuppressed_ = stopped_;
  if (stopped_)
    return;
  if (errors_ == errorLimit_) {
    lastWasSuppressed_ = true;
    stopped_ = true;
    fatalPending_ = true;
    return;
  }
  ++errors_;
  pending_.push_back({{Severity::Error, range, message}});
}

void DiagnosticEngine::warning(SourceRange range, const std::string &message) {
  lastWasSuppressed_ = stopped_;
  if (!stopped_)
    pending_.push_back({{Severity::Warning, range, message}});
}

void DiagnosticEngine::note(SourceRange range, const std::string &message) {
  // A note belongs to the diagnostic before it; drop it with its parent.
  if (!stopped_ && !lastWasSuppressed_ && !pending_.empty())
    pending_.back().push_back({Severity::Note, range, message});
}

void DiagnosticEngine::flush() {
  std::stable_sort(pending_.begin(), pending_.end(), [](const auto &a, const auto &b) {
    return a.front().range.begin < b.front().range.begin;
  });
  for (const auto &group : pending_)
    for (const Diagnostic &diagnostic : group)
      print(diagnostic);
  pending_.clear();
  if (fatalPending_)
    os_ << "fatal error: too many errors emitted, stopping now\n";
  fatalPending_ = false;
  os_.flush();
}

void DiagnosticEngine::print(const Diagnostic &diagnostic) {
  Severity severity = diagnostic.severity;
  SourceRange range = diagnostic.range;
  const std::string &message = diagnostic.message;
  auto [line, column] = file_.lineAndColumn(range.begin);
  static const char *const kLabels[] = {"error", "warning", "note"};
  static const llvm::raw_ostream::Colors kColors[] = {
      llvm::raw_ostream::RED, llvm::raw_ostream::MAGENTA,
      llvm::raw_ostream::BLACK};
  bool colors = os_.has_colors();
  if (colors)
    os_.changeColor(llvm::raw_ostream::SAVEDCOLOR, /*bold=*/true);
  os_ << file_.name() << ':' << line << ':' << column << ": ";
  if (colors)
    os_.changeColor(kColors[static_cast<int>(severity)], /*bold=*/true);
  os_ << kLabels[static_cast<int>(severity)] << ": ";
  if (colors)
    os_.changeColor(llvm::raw_ostream::SAVEDCOLOR, /*bold=*/true);
  os_ << message << '\n';
  if (colors)
    os_.resetColor();
  printSnippet(range);
}

unsigned utf8Length(std::string_view s, size_t i) {
  unsigned char c = s[i];
  unsigned n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3
             : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size())
    return 0;
  for (unsigned k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
      return 0;
  return n;
}

namespace {

/// A quotable copy of a source line: valid UTF-8 and tabs kept, control
/// characters and invalid bytes shown as '?', so that garbage input cannot
/// disturb the terminal. `pad[k]` is what the caret line needs below source
/// byte k: a tab under a tab, a space under a character, nothing under the
/// continuation bytes of a UTF-8 sequence.
struct QuotedLine {
  std::string text;
  std::string pad;
};

QuotedLine quoteLine(std::string_view line) {
  QuotedLine quoted;
  for (size_t i = 0; i < line.size();) {
    unsigned n = utf8Length(line, i);
    unsigned char c = line[i];
    bool printable = n > 1 || c == '\t' || (c >= 0x20 && c < 0x7F);
    quoted.pad += c == '\t' ? '\t' : ' ';
    if (!printable) {
      quoted.text += '?';
      ++i;
      continue;
    }
    quoted.text.append(line.substr(i, n));
    quoted.pad.append(n - 1, '\0');
    i += n;
  }
  return quoted;
}

} // namespace

void DiagnosticEngine::printSnippet(SourceRange range) {
  // Lines longer than this are shown as a window around the location.
  constexpr size_t kWindow = 120;
  auto [lineNo, column] = file_.lineAndColumn(range.begin);
  std::string_view line = file_.line(lineNo);
  size_t caret = column - 1;
  size_t underline = range.end > range.begin ? range.end - range.begin : 1;
  underline = std::max<size_t>(1, std::min(underline, line.size() - std::min(caret, line.size())));

  size_t start = 0;
  std::string prefix, suffix;
  if (line.size() > kWindow) {
    start = caret > kWindow / 2 ? caret - kWindow / 2 : 0;
    // Never cut a UTF-8 sequence, which is at most 4 bytes long; a longer
    // run of continuation bytes is garbage and may be cut anywhere.
    auto isContinuation = [&](size_t k) {
      return (static_cast<unsigned char>(line[k]) & 0xC0) == 0x80;
    };
    for (int step = 0; step < 3 && start > 0 && isContinuation(start); ++step)
      --start;
    size_t end = std::min(line.size(), start + kWindow);
    for (int step = 0; step < 3 && end < line.size() && isContinuation(end); ++step)
      ++end;
    prefix = start > 0 ? "..." : "";
    suffix = end < line.size() ? "..." : "";
    line = line.substr(start, end - start);
    caret -= start;
    underline = std::min(underline, line.size() - std::min(caret, line.size()));
    underline = std::max<size_t>(1, underline);
  }
  QuotedLine quoted = quoteLine(line);
  os_ << prefix << quoted.text << suffix << '\n';

  std::string marker(prefix.size(), ' ');
  for (size_t i = 0; i < caret && i < line.size(); ++i)
    if (quoted.pad[i])
      marker += quoted.pad[i];
  if (caret > line.size())
    marker.append(caret - line.size(), ' ');
  marker += '^';
  for (size_t i = caret + 1; i < caret + underline && i < line.size(); ++i)
    if (quoted.pad[i])
      marker += '~';
  bool colors = os_.has_colors();
  if (colors)
    os_.changeColor(llvm::raw_ostream::GREEN, /*bold=*/true);
  os_ << marker;
  if (colors)
    os_.resetColor();
  os_ << '\n';
}

unsigned editDistance(std::string_view a, std::string_view b) {
  std::vector<unsigned> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    unsigned diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      unsigned next = std::min({row[j] + 1, row[j - 1] + 1,
                                diagonal + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diagonal = row[j];
      row[j] = next;
    }
  }
  return row[b.size()];
}

std::string closestMatch(std::string_view name,
                         const std::vector<std::string> &candidates) {
  // Beyond this length a suggestion is unlikely to help and would cost
  // quadratic time on hostile input.
  constexpr size_t kMaxSuggestedLength = 64;
  std::string best;
  if (name.size() > kMaxSuggestedLength)
    return best;
  // One edit per four characters: short names (i, j, a, b) suggest nothing,
  // since any other short name is as close.
  size_t allowed = (name.size() + 2) / 4;
  unsigned bestDistance = allowed + 1;
  for (const std::string &candidate : candidates) {
    if (candidate.size() > kMaxSuggestedLength || candidate == name)
      continue;
    unsigned distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return best;
}

} // namespace attnc
