//===- RunInputs.cpp - attnc run: the checked inputs of a run -------------===//
#include "RunInputs.h"

#include "HalfPrecision.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstring>
#include <map>

namespace attnc {
namespace {

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// `array`'s float32 or float16 elements as bf16 or fp16: float32 is rounded
/// to nearest even; float16 is taken as it is, for fp16 only (bf16 would
/// silently drop three of its mantissa bits).
llvm::Expected<std::vector<uint16_t>> convertElements(const npy::Array &array, attn::DType dtype,
                                                      const std::string &name) {
  bool halfInput = array.dtype == npy::DType::F16;
  if (array.dtype != npy::DType::F32 && !halfInput)
    return error(name + " holds " + npy::dtypeName(array.dtype) +
                 "; q, k, v and dO must be float32 or float16");
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

/// Reads `path`, given with `option`, into `operand`.
llvm::Error loadOperand(Operand &operand, const char *option, const std::string &path,
                        const RunRequest &request) {
  operand = Operand{option, path, {}, 0, 0, 0, 0, {}};
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
  return llvm::Error::success();
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

/// `bindings`, the NAME=FILE values of `option` (--tensor or --dtensor), by
/// name: each once, naming a tensor parameter of the pattern.
llvm::Expected<std::map<std::string, std::string>>
namedFiles(const attn::Bundle &bundle, const std::vector<std::string> &bindings,
           const std::string &option) {
  std::map<std::string, std::string> files;
  for (const std::string &binding : bindings) {
    std::size_t eq = binding.find('=');
    if (eq == std::string::npos || eq == 0)
      return error("malformed " + option + " '" + binding + "': expected name=file.npy");
    std::string name = binding.substr(0, eq);
    bool known = false;
    for (const attn::BundleTensor &tensor : bundle.tensors)
      known = known || tensor.name == name;
    if (!known)
      return error("pattern '" + bundle.pattern + "' has no tensor parameter '" + name + "'");
    if (!files.emplace(name, binding.substr(eq + 1)).second)
      return error("tensor '" + name + "' is given more than once with " + option);
  }
  return files;
}

/// The pattern's tensors, in the bundle's order, checked against `problem`.
llvm::Expected<std::vector<npy::Array>> loadPatternTensors(const attn::Bundle &bundle,
                                                           const RunRequest &request,
                                                           const attn::Problem &problem,
                                                           int64_t headDim) {
  llvm::Expected<std::map<std::string, std::string>> files =
      namedFiles(bundle, request.tensors, "--tensor");
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

/// Per pattern tensor (the bundle's order), the --dtensor file its gradient
/// goes to, or empty; only float32 tensors have one.
llvm::Expected<std::vector<std::string>> gradientFiles(const attn::Bundle &bundle,
                                                       const RunRequest &request) {
  llvm::Expected<std::map<std::string, std::string>> files =
      namedFiles(bundle, request.tensorGrads, "--dtensor");
  if (!files)
    return files.takeError();
  std::vector<std::string> paths;
  for (const attn::BundleTensor &tensor : bundle.tensors) {
    auto file = files->find(tensor.name);
    if (file != files->end() && tensor.type != attn::ElementType::F32)
      return error("--dtensor " + tensor.name + ": tensor '" + tensor.name + "' holds " +
                   npy::dtypeName(npyType(tensor.type)) +
                   ", which has no gradient (only float32 tensors have one)");
    paths.push_back(file == files->end() ? "" : file->second);
  }
  return paths;
}

/// --do, --dq, --dk and --dv: all four or none; --dtensor only with them.
llvm::Error checkBackwardOptions(const RunRequest &request) {
  const std::pair<const char *, const std::string *> options[] = {
      {"--do", &request.dO}, {"--dq", &request.dq}, {"--dk", &request.dk}, {"--dv", &request.dv}};
  bool any = false;
  for (const auto &option : options)
    any = any || !option.second->empty();
  if (!any)
    return request.tensorGrads.empty()
               ? llvm::Error::success()
               : error("--dtensor needs the backward pass: give --do, --dq, --dk and --dv too");
  for (const auto &[option, path] : options)
    if (path->empty())
      return error(std::string("the backward pass needs --do, --dq, --dk and --dv together: "
                               "missing ") +
                   option + " FILE.npy");
  return llvm::Error::success();
}

/// That `path` can be written (an existing writable file, or a new one in a
/// writable folder), without creating it.
llvm::Error checkWritable(const std::string &path, const std::string &option) {
  namespace fs = llvm::sys::fs;
  std::string cannot = "cannot write '" + path + "' (" + option + "): ";
  if (fs::is_directory(path))
    return error(cannot + "it is a directory");
  std::string folder = llvm::sys::path::parent_path(path).str();
  if (folder.empty())
    folder = ".";
  if (!fs::exists(path) && !fs::is_directory(folder))
    return error(cannot + "no folder '" + folder + "'");
  if (std::error_code ec = fs::access(fs::exists(path) ? path : folder, fs::AccessMode::Write))
    return error(cannot + ec.message());
  return llvm::Error::success();
}

/// Every file the run writes can be written, and no two options name one.
llvm::Error checkOutputs(const attn::Bundle &bundle, const RunRequest &request,
                         const std::vector<std::string> &tensorGrads) {
  std::vector<std::pair<std::string, std::string>> outputs = {{"--o", request.o},
                                                              {"--lse", request.lse},
                                                              {"--dq", request.dq},
                                                              {"--dk", request.dk},
                                                              {"--dv", request.dv}};
  for (std::size_t t = 0; t < tensorGrads.size(); ++t)
    outputs.push_back({"--dtensor " + bundle.tensors[t].name, tensorGrads[t]});
  std::map<std::string, std::string> optionOf;
  for (const auto &[option, path] : outputs) {
    if (path.empty())
      continue;
    if (llvm::Error err = checkWritable(path, option))
      return err;
    auto [other, fresh] = optionOf.emplace(path, option);
    if (!fresh)
      return error(other->second + " and " + option + " both write '" + path + "'");
  }
  return llvm::Error::success();
}

/// q, k and v, and with the backward dO, which must have q's shape.
llvm::Error loadOperands(const RunRequest &request, RunInputs &in) {
  if (llvm::Error err = loadOperand(in.q, "--q", request.q, request))
    return err;
  if (llvm::Error err = loadOperand(in.k, "--k", request.k, request))
    return err;
  if (llvm::Error err = loadOperand(in.v, "--v", request.v, request))
    return err;
  if (llvm::Error err = checkOperands(in.q, in.k, in.v))
    return err;
  if (!request.backward())
    return llvm::Error::success();
  Operand &dO = in.dO.emplace();
  if (llvm::Error err = loadOperand(dO, "--do", request.dO, request))
    return err;
  if (dO.fileShape != in.q.fileShape)
    return error(dO.name() + " has shape " + npy::shapeText(dO.fileShape) +
                 "; it must have the shape of " + in.q.name() + ", " +
                 npy::shapeText(in.q.fileShape));
  return llvm::Error::success();
}

/// The options alone, before any file is read.
llvm::Expected<std::vector<std::string>> checkOptions(const attn::Bundle &bundle,
                                                      const RunRequest &request) {
  if (request.o.empty())
    return error("missing --o FILE.npy (where the output goes)");
  if (llvm::Error err = checkBackwardOptions(request))
    return err;
  llvm::Expected<std::vector<std::string>> tensorGrads = gradientFiles(bundle, request);
  if (!tensorGrads)
    return tensorGrads.takeError();
  if (llvm::Error err = checkOutputs(bundle, request, *tensorGrads))
    return err;
  return tensorGrads;
}

} // namespace

llvm::Expected<RunInputs> loadRunInputs(const attn::Bundle &bundle, const RunRequest &request) {
  RunInputs in;
  llvm::Expected<std::vector<std::string>> tensorGrads = checkOptions(bundle, request);
  if (!tensorGrads)
    return tensorGrads.takeError();
  in.tensorGrads = std::move(*tensorGrads);
  if (llvm::Error err = loadOperands(request, in))
    return err;
  in.problem = {in.q.batch, in.q.heads, in.k.heads, in.q.tokens, in.k.tokens};
  auto tensors = loadPatternTensors(bundle, request, in.problem, in.q.headDim);
  if (!tensors)
    return tensors.takeError();
  in.tensors = std::move(*tensors);
  return in;
}

} // namespace attnc
