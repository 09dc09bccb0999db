//===- Parser.cpp ---------------------------------------------------------===//
#include "attnc/frontend/Parser.h"

#include <algorithm>

namespace attnc {
namespace {

using namespace ast;

const char *const kStatementKeywords[] = {"causal", "let",  "set",   "attend",
                                          "heads",  "bias", "score", "scale"};

std::optional<StmtKind> statementKind(const Token &token) {
  static const StmtKind kinds[] = {StmtKind::Causal, StmtKind::Let,   StmtKind::Set,
                                   StmtKind::Attend, StmtKind::Heads, StmtKind::Bias,
                                   StmtKind::Score,  StmtKind::Scale};
  for (unsigned k = 0; k < 8; ++k)
    if (token.isWord(kStatementKeywords[k]))
      return kinds[k];
  return std::nullopt;
}

std::optional<Callee> calleeNamed(std::string_view name) {
  static const std::pair<const char *, Callee> table[] = {
      {"min", Callee::Min},   {"max", Callee::Max},         {"abs", Callee::Abs},
      {"exp", Callee::Exp},   {"log", Callee::Log},         {"tanh", Callee::Tanh},
      {"sqrt", Callee::Sqrt}, {"float", Callee::ToFloat},   {"int", Callee::ToInt},
      {"alibi_slope", Callee::AlibiSlope}};
  for (const auto &[spelling, callee] : table)
    if (name == spelling)
      return callee;
  return std::nullopt;
}

std::optional<Builtin> builtinNamed(std::string_view name) {
  static const Builtin all[] = {Builtin::I,        Builtin::J,    Builtin::Head,
                                Builtin::Batch,    Builtin::NumHeads, Builtin::SeqQ,
                                Builtin::SeqK,     Builtin::HeadDim, Builtin::Score};
  for (Builtin builtin : all)
    if (name == spelling(builtin))
      return builtin;
  return std::nullopt;
}

/// Binding strength of binary operators; 0 for tokens that are none.
int precedence(TokenKind kind) {
  switch (kind) {
  case TokenKind::PipePipe: return 1;
  case TokenKind::AmpAmp: return 2;
  case TokenKind::EqualEqual:
  case TokenKind::BangEqual: return 3;
  case TokenKind::Less:
  case TokenKind::LessEqual:
  case TokenKind::Greater:
  case TokenKind::GreaterEqual: return 4;
  case TokenKind::Plus:
  case TokenKind::Minus: return 5;
  case TokenKind::Star:
  case TokenKind::Slash:
  case TokenKind::Percent: return 6;
  default: return 0;
  }
}

BinaryOp binaryOpFor(TokenKind kind) {
  switch (kind) {
  case TokenKind::PipePipe: return BinaryOp::Or;
  case TokenKind::AmpAmp: return BinaryOp::And;
  case TokenKind::EqualEqual: return BinaryOp::Eq;
  case TokenKind::BangEqual: return BinaryOp::Ne;
  case TokenKind::Less: return BinaryOp::Lt;
  case TokenKind::LessEqual: return BinaryOp::Le;
  case TokenKind::Greater: return BinaryOp::Gt;
  case TokenKind::GreaterEqual: return BinaryOp::Ge;
  case TokenKind::Plus: return BinaryOp::Add;
  case TokenKind::Minus: return BinaryOp::Sub;
  case TokenKind::Star: return BinaryOp::Mul;
  case TokenKind::Slash: return BinaryOp::Div;
  default: return BinaryOp::Mod;
  }
}

SourceRange join(SourceRange a, SourceRange b) {
  return {std::min(a.begin, b.begin), std::max(a.end, b.end)};
}

class Parser {
public:
  Parser(const std::vector<Token> &tokens, DiagnosticEngine &diags)
      : tokens_(tokens), diags_(diags) {}

  File parseFile() {
    File file;
    while (!at(TokenKind::Eof) && !diags_.shouldStop()) {
      if (!current().isWord("pattern")) {
        error(current().range, std::string("expected 'pattern', found ") + found());
        skipToNextPattern();
        continue;
      }
      if (auto pattern = parsePattern())
        file.patterns.push_back(std::move(pattern));
    }
    return file;
  }

private:
  // ---- token helpers -------------------------------------------------------
  const Token &current() const { return tokens_[pos_]; }
  const Token &lookahead(unsigned n) const {
    return tokens_[std::min(pos_ + n, tokens_.size() - 1)];
  }
  bool at(TokenKind kind) const { return current().is(kind); }
  const Token &advance() {
    const Token &token = tokens_[pos_];
    if (pos_ + 1 < tokens_.size())
      ++pos_;
    return token;
  }
  bool consume(TokenKind kind) {
    if (!at(kind))
      return false;
    advance();
    return true;
  }
  /// Where a missing token should have been: just after the previous one.
  SourceRange afterPrevious() const {
    uint32_t end = pos_ > 0 ? tokens_[pos_ - 1].range.end : 0;
    return {end, end};
  }
  std::string found() const {
    const Token &token = current();
    if (token.is(TokenKind::Eof))
      return "end of file";
    if (token.is(TokenKind::Identifier) || token.is(TokenKind::IntLiteral) ||
        token.is(TokenKind::FloatLiteral))
      return "'" + std::string(token.text) + "'";
    return describe(token.kind);
  }
  void error(SourceRange range, const std::string &message) {
    diags_.error(range, message);
  }
  bool expect(TokenKind kind, const char *context) {
    if (consume(kind))
      return true;
    error(current().range, std::string("expected ") + describe(kind) + " " + context +
                               ", found " + found());
    return false;
  }
  bool expectIdentifier(const char *what, std::string &name, SourceRange &range) {
    if (!at(TokenKind::Identifier)) {
      error(current().range, std::string("expected ") + what + ", found " + found());
      return false;
    }
    name = std::string(current().text);
    range = current().range;
    advance();
    return true;
  }

  // ---- recovery ------------------------------------------------------------
  void skipToNextPattern() {
    while (!at(TokenKind::Eof) && !current().isWord("pattern"))
      advance();
  }
  /// Skips the rest of a broken statement: through the next ';' of this
  /// level, or up to the '}' that closes the pattern.
  void skipStatement() {
    int depth = 0;
    size_t start = pos_;
    while (!at(TokenKind::Eof) && !atPatternHeader()) {
      TokenKind kind = current().kind;
      if (depth == 0 && kind == TokenKind::Semicolon) {
        advance();
        return;
      }
      if (depth == 0 && kind == TokenKind::RBrace)
        return;
      if (kind == TokenKind::LParen || kind == TokenKind::LBracket)
        ++depth;
      else if ((kind == TokenKind::RParen || kind == TokenKind::RBracket) && depth > 0)
        --depth;
      else if (kind == TokenKind::RBrace || (current().isWord("pattern") && pos_ > start))
        return;
      advance();
    }
  }
  /// `pattern NAME {` or `pattern NAME (`: where a new pattern surely begins,
  /// even inside a broken one.
  bool atPatternHeader() const {
    return current().isWord("pattern") && lookahead(1).is(TokenKind::Identifier) &&
           (lookahead(2).is(TokenKind::LBrace) || lookahead(2).is(TokenKind::LParen));
  }

  bool atStatementStart() const {
    return statementKind(current()).has_value() || at(TokenKind::RBrace);
  }

  // ---- patterns ------------------------------------------------------------
  std::unique_ptr<Pattern> parsePattern() {
    SourceRange keyword = advance().range;
    auto pattern = std::make_unique<Pattern>();
    if (!expectIdentifier("a pattern name after 'pattern'", pattern->name,
                          pattern->nameRange)) {
      skipPastBody();
      return nullptr;
    }
    if (at(TokenKind::LParen) && !parseParams(*pattern)) {
      skipPastBody();
      return pattern;
    }
    if (!at(TokenKind::LBrace)) {
      error(current().range, "expected '{' to begin the body of pattern '" +
                                 pattern->name + "', found " + found());
      skipPastBody();
      return pattern;
    }
    SourceRange open = advance().range;
    while (!at(TokenKind::RBrace) && !at(TokenKind::Eof) && !diags_.shouldStop()) {
      if (atPatternHeader())
        break; // the closing '}' is missing; the next pattern begins here
      parseStatement(*pattern);
    }
    if (!consume(TokenKind::RBrace)) {
      error(afterPrevious(), "expected '}' at end of pattern '" + pattern->name + "'");
      diags_.note(join(keyword, open), "pattern '" + pattern->name + "' begins here");
    }
    return pattern;
  }

  /// After a broken pattern header: skip its body, if it has one.
  void skipPastBody() {
    while (!at(TokenKind::Eof) && !at(TokenKind::LBrace) && !current().isWord("pattern"))
      advance();
    if (!consume(TokenKind::LBrace))
      return;
    while (!at(TokenKind::Eof) && !at(TokenKind::RBrace) && !current().isWord("pattern"))
      advance();
    consume(TokenKind::RBrace);
  }

  bool parseParams(Pattern &pattern) {
    advance(); // '('
    if (consume(TokenKind::RParen))
      return true;
    do {
      auto param = parseParam();
      if (!param)
        return false;
      param->index = pattern.params.size();
      pattern.params.push_back(std::move(param));
    } while (consume(TokenKind::Comma));
    return expect(TokenKind::RParen, "after the parameter list");
  }

  std::unique_ptr<Param> parseParam() {
    auto param = std::make_unique<Param>();
    if (!expectIdentifier("a parameter name", param->name, param->nameRange))
      return nullptr;
    if (!expect(TokenKind::Colon, "after the parameter name"))
      return nullptr;
    if (!parseParamType(*param))
      return nullptr;
    if (!consume(TokenKind::Assign))
      return param;
    if (param->kind == ParamKind::Tensor) {
      error(current().range, "tensor parameter '" + param->name +
                                 "' cannot have a default value");
      return nullptr;
    }
    SourceRange begin = current().range;
    Literal literal;
    if (!parseLiteral(literal))
      return nullptr;
    param->defaultValue = literal;
    param->defaultRange = join(begin, tokens_[pos_ - 1].range);
    if (!at(TokenKind::Comma) && !at(TokenKind::RParen)) {
      error(current().range, "a parameter default must be a single literal (such as 128, "
                             "-0.5 or true), not an expression");
      return nullptr;
    }
    return param;
  }

  bool parseParamType(Param &param) {
    const Token &token = current();
    param.typeRange = token.range;
    if (token.isWord("int") || token.isWord("float") || token.isWord("bool")) {
      param.kind = token.isWord("int")     ? ParamKind::Int
                   : token.isWord("float") ? ParamKind::Float
                                           : ParamKind::Bool;
      advance();
      return true;
    }
    if (!token.isWord("tensor")) {
      error(token.range, "expected a parameter type ('int', 'float', 'bool' or "
                         "'tensor<...>[...]'), found " + found());
      return false;
    }
    advance();
    param.kind = ParamKind::Tensor;
    if (!expect(TokenKind::Less, "after 'tensor'"))
      return false;
    if (current().isWord("i32") || current().isWord("i64") || current().isWord("f32")) {
      param.elemType = current().isWord("i32")   ? ElemType::I32
                       : current().isWord("i64") ? ElemType::I64
                                                 : ElemType::F32;
      advance();
    } else {
      error(current().range,
            "expected a tensor element type ('i32', 'i64' or 'f32'), found " + found());
      return false;
    }
    if (!expect(TokenKind::Greater, "after the tensor element type") ||
        !expect(TokenKind::LBracket, "before the tensor dimensions"))
      return false;
    do {
      ExprPtr dim = parseExpr();
      if (!dim)
        return false;
      param.dims.push_back(std::move(dim));
    } while (consume(TokenKind::Comma));
    param.typeRange = join(param.typeRange, current().range);
    return expect(TokenKind::RBracket, "after the tensor dimensions");
  }

  bool parseLiteral(Literal &literal) {
    bool negative = consume(TokenKind::Minus);
    const Token &token = current();
    if (token.is(TokenKind::IntLiteral)) {
      literal.type = Type::Int;
      literal.intValue = negative ? -token.intValue : token.intValue;
    } else if (token.is(TokenKind::FloatLiteral)) {
      literal.type = Type::Float;
      literal.floatValue = negative ? -token.floatValue : token.floatValue;
    } else if (!negative && (token.isWord("true") || token.isWord("false"))) {
      literal.type = Type::Bool;
      literal.boolValue = token.isWord("true");
    } else {
      error(token.range, "expected a literal default value, found " + found());
      return false;
    }
    advance();
    return true;
  }

  // ---- statements ----------------------------------------------------------
  void parseStatement(Pattern &pattern) {
    std::optional<StmtKind> kind = statementKind(current());
    if (!kind) {
      reportNotAStatement();
      skipStatement();
      return;
    }
    auto stmt = std::make_unique<Stmt>(*kind, advance().range);
    bool parsed = parseStatementBody(*stmt);
    if (parsed && consume(TokenKind::Semicolon)) {
      pattern.stmts.push_back(std::move(stmt));
      return;
    }
    if (parsed)
      reportMissingSemicolon(*kind);
    // A broken let/set still declares its name, so that its uses do not
    // cascade into "undeclared" errors; Sema checks nothing else about it.
    stmt->broken = true;
    if ((stmt->kind == StmtKind::Let || stmt->kind == StmtKind::Set) && !stmt->name.empty()) {
      if (!stmt->value)
        stmt->value = std::make_unique<Expr>(ExprKind::Error, stmt->nameRange);
      pattern.stmts.push_back(std::move(stmt));
    }
    if (!parsed || !atStatementStart())
      skipStatement();
  }

  void reportMissingSemicolon(StmtKind kind) {
    if (kind == StmtKind::Causal && at(TokenKind::Assign))
      error(current().range, "'causal' takes no value; write 'causal;'");
    else if (at(TokenKind::Assign))
      error(current().range, "unexpected '=' in expression; did you mean '=='?");
    else
      error(afterPrevious(), std::string("expected ';' after '") + keyword(kind) +
                                 "' statement");
  }

  void reportNotAStatement() {
    std::string message = "expected a statement ('causal', 'let', 'set', 'attend', "
                          "'heads', 'bias', 'score' or 'scale'), found " + found();
    if (at(TokenKind::Identifier)) {
      std::string hint = closestMatch(
          current().text,
          std::vector<std::string>(std::begin(kStatementKeywords),
                                   std::end(kStatementKeywords)));
      if (!hint.empty())
        message = "unknown statement '" + std::string(current().text) +
                  "'; did you mean '" + hint + "'?";
    }
    error(current().range, message);
  }

  bool parseStatementBody(Stmt &stmt) {
    switch (stmt.kind) {
    case StmtKind::Causal:
      return true;
    case StmtKind::Let:
    case StmtKind::Set:
      if (!expectIdentifier(stmt.kind == StmtKind::Let ? "a name after 'let'"
                                                       : "a name after 'set'",
                            stmt.name, stmt.nameRange))
        return false;
      [[fallthrough]];
    case StmtKind::Attend:
    case StmtKind::Bias:
    case StmtKind::Score:
    case StmtKind::Scale:
      if (!expect(TokenKind::Assign, (std::string("in '") + keyword(stmt.kind) +
                                      "' statement").c_str()))
        return false;
      stmt.value = parseExpr();
      return stmt.value != nullptr;
    case StmtKind::Heads:
      return parseHeadList(stmt);
    }
    return false;
  }

  bool parseHeadList(Stmt &stmt) {
    if (!expect(TokenKind::Assign, "in 'heads' statement") ||
        !expect(TokenKind::LBracket, "to begin the list of sets"))
      return false;
    do {
      HeadEntry entry;
      if (!expectIdentifier("the name of a set", entry.name, entry.range))
        return false;
      stmt.heads.push_back(std::move(entry));
    } while (consume(TokenKind::Comma));
    return expect(TokenKind::RBracket, "to end the list of sets");
  }

  // ---- expressions ---------------------------------------------------------
  /// Guards the recursion of the expression parser.
  struct NestingGuard {
    Parser &parser;
    explicit NestingGuard(Parser &p) : parser(p) { ++parser.nesting_; }
    ~NestingGuard() { --parser.nesting_; }
  };

  bool tooDeep(SourceRange range) {
    if (nesting_ <= kMaxExprDepth)
      return false;
    error(range, "expression is nested too deeply (the limit is " +
                     std::to_string(kMaxExprDepth) + " levels)");
    return true;
  }

  ExprPtr makeNode(ExprKind kind, SourceRange range, std::vector<ExprPtr> operands) {
    auto expr = std::make_unique<Expr>(kind, range);
    for (const ExprPtr &operand : operands)
      expr->depth = std::max(expr->depth, operand->depth + 1);
    expr->operands = std::move(operands);
    if (expr->depth > kMaxExprDepth) {
      error(range, "expression is nested too deeply (the limit is " +
                       std::to_string(kMaxExprDepth) + " levels)");
      return nullptr;
    }
    return expr;
  }

  ExprPtr parseExpr() {
    NestingGuard guard(*this);
    if (tooDeep(current().range))
      return nullptr;
    ExprPtr condition = parseBinary(1);
    if (!condition || !at(TokenKind::Question))
      return condition;
    advance();
    ExprPtr whenTrue = parseExpr();
    if (!whenTrue || !expect(TokenKind::Colon, "in conditional expression"))
      return nullptr;
    ExprPtr whenFalse = parseExpr();
    if (!whenFalse)
      return nullptr;
    SourceRange range = join(condition->range, whenFalse->range);
    std::vector<ExprPtr> operands;
    operands.push_back(std::move(condition));
    operands.push_back(std::move(whenTrue));
    operands.push_back(std::move(whenFalse));
    return makeNode(ExprKind::Select, range, std::move(operands));
  }

  ExprPtr parseBinary(int minPrecedence) {
    ExprPtr lhs = parseUnary();
    while (lhs) {
      int prec = precedence(current().kind);
      if (prec == 0 || prec < minPrecedence)
        return lhs;
      const Token &opToken = advance();
      ExprPtr rhs = parseBinary(prec + 1);
      if (!rhs)
        return nullptr;
      SourceRange range = join(lhs->range, rhs->range);
      std::vector<ExprPtr> operands;
      operands.push_back(std::move(lhs));
      operands.push_back(std::move(rhs));
      lhs = makeNode(ExprKind::Binary, range, std::move(operands));
      if (lhs) {
        lhs->binaryOp = binaryOpFor(opToken.kind);
        lhs->nameRange = opToken.range;
      }
    }
    return lhs;
  }

  ExprPtr parseUnary() {
    if (!at(TokenKind::Minus) && !at(TokenKind::Bang))
      return parsePrimary();
    NestingGuard guard(*this);
    if (tooDeep(current().range))
      return nullptr;
    const Token &opToken = advance();
    ExprPtr operand = parseUnary();
    if (!operand)
      return nullptr;
    SourceRange range = join(opToken.range, operand->range);
    std::vector<ExprPtr> operands;
    operands.push_back(std::move(operand));
    ExprPtr expr = makeNode(ExprKind::Unary, range, std::move(operands));
    if (expr) {
      expr->unaryOp = opToken.is(TokenKind::Minus) ? UnaryOp::Neg : UnaryOp::Not;
      expr->nameRange = opToken.range;
    }
    return expr;
  }

  ExprPtr parsePrimary() {
    const Token &token = current();
    switch (token.kind) {
    case TokenKind::IntLiteral: {
      auto expr = std::make_unique<Expr>(ExprKind::IntLit, advance().range);
      expr->intValue = token.intValue;
      return expr;
    }
    case TokenKind::FloatLiteral: {
      auto expr = std::make_unique<Expr>(ExprKind::FloatLit, advance().range);
      expr->floatValue = token.floatValue;
      return expr;
    }
    case TokenKind::LParen: {
      SourceRange open = advance().range;
      ExprPtr inner = parseExpr();
      if (!inner)
        return nullptr;
      if (!at(TokenKind::RParen)) {
        error(current().range, "expected ')', found " + found());
        diags_.note(open, "to match this '('");
        return nullptr;
      }
      inner->range = join(open, advance().range);
      return inner;
    }
    case TokenKind::Identifier:
      return parseNameExpr();
    default:
      error(token.range, "expected an expression, found " + found());
      return nullptr;
    }
  }

  ExprPtr parseNameExpr() {
    const Token &token = advance();
    std::string name(token.text);
    if (name == "true" || name == "false") {
      auto expr = std::make_unique<Expr>(ExprKind::BoolLit, token.range);
      expr->boolValue = name == "true";
      return expr;
    }
    if (at(TokenKind::LParen))
      return parseCall(token);
    if (at(TokenKind::LBracket))
      return parseTensorLoad(token);
    if (std::optional<Builtin> builtin = builtinNamed(name)) {
      auto expr = std::make_unique<Expr>(ExprKind::BuiltinRef, token.range);
      expr->builtin = *builtin;
      expr->name = name;
      return expr;
    }
    auto expr = std::make_unique<Expr>(ExprKind::ValueRef, token.range);
    expr->name = name;
    expr->nameRange = token.range;
    return expr;
  }

  bool parseArguments(TokenKind close, const char *what, std::vector<ExprPtr> &args) {
    SourceRange open = advance().range; // '(' or '['
    if (close == TokenKind::RParen && consume(close))
      return true;
    do {
      ExprPtr arg = parseExpr();
      if (!arg)
        return false;
      args.push_back(std::move(arg));
    } while (consume(TokenKind::Comma));
    if (consume(close))
      return true;
    error(current().range, std::string("expected ") + describe(close) + " " + what +
                               ", found " + found());
    diags_.note(open, std::string("to match this ") + describe(openerOf(close)));
    return false;
  }

  static TokenKind openerOf(TokenKind close) {
    return close == TokenKind::RParen ? TokenKind::LParen : TokenKind::LBracket;
  }

  ExprPtr parseCall(const Token &nameToken) {
    std::vector<ExprPtr> args;
    if (!parseArguments(TokenKind::RParen, "after the call arguments", args))
      return nullptr;
    std::optional<Callee> callee = calleeNamed(nameToken.text);
    if (!callee) {
      static const std::vector<std::string> names = {
          "min", "max", "abs", "exp", "log", "tanh", "sqrt", "float", "int", "alibi_slope"};
      std::string hint = closestMatch(nameToken.text, names);
      error(nameToken.range, "unknown function '" + std::string(nameToken.text) + "'" +
                                 (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      return nullptr;
    }
    ExprPtr expr = makeNode(ExprKind::Call,
                            join(nameToken.range, tokens_[pos_ - 1].range), std::move(args));
    if (expr) {
      expr->callee = *callee;
      expr->name = std::string(nameToken.text);
      expr->nameRange = nameToken.range;
    }
    return expr;
  }

  ExprPtr parseTensorLoad(const Token &nameToken) {
    std::vector<ExprPtr> indices;
    if (!parseArguments(TokenKind::RBracket, "after the tensor indices", indices))
      return nullptr;
    ExprPtr expr = makeNode(ExprKind::TensorLoad,
                            join(nameToken.range, tokens_[pos_ - 1].range),
                            std::move(indices));
    if (expr) {
      expr->name = std::string(nameToken.text);
      expr->nameRange = nameToken.range;
    }
    return expr;
  }

  const std::vector<Token> &tokens_;
  DiagnosticEngine &diags_;
  size_t pos_ = 0;
  unsigned nesting_ = 0;
};

} // namespace

ast::File parse(const std::vector<Token> &tokens, DiagnosticEngine &diags) {
  return Parser(tokens, diags).parseFile();
}

} // namespace attnc
