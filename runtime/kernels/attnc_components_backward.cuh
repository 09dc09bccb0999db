//===- attnc_components_backward.cuh - The backward over one component ----===//
//
// The backward of a head class on the component path (attnc_components.cuh,
// DESIGN.md §4): per component, a dQ kernel, one CTA per (batch, query head
// of the class, row of the component's by-query lists), and a dK/dV kernel,
// one CTA per (batch, key/value head with query heads in the class, row of
// the by-key lists; a row is a class of the component and a tile of its
// keys, its tiles are query tiles of the class). They run the contiguous
// backward's main loops (attnc_backward_dq_loop, attnc_backward_dkdv_loop)
// with mapped rows and columns: Q, dO, K and V are read where the maps say
// (no permuted copies), the mask, bias and score see the true (i, j), and P
// is taken against the forward's global LSE with the delta of
// attnc_backward_delta, so that each component's share of the gradients is
// exact on its own.
//
// The shares are added into fp32 accumulators, dQ [batch, class heads, Nq,
// D] and dK, dV [batch, class kv heads, Nk, D]: each row belongs to one CTA
// of a component and the components run one after another on the stream, so
// the read-modify-write needs no atomics and the result is deterministic.
// With GQA, the dK/dV kernel sums the class's query heads of the group in
// registers. attnc_components_backward_finish then writes dQ of the class's
// heads and adds the dK, dV accumulators into what the contiguous backward
// wrote (zeros for rows it has no tiles for).
//
// The float tensors' gradients (bias tables) are added pair by pair by the
// dQ kernels, as the contiguous dQ kernel does: the components are disjoint,
// so each pair is added once.
//
// A generated source instantiates it per component, under
// -DATTNC_COMPONENTS_BACKWARD (with -DATTNC_COMPONENTS and -DATTNC_BACKWARD):
//   extern "C" __global__ void
//   __launch_bounds__(ATTNC_BWD_THREADS, ATTNC_BWD_MIN_BLOCKS)
//   attnc_<p>_component<k>_backward_dq(attnc_component_backward_args args,
//                                      attnc_tensors tensors) {
//     attnc_component_backward_dq_kernel<attnc_<p>_component<k>_elements>(args, tensors);
//   }
// and attnc_<p>_component<k>_backward_dkdv likewise.
//
//===----------------------------------------------------------------------===//
#pragma once

#if !defined(ATTNC_COMPONENTS) || !defined(ATTNC_BACKWARD)
#error "the component backward needs -DATTNC_COMPONENTS and -DATTNC_BACKWARD"
#endif

#include "attnc_backward.cuh"
#include "attnc_components.cuh"

/// What a component's backward kernels are given; the host mirrors it
/// (runtime/lib/Attention.cpp). Strides as in attnc_backward_args.
struct attnc_component_backward_args {
  attnc_shape shape; // H: query heads
  int64_t batch, kv_heads;
  const void *q, *k, *v, *d_o;
  const float *lse, *delta; // [batch, H, Nq]: the forward's, attnc_backward_delta's
  int64_t q_stride[3], k_stride[3], v_stride[3], do_stride[3];
  const int32_t *heads; // the query heads of the class, head_count of them
  int64_t head_count;
  // The key/value heads with query heads in the class, kv_count of them;
  // the query heads of the k-th are group_heads[group_start[k],
  // group_start[k + 1]).
  const int32_t *kv_heads_of_class, *group_start, *group_heads;
  int64_t kv_count;
  int64_t query_offset; // q = i + query_offset
  attnc_tile_map query_map, key_map;
  const attnc_component_class *classes;
  const int32_t *row_of;   // per row: its class and its query (dK/dV: key) tile
  attnc_tile_lists layout; // by query for the dQ kernel, by key for dK/dV
  float *dq_acc;           // [batch, head_count, Nq, D]
  float *dk_acc, *dv_acc;  // [batch, kv_count, Nk, D]
  attnc_tensor_grads tensor_grads; // the dQ kernels add the float tensors' gradients
};

/// What attnc_components_backward_finish is given (the host mirrors it).
struct attnc_components_backward_finish_args {
  int64_t batch, Nq, Nk, head_count, kv_count;
  const int32_t *heads, *kv_heads_of_class;
  const float *dq_acc, *dk_acc, *dv_acc;
  void *dq, *dk, *dv;
  int64_t dq_stride[3], dk_stride[3], dv_stride[3];
};

namespace attnc_components_bwd {

using namespace attnc_bwd;
using attnc_components::load_mapped_tile;
using attnc_components::map_position;
using attnc_components::map_positions;

/// The backward's tiles: one m16 tile of rows per warp by kNTiles columns.
template <bool Transposed>
using Pairs = attnc_components::MappedTilePairs<1, kNTiles, Transposed>;

/// i of row a of class `cls`'s queries.
__device__ __forceinline__ int64_t query_of(const attnc_component_backward_args &args,
                                            const attnc_component_class &cls, int64_t a) {
  return map_position(args.query_map, cls.row_base, cls.first_row + a) - args.query_offset;
}

/// Issues the copy of the class's query rows from a0 of Q and dO of head h.
__device__ __forceinline__ void load_queries(const attnc_component_backward_args &args,
                                             const attnc_component_class &cls, uint32_t q_smem,
                                             uint32_t do_smem, int64_t b, int64_t h, int64_t a0) {
  load_mapped_tile<kBlock>(q_smem, head_base(args.q, args.q_stride, b, h), args.q_stride[2],
                           args.query_map, cls.row_base, cls.first_row, cls.rows,
                           args.query_offset, a0);
  load_mapped_tile<kBlock>(do_smem, head_base(args.d_o, args.do_stride, b, h),
                           args.do_stride[2], args.query_map, cls.row_base, cls.first_row,
                           cls.rows, args.query_offset, a0);
}

/// Issues the copy of the class's key rows from b0 of K and V of kv head kv_h.
__device__ __forceinline__ void load_keys(const attnc_component_backward_args &args,
                                          const attnc_component_class &cls, uint32_t k_smem,
                                          uint32_t v_smem, int64_t b, int64_t kv_h, int64_t b0) {
  load_mapped_tile<kBlock>(k_smem, head_base(args.k, args.k_stride, b, kv_h), args.k_stride[2],
                           args.key_map, cls.col_base, cls.first_col, cls.cols, 0, b0);
  load_mapped_tile<kBlock>(v_smem, head_base(args.v, args.v_stride, b, kv_h), args.v_stride[2],
                           args.key_map, cls.col_base, cls.first_col, cls.cols, 0, b0);
}

/// Threads 0..63 write the base-2 LSE and delta of the class's query rows
/// from a0 of head h; rows past the class get P = 0 (LSE +inf).
__device__ __forceinline__ void load_stats(float *stats, const attnc_component_backward_args &args,
                                           const attnc_component_class &cls, int64_t b,
                                           int64_t h, int64_t a0) {
  const int64_t Nq = args.shape.Nq, row = (b * args.shape.H + h) * Nq;
  const int64_t a = a0 + threadIdx.x;
  if (threadIdx.x < kBlock) {
    const bool in_class = a < cls.rows;
    const int64_t i = in_class ? query_of(args, cls, a) : Nq;
    stats[threadIdx.x] = lse_base2(args.lse + row, i, Nq);
    stats[kBlock + threadIdx.x] = in_class ? args.delta[row + i] : 0.f;
  }
}

/// The positions of this thread's two rows of a tile from row a0 of a
/// class's range, and which are in it; `position(a)` maps a row.
template <typename Position>
__device__ __forceinline__ uint32_t map_rows(int32_t (&row)[2], int64_t a0, int64_t count,
                                             const Position &position, int warp_row, int lane) {
  uint32_t in_range = 0;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t a = a0 + element_row(warp_row, 0, 2 * r, lane);
    const bool in = a < count;
    in_range |= (in ? 1u : 0u) << r;
    row[r] = in ? (int32_t)position(a) : 0;
  }
  return in_range;
}

/// The dQ side of a component's query tile: the class's query rows from a0
/// of head h, the key tiles of `tiles`.
struct MappedQueryTile {
  typedef attnc_components_bwd::Pairs<false> Pairs;
  const attnc_component_backward_args &args;
  const attnc_component_class &cls;
  const TileList &tiles;
  const int32_t (&rows)[2];
  int64_t b, h, kv_h, a0;
  int lane;

  __device__ __forceinline__ void load_query_tiles(uint32_t q_smem, uint32_t do_smem) const {
    load_queries(args, cls, q_smem, do_smem, b, h, a0);
  }
  __device__ __forceinline__ void load_query_stats(float *stats) const {
    load_stats(stats, args, cls, b, h, a0);
  }
  __device__ __forceinline__ void load_keys(uint32_t k_smem, uint32_t v_smem, int index) const {
    attnc_components_bwd::load_keys(args, cls, k_smem, v_smem, b, kv_h, tiles.at(index) * kBlock);
  }
  template <typename Body>
  __device__ __forceinline__ void with_pairs(TileContext &, int index, const Body &body) const {
    Pairs pairs;
    pairs.row[0] = rows[0];
    pairs.row[1] = rows[1];
    map_positions(pairs.col, pairs.key_in_class, args.key_map, cls.col_base, cls.first_col,
                  cls.cols, tiles.at(index) * kBlock, lane);
    body(pairs);
  }
};

/// The dK/dV side of a component's key tile: the class's key rows from b0
/// of kv head kv_h, the query tiles of `list` for each of the class's query
/// heads of the group.
struct MappedKeyTile {
  typedef attnc_components_bwd::Pairs<true> Pairs;
  const attnc_component_backward_args &args;
  const attnc_component_class &cls;
  const TileList &list;
  const int32_t *heads; // the group's heads in the class
  const int32_t (&keys)[2];
  uint32_t key_in_class;
  int64_t b, kv_h, b0;
  int lane;

  __device__ __forceinline__ TileList row_of(int64_t) const { return list; }
  __device__ __forceinline__ int64_t head(int64_t g) const { return heads[g]; }
  __device__ __forceinline__ void load_keys(uint32_t k_smem, uint32_t v_smem) const {
    attnc_components_bwd::load_keys(args, cls, k_smem, v_smem, b, kv_h, b0);
  }
  __device__ __forceinline__ void load_query_tiles(uint32_t q_smem, uint32_t do_smem, int64_t g,
                                                   int64_t t) const {
    load_queries(args, cls, q_smem, do_smem, b, head(g), t * kBlock);
  }
  __device__ __forceinline__ void load_query_stats(float *stats, int64_t g, int64_t t) const {
    load_stats(stats, args, cls, b, head(g), t * kBlock);
  }
  template <typename Body>
  __device__ __forceinline__ void with_pairs(TileContext &, int64_t t, const Body &body) const {
    Pairs pairs;
    pairs.row[0] = keys[0];
    pairs.row[1] = keys[1];
    pairs.key_in_class = key_in_class;
    // Queries past the class get P = 0 from their statistics; their i is 0,
    // as the forward's rows past the class, so that the mask reads no tensor
    // out of bounds.
    uint32_t in_class;
    map_positions(pairs.col, in_class, args.query_map, cls.row_base, cls.first_row, cls.rows,
                  t * kBlock, lane);
#pragma unroll
    for (int k = 0; k < 2 * kNTiles; ++k)
      pairs.col[k] = ((in_class >> k) & 1u) ? pairs.col[k] - (int32_t)args.query_offset : 0;
    body(pairs);
  }
};

/// acc[position[r]] += factor · this thread's share of row r of the warp's
/// rows of `grad`, for the rows whose bit is set in `rows_in_class`; `acc`
/// is a [N, D] fp32 accumulator that only this CTA touches at those rows.
__device__ __forceinline__ void add_rows(float *acc, const RowsOfD &grad, float factor,
                                         const int32_t (&position)[2], uint32_t rows_in_class,
                                         int lane) {
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    if (!((rows_in_class >> half) & 1u))
      continue;
    float *row = acc + (int64_t)position[half] * kD;
#pragma unroll
    for (int d = 0; d < kDTiles; ++d) {
      float2 *pair = (float2 *)(row + element_col(d, 0, lane));
      float2 value = *pair;
      value.x += grad[0][d][2 * half] * factor;
      value.y += grad[0][d][2 * half + 1] * factor;
      *pair = value;
    }
  }
}

} // namespace attnc_components_bwd

/// dQ of one (batch, query head of the class, row of the by-query lists):
/// the key tiles of the class's query tile, added into the dQ accumulator.
template <typename Component>
__device__ __forceinline__ void
attnc_component_backward_dq_kernel(const attnc_component_backward_args &args,
                                   const attnc_tensors &tensors) {
  using namespace attnc_components_bwd;
  extern __shared__ __align__(128) uint16_t smem[];
  const int lane = threadIdx.x % 32, warp_row = (threadIdx.x / 32) * 16;
  const int64_t b = blockIdx.x / args.head_count, hc = blockIdx.x % args.head_count;
  const int64_t h = args.heads[hc], kv_h = h / (args.shape.H / args.kv_heads);
  // The longest rows (last query tiles, under causal masks) start first.
  const int64_t row = args.layout.rows - 1 - blockIdx.y;
  const attnc_component_class cls = args.classes[args.row_of[2 * row]];
  const int64_t a0 = (int64_t)args.row_of[2 * row + 1] * kBlock;
  const TileList tiles(args.layout, row);

  int32_t queries[2];
  const uint32_t rows_in_class = map_rows(
      queries, a0, cls.rows, [&](int64_t a) { return query_of(args, cls, a); }, warp_row, lane);
  TileContext tile =
      make_tile(args.shape, tensors, Component::scale(args.shape, tensors), b, h);
  RowsOfD dq;
  attnc_backward_dq_loop<Component>(dq, tile, tiles, args.tensor_grads,
                                    MappedQueryTile{args, cls, tiles, queries, b, h, kv_h, a0,
                                                    lane},
                                    smem, warp_row, lane);
  add_rows(args.dq_acc + (b * args.head_count + hc) * args.shape.Nq * kD, dq, tile.scale,
           queries, rows_in_class, lane);
}

/// dK and dV of one (batch, kv head with query heads in the class, row of
/// the by-key lists): the query tiles of the class's key tile for each of
/// the class's query heads of the group, added into the accumulators.
template <typename Component>
__device__ __forceinline__ void
attnc_component_backward_dkdv_kernel(const attnc_component_backward_args &args,
                                     const attnc_tensors &tensors) {
  using namespace attnc_components_bwd;
  extern __shared__ __align__(128) uint16_t smem[];
  const int lane = threadIdx.x % 32, warp_row = (threadIdx.x / 32) * 16;
  const int64_t b = blockIdx.x / args.kv_count, kc = blockIdx.x % args.kv_count;
  const int64_t kv_h = args.kv_heads_of_class[kc];
  const int32_t *heads = args.group_heads + args.group_start[kc];
  const int64_t group = args.group_start[kc + 1] - args.group_start[kc];
  const int64_t row = blockIdx.y;
  const attnc_component_class cls = args.classes[args.row_of[2 * row]];
  const int64_t b0 = (int64_t)args.row_of[2 * row + 1] * kBlock;
  const TileList list(args.layout, row);

  int32_t keys[2];
  const uint32_t key_in_class = map_rows(
      keys, b0, cls.cols,
      [&](int64_t c) { return map_position(args.key_map, cls.col_base, cls.first_col + c); },
      warp_row, lane);
  TileContext tile =
      make_tile(args.shape, tensors, Component::scale(args.shape, tensors), b, heads[0]);
  RowsOfD dk, dv;
  attnc_backward_dkdv_loop<Component>(
      dk, dv, tile, group,
      MappedKeyTile{args, cls, list, heads, keys, key_in_class, b, kv_h, b0, lane}, smem,
      warp_row, lane);
  const int64_t offset = (b * args.kv_count + kc) * args.shape.Nk * kD;
  add_rows(args.dk_acc + offset, dk, tile.scale, keys, key_in_class, lane);
  add_rows(args.dv_acc + offset, dv, 1.f, keys, key_in_class, lane);
}

/// dQ of every row of the class's heads from its accumulator, and the dK, dV
/// accumulators added into dK, dV of the class's kv heads: one thread per
/// pair of elements, dQ's first.
extern "C" __global__ void __launch_bounds__(256)
    attnc_components_backward_finish(attnc_components_backward_finish_args args) {
  using namespace attnc_bwd;
  constexpr int64_t kPairs = kD / 2;
  const int64_t index = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t dq_rows = args.batch * args.head_count * args.Nq;
  const int64_t row = index / kPairs, pair = index % kPairs;
  if (row < dq_rows) {
    const int64_t i = row % args.Nq, bh = row / args.Nq;
    const int64_t b = bh / args.head_count, h = args.heads[bh % args.head_count];
    const float2 value = *(const float2 *)(args.dq_acc + row * kD + 2 * pair);
    uint16_t *out = (uint16_t *)args.dq + b * args.dq_stride[0] + h * args.dq_stride[1] +
                    i * args.dq_stride[2];
    *(uint32_t *)(out + 2 * pair) = pack(value.x, value.y);
    return;
  }
  const int64_t kv_row = row - dq_rows;
  if (kv_row >= args.batch * args.kv_count * args.Nk)
    return;
  const int64_t j = kv_row % args.Nk, bk = kv_row / args.Nk;
  const int64_t b = bk / args.kv_count, kv_h = args.kv_heads_of_class[bk % args.kv_count];
  auto add = [&](void *base, const int64_t(&stride)[3], const float *acc) {
    uint32_t *out = (uint32_t *)((uint16_t *)base + b * stride[0] + kv_h * stride[1] +
                                 j * stride[2] + 2 * pair);
    const float2 value = *(const float2 *)(acc + kv_row * kD + 2 * pair);
    const uint32_t before = *out;
    *out = pack(to_float((uint16_t)(before & 0xffffu)) + value.x,
                to_float((uint16_t)(before >> 16)) + value.y);
  };
  add(args.dk, args.dk_stride, args.dk_acc);
  add(args.dv, args.dv_stride, args.dv_acc);
}
