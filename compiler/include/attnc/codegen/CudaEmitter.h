//===- CudaEmitter.h - CUDA C++ for a pattern's element functions ---------===//
#pragma once

#include "attnc/Dialect/Attn/AttnOps.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace attnc {

/// File name of the device helpers the generated source includes
/// (runtime/kernels/attnc_builtins.cuh).
inline constexpr const char *kCudaBuiltinsHeader = "attnc_builtins.cuh";
/// The layout kernel template (runtime/kernels/attnc_layout.cuh).
inline constexpr const char *kCudaLayoutHeader = "attnc_layout.cuh";
/// The forward kernel template (runtime/kernels/attnc_forward.cuh).
inline constexpr const char *kCudaForwardHeader = "attnc_forward.cuh";
/// The backward kernel templates (runtime/kernels/attnc_backward.cuh).
inline constexpr const char *kCudaBackwardHeader = "attnc_backward.cuh";
/// The component forward kernel and merge (runtime/kernels/attnc_components.cuh).
inline constexpr const char *kCudaComponentsHeader = "attnc_components.cuh";
/// The component backward kernels (runtime/kernels/attnc_components_backward.cuh).
inline constexpr const char *kCudaComponentsBackwardHeader = "attnc_components_backward.cuh";

/// Prints one CUDA translation unit for `pattern`, which must have been through
/// the layout pipeline: each element region as a `__device__ __forceinline__`
/// function (attnc_<pattern>_set_<name>, _attend, _bias, _score, _score_grad, _scale,
/// _bounds_<set>, _bounds_attend, _tensor_grad and _component<k>_predicate),
/// lowered through emitc and MLIR's C++ emitter, then the entry points
/// attnc_<pattern>_attends, attnc_<pattern>_component<k>_attends and
/// attnc_<pattern>_classify. Every function takes the run-time sizes
/// (`attnc_shape`) and tensors (`const attnc_tensors &`) first; _tensor_grad,
/// a void function, then takes the gradients (`const attnc_tensor_grads &`).
/// `pattern` is left as it was. A pattern marked attn.narrow_mask (by
/// attn-narrow-mask) gets its mask functions (_set_<name>, _attend) in 32-bit
/// integers, with the same attnc_<pattern>_attends signature.
llvm::Error emitCuda(attn::PatternOp pattern, llvm::raw_ostream &os);

/// Whether `pattern`'s mask is emitted in 32-bit integers: it carries
/// attn.narrow_mask. An error when it carries it but the proof fails on it.
llvm::Expected<bool> narrowMask(attn::PatternOp pattern);

/// The kernels of one pattern, ready for the runtime: the layout kernel
/// (attn::LayoutKernel) and, when compiled with -DATTNC_HEAD_DIM=64|128 and
/// -DATTNC_DTYPE_BF16|FP16, the forward kernel (attn::Attention), and with
/// -DATTNC_BACKWARD too, the backward kernels.
struct KernelSource {
  std::string source;        // emitCuda's functions, the templates, the wrappers
  std::string layoutKernel;  // extern "C" attnc_<pattern>_layout
  std::string forwardKernel; // extern "C" attnc_<pattern>_forward
  std::string backwardDqKernel;   // extern "C" attnc_<pattern>_backward_dq
  std::string backwardDkdvKernel; // extern "C" attnc_<pattern>_backward_dkdv
  std::vector<std::string> tensorSlots; // tensor parameters, in the order the
                                        // kernels take them
  /// Per attn.component, in IR order: its device predicate
  /// (attnc_<pattern>_component<k>_attends), its extern "C" forward kernel
  /// (attnc_<pattern>_component<k>_forward, with -DATTNC_COMPONENTS) and
  /// backward kernels (attnc_<pattern>_component<k>_backward_dq and
  /// _backward_dkdv, with -DATTNC_COMPONENTS_BACKWARD).
  struct Component {
    std::string attends, forwardKernel, backwardDqKernel, backwardDkdvKernel;
  };
  std::vector<Component> components;
};

/// The kernels of `pattern` (after the layout pipeline, as emitCuda):
/// attnc_layout_kernel instantiated with attnc_<pattern>_classify, and
/// attnc_forward_kernel with attnc_<pattern>_elements.
llvm::Expected<KernelSource> emitKernelSource(attn::PatternOp pattern);

} // namespace attnc
