//===- attnc_mma.cuh - Tiles, warp GEMMs and logits of the sm_80 kernels ---===//
//
// What the forward and the backward kernels share: the dtype and head
// dimension they are compiled for, PTX wrappers (cp.async, ldmatrix,
// mma.sync m16n8k16), tiles of kD-wide rows in XOR-swizzled shared memory,
// the two warp GEMM shapes, and the pattern's logits of a tile. Four warps
// per CTA; each warp owns 16·MTiles rows of its tile.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc_builtins.cuh"

#if !defined(ATTNC_HEAD_DIM) || (ATTNC_HEAD_DIM != 64 && ATTNC_HEAD_DIM != 128)
#error "compile attention kernels with -DATTNC_HEAD_DIM=64 or -DATTNC_HEAD_DIM=128"
#endif

#if defined(ATTNC_DTYPE_BF16)
#define ATTNC_MMA_INPUT "bf16"
#define ATTNC_CVT_PAIR "cvt.rn.bf16x2.f32"
#elif defined(ATTNC_DTYPE_FP16)
#define ATTNC_MMA_INPUT "f16"
#define ATTNC_CVT_PAIR "cvt.rn.f16x2.f32"
#else
#error "compile attention kernels with -DATTNC_DTYPE_BF16 or -DATTNC_DTYPE_FP16"
#endif

/// A tile layout on the device (attnc_layout.cuh, runtime/lib/Components.cpp):
/// row r lists tiles[start[r], start[r + 1]), the first partial_count[r]
/// PARTIAL, the others FULL; when full_range is not null, the FULL tiles
/// full_range[2r], ..., full_range[2r] + full_range[2r + 1] - 1 follow them
/// (the analytic component lists, whose FULL tiles form one run per row, so
/// that they cost O(rows), not O(tiles)).
struct attnc_tile_lists {
  const int64_t *start;
  const int32_t *partial_count;
  const int32_t *tiles;
  int64_t rows, cols;
  const int32_t *full_range;
};

namespace attnc_mma {

constexpr int kD = ATTNC_HEAD_DIM;
constexpr int kThreads = 128;        // four warps
constexpr int kChunks = kD / 8;      // 16-byte chunks per row
constexpr int kDTiles = kD / 8;      // n8 tiles of a kD-wide output row
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

/// Issues the copy of `Rows` rows of kD elements into shared `dst` like
/// load_tile, each row from its own address: `row_address(r)` for row r of
/// the tile, null for a row that becomes zeros (`fallback` is then named to
/// the copy, which reads nothing from it).
template <int Rows, typename RowAddress>
__device__ __forceinline__ void load_rows(uint32_t dst, const RowAddress &row_address,
                                          const uint16_t *fallback) {
  constexpr int kRowStep = kThreads / kChunks;
  static_assert(kThreads % kChunks == 0 && kRowStep % 8 == 0 && Rows % kRowStep == 0,
                "a thread's chunk must keep its swizzle from row to row");
  const int row = threadIdx.x / kChunks, chunk = threadIdx.x % kChunks;
  const uint32_t to = dst + swizzle(row, chunk) * 2;
#pragma unroll
  for (int r = 0; r < Rows / kRowStep; ++r) {
    const uint16_t *from = row_address(row + r * kRowStep);
    cp_async_16(to + r * kRowStep * kD * 2, from ? from + chunk * 8 : fallback, from != nullptr);
  }
}

//===----------------------------------------------------------------------===//
// Warp GEMMs over tiles in shared memory
//===----------------------------------------------------------------------===//

/// c = A·Bᵀ over the head dimension for this warp's MTiles·16 rows of A
/// (from row a_row) and the NTiles·8 rows of B: Q·Kᵀ, dO·Vᵀ, K·Qᵀ, V·dOᵀ.
template <int MTiles, int NTiles>
__device__ __forceinline__ void gemm_abt(float (&c)[MTiles][NTiles][4], uint32_t a_smem,
                                         uint32_t b_smem, int a_row, int lane) {
  static_assert(NTiles % 2 == 0, "B is read two n8 tiles at a time");
#pragma unroll
  for (int m = 0; m < MTiles; ++m)
#pragma unroll
    for (int n = 0; n < NTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        c[m][n][e] = 0.f;
#pragma unroll
  for (int kk = 0; kk < kD / 16; ++kk) {
    uint32_t a[MTiles][4];
#pragma unroll
    for (int m = 0; m < MTiles; ++m)
      ldmatrix_x4(a[m], a_smem + swizzle(a_row + m * 16 + lane % 16, kk * 2 + lane / 16) * 2);
#pragma unroll
    for (int n = 0; n < NTiles; n += 2) {
      uint32_t b[4];
      ldmatrix_x4(b, b_smem + swizzle(n * 8 + (lane / 16) * 8 + lane % 8,
                                      kk * 2 + (lane / 8) % 2) * 2);
#pragma unroll
      for (int m = 0; m < MTiles; ++m) {
        mma(c[m][n], a[m], b[0], b[1]);
        mma(c[m][n + 1], a[m], b[2], b[3]);
      }
    }
  }
}

/// o += P·V over the NTiles·8 rows of V: P (or dS), still in the accumulator
/// registers of gemm_abt, becomes the A operand without a trip through shared
/// memory. P·V, Pᵀ·dO, dSᵀ·Q and dS·K.
template <int MTiles, int NTiles>
__device__ __forceinline__ void gemm_pv(float (&o)[MTiles][kDTiles][4],
                                        const float (&p)[MTiles][NTiles][4], uint32_t v_smem,
                                        int lane) {
#pragma unroll
  for (int kk = 0; kk < NTiles / 2; ++kk) {
    uint32_t a[MTiles][4];
#pragma unroll
    for (int m = 0; m < MTiles; ++m) {
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
      for (int m = 0; m < MTiles; ++m) {
        mma(o[m][d], a[m], b[0], b[1]);
        mma(o[m][d + 1], a[m], b[2], b[3]);
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// Logits
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

/// A tile of head h of batch b; q0 and k0 are set per tile.
__device__ __forceinline__ TileContext make_tile(const attnc_shape &shape,
                                                 const attnc_tensors &tensors, float scale,
                                                 int64_t b, int64_t h) {
  TileContext tile;
  tile.shape = shape;
  tile.tensors = &tensors;
  tile.b = b;
  tile.h = h;
  tile.q0 = tile.k0 = 0;
  tile.scale = scale;
  tile.scale_log2 = scale * kLog2E;
  return tile;
}

/// The rows of head h of batch b of a [B, H, N, D] tensor with `stride`.
__device__ __forceinline__ const uint16_t *head_base(const void *base, const int64_t (&stride)[3],
                                                     int64_t b, int64_t h) {
  return (const uint16_t *)base + b * stride[0] + h * stride[1];
}

/// Keeps a parameter out of template argument deduction (a null pointer
/// deduces nothing).
template <typename T> struct NotDeduced {
  typedef T type;
};

/// Where the pairs of a tile of contiguous rows and columns sit: i =
/// tile.q0 + row, j = tile.k0 + col (Transposed: the rows are keys, as in the
/// dK/dV kernel); with `ragged`, keys at or past Nk do not count.
template <bool Transposed> struct ContiguousPairs {
  const TileContext &tile;
  bool ragged;

  __device__ __forceinline__ int64_t query(int m, int n, int e, int row, int col) const {
    return tile.q0 + (Transposed ? col : row);
  }
  __device__ __forceinline__ int64_t key(int m, int n, int e, int row, int col) const {
    return tile.k0 + (Transposed ? row : col);
  }
  __device__ __forceinline__ bool key_counts(int n, int e, int64_t j) const {
    return !ragged || j < tile.shape.Nk;
  }
};

/// Turns raw dot products into base-2 logits: scale, bias and score rewrite
/// (in the pattern's order), then the mask. Masked pairs become -inf and take
/// no part in the softmax, whatever their bias. `pairs` says where each
/// element's pair (i, j) sits and whether its key counts (ContiguousPairs,
/// or a component's mapped tile). `score_grad`, when not null, receives
/// d score / d value of each pair (the backward's chain rule).
template <typename Pattern, bool Partial, int MTiles, int NTiles, typename Pairs>
__device__ __forceinline__ void logits_of(float (&s)[MTiles][NTiles][4],
                                          typename NotDeduced<float (*)[NTiles][4]>::type score_grad,
                                          const TileContext &tile, const Pairs &pairs,
                                          int warp_row, int lane) {
#pragma unroll
  for (int m = 0; m < MTiles; ++m)
#pragma unroll
    for (int n = 0; n < NTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        int row = element_row(warp_row, m, e, lane), col = element_col(n, e, lane);
        int64_t i = pairs.query(m, n, e, row, col);
        int64_t j = pairs.key(m, n, e, row, col);
        float x;
        if (Pattern::has_bias || Pattern::has_score) {
          float value = s[m][n][e] * tile.scale;
          if (Pattern::has_bias)
            value += Pattern::bias(tile.shape, *tile.tensors, tile.b, tile.h, i, j);
          if (Pattern::has_score) {
            if (score_grad)
              score_grad[m][n][e] =
                  Pattern::score_grad(tile.shape, *tile.tensors, tile.b, tile.h, i, j, value);
            value = Pattern::score(tile.shape, *tile.tensors, tile.b, tile.h, i, j, value);
          }
          x = value * kLog2E;
        } else {
          x = s[m][n][e] * tile.scale_log2;
        }
        // Keys past Nk must not count; queries past Nq are never stored, and
        // the backward gives them P = 0 through their LSE.
        bool keep = pairs.key_counts(n, e, j);
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

//===----------------------------------------------------------------------===//
// Layout rows
//===----------------------------------------------------------------------===//

/// The tiles of row `row` of lists without runs (full_range null: the
/// layout kernel's), PARTIAL ones first, then FULL; two registers fewer than
/// TileList where the forward has none to spare.
struct ListedTiles {
  const int32_t *tiles;
  int partial_count, total;

  __device__ __forceinline__ ListedTiles(const attnc_tile_lists &lists, int64_t row) {
    int64_t begin = lists.start[row];
    tiles = lists.tiles + begin;
    total = (int)(lists.start[row + 1] - begin);
    partial_count = lists.partial_count[row];
  }
  __device__ __forceinline__ int64_t at(int index) const { return tiles[index]; }
};

/// Row `row` of `lists`: its listed tiles, then its FULL run if any.
struct TileList : ListedTiles {
  int listed, range_first;

  __device__ __forceinline__ TileList(const attnc_tile_lists &lists, int64_t row)
      : ListedTiles(lists, row), listed(total), range_first(0) {
    if (lists.full_range) {
      range_first = lists.full_range[2 * row];
      total += lists.full_range[2 * row + 1];
    }
  }
  __device__ __forceinline__ int64_t at(int index) const {
    return index < listed ? tiles[index] : range_first + (index - listed);
  }
};

} // namespace attnc_mma
