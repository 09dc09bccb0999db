//===- Bindings.h - Values for a pattern's parameters ---------------------===//
//
// A pattern becomes concrete once its parameters have values (defaults or
// -D name=value), its tensors are bound to host arrays, and the problem shape
// (H, Nq, Nk, D) is known.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc/frontend/AST.h"

#include "llvm/Support/Error.h"

#include <map>
#include <string>
#include <vector>

namespace attnc::interp {

/// The run-time sizes the language can name.
struct Shape {
  int64_t numHeads = 1; // H
  int64_t seqQ = 1;     // Nq
  int64_t seqK = 1;     // Nk
  int64_t headDim = 64; // D
};

/// Scalar parameter values by name.
using ParamValues = std::map<std::string, ast::Literal>;

/// Parses `text` as a value of scalar parameter `param` (as given with -D).
llvm::Expected<ast::Literal> parseParamValue(const ast::Param &param, std::string_view text);

/// Defaults overridden by `defines` ("name=value" strings). Every scalar
/// parameter must end up with a value; unknown names are errors.
llvm::Expected<ParamValues> bindParams(const ast::Pattern &pattern,
                                       const std::vector<std::string> &defines);

/// Only the values given in `defines`, checked (for printing).
llvm::Expected<ParamValues> parseDefines(const ast::Pattern &pattern,
                                         const std::vector<std::string> &defines);

/// A read-only, row-major host array.
struct HostTensor {
  ast::ElemType type = ast::ElemType::I32;
  std::vector<int64_t> shape;
  const void *data = nullptr;
};

/// A host array that owns its elements (for tensors read from files).
class OwnedTensor {
public:
  OwnedTensor(ast::ElemType type, std::vector<int64_t> shape);
  /// Appends one element written in decimal; false if it is not a valid value
  /// of the element type (out of range included).
  bool append(const std::string &word);
  size_t size() const;
  HostTensor view() const;

private:
  ast::ElemType type_;
  std::vector<int64_t> shape_;
  std::vector<int32_t> i32_;
  std::vector<int64_t> i64_;
  std::vector<float> f32_;
};

/// Reads whitespace-separated numbers for tensor `param` of shape `dims`.
llvm::Expected<OwnedTensor> loadTensorText(const ast::Param &param,
                                           const std::vector<int64_t> &dims,
                                           const std::string &path);

} // namespace attnc::interp
