#include "attn/Attention.h"

#include "attn/Error.h"
#include "attn/KernelArgs.h"
#include "attn/Kernels.h"


#include <algorithm>
#include <cstdlib>
#include <limits>
#include <tuple>

namespace attn {
namespace {

using detail::ceilDiv;

// The forward kernel's tiles and threads (attnc_forward.cuh).
constexpr int64_t kBlockN = 64;  // ATTNC_FWD_BLOCK_N
constexpr unsigned kThreads = 128; // ATTNC_FWD_THREADS, ATTNC_BWD_THREADS
constexpr int64_t kMaxGridY = 65535;
// The backward's tiles (attnc_backward.cuh): 64 queries by 64 keys.
constexpr int64_t kBackwardBlock = 64; // ATTNC_BWD_BLOCK
constexpr const char *kDeltaKernel = "attnc_backward_delta";
constexpr const char *kTensorGradFinishKernel = "attnc_backward_tensor_grad_finish";

using Strides = std::array<int64_t, 3>;

Strides stridesOf(const Tensor &tensor) {
  return {tensor.strides[0], tensor.strides[1], tensor.strides[2]};
}

// Mirrors attnc_forward_args (attnc_forward.cuh).
struct ForwardArgs {
  DeviceShape shape;
  int64_t batch, kvHeads;
  CUdeviceptr q, k, v, o, lse;
  Strides qStride, kStride, vStride, oStride;
  DeviceTileLists layout;
};

static_assert(sizeof(ForwardArgs) == 4 * 8 + 2 * 8 + 5 * 8 + 12 * 8 + sizeof(DeviceTileLists));

// Mirrors attnc_component_args (attnc_components.cuh).
struct ComponentArgs {
  DeviceShape shape;
  int64_t batch, kvHeads;
  CUdeviceptr q, k, v;
  Strides qStride, kStride, vStride;
  CUdeviceptr heads;
  int64_t headCount, queryOffset;
  std::array<int64_t, 3> queryMap, keyMap; // inner, outer_stride, inner_stride
  CUdeviceptr classes, rowOf;
  DeviceTileLists layout;
  int64_t mode;
  CUdeviceptr oAcc, lseAcc, o, lse;
  Strides oStride;
};

static_assert(sizeof(ComponentArgs) == 4 * 8 + 2 * 8 + 3 * 8 + 9 * 8 + 3 * 8 + 6 * 8 + 2 * 8 +
                                            sizeof(DeviceTileLists) + 8 + 4 * 8 + 3 * 8);

// attnc_component_mode (attnc_components.cuh): what a component's epilogue
// does, from its place among its set's components.
enum class ComponentMode : int64_t { Only = 0, First = 1, Middle = 2, Last = 3 };

ComponentMode componentMode(std::size_t index, std::size_t count) {
  if (count == 1)
    return ComponentMode::Only;
  if (index == 0)
    return ComponentMode::First;
  return index + 1 == count ? ComponentMode::Last : ComponentMode::Middle;
}

/// Device memory allocated and freed in a stream's order; none (a null
/// pointer) for 0 bytes, which the driver refuses to allocate.
class StreamScratch {
public:
  StreamScratch(std::size_t bytes, CUstream stream) : stream_(stream) {
    if (bytes > 0)
      check(driver().cuMemAllocAsync(&pointer_, bytes, stream), "cuMemAllocAsync");
  }
  ~StreamScratch() {
    if (pointer_)
      driver().cuMemFreeAsync(pointer_, stream_);
  }
  StreamScratch(const StreamScratch &) = delete;
  StreamScratch &operator=(const StreamScratch &) = delete;
  CUdeviceptr pointer() const { return pointer_; }

private:
  CUdeviceptr pointer_ = 0;
  CUstream stream_;
};

std::array<int64_t, 3> mapArgs(const TileMap &map) { return {map[2], map[3], map[4]}; }

/// Whether the environment turns the component path off (ATTNC_COMPONENTS=0).
bool componentsOffInEnvironment() {
  const char *value = std::getenv("ATTNC_COMPONENTS");
  return value && std::string(value) == "0";
}

/// Whether the environment turns the component backward on
/// (ATTNC_COMPONENTS_BACKWARD=1).
bool componentsBackwardOnInEnvironment() {
  const char *value = std::getenv("ATTNC_COMPONENTS_BACKWARD");
  return value && std::string(value) == "1";
}

// Mirrors attnc_component_backward_args (attnc_components_backward.cuh).
struct ComponentBackwardArgs {
  DeviceShape shape;
  int64_t batch, kvHeads;
  CUdeviceptr q, k, v, dO, lse, delta;
  Strides qStride, kStride, vStride, doStride;
  CUdeviceptr heads;
  int64_t headCount;
  CUdeviceptr kvHeadsOfClass, groupStart, groupHeads;
  int64_t kvCount, queryOffset;
  std::array<int64_t, 3> queryMap, keyMap;
  CUdeviceptr classes, rowOf;
  DeviceTileLists layout;
  CUdeviceptr dqAcc, dkAcc, dvAcc;
  DeviceTensorGrads tensorGrads;
};

static_assert(sizeof(ComponentBackwardArgs) == 4 * 8 + 2 * 8 + 6 * 8 + 12 * 8 + 2 * 8 + 3 * 8 +
                                                    2 * 8 + 6 * 8 + 2 * 8 +
                                                    sizeof(DeviceTileLists) + 3 * 8 +
                                                    sizeof(DeviceTensorGrads));

// Mirrors attnc_components_backward_finish_args (attnc_components_backward.cuh).
struct ComponentsBackwardFinishArgs {
  int64_t batch, seqQ, seqK, headCount, kvCount;
  CUdeviceptr heads, kvHeadsOfClass, dqAcc, dkAcc, dvAcc, dq, dk, dv;
  Strides dqStride, dkStride, dvStride;
};

static_assert(sizeof(ComponentsBackwardFinishArgs) == 5 * 8 + 8 * 8 + 9 * 8);

constexpr const char *kComponentsBackwardFinishKernel = "attnc_components_backward_finish";
// The launch bounds of attnc_components_backward_finish.
constexpr unsigned kComponentsFinishThreads = 256;

/// Whether the classes of a component with `classes` classes and tile map
/// `map` ([base, base_step, inner, outer_stride, inner_stride]) are provably
/// apart: one class, or strided classes whose bases step by at most
/// outer_stride / classes (residue classes). The component backward's
/// read-modify-write needs every row in one class.
bool classesApart(const TileMap &map, int64_t classes) {
  const int64_t baseStep = map[1], inner = map[2], outerStride = map[3];
  return classes == 1 || (inner == 1 && baseStep >= 1 && baseStep * classes <= outerStride);
}

// Mirrors attnc_backward_args (attnc_backward.cuh).
struct BackwardArgs {
  DeviceShape shape;
  int64_t batch, kvHeads;
  CUdeviceptr q, k, v, o, dO, lse, delta, dq, dk, dv;
  Strides qStride, kStride, vStride, oStride, doStride, dqStride, dkStride, dvStride;
  DeviceTileLists byQuery, byKey;
  DeviceTensorGrads tensorGrads;
};

static_assert(sizeof(BackwardArgs) ==
              4 * 8 + 2 * 8 + 10 * 8 + 24 * 8 + 2 * sizeof(DeviceTileLists) +
                  sizeof(DeviceTensorGrads));

unsigned sharedBytes(int headDim, int64_t blockQ) {
  return static_cast<unsigned>((blockQ + 2 * kBlockN) * headDim * 2);
}

// ATTNC_BWD_SMEM_BYTES: six [64 x D] tiles and per-query statistics.
unsigned backwardSharedBytes(int headDim) {
  return static_cast<unsigned>(6 * kBackwardBlock * headDim * 2 + 4 * kBackwardBlock * 4);
}

CUfunction kernelWithSharedMemory(const Module &module, const std::string &name,
                                  unsigned bytes) {
  CUfunction function = module.function(name.c_str());
  check(driver().cuFuncSetAttribute(function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                    static_cast<int>(bytes)),
        "cuFuncSetAttribute");
  return function;
}

std::string archOf(const DeviceInfo &info) {
  return "sm_" + std::to_string(info.computeCapability);
}

std::string describe(const Bundle &bundle, DType dtype, int headDim, const std::string &arch) {
  std::string text = "pattern '" + bundle.pattern + "' (" + bundle.origin;
  if (!bundle.params.empty())
    text += ", " + bundle.params;
  return text + ") for " + dtypeName(dtype) + ", head dim " + std::to_string(headDim) + ", " +
         arch;
}

std::shared_ptr<const Module> compileBundle(const Bundle &bundle, DType dtype, int headDim,
                                            const KernelOptions &options, KernelCache &cache) {
  CompileRequest request =
      kernelCompileRequest(bundle, dtype, headDim, archOf(deviceInfo()), options);
  try {
    return std::make_shared<const Module>(cache.get(request).bytes);
  } catch (const Error &error) {
    throw Error("cannot compile " + describe(bundle, dtype, headDim, request.arch) + ":\n" +
                error.what());
  }
}

std::string dimsText(const std::vector<int64_t> &dims) {
  std::string text = "[";
  for (std::size_t d = 0; d < dims.size(); ++d)
    text += (d ? ", " : "") + std::to_string(dims[d]);
  return text + "]";
}

void checkPatternTensors(const Bundle &bundle, const std::vector<PatternTensor> &tensors,
                         const Problem &problem, int headDim) {
  if (tensors.size() != bundle.tensors.size())
    throw Error("pattern '" + bundle.pattern + "' takes " +
                std::to_string(bundle.tensors.size()) + " tensor(s), " +
                std::to_string(tensors.size()) + " given");
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const BundleTensor &declared = bundle.tensors[k];
    std::vector<int64_t> expected = tensorShape(declared, problem, headDim);
    if (tensors[k].dims != expected)
      throw Error("tensor '" + declared.name + "' has shape " + dimsText(tensors[k].dims) +
                  ", the pattern expects " + dimsText(expected) + " for this problem");
    bool empty = false;
    for (int64_t dim : expected)
      empty = empty || dim == 0;
    if (!empty && tensors[k].data == 0)
      throw Error("tensor '" + declared.name + "' has no data");
  }
}

/// A q/k/v/o tensor must be [batch, heads, tokens, headDim] of the kernel's
/// dtype, with a contiguous head dimension and 16-byte aligned rows (the
/// kernel copies rows in 16-byte pieces).
void checkTensor(const char *name, const Tensor &tensor, DType dtype,
                 const std::array<int64_t, 4> &shape) {
  std::string what = std::string("tensor ") + name;
  if (tensor.dtype != dtype)
    throw Error(what + " is " + dtypeName(tensor.dtype) + ", the kernel was compiled for " +
                dtypeName(dtype));
  if (tensor.shape != shape)
    throw Error(what + " has shape " +
                dimsText({tensor.shape.begin(), tensor.shape.end()}) + ", expected " +
                dimsText({shape.begin(), shape.end()}) + " ([batch, heads, tokens, head dim])");
  if (tensor.strides[3] != 1)
    throw Error(what + ": the head dimension must be contiguous (stride 1), not " +
                std::to_string(tensor.strides[3]));
  for (int d = 0; d < 3; ++d)
    if (tensor.strides[d] < 0 || tensor.strides[d] % 8 != 0)
      throw Error(what + ": strides must be non-negative multiples of 8 elements (16 bytes), "
                         "got " + dimsText({tensor.strides.begin(), tensor.strides.end()}));
  if (tensor.data == 0 || tensor.data % 16 != 0)
    throw Error(what + ": the data pointer must be non-null and 16-byte aligned");
}

} // namespace

std::vector<int64_t> tensorShape(const BundleTensor &tensor, const Problem &problem,
                                 int headDim) {
  std::vector<int64_t> shape;
  for (const TensorDim &dim : tensor.dims)
    switch (dim.kind) {
    case TensorDim::Kind::H: shape.push_back(problem.heads); break;
    case TensorDim::Kind::Nq: shape.push_back(problem.seqQ); break;
    case TensorDim::Kind::Nk: shape.push_back(problem.seqK); break;
    case TensorDim::Kind::D: shape.push_back(headDim); break;
    case TensorDim::Kind::Constant: shape.push_back(dim.value); break;
    }
  return shape;
}

const char *dtypeName(DType dtype) { return dtype == DType::BF16 ? "bf16" : "fp16"; }

Tensor Tensor::bhnd(CUdeviceptr data, DType dtype, int64_t B, int64_t H, int64_t N, int64_t D) {
  return {data, dtype, {B, H, N, D}, {H * N * D, N * D, D, 1}};
}

Tensor Tensor::bnhd(CUdeviceptr data, DType dtype, int64_t B, int64_t H, int64_t N, int64_t D) {
  return {data, dtype, {B, H, N, D}, {N * H * D, D, H * D, 1}};
}

void checkProblem(const Problem &problem, int blockQ) {
  if (problem.batch < 1 || problem.heads < 1 || problem.kvHeads < 1 || problem.seqQ < 1 ||
      problem.seqK < 1)
    throw Error("batch, heads, key/value heads and sequence lengths must be at least 1");
  // The limits under which attnc proves masks narrow (32-bit), see
  // dialect/include/attnc/Dialect/Attn/NarrowMask.h.
  if (problem.seqQ > kMaxSequenceLength || problem.seqK > kMaxSequenceLength)
    throw Error("sequence lengths Nq = " + std::to_string(problem.seqQ) + ", Nk = " +
                std::to_string(problem.seqK) + " are too long: at most 2^29 = " +
                std::to_string(kMaxSequenceLength) + " (the masks use 32-bit indices)");
  if (problem.heads > kMaxHeads)
    throw Error("H = " + std::to_string(problem.heads) + " heads are too many: at most " +
                std::to_string(kMaxHeads));
  if (problem.batch > kMaxBatch)
    throw Error("batch " + std::to_string(problem.batch) + " is too large: at most " +
                std::to_string(kMaxBatch));
  if (problem.heads % problem.kvHeads != 0)
    throw Error("key/value heads (" + std::to_string(problem.kvHeads) +
                ") must divide query heads (" + std::to_string(problem.heads) + ")");
  if (ceilDiv(problem.seqQ, blockQ) > kMaxGridY)
    throw Error("Nq = " + std::to_string(problem.seqQ) + " is too long: at most " +
                std::to_string(kMaxGridY * blockQ));
  if (problem.batch * problem.heads > std::numeric_limits<int32_t>::max())
    throw Error("batch * heads is too large");
}

GpuLayout BlockLayout::download() const { return device_.download(); }

KernelOptions kernelOptionsInEnvironment(KernelOptions options) {
  options.components = options.components && !componentsOffInEnvironment();
  options.componentsBackward = options.backward && options.components &&
                               (options.componentsBackward || componentsBackwardOnInEnvironment());
  return options;
}

std::vector<std::string> forwardComponentSets(const Bundle &bundle,
                                              const KernelOptions &options) {
  if (!options.components || componentsOffInEnvironment())
    return {};
  return componentPathSets(bundle);
}

CompileRequest kernelCompileRequest(const Bundle &bundle, DType dtype, int headDim,
                                    const std::string &arch, const KernelOptions &options) {
  CompileRequest request;
  request.name = bundle.pattern + ".cu";
  request.source = bundle.source;
  request.headers = kernelHeaders();
  request.options = {dtype == DType::BF16 ? "-DATTNC_DTYPE_BF16" : "-DATTNC_DTYPE_FP16",
                     "-DATTNC_HEAD_DIM=" + std::to_string(headDim),
                     "-DATTNC_FWD_BLOCK_M=" + std::to_string(options.blockQ)};
  if (options.backward)
    request.options.push_back("-DATTNC_BACKWARD");
  if (!forwardComponentSets(bundle, options).empty()) {
    request.options.push_back("-DATTNC_COMPONENTS");
    if (options.backward && options.componentsBackward)
      request.options.push_back("-DATTNC_COMPONENTS_BACKWARD");
  }
  request.arch = arch;
  return request;
}

KernelCache &defaultKernelCache() {
  static KernelCache cache;
  return cache;
}

struct Attention::Impl {
  Bundle bundle;
  DType dtype;
  int headDim;
  KernelOptions options;
  std::shared_ptr<const Module> module;
  LayoutKernel layout;
  CUfunction forward;
  // With KernelOptions::backward only.
  CUfunction backwardDelta = nullptr, backwardDq = nullptr, backwardDkdv = nullptr;
  CUfunction tensorGradFinish = nullptr;
  // The component path: the sets that take it and each component's forward
  // kernel (by Bundle::components index; null for components of other sets).
  std::vector<std::string> componentSets = {};
  std::vector<CUfunction> componentForward = {};
  // With KernelOptions::componentsBackward: each component's backward
  // kernels (as componentForward) and the final pass of the accumulators.
  std::vector<CUfunction> componentBackwardDq = {}, componentBackwardDkdv = {};
  CUfunction componentsBackwardFinish = nullptr;

  void loadComponentKernels();
  std::vector<ComponentClassLayout> componentLayouts(const Problem &problem) const;
  void addBackwardLists(ComponentClassLayout &layout, const Problem &problem) const;
  void backwardComponents(const BlockLayout &layout, int64_t batch,
                          const ComponentBackwardArgs &common, const Gradients &grads,
                          CUstream stream) const;
  void forwardComponents(const BlockLayout &layout, int64_t batch, const Tensor &q,
                         const Tensor &k, const Tensor &v, const Tensor &o, CUdeviceptr lse,
                         CUstream stream) const;

  void checkProblemTensors(const BlockLayout &layout, int64_t batch, const Tensor &q,
                           const Tensor &k, const Tensor &v, const Tensor &o) const;
};

Attention::Attention(const Bundle &bundle, DType dtype, int headDim, KernelCache *cache,
                     KernelOptions options) {
  if (headDim != 64 && headDim != 128)
    throw Error("head dim " + std::to_string(headDim) + " is not supported: 64 or 128");
  if (options.blockQ != 64 && options.blockQ != 128)
    throw Error("a query block of " + std::to_string(options.blockQ) +
                " rows is not supported: 64 or 128");
  // Read once: the compile and the kernels loaded must agree.
  options = kernelOptionsInEnvironment(options);
  if (options.backward && (bundle.backwardDqKernel.empty() || bundle.backwardDkdvKernel.empty()))
    throw Error("the bundle of pattern '" + bundle.pattern +
                "' names no backward kernels: compile it again with this attnc");
  std::shared_ptr<const Module> module =
      compileBundle(bundle, dtype, headDim, options, cache ? *cache : defaultKernelCache());
  CUfunction forward = kernelWithSharedMemory(*module, bundle.forwardKernel,
                                              sharedBytes(headDim, options.blockQ));
  std::vector<ElementType> tensorTypes;
  for (const BundleTensor &tensor : bundle.tensors)
    tensorTypes.push_back(tensor.type);
  impl_.reset(new Impl{bundle, dtype, headDim, options, module,
                       LayoutKernel(module, bundle.layoutKernel, tensorTypes), forward});
  impl_->loadComponentKernels();
  if (options.backward) {
    impl_->backwardDelta = module->function(kDeltaKernel);
    impl_->tensorGradFinish = module->function(kTensorGradFinishKernel);
    impl_->backwardDq = kernelWithSharedMemory(*module, bundle.backwardDqKernel,
                                               backwardSharedBytes(headDim));
    impl_->backwardDkdv = kernelWithSharedMemory(*module, bundle.backwardDkdvKernel,
                                                 backwardSharedBytes(headDim));
  }
}

Attention::~Attention() = default;
Attention::Attention(Attention &&) noexcept = default;
Attention &Attention::operator=(Attention &&) noexcept = default;

void Attention::Impl::loadComponentKernels() {
  componentSets = forwardComponentSets(bundle, options);
  if (componentSets.empty())
    return;
  componentForward.assign(bundle.components.size(), nullptr);
  for (std::size_t c = 0; c < bundle.components.size(); ++c)
    if (std::count(componentSets.begin(), componentSets.end(), bundle.components[c].set))
      componentForward[c] = kernelWithSharedMemory(*module, bundle.components[c].forwardKernel,
                                                   sharedBytes(headDim, options.blockQ));
  if (!options.componentsBackward)
    return;
  componentBackwardDq.assign(bundle.components.size(), nullptr);
  componentBackwardDkdv.assign(bundle.components.size(), nullptr);
  for (std::size_t c = 0; c < bundle.components.size(); ++c) {
    const BundleComponent &component = bundle.components[c];
    if (!componentForward[c])
      continue;
    componentBackwardDq[c] = kernelWithSharedMemory(*module, component.backwardDqKernel,
                                                    backwardSharedBytes(headDim));
    componentBackwardDkdv[c] = kernelWithSharedMemory(*module, component.backwardDkdvKernel,
                                                      backwardSharedBytes(headDim));
  }
  componentsBackwardFinish = module->function(kComponentsBackwardFinishKernel);
}

/// The backward's share of a class's layout: its key/value heads and their
/// query heads, and its components' lists of 64 x 64 tiles in both orders.
void Attention::Impl::addBackwardLists(ComponentClassLayout &layout,
                                       const Problem &problem) const {
  const int64_t group = problem.heads / problem.kvHeads;
  std::vector<int32_t> groupStart, groupHeads;
  for (int32_t h : layout.heads) {
    const int32_t kv = static_cast<int32_t>(h / group);
    if (layout.kvHeads.empty() || layout.kvHeads.back() != kv) {
      layout.kvHeads.push_back(kv);
      groupStart.push_back(static_cast<int32_t>(groupHeads.size()));
    }
    groupHeads.push_back(h);
  }
  groupStart.push_back(static_cast<int32_t>(groupHeads.size()));
  if (problem.batch * static_cast<int64_t>(layout.kvHeads.size()) >
      std::numeric_limits<int32_t>::max())
    throw Error("batch * key/value heads is too large");
  layout.deviceKvHeads = uploadVector(layout.kvHeads);
  layout.deviceGroupStart = uploadVector(groupStart);
  layout.deviceGroupHeads = uploadVector(groupHeads);
  for (const DeviceComponentLists &forward : layout.components) {
    const std::size_t c = forward.component;
    const BundleComponent &component = bundle.components[c];
    if (!classesApart(component.queryMap, component.classes) ||
        !classesApart(component.keyMap, component.classes))
      throw Error("component " + std::to_string(c) + " of pattern '" + bundle.pattern +
                  "' has classes whose rows may overlap: its backward cannot run through its "
                  "components (without KernelOptions::componentsBackward and "
                  "ATTNC_COMPONENTS_BACKWARD=1 it runs its set's own tiles)");
    for (LayoutOrder order : {LayoutOrder::ByQuery, LayoutOrder::ByKey}) {
      ComponentTileLists lists = buildComponentTileLists(
          component, problem.seqQ, problem.seqK, kBackwardBlock, kBackwardBlock, order);
      if (lists.rows() > kMaxGridY)
        throw Error("component " + std::to_string(c) + " of pattern '" + bundle.pattern +
                    "' has " + std::to_string(lists.rows()) + " rows of backward tiles " +
                    (order == LayoutOrder::ByKey ? "by key" : "by query") +
                    " at this problem size: at most " + std::to_string(kMaxGridY) +
                    " (without KernelOptions::componentsBackward and ATTNC_COMPONENTS_BACKWARD=1 "
                    "the backward runs its set's own tiles)");
      (order == LayoutOrder::ByKey ? layout.backwardByKey : layout.backwardByQuery)
          .push_back(uploadComponentLists(c, lists));
    }
  }
}

/// Per set on the component path that has heads in `problem`: its heads and
/// its components' tile lists, built on the CPU and uploaded.
std::vector<ComponentClassLayout> Attention::Impl::componentLayouts(const Problem &problem) const {
  std::vector<ComponentClassLayout> classes;
  for (const std::string &set : componentSets) {
    ComponentClassLayout layout;
    layout.set = set;
    for (int64_t h = 0; h < problem.heads; ++h)
      if (headSet(bundle, h) == set)
        layout.heads.push_back(static_cast<int32_t>(h));
    if (layout.heads.empty())
      continue;
    if (problem.batch * static_cast<int64_t>(layout.heads.size()) >
        std::numeric_limits<int32_t>::max())
      throw Error("batch * heads is too large");
    layout.deviceHeads = uploadVector(layout.heads);
    std::vector<std::size_t> members;
    for (std::size_t c = 0; c < bundle.components.size(); ++c)
      if (bundle.components[c].set == set)
        members.push_back(c);
    for (std::size_t index = 0; index < members.size(); ++index) {
      const std::size_t c = members[index];
      // Every row is written by the only, first and last component's epilogue.
      const bool everyRow = componentMode(index, members.size()) != ComponentMode::Middle;
      ComponentTileLists lists =
          buildComponentTileLists(bundle.components[c], problem.seqQ, problem.seqK,
                                  options.blockQ, kBlockN, LayoutOrder::ByQuery, everyRow);
      if (lists.rows() > kMaxGridY)
        throw Error("component " + std::to_string(c) + " of pattern '" + bundle.pattern +
                    "' has " + std::to_string(lists.rows()) +
                    " rows of tiles at this problem size: at most " + std::to_string(kMaxGridY) +
                    " (set ATTNC_COMPONENTS=0 to run its set's own tiles)");
      layout.components.push_back(uploadComponentLists(c, lists));
    }
    if (options.componentsBackward)
      addBackwardLists(layout, problem);
    classes.push_back(std::move(layout));
  }
  return classes;
}

/// The component path of `layout`'s classes: per class, its components one
/// after another, merged by log-sum-exp through an fp32 accumulator when
/// there are several (attnc_components.cuh). The scratch is allocated and
/// freed in stream order, once for the largest class that needs it.
void Attention::Impl::forwardComponents(const BlockLayout &layout, int64_t batch,
                                        const Tensor &q, const Tensor &k, const Tensor &v,
                                        const Tensor &o, CUdeviceptr lse,
                                        CUstream stream) const {
  const Problem &problem = layout.problem();
  std::size_t mostHeads = 0;
  for (const ComponentClassLayout &cls : layout.componentClasses_)
    if (cls.components.size() > 1)
      mostHeads = std::max(mostHeads, cls.heads.size());
  const std::size_t rows = static_cast<std::size_t>(batch) * mostHeads * problem.seqQ;
  StreamScratch oAcc(rows * headDim * sizeof(float), stream);
  StreamScratch lseAcc(rows * sizeof(float), stream);
  DeviceTensors tensors = describeTensors(layout.tensors_);
  for (const ComponentClassLayout &cls : layout.componentClasses_) {
    const int64_t headCount = static_cast<int64_t>(cls.heads.size());
    for (std::size_t index = 0; index < cls.components.size(); ++index) {
      const DeviceComponentLists &lists = cls.components[index];
      const BundleComponent &component = bundle.components[lists.component];
      ComponentArgs args{{problem.heads, problem.seqQ, problem.seqK, headDim},
                         batch,
                         problem.kvHeads,
                         q.data,
                         k.data,
                         v.data,
                         stridesOf(q),
                         stridesOf(k),
                         stridesOf(v),
                         cls.deviceHeads->pointer(),
                         headCount,
                         component.aligned ? problem.seqK - problem.seqQ : 0,
                         mapArgs(component.queryMap),
                         mapArgs(component.keyMap),
                         lists.classes->pointer(),
                         lists.rowOf->pointer(),
                         lists.tileLists(),
                         static_cast<int64_t>(componentMode(index, cls.components.size())),
                         oAcc.pointer(),
                         lseAcc.pointer(),
                         o.data,
                         lse,
                         stridesOf(o)};
      if (lists.rows == 0)
        continue;
      void *params[] = {&args, &tensors};
      launch(componentForward[lists.component],
             Dim3{static_cast<unsigned>(batch * headCount), static_cast<unsigned>(lists.rows)},
             Dim3{kThreads}, params, sharedBytes(headDim, options.blockQ), stream);
    }
  }
}

/// The component backward of `layout`'s classes (attnc_components_backward.cuh):
/// per class, fp32 accumulators of dQ, dK and dV at 0, each component's dQ and
/// dK/dV kernels added into them, then dQ written and dK, dV added into what
/// the contiguous backward wrote. The scratch is allocated and freed in
/// stream order, once for the largest class.
void Attention::Impl::backwardComponents(const BlockLayout &layout, int64_t batch,
                                         const ComponentBackwardArgs &common,
                                         const Gradients &grads, CUstream stream) const {
  const Problem &problem = layout.problem();
  std::size_t mostHeads = 0, mostKvHeads = 0;
  for (const ComponentClassLayout &cls : layout.componentClasses_) {
    mostHeads = std::max(mostHeads, cls.heads.size());
    mostKvHeads = std::max(mostKvHeads, cls.kvHeads.size());
  }
  const std::size_t D = static_cast<std::size_t>(headDim);
  const std::size_t queryRows = static_cast<std::size_t>(batch) * mostHeads * problem.seqQ;
  const std::size_t keyRows = static_cast<std::size_t>(batch) * mostKvHeads * problem.seqK;
  StreamScratch dqAcc(queryRows * D * sizeof(float), stream);
  StreamScratch dkAcc(keyRows * D * sizeof(float), stream);
  StreamScratch dvAcc(keyRows * D * sizeof(float), stream);
  DeviceTensors tensors = describeTensors(layout.tensors_);
  const unsigned shared = backwardSharedBytes(headDim);
  for (const ComponentClassLayout &cls : layout.componentClasses_) {
    const int64_t headCount = static_cast<int64_t>(cls.heads.size());
    const int64_t kvCount = static_cast<int64_t>(cls.kvHeads.size());
    const std::size_t classQueryRows = static_cast<std::size_t>(batch * headCount * problem.seqQ);
    const std::size_t classKeyRows = static_cast<std::size_t>(batch * kvCount * problem.seqK);
    for (const StreamScratch *acc : {&dqAcc, &dkAcc, &dvAcc})
      check(driver().cuMemsetD32Async(acc->pointer(), 0,
                                      (acc == &dqAcc ? classQueryRows : classKeyRows) * D, stream),
            "cuMemsetD32Async");
    ComponentBackwardArgs args = common;
    args.heads = cls.deviceHeads->pointer();
    args.headCount = headCount;
    args.kvHeadsOfClass = cls.deviceKvHeads->pointer();
    args.groupStart = cls.deviceGroupStart->pointer();
    args.groupHeads = cls.deviceGroupHeads->pointer();
    args.kvCount = kvCount;
    args.dqAcc = dqAcc.pointer();
    args.dkAcc = dkAcc.pointer();
    args.dvAcc = dvAcc.pointer();
    for (std::size_t n = 0; n < cls.backwardByQuery.size(); ++n) {
      const DeviceComponentLists &byQuery = cls.backwardByQuery[n], &byKey = cls.backwardByKey[n];
      const BundleComponent &component = bundle.components[byQuery.component];
      args.queryOffset = component.aligned ? problem.seqK - problem.seqQ : 0;
      args.queryMap = mapArgs(component.queryMap);
      args.keyMap = mapArgs(component.keyMap);
      void *params[] = {&args, &tensors};
      for (auto [lists, kernel, ctas] :
           {std::tuple{&byQuery, componentBackwardDq[byQuery.component], batch * headCount},
            std::tuple{&byKey, componentBackwardDkdv[byKey.component], batch * kvCount}}) {
        if (lists->rows == 0)
          continue;
        args.classes = lists->classes->pointer();
        args.rowOf = lists->rowOf->pointer();
        args.layout = lists->tileLists();
        launch(kernel, Dim3{static_cast<unsigned>(ctas), static_cast<unsigned>(lists->rows)},
               Dim3{kThreads}, params, shared, stream);
      }
    }
    ComponentsBackwardFinishArgs finish{batch,
                                        problem.seqQ,
                                        problem.seqK,
                                        headCount,
                                        kvCount,
                                        cls.deviceHeads->pointer(),
                                        cls.deviceKvHeads->pointer(),
                                        dqAcc.pointer(),
                                        dkAcc.pointer(),
                                        dvAcc.pointer(),
                                        grads.dq.data,
                                        grads.dk.data,
                                        grads.dv.data,
                                        stridesOf(grads.dq),
                                        stridesOf(grads.dk),
                                        stridesOf(grads.dv)};
    void *params[] = {&finish};
    const int64_t threads =
        static_cast<int64_t>(classQueryRows + classKeyRows) * (headDim / 2);
    launch(componentsBackwardFinish,
           Dim3{static_cast<unsigned>(ceilDiv(threads, kComponentsFinishThreads))},
           Dim3{kComponentsFinishThreads}, params, 0, stream);
  }
}

const Bundle &Attention::bundle() const { return impl_->bundle; }
DType Attention::dtype() const { return impl_->dtype; }
int Attention::headDim() const { return impl_->headDim; }
const KernelOptions &Attention::options() const { return impl_->options; }

BlockLayout Attention::layout(const Problem &problem, const std::vector<PatternTensor> &tensors,
                              CUstream stream) const {
  checkProblem(problem, impl_->options.blockQ);
  checkPatternTensors(impl_->bundle, tensors, problem, impl_->headDim);
  const bool backward = impl_->options.backward;
  if (backward) {
    checkProblem(problem, kBackwardBlock);
    if (ceilDiv(problem.seqK, kBackwardBlock) > kMaxGridY)
      throw Error("Nk = " + std::to_string(problem.seqK) + " is too long for the backward: at most " +
                  std::to_string(kMaxGridY * kBackwardBlock));
  }
  BlockLayout layout;
  layout.problem_ = problem;
  layout.tensors_ = tensors;
  layout.componentClasses_ = impl_->componentLayouts(problem);
  LayoutShape shape{problem.heads, problem.seqQ, problem.seqK, impl_->headDim, problem.batch};
  // The forward's own tiles skip the heads that run through their components.
  std::shared_ptr<DeviceBuffer> skipHeads;
  if (!layout.componentClasses_.empty()) {
    std::vector<int32_t> skip(problem.heads, 0);
    for (int32_t h : layout.componentHeads())
      skip[h] = 1;
    skipHeads = std::make_shared<DeviceBuffer>(skip.size() * sizeof(int32_t));
    skipHeads->upload(skip.data());
  }
  layout.device_ = impl_->layout.buildOnDevice(shape, impl_->options.blockQ, kBlockN, tensors,
                                               stream, LayoutOrder::ByQuery, skipHeads);
  if (backward) {
    // The backward's own tiles skip them too when their backward runs
    // through their components; their dK, dV rows then get zeros there, to
    // which the components' finish adds.
    std::shared_ptr<DeviceBuffer> backwardSkip =
        impl_->options.componentsBackward ? skipHeads : nullptr;
    layout.backwardByQuery_ =
        impl_->layout.buildOnDevice(shape, kBackwardBlock, kBackwardBlock, tensors, stream,
                                    LayoutOrder::ByQuery, backwardSkip);
    layout.backwardByKey_ =
        impl_->layout.buildOnDevice(shape, kBackwardBlock, kBackwardBlock, tensors, stream,
                                    LayoutOrder::ByKey, backwardSkip);
  }
  return layout;
}

/// The batch size the tensors must have: a layout holds for any batch size
/// when the mask does not read b.
int64_t batchOf(const Bundle &bundle, const Problem &problem, const Tensor &q) {
  return bundle.readsBatch ? problem.batch : q.shape[0];
}

void Attention::Impl::checkProblemTensors(const BlockLayout &layout, int64_t batch,
                                          const Tensor &q, const Tensor &k, const Tensor &v,
                                          const Tensor &o) const {
  const Problem &problem = layout.problem();
  if (!layout.device_.tiles)
    throw Error("the layout is empty: build it with Attention::layout");
  checkTensor("q", q, dtype, {batch, problem.heads, problem.seqQ, headDim});
  checkTensor("k", k, dtype, {batch, problem.kvHeads, problem.seqK, headDim});
  checkTensor("v", v, dtype, {batch, problem.kvHeads, problem.seqK, headDim});
  checkTensor("o", o, dtype, {batch, problem.heads, problem.seqQ, headDim});
  if (batch * problem.heads > std::numeric_limits<int32_t>::max())
    throw Error("batch * heads is too large");
}

void Attention::forward(const BlockLayout &layout, const Tensor &q, const Tensor &k,
                        const Tensor &v, const Tensor &o, CUdeviceptr lse,
                        CUstream stream) const {
  const Problem &problem = layout.problem();
  int64_t batch = batchOf(impl_->bundle, problem, q);
  impl_->checkProblemTensors(layout, batch, q, k, v, o);
  if (layout.device_.blockQ != impl_->options.blockQ || layout.device_.blockK != kBlockN)
    throw Error("the layout was built with other tile sizes than this kernel's");
  if (lse % 4 != 0)
    throw Error("lse must be 4-byte aligned");

  // The layout checked its tensors against its problem when it was built.
  DeviceTensors tensors = describeTensors(layout.tensors_);
  ForwardArgs args{{problem.heads, problem.seqQ, problem.seqK, impl_->headDim},
                   batch,
                   problem.kvHeads,
                   q.data,
                   k.data,
                   v.data,
                   o.data,
                   lse,
                   stridesOf(q),
                   stridesOf(k),
                   stridesOf(v),
                   stridesOf(o),
                   deviceTileLists(layout.device_)};
  void *params[] = {&args, &tensors};
  Dim3 grid{static_cast<unsigned>(batch * problem.heads),
            static_cast<unsigned>(layout.device_.rows)};
  // When every head runs through its components the forward's own kernel
  // has nothing to do.
  if (layout.componentHeads().size() < static_cast<std::size_t>(problem.heads))
    launch(impl_->forward, grid, Dim3{kThreads}, params,
           sharedBytes(impl_->headDim, impl_->options.blockQ), stream);
  if (!layout.componentClasses_.empty())
    impl_->forwardComponents(layout, batch, q, k, v, o, lse, stream);
}

std::vector<int32_t> BlockLayout::componentHeads() const {
  std::vector<int32_t> heads;
  for (const ComponentClassLayout &cls : componentClasses_)
    heads.insert(heads.end(), cls.heads.begin(), cls.heads.end());
  std::sort(heads.begin(), heads.end());
  return heads;
}

std::pair<int64_t, int64_t> BlockLayout::componentTiles() const {
  std::pair<int64_t, int64_t> tiles{0, 0};
  for (const ComponentClassLayout &cls : componentClasses_)
    for (const DeviceComponentLists &lists : cls.components) {
      const int64_t heads = static_cast<int64_t>(cls.heads.size());
      tiles.first += heads * lists.fullTiles;
      tiles.second += heads * lists.partialTiles;
    }
  return tiles;
}

namespace {

int64_t elementCount(const std::vector<int64_t> &dims) {
  int64_t count = 1;
  for (int64_t dim : dims)
    count *= dim;
  return count;
}

/// Zeroed fixed-point accumulators (attnc_grad_word) for each pattern tensor
/// whose gradient `grads` asks for; `words` keeps them (null for the others).
DeviceTensorGrads tensorGradWords(const Bundle &bundle, const std::vector<PatternTensor> &tensors,
                                  const Gradients &grads, CUstream stream,
                                  std::vector<std::unique_ptr<StreamScratch>> &words) {
  if (!grads.tensors.empty() && grads.tensors.size() != bundle.tensors.size())
    throw Error("Gradients::tensors has " + std::to_string(grads.tensors.size()) +
                " entries; pattern '" + bundle.pattern + "' has " +
                std::to_string(bundle.tensors.size()) + " tensor(s) (or leave it empty)");
  DeviceTensorGrads device{};
  words.resize(grads.tensors.size());
  for (std::size_t k = 0; k < grads.tensors.size(); ++k) {
    if (grads.tensors[k] == 0)
      continue;
    const BundleTensor &tensor = bundle.tensors[k];
    if (tensor.type != ElementType::F32)
      throw Error("tensor '" + tensor.name + "' is " + elementTypeName(tensor.type) +
                  ": only f32 tensors have a gradient");
    if (grads.tensors[k] % 4 != 0)
      throw Error("the gradient of tensor '" + tensor.name + "' must be 4-byte aligned");
    int64_t count = elementCount(tensors[k].dims);
    if (count == 0)
      continue;
    words[k] = std::make_unique<StreamScratch>(static_cast<std::size_t>(count) * 8, stream);
    check(driver().cuMemsetD32Async(words[k]->pointer(), 0, static_cast<std::size_t>(count) * 2,
                                    stream),
          "cuMemsetD32Async");
    device.g[k] = words[k]->pointer();
  }
  return device;
}

} // namespace

void Attention::backward(const BlockLayout &layout, const Tensor &q, const Tensor &k,
                         const Tensor &v, const Tensor &o, CUdeviceptr lse, const Tensor &dO,
                         const Gradients &grads, CUstream stream) const {
  const Tensor &dq = grads.dq, &dk = grads.dk, &dv = grads.dv;
  if (!impl_->options.backward)
    throw Error("backward needs an Attention made with KernelOptions::backward = true");
  const Problem &problem = layout.problem();
  int64_t batch = batchOf(impl_->bundle, problem, q);
  impl_->checkProblemTensors(layout, batch, q, k, v, o);
  if (!layout.hasBackward())
    throw Error("the layout has no backward lists: build it with an Attention made with "
                "KernelOptions::backward = true");
  int64_t D = impl_->headDim;
  checkTensor("dO", dO, impl_->dtype, {batch, problem.heads, problem.seqQ, D});
  checkTensor("dq", dq, impl_->dtype, {batch, problem.heads, problem.seqQ, D});
  checkTensor("dk", dk, impl_->dtype, {batch, problem.kvHeads, problem.seqK, D});
  checkTensor("dv", dv, impl_->dtype, {batch, problem.kvHeads, problem.seqK, D});
  if (lse == 0 || lse % 4 != 0)
    throw Error("lse (the forward's, [B, H, Nq] fp32) must be non-null and 4-byte aligned");

  std::vector<std::unique_ptr<StreamScratch>> gradWords;
  DeviceTensorGrads tensorGrads = tensorGradWords(impl_->bundle, layout.tensors_, grads, stream, gradWords);

  int64_t rows = batch * problem.heads * problem.seqQ;
  constexpr int64_t kDeltaRowsPerBlock = kThreads / 32;
  if (ceilDiv(rows, kDeltaRowsPerBlock) > std::numeric_limits<int32_t>::max())
    throw Error("batch * heads * Nq is too large");
  StreamScratch delta(static_cast<std::size_t>(rows) * sizeof(float), stream);
  DeviceTensors tensors = describeTensors(layout.tensors_);
  BackwardArgs args{{problem.heads, problem.seqQ, problem.seqK, D},
                    batch,
                    problem.kvHeads,
                    q.data,
                    k.data,
                    v.data,
                    o.data,
                    dO.data,
                    lse,
                    delta.pointer(),
                    dq.data,
                    dk.data,
                    dv.data,
                    stridesOf(q),
                    stridesOf(k),
                    stridesOf(v),
                    stridesOf(o),
                    stridesOf(dO),
                    stridesOf(dq),
                    stridesOf(dk),
                    stridesOf(dv),
                    deviceTileLists(layout.backwardByQuery_),
                    deviceTileLists(layout.backwardByKey_),
                    tensorGrads};
  void *deltaParams[] = {&args};
  launch(impl_->backwardDelta, Dim3{static_cast<unsigned>(ceilDiv(rows, kDeltaRowsPerBlock))},
         Dim3{kThreads}, deltaParams, 0, stream);
  void *params[] = {&args, &tensors};
  unsigned shared = backwardSharedBytes(impl_->headDim);
  launch(impl_->backwardDkdv,
         Dim3{static_cast<unsigned>(batch * problem.kvHeads),
              static_cast<unsigned>(layout.backwardByKey_.rows)},
         Dim3{kThreads}, params, shared, stream);
  launch(impl_->backwardDq,
         Dim3{static_cast<unsigned>(batch * problem.heads),
              static_cast<unsigned>(layout.backwardByQuery_.rows)},
         Dim3{kThreads}, params, shared, stream);
  if (impl_->options.componentsBackward && !layout.componentClasses_.empty()) {
    ComponentBackwardArgs common{};
    common.shape = args.shape;
    common.batch = batch;
    common.kvHeads = problem.kvHeads;
    common.q = q.data;
    common.k = k.data;
    common.v = v.data;
    common.dO = dO.data;
    common.lse = lse;
    common.delta = delta.pointer();
    common.qStride = stridesOf(q);
    common.kStride = stridesOf(k);
    common.vStride = stridesOf(v);
    common.doStride = stridesOf(dO);
    common.tensorGrads = tensorGrads;
    impl_->backwardComponents(layout, batch, common, grads, stream);
  }
  for (std::size_t k = 0; k < gradWords.size(); ++k) {
    if (!gradWords[k])
      continue;
    CUdeviceptr words = gradWords[k]->pointer(), out = grads.tensors[k];
    int64_t count = elementCount(layout.tensors_[k].dims);
    void *finishParams[] = {&words, &out, &count};
    constexpr int64_t kFinishThreads = 256;
    launch(impl_->tensorGradFinish,
           Dim3{static_cast<unsigned>(ceilDiv(count, kFinishThreads))},
           Dim3{static_cast<unsigned>(kFinishThreads)}, finishParams, 0, stream);
  }
}

GpuLayout BlockLayout::downloadBackward(LayoutOrder order) const {
  if (!hasBackward())
    throw Error("the layout has no backward lists");
  return (order == LayoutOrder::ByKey ? backwardByKey_ : backwardByQuery_).download();
}

} // namespace attn
