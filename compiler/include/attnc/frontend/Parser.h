//===- Parser.h - Recursive-descent parser for .pattern files -------------===//
#pragma once

#include "attnc/frontend/AST.h"
#include "attnc/frontend/Lexer.h"

namespace attnc {

/// Deepest expression nesting accepted. Deeper input is reported, not
/// followed, so that no input can exhaust the stack of any tree walk.
constexpr unsigned kMaxExprDepth = 256;

/// Parses tokens into a File. Syntax errors are reported to `diags`; the
/// parser resynchronizes at ';', '}' and 'pattern' so that one file can
/// report several independent errors.
ast::File parse(const std::vector<Token> &tokens, DiagnosticEngine &diags);

} // namespace attnc
