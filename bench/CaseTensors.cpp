//===- CaseTensors.cpp - The filled pattern tensors of a benchmark case ---===//
#include "CaseTensors.h"

#include "Npy.h"

#include "attn/Attention.h"

namespace attnc::bench {
namespace {

llvm::Error failure(const Case &c, const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), c.id + ": " + message);
}

int64_t elementCount(const std::vector<int64_t> &shape) {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

template <typename T> std::string bytesOf(const std::vector<T> &values) {
  return std::string(reinterpret_cast<const char *>(values.data()), values.size() * sizeof(T));
}

/// The contents of one declared tensor from its fill, or why the fill does
/// not fit it.
llvm::Error fillTensor(const Case &c, const attn::BundleTensor &declared, CaseTensor &tensor) {
  const Fill &fill = tensor.fill;
  if (fill.kind == Fill::Kind::Documents) {
    bool docIds = declared.type == attn::ElementType::I32 && declared.dims.size() == 1 &&
                  declared.dims[0].kind == attn::TensorDim::Kind::Nk;
    if (!docIds)
      return failure(c, "tensor '" + declared.name + "' is " +
                            attn::elementTypeName(declared.type) + " of " +
                            std::to_string(declared.dims.size()) +
                            " dimension(s); a \"documents\" fill makes i32 [Nk]");
    tensor.bytes = bytesOf(documentIds(c.N, fill.count, fill.seed));
    return llvm::Error::success();
  }
  if (declared.type != attn::ElementType::F32)
    return failure(c, "tensor '" + declared.name + "' is " +
                          attn::elementTypeName(declared.type) +
                          "; a \"uniform\" fill makes f32");
  tensor.bytes = bytesOf(uniformValues(elementCount(tensor.shape), fill.low, fill.high, fill.seed));
  return llvm::Error::success();
}

} // namespace

llvm::Expected<std::vector<CaseTensor>> makeTensors(const Case &c, const attn::Bundle &bundle) {
  for (const auto &[name, fill] : c.tensors) {
    bool declared = false;
    for (const attn::BundleTensor &tensor : bundle.tensors)
      declared = declared || tensor.name == name;
    if (!declared)
      return failure(c, "pattern '" + bundle.pattern + "' has no tensor '" + name +
                            "' to fill");
  }
  attn::Problem problem{c.B, c.H, c.Hkv, c.N, c.N};
  std::vector<CaseTensor> tensors;
  for (const attn::BundleTensor &declared : bundle.tensors) {
    auto fill = c.tensors.find(declared.name);
    if (fill == c.tensors.end())
      return failure(c, "pattern '" + bundle.pattern + "' takes tensor '" + declared.name +
                            "': give it a fill in the case's \"tensors\"");
    CaseTensor tensor;
    tensor.name = declared.name;
    tensor.type = declared.type;
    tensor.shape = attn::tensorShape(declared, problem, static_cast<int>(c.D));
    tensor.fill = fill->second;
    if (llvm::Error bad = fillTensor(c, declared, tensor))
      return bad;
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

std::string npyBytes(const CaseTensor &tensor) {
  npy::DType dtype = tensor.type == attn::ElementType::I32 ? npy::DType::I32
                     : tensor.type == attn::ElementType::I64 ? npy::DType::I64
                                                            : npy::DType::F32;
  return npy::encode(dtype, tensor.shape, tensor.bytes.data());
}

} // namespace attnc::bench
