//===- attnc_forward.cuh - The fused attention forward kernel (sm_80+) ----===//
//
// O = softmax(logits) V over a pattern's block layout, and the row
// log-sum-exp, in the FlashAttention-2 shape: one CTA of four warps per
// (batch, head, query tile of 128); each warp owns 32 query rows. Only the
// key tiles of the layout row are visited, PARTIAL ones first, then FULL
// ones; the pattern's mask is evaluated on PARTIAL tiles only, its bias and
// score rewrite on every visited pair, before an fp32 online softmax.
//
// Portable path: mma.sync m16n8k16, ldmatrix from XOR-swizzled shared memory,
// cp.async loads overlapped with compute (V of a tile while its scores are
// computed, K of the next tile while its softmax and P·V run). A Hopper path
// (TMA, wgmma) is to slot in behind the same attnc_forward_args and
// attnc_forward_kernel<Pattern> interface.
//
// Compile with -DATTNC_DTYPE_BF16 or -DATTNC_DTYPE_FP16 and
// -DATTNC_HEAD_DIM=64 or 128. A generated source instantiates it:
//   extern "C" __global__ void
//   __launch_bounds__(ATTNC_FWD_THREADS, ATTNC_FWD_MIN_BLOCKS)
//   attnc_<p>_forward(attnc_forward_args args, attnc_tensors tensors) {
//     attnc_forward_kernel<attnc_<p>_elements>(args, tensors);
//   }
// where attnc_<p>_elements gives has_bias, has_score, attends, bias, score
// and scale (see compiler/lib/codegen/CudaEmitter.cpp).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc_mma.cuh"

// Query rows per CTA: 128 (32 per warp) by default; 64 (16 per warp) halves
// the work per CTA for patterns whose rows visit few tiles.
#ifndef ATTNC_FWD_BLOCK_M
#define ATTNC_FWD_BLOCK_M 128
#endif
#if ATTNC_FWD_BLOCK_M != 64 && ATTNC_FWD_BLOCK_M != 128
#error "ATTNC_FWD_BLOCK_M must be 64 or 128"
#endif
#define ATTNC_FWD_BLOCK_N 64
#define ATTNC_FWD_THREADS 128 // attnc_mma::kThreads
// CTAs an SM must hold at once: with 64 rows the registers allow three.
#define ATTNC_FWD_MIN_BLOCKS (ATTNC_FWD_BLOCK_M == 64 ? 3 : 1)

/// What the forward kernel is given; the host mirrors it
/// (runtime/lib/Attention.cpp). Strides are in elements, for the batch, head
/// and token dimensions; the head dimension is contiguous.
struct attnc_forward_args {
  attnc_shape shape; // H: query heads
  int64_t batch, kv_heads;
  const void *q, *k, *v;
  void *o;
  float *lse; // [batch, H, Nq]; null: not written
  int64_t q_stride[3], k_stride[3], v_stride[3], o_stride[3];
  attnc_tile_lists layout; // row h * rows + t: the key tiles of query tile t
};

namespace attnc_fwd {

using namespace attnc_mma;

constexpr int kBlockM = ATTNC_FWD_BLOCK_M;
constexpr int kBlockN = ATTNC_FWD_BLOCK_N;
constexpr int kRowsPerWarp = kBlockM / (kThreads / 32);
constexpr int kMTiles = kRowsPerWarp / 16; // m16 tiles per warp
constexpr int kNTiles = kBlockN / 8;       // n8 tiles of a score row
static_assert(kThreads == ATTNC_FWD_THREADS, "one CTA size for the launch and the kernel");

//===----------------------------------------------------------------------===//
// The online softmax
//===----------------------------------------------------------------------===//

/// The running state of this lane's rows: row r = 2 * m + (e >= 2). `max` is
/// in base-2 logits; `sum` is this lane's share of the row sum (the quad's
/// lanes are added once, at the end).
struct RowState {
  float max[2 * kMTiles];
  float sum[2 * kMTiles];
};

/// Folds one tile of logits into the running max and sum, rescales the
/// output, and leaves the tile's probabilities in `s`.
__device__ __forceinline__ void online_softmax(float (&s)[kMTiles][kNTiles][4],
                                               float (&o)[kMTiles][kDTiles][4], RowState &rows) {
#pragma unroll
  for (int m = 0; m < kMTiles; ++m)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      int r = 2 * m + half;
      float tile_max = neg_inf();
#pragma unroll
      for (int n = 0; n < kNTiles; ++n)
        tile_max = fmaxf(tile_max, fmaxf(s[m][n][2 * half], s[m][n][2 * half + 1]));
      float new_max = fmaxf(rows.max[r], quad_max(tile_max));
      // A row with nothing attended so far keeps max -inf; subtracting 0
      // then keeps exp2(-inf) = 0 instead of NaN.
      float base = new_max == neg_inf() ? 0.f : new_max;
      float correction = attnc_exp2_approx(rows.max[r] - base);
      rows.max[r] = new_max;
      float sum = 0.f;
#pragma unroll
      for (int n = 0; n < kNTiles; ++n)
#pragma unroll
        for (int e = 2 * half; e < 2 * half + 2; ++e) {
          s[m][n][e] = attnc_exp2_approx(s[m][n][e] - base);
          sum += s[m][n][e];
        }
      rows.sum[r] = rows.sum[r] * correction + sum;
#pragma unroll
      for (int d = 0; d < kDTiles; ++d) {
        o[m][d][2 * half] *= correction;
        o[m][d][2 * half + 1] *= correction;
      }
    }
}

/// The rows of Q of head h and of K and V of head kv_h of batch b, and the
/// Q, K and V tiles in shared memory.
struct Operands {
  const uint16_t *q, *k, *v;
  uint32_t q_smem, k_smem, v_smem;
};

template <typename Args>
__device__ __forceinline__ Operands operands(const Args &args, const uint16_t *smem, int64_t b,
                                             int64_t h, int64_t kv_h) {
  Operands at;
  at.q = head_base(args.q, args.q_stride, b, h);
  at.k = head_base(args.k, args.k_stride, b, kv_h);
  at.v = head_base(args.v, args.v_stride, b, kv_h);
  at.q_smem = smem_address(smem);
  at.k_smem = at.q_smem + kBlockM * kD * 2;
  at.v_smem = at.k_smem + kBlockN * kD * 2;
  return at;
}

/// O = 0 and an empty running state: no key seen yet.
__device__ __forceinline__ void clear_rows(float (&o)[kMTiles][kDTiles][4], RowState &rows) {
#pragma unroll
  for (int m = 0; m < kMTiles; ++m)
#pragma unroll
    for (int d = 0; d < kDTiles; ++d)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        o[m][d][e] = 0.f;
#pragma unroll
  for (int r = 0; r < 2 * kMTiles; ++r) {
    rows.max[r] = neg_inf();
    rows.sum[r] = 0.f;
  }
}

//===----------------------------------------------------------------------===//
// Epilogue
//===----------------------------------------------------------------------===//

/// O = o / sum and LSE = ln(sum) + max for the rows below Nq; a row that
/// attended to nothing gets O = 0 and LSE = -inf.
__device__ __forceinline__ void write_output(const attnc_forward_args &args,
                                             const float (&o)[kMTiles][kDTiles][4],
                                             RowState &rows, int64_t b, int64_t h, int64_t q0,
                                             int warp_row, int lane) {
  uint16_t *out = (uint16_t *)args.o + b * args.o_stride[0] + h * args.o_stride[1];
#pragma unroll
  for (int m = 0; m < kMTiles; ++m)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      int r = 2 * m + half;
      float sum = quad_sum(rows.sum[r]);
      float inverse = sum > 0.f ? 1.f / sum : 0.f;
      int64_t i = q0 + element_row(warp_row, m, 2 * half, lane);
      if (i >= args.shape.Nq)
        continue;
      uint16_t *row = out + i * args.o_stride[2];
#pragma unroll
      for (int d = 0; d < kDTiles; ++d) {
        uint32_t packed =
            pack(o[m][d][2 * half] * inverse, o[m][d][2 * half + 1] * inverse);
        *(uint32_t *)(row + element_col(d, 0, lane)) = packed;
      }
      if (args.lse && lane % 4 == 0)
        args.lse[(b * args.shape.H + h) * args.shape.Nq + i] =
            sum > 0.f ? (rows.max[r] + __log2f(sum)) * kLn2 : neg_inf();
    }
}

} // namespace attnc_fwd

//===----------------------------------------------------------------------===//
// The kernel
//===----------------------------------------------------------------------===//

/// Bytes of dynamic shared memory: Q, one K and one V tile.
#define ATTNC_FWD_SMEM_BYTES                                                   \
  ((ATTNC_FWD_BLOCK_M + 2 * ATTNC_FWD_BLOCK_N) * ATTNC_HEAD_DIM * 2)

/// One key tile: S = Q·Kᵀ, its logits at `pairs`, the online softmax and
/// O += P·V. `load_v(smem)` issues the copy of this tile's V, and, when
/// `more`, `load_next_k(smem)` that of the next tile's K.
template <typename Pattern, bool Partial, typename Pairs, typename LoadV, typename LoadNextK>
__device__ __forceinline__ void attnc_forward_tile(
    float (&o)[attnc_fwd::kMTiles][attnc_fwd::kDTiles][4], attnc_fwd::RowState &rows,
    const attnc_fwd::TileContext &tile, const Pairs &pairs, uint32_t q_smem, uint32_t k_smem,
    uint32_t v_smem, int warp_row, int lane, bool more, const LoadV &load_v,
    const LoadNextK &load_next_k) {
  using namespace attnc_fwd;
  // V of this tile streams in while its scores are computed.
  load_v(v_smem);
  cp_async_commit();
  float s[kMTiles][kNTiles][4];
  gemm_abt(s, q_smem, k_smem, warp_row, lane);
  // Every warp is done with K: the next tile's K streams in during softmax
  // and P·V.
  __syncthreads();
  if (more) {
    load_next_k(k_smem);
    cp_async_commit();
  }
  logits_of<Pattern, Partial>(s, nullptr, tile, pairs, warp_row, lane);
  online_softmax(s, o, rows);
  if (more)
    cp_async_wait<1>();
  else
    cp_async_wait<0>();
  __syncthreads();
  gemm_pv(o, s, v_smem, lane);
}

/// attnc_forward_tile for a PARTIAL (mask evaluated) or a FULL key tile.
template <typename Pattern, typename Pairs, typename LoadV, typename LoadNextK>
__device__ __forceinline__ void attnc_forward_visit(
    bool partial, float (&o)[attnc_fwd::kMTiles][attnc_fwd::kDTiles][4],
    attnc_fwd::RowState &rows, const attnc_fwd::TileContext &tile, const Pairs &pairs,
    const attnc_fwd::Operands &at, int warp_row, int lane, bool more, const LoadV &load_v,
    const LoadNextK &load_next_k) {
  if (partial)
    attnc_forward_tile<Pattern, true>(o, rows, tile, pairs, at.q_smem, at.k_smem, at.v_smem,
                                      warp_row, lane, more, load_v, load_next_k);
  else
    attnc_forward_tile<Pattern, false>(o, rows, tile, pairs, at.q_smem, at.k_smem, at.v_smem,
                                       warp_row, lane, more, load_v, load_next_k);
}

template <typename Pattern>
__device__ __forceinline__ void attnc_forward_kernel(const attnc_forward_args &args,
                                                     const attnc_tensors &tensors) {
  using namespace attnc_fwd;
  extern __shared__ __align__(128) uint16_t smem[];
  const int lane = threadIdx.x % 32, warp_row = (threadIdx.x / 32) * kRowsPerWarp;
  const int64_t H = args.shape.H;
  const int64_t b = blockIdx.x / H, h = blockIdx.x % H;
  // The longest rows (last query tiles, under causal masks) start first.
  const int64_t t = args.layout.rows - 1 - blockIdx.y;
  const int64_t kv_h = h / (H / args.kv_heads);
  const int64_t q0 = t * kBlockM;
  const ListedTiles tiles(args.layout, h * args.layout.rows + t);

  const Operands at = operands(args, smem, b, h, kv_h);
  const uint16_t *q = at.q, *k = at.k, *v = at.v;

  TileContext tile = make_tile(args.shape, tensors, Pattern::scale(args.shape, tensors), b, h);
  tile.q0 = q0;

  float o[kMTiles][kDTiles][4];
  RowState rows;
  clear_rows(o, rows);

  const int total = tiles.total;
  if (total > 0) {
    load_tile<kBlockM>(at.q_smem, q + q0 * args.q_stride[2], args.q_stride[2],
                       args.shape.Nq - q0);
    int64_t first = (int64_t)tiles.at(0) * kBlockN;
    load_tile<kBlockN>(at.k_smem, k + first * args.k_stride[2], args.k_stride[2],
                       args.shape.Nk - first);
    cp_async_commit();
  }
  for (int index = 0; index < total; ++index) {
    // This tile's K (and Q) arrived, and every warp is done with V.
    cp_async_wait<0>();
    __syncthreads();
    int64_t k0 = (int64_t)tiles.at(index) * kBlockN;
    bool more = index + 1 < total;
    int64_t next = more ? (int64_t)tiles.at(index + 1) * kBlockN : 0;
    tile.k0 = k0;
    const ContiguousPairs<false> pairs{tile, k0 + kBlockN > args.shape.Nk};
    const uint16_t *next_k = k + next * args.k_stride[2];
    const uint16_t *v_tile = v + k0 * args.v_stride[2];
    // Operands by value: the loads compile as they did before they were
    // passed in (the same instructions).
    const int64_t v_valid = args.shape.Nk - k0, next_valid = args.shape.Nk - next;
    const int64_t v_row = args.v_stride[2], k_row = args.k_stride[2];
    auto load_v = [=](uint32_t dst) { load_tile<kBlockN>(dst, v_tile, v_row, v_valid); };
    auto load_next_k = [=](uint32_t dst) {
      load_tile<kBlockN>(dst, next_k, k_row, next_valid);
    };
    attnc_forward_visit<Pattern>(index < tiles.partial_count, o, rows, tile, pairs, at, warp_row,
                                 lane, more, load_v, load_next_k);
  }
  write_output(args, o, rows, b, h, q0, warp_row, lane);
}
