//===- Bindings.cpp -------------------------------------------------------===//
#include "attnc/interp/Bindings.h"
#include "attnc/frontend/Frontend.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace attnc::interp {
namespace {

using namespace ast;

llvm::Error error(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s", message.c_str());
}

/// Decimal integers only: an optional '-', then digits.
bool parseInt(const std::string &text, int64_t &value) {
  size_t digits = !text.empty() && text[0] == '-' ? 1 : 0;
  if (text.size() == digits || text.find_first_not_of("0123456789", digits) != std::string::npos)
    return false;
  errno = 0;
  char *end = nullptr;
  long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (errno == ERANGE || *end != '\0')
    return false;
  value = parsed;
  return true;
}

/// Decimal floats only (no spaces, hex, inf or nan).
bool parseFloat(const std::string &text, double &value) {
  if (text.empty() || text.find_first_not_of("0123456789.eE+-") != std::string::npos ||
      text[0] == '+')
    return false;
  char *end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return *end == '\0' && std::isfinite(value);
}

/// Splits "name=value"; the error names the whole define.
llvm::Error splitDefine(const std::string &define, std::string &name, std::string &value) {
  size_t eq = define.find('=');
  if (eq == std::string::npos || eq == 0)
    return error("malformed -D '" + define + "': expected name=value");
  name = define.substr(0, eq);
  value = define.substr(eq + 1);
  return llvm::Error::success();
}

std::string paramList(const Pattern &pattern) {
  std::string names;
  for (const auto &param : pattern.params)
    names += (names.empty() ? "" : ", ") + param->name;
  return names.empty() ? "it has none" : "it has: " + names;
}

} // namespace

llvm::Expected<Literal> parseParamValue(const Param &param, std::string_view text) {
  std::string value(text);
  Literal literal;
  switch (param.kind) {
  case ParamKind::Int:
    literal.type = Type::Int;
    if (parseInt(value, literal.intValue))
      return literal;
    break;
  case ParamKind::Float:
    literal.type = Type::Float;
    if (parseFloat(value, literal.floatValue))
      return literal;
    break;
  case ParamKind::Bool:
    literal.type = Type::Bool;
    if (value == "true" || value == "1" || value == "false" || value == "0") {
      literal.boolValue = value == "true" || value == "1";
      return literal;
    }
    break;
  case ParamKind::Tensor:
    return error("parameter '" + param.name + "' is a tensor; bind it with --tensor " +
                 param.name + "=FILE, not -D");
  }
  return error("invalid value '" + value + "' for " + toString(param.kind) + " parameter '" +
               param.name + "'");
}

llvm::Expected<ParamValues> parseDefines(const Pattern &pattern,
                                         const std::vector<std::string> &defines) {
  ParamValues values;
  for (const std::string &define : defines) {
    std::string name, text;
    if (llvm::Error err = splitDefine(define, name, text))
      return err;
    const Param *param = pattern.findParam(name);
    if (!param)
      return error("pattern '" + pattern.name + "' has no parameter '" + name + "' (" +
                   paramList(pattern) + ")");
    auto literal = parseParamValue(*param, text);
    if (!literal)
      return literal.takeError();
    if (!values.emplace(name, *literal).second)
      return error("parameter '" + name + "' is given more than once with -D");
  }
  return values;
}

llvm::Expected<ParamValues> bindParams(const Pattern &pattern,
                                       const std::vector<std::string> &defines) {
  auto values = parseDefines(pattern, defines);
  if (!values)
    return values.takeError();
  for (const auto &param : pattern.params) {
    if (param->kind == ParamKind::Tensor || values->count(param->name))
      continue;
    if (!param->defaultValue)
      return error("parameter '" + param->name + "' of pattern '" + pattern.name +
                   "' has no default; give it a value with -D " + param->name + "=VALUE");
    (*values)[param->name] = *param->defaultValue;
  }
  return values;
}

OwnedTensor::OwnedTensor(ElemType type, std::vector<int64_t> shape)
    : type_(type), shape_(std::move(shape)) {}

bool OwnedTensor::append(const std::string &word) {
  int64_t n = 0;
  double v = 0;
  switch (type_) {
  case ElemType::I32:
    if (!parseInt(word, n) || n < INT32_MIN || n > INT32_MAX)
      return false;
    i32_.push_back(static_cast<int32_t>(n));
    return true;
  case ElemType::I64:
    if (!parseInt(word, n))
      return false;
    i64_.push_back(n);
    return true;
  case ElemType::F32:
    if (!parseFloat(word, v) || std::fabs(v) > std::numeric_limits<float>::max())
      return false;
    f32_.push_back(static_cast<float>(v));
    return true;
  }
  return false;
}

size_t OwnedTensor::size() const { return i32_.size() + i64_.size() + f32_.size(); }

HostTensor OwnedTensor::view() const {
  const void *data = type_ == ElemType::I32   ? static_cast<const void *>(i32_.data())
                     : type_ == ElemType::I64 ? static_cast<const void *>(i64_.data())
                                              : static_cast<const void *>(f32_.data());
  return {type_, shape_, data};
}

llvm::Expected<OwnedTensor> loadTensorText(const Param &param, const std::vector<int64_t> &dims,
                                           const std::string &path) {
  auto text = readFile(path);
  if (!text)
    return text.takeError();
  int64_t expected = 1;
  for (int64_t d : dims)
    expected *= d;
  OwnedTensor tensor(param.elemType, dims);
  std::istringstream in(*text);
  std::string word;
  while (in >> word)
    if (!tensor.append(word))
      return error("'" + path + "': '" + word + "' is not a valid " +
                   toString(param.elemType) + " value for tensor '" + param.name + "'");
  if (static_cast<int64_t>(tensor.size()) != expected) {
    std::string shape;
    for (int64_t d : dims)
      shape += (shape.empty() ? "" : "x") + std::to_string(d);
    return error("'" + path + "' holds " + std::to_string(tensor.size()) +
                 " values, but tensor '" + param.name + "' has shape [" + shape + "] (" +
                 std::to_string(expected) + " values)");
  }
  return tensor;
}

} // namespace attnc::interp
