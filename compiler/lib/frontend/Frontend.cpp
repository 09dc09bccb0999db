//===- Frontend.cpp -------------------------------------------------------===//
#include "attnc/frontend/Frontend.h"
#include "attnc/frontend/Lexer.h"
#include "attnc/frontend/Parser.h"
#include "attnc/frontend/Sema.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

namespace attnc {

CheckedFile checkSource(std::string name, std::string text, llvm::raw_ostream &os) {
  CheckedFile result;
  result.source = std::make_unique<SourceFile>(std::move(name), std::move(text));
  DiagnosticEngine diags(*result.source, os);
  std::vector<Token> tokens = lex(*result.source, diags);
  result.ast = parse(tokens, diags);
  analyze(result.ast, diags);
  result.errors = diags.errorCount() + (diags.shouldStop() ? 1 : 0);
  result.ok = result.errors == 0;
  return result;
}

llvm::Expected<std::string> readFile(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError(buffer.getError(), "cannot read '%s': %s",
                                   path.c_str(), buffer.getError().message().c_str());
  return std::string((*buffer)->getBuffer());
}

llvm::Error writeFile(const std::string &path, llvm::StringRef bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (!ec) {
    os << bytes;
    os.flush();
    // Taken and cleared: a stream destroyed with an error pending aborts.
    ec = os.error();
    os.clear_error();
  }
  if (ec)
    return llvm::createStringError(ec, "cannot write '%s': %s", path.c_str(),
                                   ec.message().c_str());
  return llvm::Error::success();
}

llvm::Expected<const ast::Pattern *> selectPattern(const CheckedFile &file,
                                                   const std::string &name) {
  const auto &patterns = file.ast.patterns;
  std::string available;
  for (const auto &pattern : patterns)
    available += (available.empty() ? "" : ", ") + pattern->name;
  if (name.empty()) {
    if (patterns.size() == 1)
      return patterns.front().get();
    if (patterns.empty())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "'%s' holds no pattern", file.source->name().c_str());
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "'%s' holds several patterns (%s); choose one with -p",
                                   file.source->name().c_str(), available.c_str());
  }
  if (const ast::Pattern *pattern = file.ast.findPattern(name))
    return pattern;
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "'%s' has no pattern '%s' (it has: %s)",
                                 file.source->name().c_str(), name.c_str(),
                                 available.empty() ? "none" : available.c_str());
}

} // namespace attnc
