//===- ASTPrinter.h - Text dump of a checked pattern ----------------------===//
#pragma once

#include "attnc/frontend/AST.h"

#include <map>
#include <string>

namespace llvm {
class raw_ostream;
}

namespace attnc {

/// Prints one node per line, indented, with types and source positions:
///
///   pattern strided <1:9>
///     param stride : int = 8 (bound)
///     set local : bool <4:7>
///       binary '<' : bool <4:21>
///
/// `bound` holds parameter values given on the command line; they are shown
/// in place of the defaults.
void printAST(const ast::Pattern &pattern, const SourceFile &source,
              const std::map<std::string, ast::Literal> &bound, llvm::raw_ostream &os);

/// A literal as the language would spell it.
std::string formatLiteral(const ast::Literal &literal);

} // namespace attnc
