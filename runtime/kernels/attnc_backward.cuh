//===- attnc_backward.cuh - The fused attention backward kernels (sm_80+) -===//
//
// dQ, dK and dV of O = softmax(logits) V, with P recomputed from Q, K and the
// forward's row log-sum-exp: no buffer grows with N². Three launches:
//
//   attnc_backward_delta   delta = rowsum(dO ∘ O), one warp per query row;
//   <p>_backward_dkdv      one CTA per (batch, key/value head, key tile of
//                          64): for every query head of the group and every
//                          query tile the key-major layout lists,
//                          Sᵀ = K·Qᵀ, Pᵀ, dV += Pᵀ·dO, dPᵀ = V·dOᵀ,
//                          dSᵀ = Pᵀ ∘ (dPᵀ − delta) ∘ score', dK += dSᵀ·Q;
//                          the group's heads are summed in registers (GQA);
//   <p>_backward_dq        one CTA per (batch, head, query tile of 64): for
//                          every key tile the query-major layout lists,
//                          S = Q·Kᵀ, P, dP = dO·Vᵀ, dS, dQ += dS·K.
//
// No launch adds into memory another one writes, and no floating-point
// atomics are used: the gradients are bit-identical from run to run. The
// gradients of float tensors read by bias or score (a learned bias table)
// are added by the dQ kernel, pair by pair, as fixed-point integers
// (attnc_grad_accumulate), exact whatever the order, then converted by
// attnc_backward_tensor_grad_finish. Each
// warp owns 16 rows of its CTA's tile; tiles are [64 × D] in swizzled shared
// memory, the next tile's loads (cp.async) overlap the current one's GEMMs.
// Rows with nothing attended (LSE = −inf) and rows past Nq get P = 0.
//
// Compiled with -DATTNC_BACKWARD besides the forward's defines; a generated
// source instantiates attnc_backward_dq_kernel<attnc_<p>_elements> and
// attnc_backward_dkdv_kernel<...> in extern "C" wrappers.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc_mma.cuh"

#define ATTNC_BWD_BLOCK 64 // query and key rows of a tile
#define ATTNC_BWD_THREADS 128
#define ATTNC_BWD_MIN_BLOCKS 2

/// What the backward kernels are given; the host mirrors it
/// (runtime/lib/Attention.cpp). Strides are in elements for the batch, head
/// and token dimensions; the head dimension is contiguous.
struct attnc_backward_args {
  attnc_shape shape; // H: query heads
  int64_t batch, kv_heads;
  const void *q, *k, *v, *o, *d_o;
  const float *lse; // [batch, H, Nq], from the forward
  float *delta;     // [batch, H, Nq], written by attnc_backward_delta
  void *dq, *dk, *dv;
  int64_t q_stride[3], k_stride[3], v_stride[3], o_stride[3], do_stride[3];
  int64_t dq_stride[3], dk_stride[3], dv_stride[3];
  attnc_tile_lists by_query; // row h * rows + t: key tiles of query tile t
  attnc_tile_lists by_key;   // row h * rows + c: query tiles of key tile c
  attnc_tensor_grads tensor_grads; // the dQ kernel adds the float tensors' gradients
};

namespace attnc_bwd {

using namespace attnc_mma;

constexpr int kBlock = ATTNC_BWD_BLOCK;
constexpr int kNTiles = kBlock / 8;
constexpr int kTileBytes = kBlock * kD * 2;
static_assert(kThreads == ATTNC_BWD_THREADS && kBlock == 16 * (kThreads / 32),
              "four warps of 16 rows");

/// Accumulators of a warp's 16 rows of a [64 × D] gradient.
typedef float RowsOfD[1][kDTiles][4];
/// A warp's 16 × 64 tile of scores (or probabilities, or their gradients).
typedef float Scores[1][kNTiles][4];

__device__ __forceinline__ void copy(Scores &to, const Scores &from) {
#pragma unroll
  for (int n = 0; n < kNTiles; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      to[0][n][e] = from[0][n][e];
}

__device__ __forceinline__ void clear(RowsOfD &acc) {
#pragma unroll
  for (int d = 0; d < kDTiles; ++d)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      acc[0][d][e] = 0.f;
}

__device__ __forceinline__ float to_float(uint16_t x) {
#if defined(ATTNC_DTYPE_BF16)
  return __uint_as_float((uint32_t)x << 16);
#else
  float y;
  asm("cvt.f32.f16 %0, %1;\n" : "=f"(y) : "h"(x));
  return y;
#endif
}

/// The base-2 LSE a row's probabilities are taken against: +inf for rows
/// past Nq and rows with nothing attended, so that their P is 0.
__device__ __forceinline__ float lse_base2(const float *lse, int64_t i, int64_t Nq) {
  if (i >= Nq)
    return __int_as_float(0x7f800000);
  float x = lse[i];
  return x == neg_inf() ? __int_as_float(0x7f800000) : x * kLog2E;
}

/// Takes no pair's d logit.
struct NoPairSink {
  __device__ __forceinline__ void operator()(int n, int e, float p, float d_logit) const {}
};

/// p = 2^(x − lse) and ds = p ∘ (dp − delta) ∘ score' for a warp's tile;
/// `lse2` and `delta` are per query, indexed by row (Transposed: column).
/// `sink` sees each pair's p and d loss / d logit (before score').
template <bool Transposed, bool HasScore, typename Sink = NoPairSink>
__device__ __forceinline__ void probabilities_and_grads(Scores &s, Scores &dp,
                                                        const Scores &score_grad,
                                                        const float *lse2, const float *delta,
                                                        int warp_row, int lane,
                                                        const Sink &sink = Sink()) {
#pragma unroll
  for (int n = 0; n < kNTiles; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      int query = Transposed ? element_col(n, e, lane) : element_row(warp_row, 0, e, lane);
      float p = attnc_exp2_approx(s[0][n][e] - lse2[query]);
      float ds = p * (dp[0][n][e] - delta[query]);
      sink(n, e, p, ds);
      s[0][n][e] = p;
      dp[0][n][e] = HasScore ? ds * score_grad[0][n][e] : ds;
    }
}

/// Adds each attended pair's share of the float tensors' gradients
/// (Pattern::tensor_grad, from the compiler's attn.tensor_grad): needs the
/// pair's value before bias and score, kept from the raw scores; `pairs` says
/// where the pairs of the (untransposed) tile sit.
template <typename Pattern, typename Pairs> struct TensorGradSink {
  const TileContext &tile;
  const attnc_tensor_grads &grads;
  const Scores &raw;
  const Pairs &pairs;
  int warp_row, lane;

  __device__ __forceinline__ void operator()(int n, int e, float p, float d_logit) const {
    if (p == 0.f)
      return;
    const int row = element_row(warp_row, 0, e, lane), col = element_col(n, e, lane);
    int64_t i = pairs.query(0, n, e, row, col);
    int64_t j = pairs.key(0, n, e, row, col);
    Pattern::tensor_grad(tile.shape, *tile.tensors, grads, tile.b, tile.h, i, j,
                         raw[0][n][e] * tile.scale, d_logit);
  }
};

/// Stores a warp's 16 rows of `acc` · factor, the tile's rows from row0 on,
/// to the rows below `rows` of `out`.
__device__ __forceinline__ void store_rows(uint16_t *out, int64_t row_stride,
                                           const RowsOfD &acc, float factor, int64_t row0,
                                           int64_t rows, int warp_row, int lane) {
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    int64_t row = row0 + element_row(warp_row, 0, 2 * half, lane);
    if (row >= rows)
      continue;
    uint16_t *to = out + row * row_stride;
#pragma unroll
    for (int d = 0; d < kDTiles; ++d)
      *(uint32_t *)(to + element_col(d, 0, lane)) =
          pack(acc[0][d][2 * half] * factor, acc[0][d][2 * half + 1] * factor);
  }
}

/// The logits of a warp's tile at `pairs`, with the mask only on PARTIAL
/// tiles.
template <typename Pattern, typename Pairs>
__device__ __forceinline__ void tile_logits(Scores &s, Scores &score_grad, bool partial,
                                            const TileContext &tile, const Pairs &pairs,
                                            int warp_row, int lane) {
  float(*grad)[kNTiles][4] = Pattern::has_score ? score_grad : nullptr;
  if (partial)
    logits_of<Pattern, true>(s, grad, tile, pairs, warp_row, lane);
  else
    logits_of<Pattern, false>(s, grad, tile, pairs, warp_row, lane);
}

} // namespace attnc_bwd

/// delta[b, h, i] = Σ_d dO[b, h, i, d] · O[b, h, i, d] in fp32; one warp per
/// query row.
extern "C" __global__ void __launch_bounds__(ATTNC_BWD_THREADS)
    attnc_backward_delta(attnc_backward_args args) {
  using namespace attnc_bwd;
  const int lane = threadIdx.x % 32;
  const int64_t row = (int64_t)blockIdx.x * (kThreads / 32) + threadIdx.x / 32;
  const int64_t Nq = args.shape.Nq, H = args.shape.H;
  if (row >= args.batch * H * Nq)
    return;
  const int64_t i = row % Nq, h = (row / Nq) % H, b = row / (Nq * H);
  const uint16_t *o = head_base(args.o, args.o_stride, b, h) + i * args.o_stride[2];
  const uint16_t *d_o = head_base(args.d_o, args.do_stride, b, h) + i * args.do_stride[2];
  float sum = 0.f;
#pragma unroll
  for (int d = lane; d < kD; d += 32)
    sum += to_float(o[d]) * to_float(d_o[d]);
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2)
    sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (lane == 0)
    args.delta[row] = sum;
}

/// out[k] = words[k] · 2^-32: a tensor's gradient from its fixed-point
/// accumulators (attnc_grad_word).
extern "C" __global__ void attnc_backward_tensor_grad_finish(const long long *words, float *out,
                                                             int64_t count) {
  const int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (k < count)
    out[k] = (float)((double)words[k] * (1.0 / ATTNC_GRAD_WORD_SCALE));
}

/// Bytes of dynamic shared memory of either main kernel: two resident tiles
/// and two double-buffered ones, plus per-query LSE and delta (two buffers).
#define ATTNC_BWD_SMEM_BYTES (6 * ATTNC_BWD_BLOCK * ATTNC_HEAD_DIM * 2 + 4 * ATTNC_BWD_BLOCK * 4)

namespace attnc_bwd {

/// Shared memory of either main kernel: six [64 × D] tiles, then two
/// buffers of per-query statistics (base-2 LSE and delta, 64 each).
__device__ __forceinline__ float *query_stats(uint16_t *smem, int buffer) {
  return (float *)(smem + 6 * kBlock * kD) + buffer * 2 * kBlock;
}

/// Threads 0..63 write the base-2 LSE and delta of query tile q0 of head h
/// to `stats` (plain stores: visible after the next barrier).
__device__ __forceinline__ void load_query_stats(float *stats, const attnc_backward_args &args,
                                                 int64_t b, int64_t h, int64_t q0) {
  const int64_t Nq = args.shape.Nq, row = (b * args.shape.H + h) * Nq;
  const int64_t i = q0 + threadIdx.x;
  if (threadIdx.x < kBlock) {
    stats[threadIdx.x] = lse_base2(args.lse + row, i, Nq);
    stats[kBlock + threadIdx.x] = i < Nq ? args.delta[row + i] : 0.f;
  }
}

} // namespace attnc_bwd

//===----------------------------------------------------------------------===//
// The main loops, shared by the contiguous kernels below and the component
// kernels (attnc_components_backward.cuh). A side says where the CTA's rows
// and the visited tiles sit and how they are loaded:
//
// dQ side:    load_query_tiles(q_smem, do_smem), load_query_stats(stats),
//             load_keys(k_smem, v_smem, index) (issues, no commit) and
//             with_pairs(tile, index, body), which calls body(pairs) with the
//             Pairs of the index-th key tile of `tiles` (it may set the
//             tile's position);
// dK/dV side: load_keys(k_smem, v_smem), row_of(g) (the tile list of the
//             group's g-th query head), head(g), load_query_tiles(q_smem,
//             do_smem, g, t), load_query_stats(stats, g, t) and
//             with_pairs(tile, t, body), body(pairs) with the transposed
//             Pairs of query tile t.
// Side::Pairs names the type of the pairs. They are handed to a body rather
// than returned: a returned Pairs cost the dK/dV kernel more spills (ptxas at
// sm_90a), one built in place none. (NVRTC takes no generic lambda in device
// code, hence the named type.)
//===----------------------------------------------------------------------===//

/// dQ (before the scale) of a CTA's 64 query rows over the key tiles of
/// `tiles`, K and V double-buffered.
template <typename Pattern, typename Side, typename Tiles>
__device__ __forceinline__ void attnc_backward_dq_loop(attnc_bwd::RowsOfD &dq,
                                                       attnc_bwd::TileContext &tile,
                                                       const Tiles &tiles,
                                                       const attnc_tensor_grads &grads,
                                                       const Side &side, uint16_t *smem,
                                                       int warp_row, int lane) {
  using namespace attnc_bwd;
  const uint32_t q_smem = smem_address(smem), do_smem = q_smem + kTileBytes;
  const uint32_t kv_smem = do_smem + kTileBytes; // two buffers of K, V
  const float *stats = query_stats(smem, 0);
  auto load_kv = [&](int index) {
    uint32_t buffer = kv_smem + (index & 1) * 2 * kTileBytes;
    side.load_keys(buffer, buffer + kTileBytes, index);
    cp_async_commit();
  };

  clear(dq);
  if (tiles.total > 0) {
    side.load_query_tiles(q_smem, do_smem);
    side.load_query_stats(query_stats(smem, 0));
    load_kv(0);
  }
  for (int index = 0; index < tiles.total; ++index) {
    // This tile's K and V arrived, and every warp is done with the buffer
    // the next tile's loads go to.
    cp_async_wait<0>();
    __syncthreads();
    if (index + 1 < tiles.total)
      load_kv(index + 1);
    const uint32_t k_smem = kv_smem + (index & 1) * 2 * kTileBytes, v_smem = k_smem + kTileBytes;
    Scores s, dp, score_grad, raw;
    gemm_abt(s, q_smem, k_smem, warp_row, lane);
    if (Pattern::has_tensor_grad)
      copy(raw, s);
    side.with_pairs(tile, index, [&](const typename Side::Pairs &pairs) {
      tile_logits<Pattern>(s, score_grad, index < tiles.partial_count, tile, pairs, warp_row,
                           lane);
      gemm_abt(dp, do_smem, v_smem, warp_row, lane);
      if (Pattern::has_tensor_grad)
        probabilities_and_grads<false, Pattern::has_score>(
            s, dp, score_grad, stats, stats + kBlock, warp_row, lane,
            TensorGradSink<Pattern, typename Side::Pairs>{
                tile, grads, raw, pairs, warp_row, lane});
      else
        probabilities_and_grads<false, Pattern::has_score>(s, dp, score_grad, stats,
                                                           stats + kBlock, warp_row, lane);
    });
    gemm_pv(dq, dp, k_smem, lane);
  }
}

/// dK (before the scale) and dV of a CTA's 64 key rows over the `group`
/// query heads the side names and the query tiles of each one's row; Q, dO
/// and their statistics double-buffered. The heads are summed in registers.
template <typename Pattern, typename Side>
__device__ __forceinline__ void attnc_backward_dkdv_loop(attnc_bwd::RowsOfD &dk,
                                                         attnc_bwd::RowsOfD &dv,
                                                         attnc_bwd::TileContext &tile,
                                                         int64_t group, const Side &side,
                                                         uint16_t *smem, int warp_row,
                                                         int lane) {
  using namespace attnc_bwd;
  const uint32_t k_smem = smem_address(smem), v_smem = k_smem + kTileBytes;
  const uint32_t qdo_smem = v_smem + kTileBytes; // two buffers of Q, dO

  // The work: (head g of the group, index into its layout row), in order.
  typedef decltype(side.row_of(0)) Tiles;
  auto skip_empty = [&](int64_t &g, Tiles &list, int &index) {
    while (g < group && index >= list.total) {
      index = 0;
      if (++g < group)
        list = side.row_of(g);
    }
  };
  auto load_q = [&](int64_t g, const Tiles &list, int index, int buffer) {
    const int64_t t = list.at(index);
    uint32_t q_tile = qdo_smem + buffer * 2 * kTileBytes;
    side.load_query_tiles(q_tile, q_tile + kTileBytes, g, t);
    cp_async_commit();
    side.load_query_stats(query_stats(smem, buffer), g, t);
  };

  clear(dk);
  clear(dv);
  int64_t g = 0;
  int index = 0;
  Tiles list = side.row_of(0);
  skip_empty(g, list, index);
  if (g < group) {
    side.load_keys(k_smem, v_smem);
    load_q(g, list, index, 0);
  }
  for (int buffer = 0; g < group; buffer ^= 1) {
    int64_t next_g = g;
    int next_index = index + 1;
    Tiles next_list = list;
    skip_empty(next_g, next_list, next_index);
    // This item's Q and dO arrived, and every warp is done with the buffer
    // the next item's loads go to.
    cp_async_wait<0>();
    __syncthreads();
    if (next_g < group)
      load_q(next_g, next_list, next_index, buffer ^ 1);
    const uint32_t q_smem = qdo_smem + buffer * 2 * kTileBytes, do_smem = q_smem + kTileBytes;
    const float *stats = query_stats(smem, buffer);
    tile.h = side.head(g);
    Scores st, dpt, score_grad;
    gemm_abt(st, k_smem, q_smem, warp_row, lane);
    side.with_pairs(tile, list.at(index), [&](const typename Side::Pairs &pairs) {
      tile_logits<Pattern>(st, score_grad, index < list.partial_count, tile, pairs, warp_row,
                           lane);
    });
    gemm_abt(dpt, v_smem, do_smem, warp_row, lane);
    probabilities_and_grads<true, Pattern::has_score>(st, dpt, score_grad, stats,
                                                      stats + kBlock, warp_row, lane);
    gemm_pv(dv, st, do_smem, lane);
    gemm_pv(dk, dpt, q_smem, lane);
    g = next_g;
    index = next_index;
    list = next_list;
  }
}

namespace attnc_bwd {

/// The dQ side of a contiguous query tile of head h: query rows from q0, the
/// key tiles of `tiles` (with_pairs() sets tile.k0).
struct ContiguousQueryTile {
  typedef ContiguousPairs<false> Pairs;
  const attnc_backward_args &args;
  const ListedTiles &tiles;
  int64_t b, h, kv_h, q0;

  __device__ __forceinline__ void load_query_tiles(uint32_t q_smem, uint32_t do_smem) const {
    const int64_t Nq = args.shape.Nq;
    load_tile<kBlock>(q_smem, head_base(args.q, args.q_stride, b, h) + q0 * args.q_stride[2],
                      args.q_stride[2], Nq - q0);
    load_tile<kBlock>(do_smem,
                      head_base(args.d_o, args.do_stride, b, h) + q0 * args.do_stride[2],
                      args.do_stride[2], Nq - q0);
  }
  __device__ __forceinline__ void load_query_stats(float *stats) const {
    attnc_bwd::load_query_stats(stats, args, b, h, q0);
  }
  __device__ __forceinline__ void load_keys(uint32_t k_smem, uint32_t v_smem, int index) const {
    const int64_t k0 = tiles.at(index) * kBlock, Nk = args.shape.Nk;
    load_tile<kBlock>(k_smem, head_base(args.k, args.k_stride, b, kv_h) + k0 * args.k_stride[2],
                      args.k_stride[2], Nk - k0);
    load_tile<kBlock>(v_smem, head_base(args.v, args.v_stride, b, kv_h) + k0 * args.v_stride[2],
                      args.v_stride[2], Nk - k0);
  }
  template <typename Body>
  __device__ __forceinline__ void with_pairs(TileContext &tile, int index,
                                             const Body &body) const {
    tile.k0 = tiles.at(index) * kBlock;
    body(ContiguousPairs<false>{tile, tile.k0 + kBlock > args.shape.Nk});
  }
};

/// The dK/dV side of a contiguous key tile of kv head kv_h: key rows from
/// k0, the query tiles of each group head's row of the key-major layout
/// (with_pairs() sets tile.q0).
struct ContiguousKeyTile {
  typedef ContiguousPairs<true> Pairs;
  const attnc_backward_args &args;
  int64_t b, kv_h, group, c, k0;
  bool ragged;

  // TileList though these lists have no runs: ptxas (sm_90a, D = 128) spills
  // less with it here than with ListedTiles (causal 80 B against 88 B).
  __device__ __forceinline__ TileList row_of(int64_t g) const {
    return TileList(args.by_key, (kv_h * group + g) * args.by_key.rows + c);
  }
  __device__ __forceinline__ int64_t head(int64_t g) const { return kv_h * group + g; }
  __device__ __forceinline__ void load_keys(uint32_t k_smem, uint32_t v_smem) const {
    const int64_t Nk = args.shape.Nk;
    load_tile<kBlock>(k_smem, head_base(args.k, args.k_stride, b, kv_h) + k0 * args.k_stride[2],
                      args.k_stride[2], Nk - k0);
    load_tile<kBlock>(v_smem, head_base(args.v, args.v_stride, b, kv_h) + k0 * args.v_stride[2],
                      args.v_stride[2], Nk - k0);
  }
  __device__ __forceinline__ void load_query_tiles(uint32_t q_smem, uint32_t do_smem, int64_t g,
                                                   int64_t t) const {
    const int64_t h = head(g), q0 = t * kBlock, Nq = args.shape.Nq;
    load_tile<kBlock>(q_smem, head_base(args.q, args.q_stride, b, h) + q0 * args.q_stride[2],
                      args.q_stride[2], Nq - q0);
    load_tile<kBlock>(do_smem,
                      head_base(args.d_o, args.do_stride, b, h) + q0 * args.do_stride[2],
                      args.do_stride[2], Nq - q0);
  }
  __device__ __forceinline__ void load_query_stats(float *stats, int64_t g, int64_t t) const {
    attnc_bwd::load_query_stats(stats, args, b, head(g), t * kBlock);
  }
  template <typename Body>
  __device__ __forceinline__ void with_pairs(TileContext &tile, int64_t t,
                                             const Body &body) const {
    tile.q0 = t * kBlock;
    body(ContiguousPairs<true>{tile, ragged});
  }
};

} // namespace attnc_bwd

/// dQ for one (batch, head, query tile): the key tiles of the query-major
/// layout.
template <typename Pattern>
__device__ __forceinline__ void attnc_backward_dq_kernel(const attnc_backward_args &args,
                                                         const attnc_tensors &tensors) {
  using namespace attnc_bwd;
  extern __shared__ __align__(128) uint16_t smem[];
  const int lane = threadIdx.x % 32, warp_row = (threadIdx.x / 32) * 16;
  const int64_t H = args.shape.H, Nq = args.shape.Nq;
  const int64_t b = blockIdx.x / H, h = blockIdx.x % H;
  const int64_t kv_h = h / (H / args.kv_heads);
  // The longest rows (last query tiles, under causal masks) start first.
  const int64_t t = args.by_query.rows - 1 - blockIdx.y;
  const int64_t q0 = t * kBlock;
  const ListedTiles tiles(args.by_query, h * args.by_query.rows + t);

  TileContext tile = make_tile(args.shape, tensors, Pattern::scale(args.shape, tensors), b, h);
  tile.q0 = q0;
  RowsOfD dq;
  attnc_backward_dq_loop<Pattern>(dq, tile, tiles, args.tensor_grads,
                                  ContiguousQueryTile{args, tiles, b, h, kv_h, q0}, smem,
                                  warp_row, lane);
  uint16_t *out = (uint16_t *)args.dq + b * args.dq_stride[0] + h * args.dq_stride[1];
  store_rows(out, args.dq_stride[2], dq, tile.scale, q0, Nq, warp_row, lane);
}

/// dK and dV for one (batch, key/value head, key tile): every query head of
/// the group, every query tile of the key-major layout. A kv head none of
/// whose query heads lists a tile here gets zeros.
template <typename Pattern>
__device__ __forceinline__ void attnc_backward_dkdv_kernel(const attnc_backward_args &args,
                                                           const attnc_tensors &tensors) {
  using namespace attnc_bwd;
  extern __shared__ __align__(128) uint16_t smem[];
  const int lane = threadIdx.x % 32, warp_row = (threadIdx.x / 32) * 16;
  const int64_t Nk = args.shape.Nk, group = args.shape.H / args.kv_heads;
  const int64_t b = blockIdx.x / args.kv_heads, kv_h = blockIdx.x % args.kv_heads;
  const int64_t c = blockIdx.y, k0 = c * kBlock;

  TileContext tile =
      make_tile(args.shape, tensors, Pattern::scale(args.shape, tensors), b, kv_h * group);
  tile.k0 = k0;
  RowsOfD dk, dv;
  attnc_backward_dkdv_loop<Pattern>(
      dk, dv, tile, group, ContiguousKeyTile{args, b, kv_h, group, c, k0, k0 + kBlock > Nk},
      smem, warp_row, lane);
  uint16_t *dk_out = (uint16_t *)args.dk + b * args.dk_stride[0] + kv_h * args.dk_stride[1];
  uint16_t *dv_out = (uint16_t *)args.dv + b * args.dv_stride[0] + kv_h * args.dv_stride[1];
  store_rows(dk_out, args.dk_stride[2], dk, tile.scale, k0, Nk, warp_row, lane);
  store_rows(dv_out, args.dv_stride[2], dv, 1.f, k0, Nk, warp_row, lane);
}
