//===- attnc_components.cuh - The forward over one disjoint component ----===//
//
// A head class whose set attn-components split into disjoint components
// (DESIGN.md §4) runs one kernel per component instead of the set's own
// tiles. A component is tiled in its own coordinates (attn/ComponentTiles.h):
// row a of class c is the query whose q = i (+ Nk - Nq when aligned) is
// position first_row + a of the class's query map, column b the key at
// position first_col + b of its key map, where a map sends t to base + c *
// base_step + (t / inner) * outer_stride + (t % inner) * inner_stride. The
// runtime lists, per (class, query tile), the key tiles that hold pairs,
// PARTIAL ones first, as the contiguous layout does.
//
// The kernel is the forward kernel's (attnc_forward.cuh) with mapped rows and
// columns: Q, K and V are read where the maps say (no permuted copies; a map
// with inner == 1 is a strided tile, one with inner > 1 gathers a row at a
// time), the mask, bias and score see the true (i, j), and the epilogue
// merges the component's rows into an fp32 accumulator by log-sum-exp instead
// of writing O. Each query row belongs to one CTA of a component and the
// components run one after another on the stream, so the read-modify-write
// needs no atomics. attnc_components_finish then writes O (in the input
// dtype) and LSE of every row of the class's heads; rows no component
// reached get O = 0, LSE = -inf.
//
// Cost of this simple merge: the accumulator is B * heads * Nq * (D + 1) fp32
// (twice the output in bf16, then some), each component reads and writes its
// rows of it, and the finish pass reads it once more. The later optimisation:
// the last component merges in its epilogue straight into O and LSE (the
// earlier ones' results read from the accumulator), which removes the finish
// pass and one round trip of the accumulator; with two components, the first
// can write O and LSE directly and the second merge into them, with no
// accumulator at all.
//
// A generated source instantiates it per component, under -DATTNC_COMPONENTS:
//   extern "C" __global__ void
//   __launch_bounds__(ATTNC_FWD_THREADS, ATTNC_FWD_MIN_BLOCKS)
//   attnc_<p>_component<k>_forward(attnc_component_args args, attnc_tensors tensors) {
//     attnc_component_forward_kernel<attnc_<p>_component<k>_elements>(args, tensors);
//   }
// where attnc_<p>_component<k>_elements is attnc_<p>_elements with the
// component's predicate as `attends`.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc_forward.cuh"

/// The shape of a tile map of attn.component (inner, outer_stride >= 1);
/// its base and base_step are folded into each class's bases.
struct attnc_tile_map {
  int64_t inner, outer_stride, inner_stride;
};

/// One class of a component: row a sits at map_position(query_map, row_base,
/// first_row + a) for a < rows, column b at map_position(key_map, col_base,
/// first_col + b) for b < cols (first_row, first_col >= 0).
struct attnc_component_class {
  int64_t row_base, first_row, rows, col_base, first_col, cols;
};

/// What a component's forward kernel is given; the host mirrors it
/// (runtime/lib/Components.cpp). Strides as in attnc_forward_args.
struct attnc_component_args {
  attnc_shape shape; // H: query heads
  int64_t batch, kv_heads;
  const void *q, *k, *v;
  int64_t q_stride[3], k_stride[3], v_stride[3];
  const int32_t *heads; // the query heads of the class, head_count of them
  int64_t head_count;
  int64_t query_offset; // q = i + query_offset
  attnc_tile_map query_map, key_map;
  const attnc_component_class *classes;
  const int32_t *row_of; // per layout row: its class and query tile
  attnc_tile_lists layout; // per layout row: the key tiles of the class
  float *o_acc;   // [batch, head_count, Nq, D]: the merged O so far
  float *lse_acc; // [batch, head_count, Nq]: its log-sum-exp (-inf: nothing yet)
};

/// What attnc_components_finish is given (the host mirrors it).
struct attnc_components_finish_args {
  int64_t batch, H, Nq, head_count;
  const int32_t *heads;
  const float *o_acc, *lse_acc;
  void *o;
  float *lse; // [batch, H, Nq]; null: not written
  int64_t o_stride[3];
};

namespace attnc_components {

using namespace attnc_fwd;

/// Position of tile row t >= 0 of `map` from a class's `base`.
__device__ __forceinline__ int64_t map_position(const attnc_tile_map &map, int64_t base,
                                                int64_t t) {
  return base + (t / map.inner) * map.outer_stride + (t % map.inner) * map.inner_stride;
}

/// Where the pairs of a component's tile sit: this thread's rows' positions
/// (once per CTA) and its columns' (once per tile), in 32 bits (positions
/// are below kMaxSequenceLength = 2^29) to spare registers. The rows are
/// queries and the columns keys; Transposed (the dK/dV kernel), the rows are
/// keys and the columns queries. Keys past the class's do not count.
template <int MTiles, int NTiles, bool Transposed = false> struct MappedTilePairs {
  int32_t row[2 * MTiles]; // row 2m + (e >= 2)
  int32_t col[2 * NTiles]; // column 2n + (e & 1)
  uint32_t key_in_class;   // bit 2n + (e & 1) of a column (Transposed: 2m + (e >= 2) of a row)

  __device__ __forceinline__ int64_t query(int m, int n, int e, int, int) const {
    return Transposed ? col[2 * n + (e & 1)] : row[2 * m + (e >= 2 ? 1 : 0)];
  }
  __device__ __forceinline__ int64_t key(int m, int n, int e, int, int) const {
    return Transposed ? row[2 * m + (e >= 2 ? 1 : 0)] : col[2 * n + (e & 1)];
  }
  __device__ __forceinline__ bool key_counts(int n, int e, int64_t) const {
    // The mask's loops run over m outside n: Transposed, MTiles is 1 (the
    // backward's warps own 16 rows), so the row is e >= 2.
    static_assert(!Transposed || MTiles == 1, "a transposed tile has one m16 tile per warp");
    return (key_in_class >> (Transposed ? (e >= 2 ? 1 : 0) : 2 * n + (e & 1))) & 1u;
  }
};

/// The forward's tiles: kMTiles m16 tiles of queries by kNTiles n8 tiles of keys.
typedef MappedTilePairs<kMTiles, kNTiles> MappedPairs;

/// The positions of this thread's columns of a tile from column b0 of a
/// class's range of `map` (base, first tile row, count of columns):
/// element_col(n, e) = 8n + 2(lane % 4) + (e & 1), column 2n + (e & 1) in
/// `position`; bit k of `in_range` says whether column k is below `count`. A
/// strided map costs a multiply per column; a gathered one divides once and
/// steps from there.
template <int Columns>
__device__ __forceinline__ void map_positions(int32_t (&position)[Columns], uint32_t &in_range,
                                              const attnc_tile_map &map, int64_t base,
                                              int64_t first, int64_t count, int64_t b0,
                                              int lane) {
  const int64_t b_first = b0 + (lane % 4) * 2;
  in_range = 0;
#pragma unroll
  for (int k = 0; k < Columns; ++k)
    if (b_first + (k / 2) * 8 + (k & 1) < count)
      in_range |= 1u << k;
  const int64_t t_first = first + b_first;
  if (map.inner == 1) {
    const int32_t start = (int32_t)map_position(map, base, t_first);
    const int32_t step = (int32_t)map.outer_stride;
#pragma unroll
    for (int k = 0; k < Columns; ++k)
      position[k] = start + ((k / 2) * 8 + (k & 1)) * step;
    return;
  }
  int64_t group = t_first / map.inner, within = t_first % map.inner;
#pragma unroll
  for (int k = 0; k < Columns; ++k) {
    if (k > 0) { // +1 to an odd k, +7 to an even one
      within += (k & 1) ? 1 : 7;
      while (within >= map.inner) {
        within -= map.inner;
        ++group;
      }
    }
    position[k] = (int32_t)(base + group * map.outer_stride + within * map.inner_stride);
  }
}

/// This thread's keys of the key tile from column b0 of the class.
__device__ __forceinline__ void map_columns(MappedPairs &pairs, const attnc_tile_map &map,
                                            const attnc_component_class &cls, int64_t b0,
                                            int lane) {
  map_positions(pairs.col, pairs.key_in_class, map, cls.col_base, cls.first_col, cls.cols, b0,
                lane);
}

/// Issues the copy of the `Rows` tile rows from row a0 of a class's range of
/// `map` (base, first tile row, count) of a [N, D] tensor (`data`, row
/// stride `stride`), position p being row p - offset of the tensor: one
/// strided copy when the map's inner is 1, else a row at a time; rows past
/// the range become zeros.
template <int Rows>
__device__ __forceinline__ void load_mapped_tile(uint32_t dst, const uint16_t *data,
                                                 int64_t stride, const attnc_tile_map &map,
                                                 int64_t base, int64_t first, int64_t count,
                                                 int64_t offset, int64_t a0) {
  if (map.inner == 1) {
    const int64_t start = map_position(map, base, first + a0) - offset;
    load_tile<Rows>(dst, data + start * stride, stride * map.outer_stride, count - a0);
    return;
  }
  load_rows<Rows>(
      dst,
      [&](int r) -> const uint16_t * {
        int64_t a = a0 + r;
        return a < count ? data + (map_position(map, base, first + a) - offset) * stride
                         : nullptr;
      },
      data);
}

/// Issues the copy of the key tile from column b0 of the class.
__device__ __forceinline__ void load_key_tile(uint32_t dst, const uint16_t *base, int64_t stride,
                                              const attnc_tile_map &map,
                                              const attnc_component_class &cls, int64_t b0) {
  load_mapped_tile<kBlockN>(dst, base, stride, map, cls.col_base, cls.first_col, cls.cols, 0, b0);
}

/// Merges this CTA's rows into the accumulator: with the component's
/// (O_c, L_c) = (o / sum, max + ln sum) and the accumulator's (O_a, L_a), L =
/// ln(e^L_a + e^L_c) and O_a = O_a e^(L_a - L) + O_c e^(L_c - L). Rows this
/// component gives no key, and rows outside the class, are left alone.
__device__ __forceinline__ void merge_rows(const attnc_component_args &args,
                                           const float (&o)[kMTiles][kDTiles][4],
                                           const RowState &rows, const MappedPairs &pairs,
                                           uint32_t row_in_class, int64_t b, int64_t hc,
                                           int lane) {
#pragma unroll
  for (int m = 0; m < kMTiles; ++m)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int r = 2 * m + half;
      const float sum = quad_sum(rows.sum[r]);
      const bool merge = ((row_in_class >> r) & 1u) && sum > 0.f;
      const int64_t row = (b * args.head_count + hc) * args.shape.Nq + pairs.row[r];
      float merged = 0.f;
      if (merge) {
        const float lse = (rows.max[r] + __log2f(sum)) * kLn2;
        const float before = args.lse_acc[row];
        const float top = fmaxf(before, lse);
        merged = top + logf(expf(before - top) + expf(lse - top));
        const float keep = expf(before - merged), add = expf(lse - merged) / sum;
        float *acc = args.o_acc + row * kD;
#pragma unroll
        for (int d = 0; d < kDTiles; ++d) {
          float2 *pair = (float2 *)(acc + element_col(d, 0, lane));
          float2 value = *pair;
          value.x = value.x * keep + o[m][d][2 * half] * add;
          value.y = value.y * keep + o[m][d][2 * half + 1] * add;
          *pair = value;
        }
      }
      // The quad's lanes have all read the row's old LSE.
      __syncwarp();
      if (merge && lane % 4 == 0)
        args.lse_acc[row] = merged;
    }
}

} // namespace attnc_components

template <typename Component>
__device__ __forceinline__ void attnc_component_forward_kernel(const attnc_component_args &args,
                                                               const attnc_tensors &tensors) {
  using namespace attnc_components;
  extern __shared__ __align__(128) uint16_t smem[];
  const int lane = threadIdx.x % 32, warp_row = (threadIdx.x / 32) * kRowsPerWarp;
  const int64_t b = blockIdx.x / args.head_count, hc = blockIdx.x % args.head_count;
  const int64_t h = args.heads[hc];
  // The longest rows (last query tiles, under causal masks) start first.
  const int64_t row = args.layout.rows - 1 - blockIdx.y;
  const int64_t c = args.row_of[2 * row], tq = args.row_of[2 * row + 1];
  const attnc_component_class cls = args.classes[c];
  const int64_t kv_h = h / (args.shape.H / args.kv_heads);
  const TileList tiles(args.layout, row);

  const Operands at = operands(args, smem, b, h, kv_h);
  const uint16_t *q = at.q, *k = at.k, *v = at.v;

  TileContext tile =
      make_tile(args.shape, tensors, Component::scale(args.shape, tensors), b, h);
  const int64_t a0 = tq * kBlockM;
  // i of row a of the class; rows past its end are never stored.
  auto query_of = [&](int64_t a) {
    return map_position(args.query_map, cls.row_base, cls.first_row + a) - args.query_offset;
  };
  MappedPairs pairs;
  uint32_t row_in_class = 0;
#pragma unroll
  for (int r = 0; r < 2 * kMTiles; ++r) {
    const int64_t a = a0 + element_row(warp_row, r / 2, 2 * (r % 2), lane);
    const bool in_class = a < cls.rows;
    row_in_class |= (in_class ? 1u : 0u) << r;
    pairs.row[r] = in_class ? (int32_t)query_of(a) : 0;
  }

  float o[kMTiles][kDTiles][4];
  RowState rows;
  clear_rows(o, rows);

  const int total = tiles.total;
  if (total > 0) {
    load_rows<kBlockM>(
        at.q_smem,
        [&](int r) -> const uint16_t * {
          return a0 + r < cls.rows ? q + query_of(a0 + r) * args.q_stride[2] : nullptr;
        },
        q);
    load_key_tile(at.k_smem, k, args.k_stride[2], args.key_map, cls, tiles.at(0) * kBlockN);
    cp_async_commit();
  }
  for (int index = 0; index < total; ++index) {
    // This tile's K (and Q) arrived, and every warp is done with V.
    cp_async_wait<0>();
    __syncthreads();
    const int64_t b0 = tiles.at(index) * kBlockN;
    const bool more = index + 1 < total;
    const int64_t next = more ? tiles.at(index + 1) * kBlockN : 0;
    map_columns(pairs, args.key_map, cls, b0, lane);
    auto load_v = [&](uint32_t dst) {
      load_key_tile(dst, v, args.v_stride[2], args.key_map, cls, b0);
    };
    auto load_next_k = [&](uint32_t dst) {
      load_key_tile(dst, k, args.k_stride[2], args.key_map, cls, next);
    };
    attnc_forward_visit<Component>(index < tiles.partial_count, o, rows, tile, pairs, at,
                                   warp_row, lane, more, load_v, load_next_k);
  }
  merge_rows(args, o, rows, pairs, row_in_class, b, hc, lane);
}

/// O and LSE of every row of the class's heads from the accumulator: one
/// thread per pair of output elements.
extern "C" __global__ void __launch_bounds__(256)
    attnc_components_finish(attnc_components_finish_args args) {
  using namespace attnc_mma;
  constexpr int64_t kPairs = kD / 2;
  const int64_t index = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t row = index / kPairs, pair = index % kPairs;
  if (row >= args.batch * args.head_count * args.Nq)
    return;
  const int64_t i = row % args.Nq, bh = row / args.Nq;
  const int64_t b = bh / args.head_count, h = args.heads[bh % args.head_count];
  const float2 value = *(const float2 *)(args.o_acc + row * kD + 2 * pair);
  uint16_t *out = (uint16_t *)args.o + b * args.o_stride[0] + h * args.o_stride[1] +
                  i * args.o_stride[2];
  *(uint32_t *)(out + 2 * pair) = pack(value.x, value.y);
  if (args.lse && pair == 0)
    args.lse[(b * args.H + h) * args.Nq + i] = args.lse_acc[row];
}
