//===- RunCommand.cpp - attnc run: a pattern's attention on .npy files ----===//
//
// The inputs are checked on the host first (RunInputs.cpp); only then is the
// GPU touched: the forward, then with --do the backward, whose outputs are
// written once every kernel has run.
//
//===----------------------------------------------------------------------===//
#include "RunCommand.h"

#include "HalfPrecision.h"
#include "RunInputs.h"

#include "attnc/frontend/Frontend.h"

#include "attn/Error.h"

#include <memory>

namespace attnc {
namespace {

/// An output file: float32 values of a shape.
struct Output {
  std::string path;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

/// Device memory of one run, freed when the run ends.
class DeviceMemory {
public:
  attn::CUdeviceptr allocate(std::size_t bytes) {
    buffers_.push_back(std::make_unique<attn::DeviceBuffer>(bytes));
    return buffers_.back()->pointer();
  }

  attn::CUdeviceptr upload(const void *data, std::size_t bytes) {
    attn::CUdeviceptr pointer = allocate(bytes);
    buffers_.back()->upload(data);
    return pointer;
  }

  /// The whole buffer that `allocate` returned `pointer` for, as Ts.
  template <typename T> std::vector<T> download(attn::CUdeviceptr pointer) const {
    for (const auto &buffer : buffers_) {
      if (buffer->pointer() != pointer)
        continue;
      std::vector<T> host(buffer->size() / sizeof(T));
      buffer->download(host.data());
      return host;
    }
    throw attn::Error("internal error: no run buffer at this address");
  }

private:
  std::vector<std::unique_ptr<attn::DeviceBuffer>> buffers_;
};

/// The GPU's part of a run: the inputs uploaded, the forward's O and LSE kept
/// for the backward.
class GpuRun {
public:
  GpuRun(const attn::Bundle &bundle, const RunRequest &request, const RunInputs &in)
      : request_(request), in_(in),
        attention_(bundle, request.dtype, static_cast<int>(in.q.headDim), nullptr,
                   kernelOptions(request)),
        layout_(attention_.layout(in.problem, uploadPatternTensors())) {}

  /// Runs the forward; adds O (and the LSE when asked) to `outputs`.
  void forward(std::vector<Output> &outputs) {
    const attn::Problem &problem = in_.problem;
    std::vector<int64_t> lseShape{problem.batch, problem.heads, problem.seqQ};
    q_ = upload(in_.q);
    k_ = upload(in_.k);
    v_ = upload(in_.v);
    o_ = allocateLike(in_.q);
    lse_ = memory_.allocate(problem.batch * problem.heads * problem.seqQ * sizeof(float));
    attention_.forward(layout_, q_, k_, v_, o_, lse_);
    outputs.push_back({request_.o, in_.q.fileShape, widen(o_)});
    if (!request_.lse.empty())
      outputs.push_back({request_.lse, lseShape, memory_.download<float>(lse_)});
  }

  /// Runs the backward of the forward; adds dQ, dK, dV and the tensors'
  /// gradients that were asked for to `outputs`.
  void backward(std::vector<Output> &outputs) {
    attn::Tensor dO = upload(*in_.dO);
    attn::Gradients grads{allocateLike(in_.q), allocateLike(in_.k), allocateLike(in_.v), {}};
    for (std::size_t t = 0; t < in_.tensors.size(); ++t)
      grads.tensors.push_back(in_.tensorGrads[t].empty()
                                  ? 0
                                  : memory_.allocate(in_.tensors[t].elements() * sizeof(float)));
    attention_.backward(layout_, q_, k_, v_, o_, lse_, dO, grads);
    outputs.push_back({request_.dq, in_.q.fileShape, widen(grads.dq)});
    outputs.push_back({request_.dk, in_.k.fileShape, widen(grads.dk)});
    outputs.push_back({request_.dv, in_.v.fileShape, widen(grads.dv)});
    for (std::size_t t = 0; t < in_.tensors.size(); ++t)
      if (grads.tensors[t])
        outputs.push_back(
            {in_.tensorGrads[t], in_.tensors[t].shape, memory_.download<float>(grads.tensors[t])});
  }

private:
  static attn::KernelOptions kernelOptions(const RunRequest &request) {
    attn::KernelOptions options;
    options.backward = request.backward();
    return options;
  }

  std::vector<attn::PatternTensor> uploadPatternTensors() {
    std::vector<attn::PatternTensor> tensors;
    for (const npy::Array &array : in_.tensors)
      tensors.push_back({memory_.upload(array.data.data(), array.data.size()), array.shape});
    return tensors;
  }

  /// The operand as the kernels see it: [B, H, N, D] strides over its file's order.
  attn::Tensor deviceTensor(const Operand &operand, attn::CUdeviceptr data) const {
    auto make = request_.layout == TokenLayout::BHND ? attn::Tensor::bhnd : attn::Tensor::bnhd;
    return make(data, request_.dtype, operand.batch, operand.heads, operand.tokens,
                operand.headDim);
  }

  attn::Tensor upload(const Operand &operand) {
    std::size_t bytes = operand.elements.size() * sizeof(uint16_t);
    return deviceTensor(operand, memory_.upload(operand.elements.data(), bytes));
  }

  /// Room for an output of `operand`'s shape, laid out as it is.
  attn::Tensor allocateLike(const Operand &operand) {
    return deviceTensor(operand, memory_.allocate(operand.elements.size() * sizeof(uint16_t)));
  }

  /// A bf16 or fp16 output as float32, in its file's order.
  std::vector<float> widen(const attn::Tensor &tensor) const {
    std::vector<uint16_t> half = memory_.download<uint16_t>(tensor.data);
    auto convert = request_.dtype == attn::DType::BF16 ? bf16ToFloat : halfToFloat;
    std::vector<float> values(half.size());
    for (std::size_t e = 0; e < half.size(); ++e)
      values[e] = convert(half[e]);
    return values;
  }

  const RunRequest &request_;
  const RunInputs &in_;
  attn::Attention attention_;
  DeviceMemory memory_;
  attn::BlockLayout layout_;
  attn::Tensor q_, k_, v_, o_;
  attn::CUdeviceptr lse_ = 0;
};

/// The forward (and the backward with --do) on the GPU: what is to be written.
llvm::Expected<std::vector<Output>> runOnGpu(const attn::Bundle &bundle, const RunRequest &request,
                                             const RunInputs &in) {
  std::vector<Output> outputs;
  try {
    GpuRun run(bundle, request, in);
    run.forward(outputs);
    if (request.backward())
      run.backward(outputs);
  } catch (const attn::Error &e) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), e.what());
  }
  return outputs;
}

} // namespace

llvm::Error runAttention(const attn::Bundle &bundle, const RunRequest &request) {
  llvm::Expected<RunInputs> in = loadRunInputs(bundle, request);
  if (!in)
    return in.takeError();
  llvm::Expected<std::vector<Output>> outputs = runOnGpu(bundle, request, *in);
  if (!outputs)
    return outputs.takeError();
  for (const Output &output : *outputs)
    if (llvm::Error err = writeFile(output.path, npy::encodeF32(output.shape, output.values)))
      return err;
  return llvm::Error::success();
}

} // namespace attnc
