//===- Lexer.cpp ----------------------------------------------------------===//
#include "attnc/frontend/Lexer.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace attnc {

const char *describe(TokenKind kind) {
  switch (kind) {
  case TokenKind::Eof: return "end of file";
  case TokenKind::Identifier: return "identifier";
  case TokenKind::IntLiteral: return "integer literal";
  case TokenKind::FloatLiteral: return "float literal";
  case TokenKind::LParen: return "'('";
  case TokenKind::RParen: return "')'";
  case TokenKind::LBracket: return "'['";
  case TokenKind::RBracket: return "']'";
  case TokenKind::LBrace: return "'{'";
  case TokenKind::RBrace: return "'}'";
  case TokenKind::Comma: return "','";
  case TokenKind::Semicolon: return "';'";
  case TokenKind::Colon: return "':'";
  case TokenKind::Question: return "'?'";
  case TokenKind::Assign: return "'='";
  case TokenKind::Plus: return "'+'";
  case TokenKind::Minus: return "'-'";
  case TokenKind::Star: return "'*'";
  case TokenKind::Slash: return "'/'";
  case TokenKind::Percent: return "'%'";
  case TokenKind::Bang: return "'!'";
  case TokenKind::AmpAmp: return "'&&'";
  case TokenKind::PipePipe: return "'||'";
  case TokenKind::EqualEqual: return "'=='";
  case TokenKind::BangEqual: return "'!='";
  case TokenKind::Less: return "'<'";
  case TokenKind::LessEqual: return "'<='";
  case TokenKind::Greater: return "'>'";
  case TokenKind::GreaterEqual: return "'>='";
  }
  return "token";
}

namespace {

bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }

class Lexer {
public:
  Lexer(const SourceFile &file, DiagnosticEngine &diags)
      : text_(file.text()), diags_(diags) {}

  std::vector<Token> run() {
    std::vector<Token> tokens;
    while (!diags_.shouldStop()) {
      skipSpaceAndComments();
      if (pos_ >= text_.size())
        break;
      Token token;
      if (lexToken(token))
        tokens.push_back(token);
    }
    Token eof;
    eof.range = {static_cast<uint32_t>(text_.size()),
                 static_cast<uint32_t>(text_.size())};
    tokens.push_back(eof);
    return tokens;
  }

private:
  void skipSpaceAndComments() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++pos_;
      } else if (c == '#' || (c == '/' && peek(1) == '/')) {
        while (pos_ < text_.size() && text_[pos_] != '\n')
          ++pos_;
      } else {
        return;
      }
    }
  }

  char peek(size_t ahead) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }

  SourceRange rangeFrom(size_t begin) const {
    return {static_cast<uint32_t>(begin), static_cast<uint32_t>(pos_)};
  }

  /// Lexes one token at pos_; returns false (after reporting) for bad input.
  bool lexToken(Token &token) {
    size_t begin = pos_;
    char c = text_[pos_];
    if (isIdentStart(c)) {
      while (pos_ < text_.size() && isIdentChar(text_[pos_]))
        ++pos_;
      token.kind = TokenKind::Identifier;
    } else if (isDigit(c) || (c == '.' && isDigit(peek(1)))) {
      lexNumber(token);
    } else if (!lexPunctuation(token)) {
      reportBadCharacters();
      return false;
    }
    token.range = rangeFrom(begin);
    token.text = text_.substr(begin, pos_ - begin);
    return true;
  }

  /// Lexes a number. A malformed one is reported and still becomes a literal
  /// (of value 0), so that one typo gives one error.
  void lexNumber(Token &token) {
    size_t begin = pos_;
    bool isFloat = false;
    while (pos_ < text_.size() && isDigit(text_[pos_]))
      ++pos_;
    if (peek(0) == '.') {
      isFloat = true;
      ++pos_;
      while (pos_ < text_.size() && isDigit(text_[pos_]))
        ++pos_;
    }
    if ((peek(0) == 'e' || peek(0) == 'E') &&
        (isDigit(peek(1)) || ((peek(1) == '+' || peek(1) == '-') && isDigit(peek(2))))) {
      isFloat = true;
      pos_ += 2;
      while (pos_ < text_.size() && isDigit(text_[pos_]))
        ++pos_;
    }
    // "12abc" is one malformed token, not "12" followed by "abc"; so is the
    // "1.5e+" of an exponent without digits.
    if (pos_ < text_.size() && isIdentChar(text_[pos_])) {
      while (pos_ < text_.size() &&
             (isIdentChar(text_[pos_]) ||
              ((text_[pos_] == '+' || text_[pos_] == '-') &&
               (text_[pos_ - 1] == 'e' || text_[pos_ - 1] == 'E'))))
        ++pos_;
      diags_.error(rangeFrom(begin), "invalid numeric literal '" +
                                         std::string(text_.substr(begin, pos_ - begin)) + "'");
      token.kind = isFloat ? TokenKind::FloatLiteral : TokenKind::IntLiteral;
      return;
    }
    std::string spelling(text_.substr(begin, pos_ - begin));
    if (isFloat) {
      token.kind = TokenKind::FloatLiteral;
      token.floatValue = std::strtod(spelling.c_str(), nullptr);
      if (!std::isfinite(token.floatValue)) {
        diags_.error(rangeFrom(begin), "float literal '" + spelling + "' is out of range");
        token.floatValue = 0;
      }
      return;
    }
    token.kind = TokenKind::IntLiteral;
    errno = 0;
    unsigned long long value = std::strtoull(spelling.c_str(), nullptr, 10);
    if (errno == ERANGE || value > static_cast<unsigned long long>(INT64_MAX)) {
      diags_.error(rangeFrom(begin), "integer literal '" + spelling +
                                         "' does not fit in a 64-bit integer");
      return;
    }
    token.intValue = static_cast<int64_t>(value);
  }

  bool lexPunctuation(Token &token) {
    char c = text_[pos_];
    char next = peek(1);
    auto one = [&](TokenKind kind) { token.kind = kind; pos_ += 1; return true; };
    auto two = [&](TokenKind kind) { token.kind = kind; pos_ += 2; return true; };
    switch (c) {
    case '(': return one(TokenKind::LParen);
    case ')': return one(TokenKind::RParen);
    case '[': return one(TokenKind::LBracket);
    case ']': return one(TokenKind::RBracket);
    case '{': return one(TokenKind::LBrace);
    case '}': return one(TokenKind::RBrace);
    case ',': return one(TokenKind::Comma);
    case ';': return one(TokenKind::Semicolon);
    case ':': return one(TokenKind::Colon);
    case '?': return one(TokenKind::Question);
    case '+': return one(TokenKind::Plus);
    case '-': return one(TokenKind::Minus);
    case '*': return one(TokenKind::Star);
    case '/': return one(TokenKind::Slash);
    case '%': return one(TokenKind::Percent);
    case '=': return next == '=' ? two(TokenKind::EqualEqual) : one(TokenKind::Assign);
    case '!': return next == '=' ? two(TokenKind::BangEqual) : one(TokenKind::Bang);
    case '<': return next == '=' ? two(TokenKind::LessEqual) : one(TokenKind::Less);
    case '>': return next == '=' ? two(TokenKind::GreaterEqual) : one(TokenKind::Greater);
    case '&':
      if (next == '&')
        return two(TokenKind::AmpAmp);
      diags_.error(rangeFrom1(), "'&' is not an operator; did you mean '&&'?");
      return skipAsToken(token, TokenKind::AmpAmp);
    case '|':
      if (next == '|')
        return two(TokenKind::PipePipe);
      diags_.error(rangeFrom1(), "'|' is not an operator; did you mean '||'?");
      return skipAsToken(token, TokenKind::PipePipe);
    default:
      return false;
    }
  }

  SourceRange rangeFrom1() const {
    return {static_cast<uint32_t>(pos_), static_cast<uint32_t>(pos_ + 1)};
  }

  /// After reporting a near-miss operator, continue as if the intended one
  /// was written, so that one typo gives one error.
  bool skipAsToken(Token &token, TokenKind kind) {
    token.kind = kind;
    pos_ += 1;
    return true;
  }

  /// One error for a whole run of characters that start no token.
  void reportBadCharacters() {
    size_t begin = pos_;
    Token scratch;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (isIdentStart(c) || isDigit(c) || c == ' ' || c == '\t' || c == '\n' ||
          c == '\r' || c == '#')
        break;
      size_t save = pos_;
      if (lexPunctuationQuietly(scratch)) {
        pos_ = save;
        break;
      }
      ++pos_;
    }
    size_t length = characterLength(begin);
    std::string shown = describeCharacter(begin, length);
    diags_.error(rangeFrom(begin), pos_ - begin > length
                                       ? "invalid characters in input, starting with " + shown
                                       : "invalid character " + shown + " in input");
  }

  /// Bytes in the (valid UTF-8) character at `at`, or 1 for a stray byte.
  size_t characterLength(size_t at) const { return std::max(1u, utf8Length(text_, at)); }

  /// 'x', '§' (U+00A7) or byte 0xFF.
  std::string describeCharacter(size_t at, size_t length) const {
    static const char *const kHex = "0123456789ABCDEF";
    unsigned char first = text_[at];
    if (first >= 0x20 && first < 0x7F)
      return std::string("'") + static_cast<char>(first) + "'";
    if (length == 1 && first >= 0x80)
      return std::string("byte 0x") + kHex[first >> 4] + kHex[first & 15];
    if (length == 1) {
      return std::string("U+00") + kHex[first >> 4] + kHex[first & 15];
    }
    static const unsigned kLeadMask[] = {0, 0, 0x1F, 0x0F, 0x07};
    uint32_t code = first & kLeadMask[length];
    for (size_t k = 1; k < length; ++k)
      code = (code << 6) | (static_cast<unsigned char>(text_[at + k]) & 0x3F);
    std::string hex;
    for (int shift = code > 0xFFFF ? 20 : 12; shift >= 0; shift -= 4)
      hex += kHex[(code >> shift) & 15];
    return "'" + std::string(text_.substr(at, length)) + "' (U+" + hex + ")";
  }

  bool lexPunctuationQuietly(Token &token) {
    char c = text_[pos_];
    if (c == '&' || c == '|')
      return true;
    return lexPunctuation(token);
  }

  std::string_view text_;
  DiagnosticEngine &diags_;
  size_t pos_ = 0;
};

} // namespace

std::vector<Token> lex(const SourceFile &file, DiagnosticEngine &diags) {
  return Lexer(file, diags).run();
}

} // namespace attnc
