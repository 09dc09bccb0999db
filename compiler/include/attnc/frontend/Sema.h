//===- Sema.h - Name resolution and type checking -------------------------===//
#pragma once

#include "attnc/frontend/AST.h"

namespace attnc {

/// Resolves names, assigns types and dependence bits, inserts int->float
/// conversions and checks every rule of the language (docs/DSL.md). Returns
/// false if any error was reported; warnings do not count.
bool analyze(ast::File &file, DiagnosticEngine &diags);

/// Deepest expression accepted once let/set references are expanded, which is
/// how deep the interpreter recurses.
constexpr unsigned kMaxExpandedDepth = 2048;

} // namespace attnc
