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

#include "attnc_builtins.cuh"

#if !defined(ATTNC_HEAD_DIM) || (ATTNC_HEAD_DIM != 64 && ATTNC_HEAD_DIM != 128)
#error "compile the forward kernel with -DATTNC_HEAD_DIM=64 or -DATTNC_HEAD_DIM=128"
#endif

#if defined(ATTNC_DTYPE_BF16)
#define ATTNC_MMA_INPUT "bf16"
#define ATTNC_CVT_PAIR "cvt.rn.bf16x2.f32"
#elif defined(ATTNC_DTYPE_FP16)
#define ATTNC_MMA_INPUT "f16"
#define ATTNC_CVT_PAIR "cvt.rn.f16x2.f32"
#else
#error "compile the forward kernel with -DATTNC_DTYPE_BF16 or -DATTNC_DTYPE_FP16"
#endif

// Query rows per CTA: 128 (32 per warp) by default; 64 (16 per warp) halves
// the work per CTA for patterns whose rows visit few tiles.
#ifndef ATTNC_FWD_BLOCK_M
#define ATTNC_FWD_BLOCK_M 128
#endif
#if ATTNC_FWD_BLOCK_M != 64 && ATTNC_FWD_BLOCK_M != 128
#error "ATTNC_FWD_BLOCK_M must be 64 or 128"
#endif
#define ATTNC_FWD_BLOCK_N 64
#define ATTNC_FWD_THREADS 128
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
  // The layout: row h * rows + t lists the tiles of query tile t of head h.
  const int32_t *full_count, *partial_count, *full, *partial;
  int64_t rows, cols;
};

namespace attnc_fwd {

constexpr int kD = ATTNC_HEAD_DIM;
constexpr int kBlockM = ATTNC_FWD_BLOCK_M;
constexpr int kBlockN = ATTNC_FWD_BLOCK_N;
constexpr int kThreads = ATTNC_FWD_THREADS;
constexpr int kRowsPerWarp = kBlockM / (kThreads / 32);
constexpr int kMTiles = kRowsPerWarp / 16; // m16 tiles per warp
constexpr int kChunks = kD / 8;            // 16-byte chunks per row
constexpr int kNTiles = kBlockN / 8;       // n8 tiles of a score row
constexpr int kDTiles = kD / 8;            // n8 tiles of an output row
constexpr float kLog2E = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

//===----------------------------------------------------------------------===//
// PTX wrappers
//===----------------------------------------------------------------------===//

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

__device__ __forceinline__ uint32_t smem_address(const void *pointer) {
  return (uint32_t)__cvta_generic_to_shared(pointer);
}

/// Copies 16 bytes, or writes 16 zero bytes when `valid` is false (rows past
/// the end of the sequence), so that no tile needs clearing.
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void *src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
}

/// c += a · b for one m16n8k16 tile, fp32 accumulation.
__device__ __forceinline__ void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                    uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." ATTNC_MMA_INPUT "." ATTNC_MMA_INPUT
               ".f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// Two floats rounded to the input type, `lo` in the low half.
__device__ __forceinline__ uint32_t pack(float lo, float hi) {
  uint32_t packed;
  asm(ATTNC_CVT_PAIR " %0, %1, %2;\n" : "=r"(packed) : "f"(hi), "f"(lo));
  return packed;
}

/// 2^x; 2^-inf = 0. The approximation's error (2 ulp) is far below the
/// rounding of P to 16 bits.
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

/// Shared-memory element offset of (row, 16-byte chunk): chunks are XOR-ed
/// with the row so that the eight rows an ldmatrix reads hit distinct banks.
__device__ __forceinline__ int swizzle(int row, int chunk) {
  return row * kD + ((chunk ^ (row & 7)) << 3);
}

//===----------------------------------------------------------------------===//
// Loads
//===----------------------------------------------------------------------===//

/// Issues the copy of `Rows` rows of kD elements from `src` (row stride in
/// elements) into shared `dst`; rows at or past `valid_rows` become zeros.
/// Each thread copies the same chunk of every kRowStep-th row: its swizzle is
/// the same on each of them (kRowStep is a multiple of 8), so the loop is a
/// constant step in both address spaces.
template <int Rows>
__device__ __forceinline__ void load_tile(uint32_t dst, const uint16_t *src, int64_t row_stride,
                                          int64_t valid_rows) {
  constexpr int kRowStep = kThreads / kChunks;
  static_assert(kThreads % kChunks == 0 && kRowStep % 8 == 0 && Rows % kRowStep == 0,
                "a thread's chunk must keep its swizzle from row to row");
  const int row = threadIdx.x / kChunks, chunk = threadIdx.x % kChunks;
  const uint32_t to = dst + swizzle(row, chunk) * 2;
  const uint16_t *from = src + row * row_stride + chunk * 8;
  const int64_t step = kRowStep * row_stride;
#pragma unroll
  for (int r = 0; r < Rows / kRowStep; ++r) {
    bool valid = row + r * kRowStep < valid_rows;
    cp_async_16(to + r * kRowStep * kD * 2, valid ? from : src, valid);
    from += step;
  }
}

//===----------------------------------------------------------------------===//
// The two GEMMs of a key tile
//===----------------------------------------------------------------------===//

/// s = Q·Kᵀ for this warp's rows and the key tile in shared memory.
__device__ __forceinline__ void scores(float (&s)[kMTiles][kNTiles][4], uint32_t q_smem,
                                       uint32_t k_smem, int warp_row, int lane) {
#pragma unroll
  for (int m = 0; m < kMTiles; ++m)
#pragma unroll
    for (int n = 0; n < kNTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        s[m][n][e] = 0.f;
#pragma unroll
  for (int kk = 0; kk < kD / 16; ++kk) {
    uint32_t a[kMTiles][4];
#pragma unroll
    for (int m = 0; m < kMTiles; ++m)
      ldmatrix_x4(a[m], q_smem + swizzle(warp_row + m * 16 + lane % 16, kk * 2 + lane / 16) * 2);
#pragma unroll
    for (int n = 0; n < kNTiles; n += 2) {
      uint32_t b[4];
      ldmatrix_x4(b, k_smem + swizzle(n * 8 + (lane / 16) * 8 + lane % 8,
                                      kk * 2 + (lane / 8) % 2) * 2);
#pragma unroll
      for (int m = 0; m < kMTiles; ++m) {
        mma(s[m][n], a[m], b[0], b[1]);
        mma(s[m][n + 1], a[m], b[2], b[3]);
      }
    }
  }
}

/// o += P·V: the probabilities, still in the score registers, become the A
/// operand without a trip through shared memory.
__device__ __forceinline__ void accumulate(float (&o)[kMTiles][kDTiles][4],
                                           const float (&p)[kMTiles][kNTiles][4],
                                           uint32_t v_smem, int lane) {
#pragma unroll
  for (int kk = 0; kk < kBlockN / 16; ++kk) {
    uint32_t a[kMTiles][4];
#pragma unroll
    for (int m = 0; m < kMTiles; ++m) {
      a[m][0] = pack(p[m][2 * kk][0], p[m][2 * kk][1]);
      a[m][1] = pack(p[m][2 * kk][2], p[m][2 * kk][3]);
      a[m][2] = pack(p[m][2 * kk + 1][0], p[m][2 * kk + 1][1]);
      a[m][3] = pack(p[m][2 * kk + 1][2], p[m][2 * kk + 1][3]);
    }
#pragma unroll
    for (int d = 0; d < kDTiles; d += 2) {
      uint32_t b[4];
      ldmatrix_x4_trans(b, v_smem + swizzle(kk * 16 + lane % 16, d + lane / 16) * 2);
#pragma unroll
      for (int m = 0; m < kMTiles; ++m) {
        mma(o[m][d], a[m], b[0], b[1]);
        mma(o[m][d + 1], a[m], b[2], b[3]);
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// Logits and the online softmax
//===----------------------------------------------------------------------===//

/// Where the accumulator element e of tile (m, n) of a lane sits in the
/// CTA's block: e = 0, 1 on row lane/4, e = 2, 3 eight rows below.
__device__ __forceinline__ int element_row(int warp_row, int m, int e, int lane) {
  return warp_row + m * 16 + lane / 4 + (e >= 2 ? 8 : 0);
}
__device__ __forceinline__ int element_col(int n, int e, int lane) {
  return n * 8 + (lane % 4) * 2 + (e & 1);
}

/// The position of a CTA's tile and what the pattern functions are passed.
struct TileContext {
  attnc_shape shape;
  const attnc_tensors *tensors;
  int64_t b, h, q0, k0;
  float scale, scale_log2;
};

/// Turns raw dot products into base-2 logits: scale, bias and score rewrite
/// (in the pattern's order), then the mask. Masked pairs become -inf and take
/// no part in the softmax, whatever their bias.
template <typename Pattern, bool Partial>
__device__ __forceinline__ void logits(float (&s)[kMTiles][kNTiles][4], const TileContext &tile,
                                       bool ragged, int warp_row, int lane) {
#pragma unroll
  for (int m = 0; m < kMTiles; ++m)
#pragma unroll
    for (int n = 0; n < kNTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        int64_t i = tile.q0 + element_row(warp_row, m, e, lane);
        int64_t j = tile.k0 + element_col(n, e, lane);
        float x;
        if (Pattern::has_bias || Pattern::has_score) {
          float value = s[m][n][e] * tile.scale;
          if (Pattern::has_bias)
            value += Pattern::bias(tile.shape, *tile.tensors, tile.b, tile.h, i, j);
          if (Pattern::has_score)
            value = Pattern::score(tile.shape, *tile.tensors, tile.b, tile.h, i, j, value);
          x = value * kLog2E;
        } else {
          x = s[m][n][e] * tile.scale_log2;
        }
        bool keep = !ragged || j < tile.shape.Nk;
        if (Partial)
          keep = keep & Pattern::attends(tile.shape, *tile.tensors, tile.b, tile.h, i, j);
        s[m][n][e] = keep ? x : neg_inf();
      }
}

__device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

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
      float correction = exp2_approx(rows.max[r] - base);
      rows.max[r] = new_max;
      float sum = 0.f;
#pragma unroll
      for (int n = 0; n < kNTiles; ++n)
#pragma unroll
        for (int e = 2 * half; e < 2 * half + 2; ++e) {
          s[m][n][e] = exp2_approx(s[m][n][e] - base);
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

template <typename Pattern, bool Partial>
__device__ __forceinline__ void attnc_forward_tile(
    float (&o)[attnc_fwd::kMTiles][attnc_fwd::kDTiles][4], attnc_fwd::RowState &rows,
    const attnc_fwd::TileContext &tile, uint32_t q_smem, uint32_t k_smem, uint32_t v_smem,
    bool ragged, int warp_row, int lane, bool more,
    const uint16_t *next_k, int64_t next_valid, int64_t k_row_stride,
    const uint16_t *v, int64_t v_valid, int64_t v_row_stride) {
  using namespace attnc_fwd;
  // V of this tile streams in while its scores are computed.
  load_tile<kBlockN>(v_smem, v, v_row_stride, v_valid);
  cp_async_commit();
  float s[kMTiles][kNTiles][4];
  scores(s, q_smem, k_smem, warp_row, lane);
  // Every warp is done with K: the next tile's K streams in during softmax
  // and P·V.
  __syncthreads();
  if (more) {
    load_tile<kBlockN>(k_smem, next_k, k_row_stride, next_valid);
    cp_async_commit();
  }
  logits<Pattern, Partial>(s, tile, ragged, warp_row, lane);
  online_softmax(s, o, rows);
  if (more)
    cp_async_wait<1>();
  else
    cp_async_wait<0>();
  __syncthreads();
  accumulate(o, s, v_smem, lane);
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
  const int64_t t = args.rows - 1 - blockIdx.y;
  const int64_t kv_h = h / (H / args.kv_heads);
  const int64_t q0 = t * kBlockM;

  const int64_t layout_row = h * args.rows + t;
  const int partial_count = args.partial_count[layout_row];
  const int total = partial_count + args.full_count[layout_row];
  const int32_t *partial = args.partial + layout_row * args.cols;
  const int32_t *full = args.full + layout_row * args.cols;

  const uint16_t *q = (const uint16_t *)args.q + b * args.q_stride[0] + h * args.q_stride[1];
  const uint16_t *k =
      (const uint16_t *)args.k + b * args.k_stride[0] + kv_h * args.k_stride[1];
  const uint16_t *v =
      (const uint16_t *)args.v + b * args.v_stride[0] + kv_h * args.v_stride[1];

  uint32_t q_smem = smem_address(smem);
  uint32_t k_smem = q_smem + kBlockM * kD * 2;
  uint32_t v_smem = k_smem + kBlockN * kD * 2;

  TileContext tile;
  tile.shape = args.shape;
  tile.tensors = &tensors;
  tile.b = b;
  tile.h = h;
  tile.q0 = q0;
  tile.scale = Pattern::scale(args.shape, tensors);
  tile.scale_log2 = tile.scale * kLog2E;

  float o[kMTiles][kDTiles][4];
#pragma unroll
  for (int m = 0; m < kMTiles; ++m)
#pragma unroll
    for (int d = 0; d < kDTiles; ++d)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        o[m][d][e] = 0.f;
  RowState rows;
#pragma unroll
  for (int r = 0; r < 2 * kMTiles; ++r) {
    rows.max[r] = neg_inf();
    rows.sum[r] = 0.f;
  }

  auto tile_at = [&](int index) { return index < partial_count ? partial[index]
                                                                : full[index - partial_count]; };
  if (total > 0) {
    load_tile<kBlockM>(q_smem, q + q0 * args.q_stride[2], args.q_stride[2], args.shape.Nq - q0);
    int64_t first = (int64_t)tile_at(0) * kBlockN;
    load_tile<kBlockN>(k_smem, k + first * args.k_stride[2], args.k_stride[2],
                       args.shape.Nk - first);
    cp_async_commit();
  }
  for (int index = 0; index < total; ++index) {
    // This tile's K (and Q) arrived, and every warp is done with V.
    cp_async_wait<0>();
    __syncthreads();
    int64_t k0 = (int64_t)tile_at(index) * kBlockN;
    bool more = index + 1 < total;
    int64_t next = more ? (int64_t)tile_at(index + 1) * kBlockN : 0;
    tile.k0 = k0;
    bool ragged = k0 + kBlockN > args.shape.Nk;
    const uint16_t *next_k = k + next * args.k_stride[2];
    const uint16_t *v_tile = v + k0 * args.v_stride[2];
    if (index < partial_count)
      attnc_forward_tile<Pattern, true>(o, rows, tile, q_smem, k_smem, v_smem, ragged, warp_row,
                                        lane, more, next_k, args.shape.Nk - next,
                                        args.k_stride[2], v_tile, args.shape.Nk - k0,
                                        args.v_stride[2]);
    else
      attnc_forward_tile<Pattern, false>(o, rows, tile, q_smem, k_smem, v_smem, ragged,
                                         warp_row, lane, more, next_k, args.shape.Nk - next,
                                         args.k_stride[2], v_tile, args.shape.Nk - k0,
                                         args.v_stride[2]);
  }
  write_output(args, o, rows, b, h, q0, warp_row, lane);
}
