//===- CountKernel.h - The source of attnc-bench's pair-counting kernels --===//
//
// Two kernels appended to a pattern's bundle and compiled as its forward
// kernel is (so that the forward's layout structures and the pattern's
// attnc_<p>_elements come with them): attnc_bench_layout_pairs counts the
// attended pairs from a forward layout, attnc_bench_all_pairs over every
// (b, h, i, j). Here, apart from PairCounter, so that a unit test compiles
// them with NVRTC on a machine without a GPU.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attn/Attention.h"
#include "attn/Nvrtc.h"

#include <string>

namespace attnc::bench {

constexpr unsigned kCountThreads = 256; // threads per block of both kernels

/// The NVRTC request for `bundle`'s counting kernels on `arch` ("sm_90").
attn::CompileRequest countKernelRequest(const attn::Bundle &bundle, const std::string &arch);

} // namespace attnc::bench
