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

/// Prints one CUDA translation unit for `pattern`, which must have been through
/// the layout pipeline: each element region as a `__device__ __forceinline__`
/// function (attnc_<pattern>_set_<name>, _attend, _bias, _score, _scale,
/// _bounds_<set> and _bounds_attend), lowered through emitc and MLIR's C++
/// emitter, then the entry points attnc_<pattern>_attends and
/// attnc_<pattern>_classify. Every function takes the run-time sizes
/// (`attnc_shape`) and tensors (`const attnc_tensors &`) first. `pattern` is
/// left as it was.
llvm::Error emitCuda(attn::PatternOp pattern, llvm::raw_ostream &os);

/// A layout kernel for one pattern, ready for attn::LayoutKernel (runtime).
struct LayoutKernelSource {
  std::string source;     // emitCuda's functions, attnc_layout.cuh, the wrapper
  std::string kernelName; // the extern "C" wrapper: attnc_<pattern>_layout
  std::vector<std::string> tensorSlots; // tensor parameters, in the order the
                                        // kernel takes them
};

/// The layout kernel of `pattern` (after the layout pipeline, as emitCuda):
/// attnc_layout_kernel instantiated with attnc_<pattern>_classify.
llvm::Expected<LayoutKernelSource> emitLayoutKernelSource(attn::PatternOp pattern);

} // namespace attnc
