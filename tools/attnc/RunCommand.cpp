//===- RunCommand.cpp - attnc run: a pattern's attention on .npy files ----===//
//
// Everything a user can get wrong (shapes, dtypes, head counts, the pattern's
// tensors) is checked on the host first, so it is reported the same way with
// or without a GPU; only then is the GPU touched.
//
//===----------------------------------------------------------------------===//
#include "RunCommand.h"

#include "HalfPrecision.h"
#include "Npy.h"

#include "attnc/frontend/Frontend.h"

#include "attn/Error.h"

#include <cstring>
#include <map>
#include <memory>

namespace attnc {
namespace {

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// q, k or v, converted to the run's dtype, in its file's memory order.
struct Operand {
  const char *option; // "--q", for messages
  std::string path;
  std::vector<int64_t> fileShape;
  int64_t batch = 0, heads = 0, tokens = 0, headDim = 0;
  std::vector<uint16_t> elements;

  std::string name() const { return "'" + path + "' (" + option + ")"; }
};

/// `array`'s float32 or float16 elements as bf16 or fp16: float32 is rounded
/// to nearest even; float16 is taken as it is, for fp16 only (bf16 would
/// silently drop three of its mantissa bits).
llvm::Expected<std::vector<uint16_t>> convertElements(const npy::Array &array, attn::DType dtype,
                                                      const std::string &name) {
  bool halfInput = array.dtype == npy::DType::F16;
  if (array.dtype != npy::DType::F32 && !halfInput)
    return error(name + " holds " + npy::dtypeName(array.dtype) +
                 "; q, k and v must be float32 or float16");
  if (halfInput && dtype == attn::DType::BF16)
    return error(name + " holds float16; --dtype bf16 takes float32 (or use --dtype fp16)");
  std::vector<uint16_t> elements(array.elements());
  if (halfInput) {
    std::memcpy(elements.data(), array.data.data(), array.data.size());
    return elements;
  }
  auto convert = dtype == attn::DType::BF16 ? floatToBf16 : floatToHalf;
  for (std::size_t e = 0; e < elements.size(); ++e) {
    float value;
    std::memcpy(&value, array.data.data() + e * sizeof value, sizeof value);
    elements[e] = convert(value);
  }
  return elements;
}

llvm::Expected<Operand> loadOperand(const char *option, const std::string &path,
                                    const RunRequest &request) {
  Operand operand{option, path, {}, 0, 0, 0, 0, {}};
  if (path.empty())
    return error(std::string("missing ") + option + " FILE.npy");
  llvm::Expected<npy::Array> array = npy::readFile(path);
  if (!array)
    return array.takeError();
  bool bhnd = request.layout == TokenLayout::BHND;
  const std::vector<int64_t> &shape = array->shape;
  if (shape.size() != 4)
    return error(operand.name() + " has shape " + npy::shapeText(shape) + "; expected " +
                 (bhnd ? "[B, H, N, D]" : "[B, N, H, D]"));
  if (array->elements() == 0)
    return error(operand.name() + " is empty (shape " + npy::shapeText(shape) + ")");
  operand.fileShape = shape;
  operand.batch = shape[0];
  operand.heads = shape[bhnd ? 1 : 2];
  operand.tokens = shape[bhnd ? 2 : 1];
  operand.headDim = shape[3];
  llvm::Expected<std::vector<uint16_t>> elements =
      convertElements(*array, request.dtype, operand.name());
  if (!elements)
    return elements.takeError();
  operand.elements = std::move(*elements);
  return operand;
}

/// The sizes q, k and v must agree on, and what the kernels support.
llvm::Error checkOperands(const Operand &q, const Operand &k, const Operand &v) {
  if (k.fileShape != v.fileShape)
    return error("--k and --v must have the same shape: " + k.name() + " is " +
                 npy::shapeText(k.fileShape) + ", " + v.name() + " is " +
                 npy::shapeText(v.fileShape));
  if (q.batch != k.batch)
    return error("batch sizes differ: " + q.name() + " has " + llvm::Twine(q.batch) + ", " +
                 k.name() + " has " + llvm::Twine(k.batch));
  if (q.headDim != k.headDim)
    return error("head dims differ: " + q.name() + " has D = " + llvm::Twine(q.headDim) + ", " +
                 k.name() + " has D = " + llvm::Twine(k.headDim));
  if (q.headDim != 64 && q.headDim != 128)
    return error("head dim D = " + llvm::Twine(q.headDim) + " is not supported (64 or 128)");
  if (q.heads % k.heads != 0)
    return error("the " + llvm::Twine(k.heads) + " key/value heads of " + k.name() +
                 " do not divide the " + llvm::Twine(q.heads) + " query heads of " + q.name());
  return llvm::Error::success();
}

npy::DType npyType(attn::ElementType type) {
  switch (type) {
  case attn::ElementType::I32:
    return npy::DType::I32;
  case attn::ElementType::I64:
    return npy::DType::I64;
  case attn::ElementType::F32:
    break;
  }
  return npy::DType::F32;
}

/// How the pattern declares `tensor`'s dims, e.g. "[H, 4]".
std::string declaredDims(const attn::BundleTensor &tensor) {
  std::string declared;
  for (const attn::TensorDim &dim : tensor.dims)
    declared += (declared.empty() ? "" : ", ") + attn::tensorDimText(dim);
  return "[" + declared + "]";
}

/// The --tensor NAME=FILE options by name.
llvm::Expected<std::map<std::string, std::string>> tensorFiles(const attn::Bundle &bundle,
                                                               const RunRequest &request) {
  std::map<std::string, std::string> files;
  for (const std::string &binding : request.tensors) {
    std::size_t eq = binding.find('=');
    if (eq == std::string::npos || eq == 0)
      return error("malformed --tensor '" + binding + "': expected name=file.npy");
    std::string name = binding.substr(0, eq);
    bool known = false;
    for (const attn::BundleTensor &tensor : bundle.tensors)
      known = known || tensor.name == name;
    if (!known)
      return error("pattern '" + bundle.pattern + "' has no tensor parameter '" + name + "'");
    if (!files.emplace(name, binding.substr(eq + 1)).second)
      return error("tensor '" + name + "' is given more than once with --tensor");
  }
  return files;
}

/// The pattern's tensors, in the bundle's order, checked against `problem`.
llvm::Expected<std::vector<npy::Array>> loadPatternTensors(const attn::Bundle &bundle,
                                                           const RunRequest &request,
                                                           const attn::Problem &problem,
                                                           int64_t headDim) {
  llvm::Expected<std::map<std::string, std::string>> files = tensorFiles(bundle, request);
  if (!files)
    return files.takeError();
  std::vector<npy::Array> arrays;
  for (const attn::BundleTensor &tensor : bundle.tensors) {
    std::string declared = declaredDims(tensor);
    std::vector<int64_t> dims = attn::tensorShape(tensor, problem, static_cast<int>(headDim));
    npy::DType type = npyType(tensor.type);
    auto file = files->find(tensor.name);
    if (file == files->end())
      return error("pattern '" + bundle.pattern + "' needs --tensor " + tensor.name +
                   "=FILE.npy (" + npy::dtypeName(type) + " " + declared + ")");
    llvm::Expected<npy::Array> array = npy::readFile(file->second);
    if (!array)
      return array.takeError();
    std::string name = "tensor '" + tensor.name + "' ('" + file->second + "')";
    if (array->dtype != type)
      return error(name + " holds " + npy::dtypeName(array->dtype) + "; the pattern declares " +
                   npy::dtypeName(type));
    if (array->shape != dims)
      return error(name + " has shape " + npy::shapeText(array->shape) +
                   ", but the pattern declares it " + declared + " = " + npy::shapeText(dims) +
                   " for these inputs");
    arrays.push_back(std::move(*array));
  }
  return arrays;
}

/// Host data on the device, kept as long as the run needs it.
std::unique_ptr<attn::DeviceBuffer> upload(const void *data, std::size_t bytes) {
  auto buffer = std::make_unique<attn::DeviceBuffer>(bytes);
  buffer->upload(data);
  return buffer;
}

/// The operand as the kernel sees it: [B, H, N, D] strides over its file's order.
attn::Tensor deviceTensor(const Operand &operand, attn::CUdeviceptr data, attn::DType dtype,
                          TokenLayout layout) {
  auto make = layout == TokenLayout::BHND ? attn::Tensor::bhnd : attn::Tensor::bnhd;
  return make(data, dtype, operand.batch, operand.heads, operand.tokens, operand.headDim);
}

/// The checked inputs of a run, ready for the GPU.
struct Inputs {
  Operand q, k, v;
  attn::Problem problem;
  std::vector<npy::Array> tensors;
};

llvm::Expected<Inputs> loadInputs(const attn::Bundle &bundle, const RunRequest &request) {
  if (request.o.empty())
    return error("missing --o FILE.npy (where the output goes)");
  llvm::Expected<Operand> q = loadOperand("--q", request.q, request);
  if (!q)
    return q.takeError();
  llvm::Expected<Operand> k = loadOperand("--k", request.k, request);
  if (!k)
    return k.takeError();
  llvm::Expected<Operand> v = loadOperand("--v", request.v, request);
  if (!v)
    return v.takeError();
  if (llvm::Error err = checkOperands(*q, *k, *v))
    return err;
  attn::Problem problem{q->batch, q->heads, k->heads, q->tokens, k->tokens};
  auto tensors = loadPatternTensors(bundle, request, problem, q->headDim);
  if (!tensors)
    return tensors.takeError();
  return Inputs{std::move(*q), std::move(*k), std::move(*v), problem, std::move(*tensors)};
}

/// Runs the forward kernel; returns O (as float32, in q's order) and the LSE.
void forward(const attn::Bundle &bundle, const RunRequest &request, const Inputs &in,
             std::vector<float> &o, std::vector<float> &lse) {
  const Operand &q = in.q;
  attn::Attention attention(bundle, request.dtype, static_cast<int>(q.headDim));
  std::vector<std::unique_ptr<attn::DeviceBuffer>> buffers;
  std::vector<attn::PatternTensor> tensors;
  for (const npy::Array &array : in.tensors) {
    buffers.push_back(upload(array.data.data(), array.data.size()));
    tensors.push_back({buffers.back()->pointer(), array.shape});
  }
  attn::BlockLayout layout = attention.layout(in.problem, tensors);
  auto tensorOf = [&](const Operand &operand) {
    std::size_t bytes = operand.elements.size() * sizeof(uint16_t);
    buffers.push_back(upload(operand.elements.data(), bytes));
    return deviceTensor(operand, buffers.back()->pointer(), request.dtype, request.layout);
  };
  attn::Tensor qTensor = tensorOf(q), kTensor = tensorOf(in.k), vTensor = tensorOf(in.v);
  attn::DeviceBuffer oBuffer(q.elements.size() * sizeof(uint16_t));
  attn::DeviceBuffer lseBuffer(lse.size() * sizeof(float));
  attention.forward(layout, qTensor, kTensor, vTensor,
                    deviceTensor(q, oBuffer.pointer(), request.dtype, request.layout),
                    lseBuffer.pointer());
  std::vector<uint16_t> half(q.elements.size());
  oBuffer.download(half.data());
  lseBuffer.download(lse.data());
  auto widen = request.dtype == attn::DType::BF16 ? bf16ToFloat : halfToFloat;
  for (std::size_t e = 0; e < half.size(); ++e)
    o[e] = widen(half[e]);
}

} // namespace

llvm::Error runAttention(const attn::Bundle &bundle, const RunRequest &request) {
  llvm::Expected<Inputs> in = loadInputs(bundle, request);
  if (!in)
    return in.takeError();
  const attn::Problem &problem = in->problem;
  std::vector<float> o(in->q.elements.size());
  std::vector<float> lse(problem.batch * problem.heads * problem.seqQ);
  try {
    forward(bundle, request, *in, o, lse);
  } catch (const attn::Error &e) {
    return error(e.what());
  }
  if (llvm::Error err = writeFile(request.o, npy::encodeF32(in->q.fileShape, o)))
    return err;
  if (request.lse.empty())
    return llvm::Error::success();
  return writeFile(request.lse,
                   npy::encodeF32({problem.batch, problem.heads, problem.seqQ}, lse));
}

} // namespace attnc
