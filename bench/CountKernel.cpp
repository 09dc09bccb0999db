//===- CountKernel.cpp - The source of attnc-bench's pair-counting kernels ===//
#include "CountKernel.h"

namespace attnc::bench {
namespace {

// Appended to a bundle's source, compiled as a forward kernel (a dtype and
// head dim defined) so that the forward's own layout structures
// (attnc_tile_lists, attnc_mma::TileList) and the pattern's
// attnc_<p>_elements come with it; PATTERN_ELEMENTS names the latter.
const char *const kCountKernels = R"(
namespace attnc_bench {

constexpr int kThreads = ATTNC_BENCH_THREADS; // kCountThreads, given by the host

/// Adds the block's `count`s to counts[h] (every thread of the block calls it).
__device__ __forceinline__ void add_block(unsigned long long count, unsigned long long *counts,
                                          int64_t h) {
  __shared__ unsigned long long warps[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2)
    count += __shfl_down_sync(0xffffffffu, count, offset);
  if (threadIdx.x % 32 == 0)
    warps[threadIdx.x / 32] = count;
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned long long total = 0;
    for (int w = 0; w < kThreads / 32; ++w)
      total += warps[w];
    atomicAdd(&counts[h], total);
  }
}

} // namespace attnc_bench

/// One block per layout row (head h, query tile t) and batch index (strided
/// by gridDim.y): the row's tiles as the forward kernel visits them.
extern "C" __global__ void __launch_bounds__(attnc_bench::kThreads)
attnc_bench_layout_pairs(attnc_shape shape, attnc_tensors tensors, attnc_tile_lists layout,
                         int64_t block_q, int64_t block_k, int64_t batch,
                         unsigned long long *counts) {
  const int64_t row = blockIdx.x, h = row / layout.rows, t = row % layout.rows;
  const attnc_mma::TileList tiles(layout, row);
  const int64_t i_lo = t * block_q, i_hi = attnc_min_i64(shape.Nq, i_lo + block_q);
  unsigned long long count = 0;
  for (int64_t b = blockIdx.y; b < batch; b += gridDim.y)
    for (int index = 0; index < tiles.total; ++index) {
      const int64_t j_lo = tiles.at(index) * block_k;
      const int64_t width = attnc_min_i64(shape.Nk, j_lo + block_k) - j_lo;
      const int64_t area = (i_hi - i_lo) * width;
      if (index >= tiles.partial_count) { // FULL: every pair in range
        count += threadIdx.x == 0 ? area : 0;
        continue;
      }
      for (int64_t e = threadIdx.x; e < area; e += blockDim.x)
        count += PATTERN_ELEMENTS::attends(shape, tensors, b, h, i_lo + e / width,
                                           j_lo + e % width) ? 1 : 0;
    }
  attnc_bench::add_block(count, counts, h);
}

/// One thread per (head, query row) over every key of every batch index.
extern "C" __global__ void __launch_bounds__(attnc_bench::kThreads)
attnc_bench_all_pairs(attnc_shape shape, attnc_tensors tensors, int64_t batch,
                      unsigned long long *counts) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, h = blockIdx.y;
  unsigned long long count = 0;
  if (i < shape.Nq)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < shape.Nk; ++j)
        count += PATTERN_ELEMENTS::attends(shape, tensors, b, h, i, j) ? 1 : 0;
  attnc_bench::add_block(count, counts, h);
}
)";

} // namespace

attn::CompileRequest countKernelRequest(const attn::Bundle &bundle, const std::string &arch) {
  // The forward's request for one dtype and head dim: the counts depend on
  // neither, and the layout's tile sizes are arguments.
  attn::CompileRequest request = attn::kernelCompileRequest(bundle, attn::DType::BF16, 64, arch);
  request.name = bundle.pattern + "_count.cu";
  request.source += kCountKernels;
  request.options.push_back("-DPATTERN_ELEMENTS=attnc_" + bundle.pattern + "_elements");
  request.options.push_back("-DATTNC_BENCH_THREADS=" + std::to_string(kCountThreads));
  return request;
}

} // namespace attnc::bench
