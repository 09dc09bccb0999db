//===- Frontend.h - From a file to a checked AST --------------------------===//
#pragma once

#include "attnc/frontend/AST.h"

#include "llvm/Support/Error.h"

#include <memory>

namespace attnc {

/// A source file with its checked syntax tree. The tree refers into the
/// source (for diagnostics), so both live together.
struct CheckedFile {
  std::unique_ptr<SourceFile> source;
  ast::File ast;
  bool ok = false;     // no errors
  unsigned errors = 0;
};

/// Lexes, parses and analyzes `text`; diagnostics go to `os`.
CheckedFile checkSource(std::string name, std::string text, llvm::raw_ostream &os);

/// Reads a whole file (binary-safe). Errors name the path.
llvm::Expected<std::string> readFile(const std::string &path);

/// Writes `bytes` to `path` ("-" is stdout). Errors name the path.
llvm::Error writeFile(const std::string &path, llvm::StringRef bytes);

/// The pattern called `name`, or the only one when `name` is empty.
llvm::Expected<const ast::Pattern *> selectPattern(const CheckedFile &file,
                                                   const std::string &name);

} // namespace attnc
