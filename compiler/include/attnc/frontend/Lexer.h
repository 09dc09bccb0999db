//===- Lexer.h - Tokens of the .pattern language --------------------------===//
#pragma once

#include "attnc/frontend/Diagnostics.h"

#include <cstdint>
#include <string_view>
#include <vector>

namespace attnc {

enum class TokenKind {
  Eof,
  Identifier, // also keywords: they are recognized by the parser in context
  IntLiteral,
  FloatLiteral,
  LParen, RParen, LBracket, RBracket, LBrace, RBrace,
  Comma, Semicolon, Colon, Question,
  Assign,       // =
  Plus, Minus, Star, Slash, Percent,
  Bang,         // !
  AmpAmp, PipePipe,
  EqualEqual, BangEqual, Less, LessEqual, Greater, GreaterEqual,
};

/// Spelling of a token kind for messages, e.g. "';'" or "identifier".
const char *describe(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::Eof;
  SourceRange range;
  std::string_view text;
  int64_t intValue = 0;
  double floatValue = 0;

  bool is(TokenKind k) const { return kind == k; }
  bool isWord(std::string_view word) const {
    return kind == TokenKind::Identifier && text == word;
  }
};

/// Splits a whole file into tokens, ending with one Eof token. Bad bytes and
/// malformed literals are reported and skipped, so lexing always finishes.
std::vector<Token> lex(const SourceFile &file, DiagnosticEngine &diags);

} // namespace attnc
