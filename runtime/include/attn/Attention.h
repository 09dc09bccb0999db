// Running a pattern's attention on the GPU: a bundle compiled for one dtype,
// head dimension and the current GPU (once, through the kernel cache), a block
// layout built on the GPU for a problem size, and the fused forward kernel.
// Batch, heads and sequence lengths are run-time arguments: a new N builds a
// new layout (microseconds) and never recompiles.
#pragma once

#include "attn/Bundle.h"
#include "attn/Components.h"
#include "attn/Driver.h"
#include "attn/KernelCache.h"
#include "attn/Layout.h"
#include "attn/Module.h"

#include <array>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace attn {

enum class DType { BF16, FP16 };
const char *dtypeName(DType dtype); // "bf16", "fp16"

// A device tensor in logical order [batch, heads, tokens, head dim] with
// strides in elements, so that both [B, H, N, D] and [B, N, H, D] memory work
// without copies. The head dimension must be contiguous (stride 1) and rows
// 16-byte aligned.
struct Tensor {
  CUdeviceptr data = 0;
  DType dtype = DType::BF16;
  std::array<int64_t, 4> shape{};
  std::array<int64_t, 4> strides{};

  // Contiguous [B, H, N, D].
  static Tensor bhnd(CUdeviceptr data, DType dtype, int64_t B, int64_t H, int64_t N, int64_t D);
  // Contiguous [B, N, H, D], seen as [B, H, N, D].
  static Tensor bnhd(CUdeviceptr data, DType dtype, int64_t B, int64_t H, int64_t N, int64_t D);
};

struct Problem {
  int64_t batch = 1;
  int64_t heads = 1;   // query heads H
  int64_t kvHeads = 1; // key/value heads; must divide `heads` (GQA, MQA)
  int64_t seqQ = 1, seqK = 1;
};

// The largest problem the kernels take. The compiler proves masks narrow
// (32-bit, attn.narrow_mask) for sequences up to 2^29, up to 2^16 heads and
// batch indices up to 2^20 (attnc/Dialect/Attn/NarrowMask.h).
constexpr int64_t kMaxSequenceLength = int64_t(1) << 29;
constexpr int64_t kMaxHeads = int64_t(1) << 16;
constexpr int64_t kMaxBatch = int64_t(1) << 20;

// Throws attn::Error when the kernels, with query blocks of `blockQ` rows,
// cannot run `problem`: sizes below 1 or above the limits, key/value heads
// that do not divide the heads. Attention::layout checks this first.
void checkProblem(const Problem &problem, int blockQ = 128);

// The block layout of one problem size, on the device: per (head, query
// tile) the FULL and PARTIAL key tiles, and for an Attention made for the
// backward also the backward's (64 x 64 tiles, by query for dQ and by key
// for dK, dV). Reusable for every call with that problem (and the same
// pattern tensors, which it refers to, not copies).
class BlockLayout {
public:
  const Problem &problem() const { return problem_; }
  int64_t blockQ() const { return device_.blockQ; }
  int64_t blockK() const { return device_.blockK; }
  bool hasBackward() const { return static_cast<bool>(backwardByKey_.tiles); }
  // The forward's tile lists as the kernels read them, for programs that
  // launch their own kernels over a layout (the benchmark's pair counter).
  // The rows of heads that run through their components are empty here
  // (componentHeads).
  const DeviceLayout &deviceLayout() const { return device_; }
  // The query heads whose forward runs through their set's components
  // (docs/API.md), in increasing order; empty when none does.
  std::vector<int32_t> componentHeads() const;
  // FULL and PARTIAL tiles of the forward's component lists, summed over
  // the component heads (each visits its class's components' tiles).
  std::pair<int64_t, int64_t> componentTiles() const;
  // Copies the lists to the host (tests).
  GpuLayout download() const;
  GpuLayout downloadBackward(LayoutOrder order) const;

private:
  friend class Attention;
  Problem problem_;
  DeviceLayout device_;
  DeviceLayout backwardByQuery_, backwardByKey_;
  std::vector<PatternTensor> tensors_;
  std::vector<ComponentClassLayout> componentClasses_;
};

// Where Attention::backward writes.
struct Gradients {
  Tensor dq;     // [B, H, Nq, D]
  Tensor dk, dv; // [B, Hkv, Nk, D]; summed over the query heads sharing a head
  // Per pattern tensor (bundle().tensors order): 0, or an fp32 device array
  // of the tensor's shape for its gradient, summed over every pair that reads
  // each element (the gradient is written, not added to). Only f32 tensors
  // have one (a learned bias table, a gate); empty: none wanted.
  std::vector<CUdeviceptr> tensors;
};

// How a kernel is instantiated beyond dtype and head dim.
struct KernelOptions {
  // Query rows per CTA (and per layout tile): 128, or 64 for patterns whose
  // rows visit few key tiles (windows, short documents), where the fixed cost
  // of a CTA weighs more.
  int blockQ = 128;
  // Also compile the backward kernels (and build the backward's layouts):
  // needed for Attention::backward.
  bool backward = false;
  // Run the forward of the head classes that qualify through their disjoint
  // components (componentPathSets); the environment variable
  // ATTNC_COMPONENTS=0 turns it off whatever this says (Attention reads it
  // once, when made; its options() then say false).
  bool components = true;
  // Also run the backward of those head classes through their components
  // (attnc_components_backward.cuh) instead of their set's own 64 x 64
  // tiles; needs `backward` and `components`. NOT YET VERIFIED ON A GPU, so
  // off by default: the environment variable ATTNC_COMPONENTS_BACKWARD=1
  // turns it on, ATTNC_COMPONENTS=0 off (read once, when the Attention is
  // made; its options() then say what runs).
  bool componentsBackward = false;
};

class Attention {
public:
  // Compiles `bundle` for `dtype` and `headDim` (64 or 128) for device 0's
  // architecture, through `cache` (the default cache when null). Throws
  // attn::Error: no GPU, an unsupported head dim or block, NVRTC's log
  // (naming the pattern and its file).
  Attention(const Bundle &bundle, DType dtype, int headDim, KernelCache *cache = nullptr,
            KernelOptions options = {});
  ~Attention();
  Attention(Attention &&) noexcept;
  Attention &operator=(Attention &&) noexcept;

  // `tensors` follow bundle().tensors; their dims are checked against the
  // problem. Runs on `stream`; the result is usable by later work on it.
  BlockLayout layout(const Problem &problem, const std::vector<PatternTensor> &tensors = {},
                     CUstream stream = nullptr) const;

  // O = softmax(logits) V over the pattern, and the fp32 row log-sum-exp of
  // the logits (natural log) into `lse` ([B, H, Nq] contiguous; 0 to skip).
  // q, o: [B, H, Nq, D]; k, v: [B, Hkv, Nk, D], of this dtype and head dim.
  // Rows that attend to no key get O = 0 and LSE = -inf. Asynchronous on
  // `stream`. Throws attn::Error on a shape, stride, dtype or alignment that
  // does not fit `layout`.
  void forward(const BlockLayout &layout, const Tensor &q, const Tensor &k, const Tensor &v,
               const Tensor &o, CUdeviceptr lse, CUstream stream = nullptr) const;

  // dQ, dK, dV of the forward that gave `o` and `lse` (which must be passed),
  // given dO, and the gradients of the pattern's float tensors; P is
  // recomputed from q, k and lse, so memory stays linear in N. dO:
  // [B, H, Nq, D]; see Gradients for the outputs, every element of which is
  // written. Deterministic: the same inputs give bit-identical gradients.
  // Needs KernelOptions::backward. Asynchronous on `stream` (its scratch
  // memory is allocated and freed in stream order). Throws attn::Error like
  // forward.
  void backward(const BlockLayout &layout, const Tensor &q, const Tensor &k, const Tensor &v,
                const Tensor &o, CUdeviceptr lse, const Tensor &dO, const Gradients &grads,
                CUstream stream = nullptr) const;

  const Bundle &bundle() const;
  DType dtype() const;
  int headDim() const;
  const KernelOptions &options() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The options an Attention made with `options` runs with (its options()):
// components off when the environment says ATTNC_COMPONENTS=0;
// componentsBackward on when it says ATTNC_COMPONENTS_BACKWARD=1, and only
// with backward and components.
KernelOptions kernelOptionsInEnvironment(KernelOptions options);

// The sets whose heads an Attention made with `options` runs through their
// components: componentPathSets(bundle), or none when options.components is
// false or the environment says ATTNC_COMPONENTS=0.
std::vector<std::string> forwardComponentSets(const Bundle &bundle,
                                              const KernelOptions &options);

// The NVRTC request that compiles `bundle` for `dtype`, `headDim` and `arch`
// (e.g. "sm_90a"): what Attention compiles, and `attnc compile --emit=ptx`.
// With forwardComponentSets, the component kernels too (-DATTNC_COMPONENTS),
// and with backward and componentsBackward their backward kernels
// (-DATTNC_COMPONENTS_BACKWARD).
CompileRequest kernelCompileRequest(const Bundle &bundle, DType dtype, int headDim,
                                    const std::string &arch, const KernelOptions &options = {});

// The shape `tensor` must have for `problem` and `headDim`, its declared
// dimensions (numbers, H, Nq, Nk, D) resolved.
std::vector<int64_t> tensorShape(const BundleTensor &tensor, const Problem &problem,
                                 int headDim);

// The cache Attention uses when given none (KernelCache::defaultDirectory()).
KernelCache &defaultKernelCache();

} // namespace attn
