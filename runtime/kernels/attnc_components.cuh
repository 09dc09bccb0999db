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
// depends on the component's place among its set's (attnc_component_mode):
// the only one writes O and LSE as the forward does; the first of several
// writes its rows' (O, LSE) to an fp32 accumulator, a middle one merges into
// it by log-sum-exp, and the last merges the accumulator with its own rows
// into O (in the input dtype) and LSE. The only, first and last components'
// lists hold every query tile of every class, empty ones too, and each
// component's classes partition the queries, so every row is written: rows
// no component reaches get O = 0, LSE = -inf, with no clearing pass. Each
// query row belongs to one CTA of a component and the components run one
// after another on the stream, so the read-modify-writes need no atomics.
//
// The accumulator is B * heads * Nq * (D + 1) fp32 (twice the output in
// bf16, then some), written once, then read and written by each middle
// component and read by the last; a set of one component needs none.
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
  int64_t mode;   // attnc_component_mode
  float *o_acc;   // [batch, head_count, Nq, D]: the merged O so far
  float *lse_acc; // [batch, head_count, Nq]: its log-sum-exp (-inf: nothing yet)
  void *o;        // only and last: [batch, H, Nq, D] in the input dtype
  float *lse;     // only and last: [batch, H, Nq]; null: not written
  int64_t o_stride[3];
};

/// What a component's epilogue does with its rows.
enum attnc_component_mode {
  ATTNC_COMPONENT_ONLY = 0,   // its set's one component: O and LSE
  ATTNC_COMPONENT_FIRST = 1,  // the first of several: the accumulator
  ATTNC_COMPONENT_MIDDLE = 2, // merged into the accumulator
  ATTNC_COMPONENT_LAST = 3,   // merged with the accumulator into O and LSE
};

namespace attnc_components {

using namespace attnc_fwd;

/// Position of tile row t >= 0 of `map` from a class's `base`. t < 2^30
/// (a class's rows are below kMaxSequenceLength = 2^29, its first row below
/// inner), so a 32-bit division serves, and a strided map (inner 1), the
/// residue classes', needs none: a 64-bit division costs tens of
/// instructions, and the loads ask for a position per row.
__device__ __forceinline__ int64_t map_position(const attnc_tile_map &map, int64_t base,
                                                int64_t t) {
  if (map.inner == 1)
    return base + t * map.outer_stride;
  const uint32_t row = (uint32_t)t, inner = (uint32_t)map.inner;
  const uint32_t group = row / inner;
  return base + (int64_t)group * map.outer_stride + (int64_t)(row - group * inner) * map.inner_stride;
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
  const uint32_t inner = (uint32_t)map.inner;
  int64_t group = (uint32_t)t_first / inner, within = (uint32_t)t_first - group * inner;
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

/// The row's (O, LSE) merged with what the component adds, (O_c, L_c) = (o /
/// sum, max + ln sum): L = ln(e^L_a + e^L_c), O = O_a e^(L_a - L) + O_c
/// e^(L_c - L), as weights of O_a (`keep`) and of o (`add`). Nothing on either
/// side (-inf) weighs 0.
struct MergeWeights {
  float lse, keep, add;
};

__device__ __forceinline__ MergeWeights merge_weights(float before, float max, float sum) {
  const float lse = sum > 0.f ? (max + __log2f(sum)) * kLn2 : neg_inf();
  const float top = fmaxf(before, lse);
  if (top == neg_inf())
    return {top, 0.f, 0.f};
  const float merged = top + logf(expf(before - top) + expf(lse - top));
  return {merged, expf(before - merged), sum > 0.f ? expf(lse - merged) / sum : 0.f};
}

/// The epilogue of args.mode for this CTA's rows of the class (rows past
/// its end are not stored).
__device__ __forceinline__ void write_rows(const attnc_component_args &args,
                                           const float (&o)[kMTiles][kDTiles][4],
                                           const RowState &rows, const MappedPairs &pairs,
                                           uint32_t row_in_class, int64_t b, int64_t hc,
                                           int64_t h, int lane) {
  const bool reads = args.mode == ATTNC_COMPONENT_MIDDLE || args.mode == ATTNC_COMPONENT_LAST;
  const bool to_output = args.mode == ATTNC_COMPONENT_ONLY || args.mode == ATTNC_COMPONENT_LAST;
#pragma unroll
  for (int m = 0; m < kMTiles; ++m)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int r = 2 * m + half;
      const float sum = quad_sum(rows.sum[r]);
      const int64_t i = pairs.row[r];
      const int64_t row = (b * args.head_count + hc) * args.shape.Nq + i;
      // A middle component leaves the rows it gives no key alone.
      const bool write =
          ((row_in_class >> r) & 1u) && (args.mode != ATTNC_COMPONENT_MIDDLE || sum > 0.f);
      MergeWeights w = {0.f, 0.f, 0.f};
      if (write)
        w = merge_weights(reads ? args.lse_acc[row] : neg_inf(), rows.max[r], sum);
      // The quad's lanes have all read the row's old LSE.
      __syncwarp();
      if (!write)
        continue;
      float *acc = to_output && !reads ? nullptr : args.o_acc + row * kD;
      uint16_t *out = to_output ? (uint16_t *)args.o + b * args.o_stride[0] +
                                      h * args.o_stride[1] + i * args.o_stride[2]
                                : nullptr;
#pragma unroll
      for (int d = 0; d < kDTiles; ++d) {
        const int col = element_col(d, 0, lane);
        float2 value = {o[m][d][2 * half] * w.add, o[m][d][2 * half + 1] * w.add};
        if (reads) {
          const float2 before = *(const float2 *)(acc + col);
          value.x += before.x * w.keep, value.y += before.y * w.keep;
        }
        if (to_output)
          *(uint32_t *)(out + col) = pack(value.x, value.y);
        else
          *(float2 *)(acc + col) = value;
      }
      if (lane % 4 != 0)
        continue;
      if (!to_output)
        args.lse_acc[row] = w.lse;
      else if (args.lse)
        args.lse[(b * args.shape.H + h) * args.shape.Nq + i] = w.lse;
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
    load_mapped_tile<kBlockM>(at.q_smem, q, args.q_stride[2], args.query_map, cls.row_base,
                              cls.first_row, cls.rows, args.query_offset, a0);
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
  write_rows(args, o, rows, pairs, row_in_class, b, hc, h, lane);
}
