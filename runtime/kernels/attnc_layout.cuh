//===- attnc_layout.cuh - The block layout, built on the GPU --------------===//
//
// For every (head h, query tile t) the FULL and the PARTIAL key tiles, in
// ascending order (or, by key, for every key tile the query tiles: what the
// dK/dV kernel visits), from a pattern's interval twin (attnc_<p>_classify). The
// tiles and the classification are those of the CPU builder
// (compiler/lib/layout/Layout.cpp), so both give identical layouts.
//
// One warp per (h, t) row: each lane classifies one key tile of a group of 32,
// and a ballot gives every lane its slot in the output row, so the writes are
// coalesced, the order is ascending whatever the scheduling, and the work is
// O(number of tiles). Integer tensors are first summarized per run of
// ATTNC_SUMMARY_BLOCK elements (attnc_tensor_summary_*, launched by the
// runtime), so that the range of a tensor over a tile costs a few reads
// instead of one per element.
//
// A generated source instantiates it with a small wrapper:
//   extern "C" __global__ void attnc_<p>_layout(attnc_layout_args args,
//                                               attnc_tensors tensors) {
//     attnc_layout_kernel<attnc_<p>_classify>(args, tensors);
//   }
// Device code only and free of the standard library (NVRTC).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc_builtins.cuh"

#define ATTNC_LAYOUT_WARPS_PER_BLOCK 8

/// What the layout kernel is given. Row r = h * rows + t holds query tile t
/// of head h (by key: key tile t). The lists are compact: row r's tiles are
/// tiles[start[r], start[r + 1]), its PARTIAL ones first, partial_count[r] of
/// them, then its FULL ones. Two passes build them: with `tiles` null the
/// kernel writes each row's partial_count and its number of tiles at
/// start[r + 1]; attnc_layout_scan turns those into offsets; then, with
/// `tiles` set, the kernel writes the lists. The host mirrors this struct
/// (runtime/lib/Layout.cpp).
struct attnc_layout_args {
  attnc_shape shape;
  int64_t b_hi; // the batch indices are [0, b_hi]
  int64_t block_q, block_k;
  int64_t by_key;     // 0: rows are query tiles (forward, dQ); 1: key tiles (dK, dV)
  int64_t rows, cols; // query tiles, key tiles (by_key: key tiles, query tiles)
  int32_t *partial_count;
  int64_t *start; // rows + 1
  int32_t *tiles; // null in the counting pass
  // Per query head, nonzero for a head whose rows stay empty (the forward
  // runs it through its components); null: none.
  const int32_t *skip_head;
};

typedef attnc_truth (*attnc_classify_fn)(attnc_shape, const attnc_tensors &, int64_t, int64_t,
                                         int64_t, int64_t, int64_t, int64_t);

/// Appends the lanes whose `flag` is set to `out` at `count`, in lane order
/// (nothing when `out` is null: counting), and advances `count` on every
/// lane by their number.
__device__ __forceinline__ void attnc_layout_append(bool flag, int32_t col, int32_t *out,
                                                    int32_t &count) {
  unsigned lane = threadIdx.x % 32;
  unsigned mask = __ballot_sync(0xffffffffu, flag);
  if (flag && out)
    out[count + __popc(mask & ((1u << lane) - 1))] = col;
  count += __popc(mask);
}

/// The box of query rows by key columns of tiles [first, last] of row r
/// (columns are key tiles, by key query tiles), classified.
template <attnc_classify_fn Classify>
__device__ __forceinline__ attnc_truth attnc_layout_classify(const attnc_layout_args &args,
                                                             const attnc_tensors &tensors,
                                                             int64_t h, int64_t r, int64_t first,
                                                             int64_t last) {
  const int64_t t_lo = args.by_key ? first : r, t_hi = args.by_key ? last : r;
  const int64_t c_lo = args.by_key ? r : first, c_hi = args.by_key ? r : last;
  const int64_t i_lo = t_lo * args.block_q, j_lo = c_lo * args.block_k;
  const int64_t i_hi = attnc_min_i64(args.shape.Nq, (t_hi + 1) * args.block_q) - 1;
  const int64_t j_hi = attnc_min_i64(args.shape.Nk, (c_hi + 1) * args.block_k) - 1;
  return Classify(args.shape, tensors, args.b_hi, h, i_lo, i_hi, j_lo, j_hi);
}

/// A warp per row. Each lane first classifies a chunk of 32 columns as one
/// box: a chunk that holds no pair is skipped and one that is all pairs is
/// FULL throughout, so that a row costs O(columns / 32 + tiles listed)
/// rather than a classification per column; only the others are classified
/// column by column. The twins' answers only sharpen as the box narrows
/// (LayoutSoundness.TwinAnswersOnlySharpenAsTheBoxNarrows), so this lists the same tiles as
/// classifying every column, as the CPU builder does.
template <attnc_classify_fn Classify>
__device__ __forceinline__ void attnc_layout_kernel(const attnc_layout_args &args,
                                                    const attnc_tensors &tensors) {
  // Whole warps leave together, so every lane of a live warp takes part in
  // the ballots and shuffles.
  int64_t row = (int64_t)blockIdx.x * ATTNC_LAYOUT_WARPS_PER_BLOCK + threadIdx.x / 32;
  if (row >= args.shape.H * args.rows)
    return;
  const int lane = threadIdx.x % 32;
  int64_t h = row / args.rows, r = row % args.rows;
  const bool counting = args.tiles == nullptr;
  int32_t *partial = counting ? nullptr : args.tiles + args.start[row];
  int32_t *full = counting ? nullptr : partial + args.partial_count[row];
  int32_t full_count = 0, partial_count = 0;
  const int64_t cols = args.skip_head && args.skip_head[h] ? 0 : args.cols;
  constexpr int64_t kChunk = 32;
  for (int64_t base = 0; base < cols; base += 32 * kChunk) {
    // 0: no pair, 1: all pairs, 2: classify its columns.
    int kind = 0;
    const int64_t first = base + lane * kChunk;
    if (first < cols) {
      attnc_truth truth = attnc_layout_classify<Classify>(
          args, tensors, h, r, first, attnc_min_i64(cols, first + kChunk) - 1);
      kind = !truth.may_be_false ? 1 : truth.may_be_true ? 2 : 0;
    }
    for (int chunk = 0; chunk < 32; ++chunk) {
      const int chunk_kind = __shfl_sync(0xffffffffu, kind, chunk);
      if (chunk_kind == 0)
        continue;
      const int64_t col = base + chunk * kChunk + lane;
      bool is_full = false, is_partial = false;
      if (col < cols && chunk_kind == 1) {
        is_full = true;
      } else if (col < cols) {
        attnc_truth truth = attnc_layout_classify<Classify>(args, tensors, h, r, col, col);
        is_full = !truth.may_be_false;
        is_partial = truth.may_be_true && truth.may_be_false;
      }
      attnc_layout_append(is_full, (int32_t)col, full, full_count);
      attnc_layout_append(is_partial, (int32_t)col, partial, partial_count);
    }
  }
  if (counting && lane == 0) {
    args.partial_count[row] = partial_count;
    args.start[row + 1] = full_count + partial_count;
  }
}

/// start[r + 1] += start[1] + ... + start[r], start[0] = 0: the row counts of
/// the counting pass become offsets. One block of 1024 threads, each summing
/// a run of rows, the runs' totals scanned in shared memory.
extern "C" __global__ void __launch_bounds__(1024) attnc_layout_scan(int64_t *start,
                                                                      int64_t rows) {
  __shared__ int64_t sums[1024];
  const int64_t per = (rows + 1023) / 1024;
  const int64_t lo = attnc_min_i64(threadIdx.x * per, rows);
  const int64_t hi = attnc_min_i64(lo + per, rows);
  int64_t sum = 0;
  for (int64_t r = lo; r < hi; ++r)
    sum += start[r + 1];
  sums[threadIdx.x] = sum;
  __syncthreads();
  for (int offset = 1; offset < 1024; offset *= 2) {
    int64_t before = threadIdx.x >= offset ? sums[threadIdx.x - offset] : 0;
    __syncthreads();
    sums[threadIdx.x] += before;
    __syncthreads();
  }
  int64_t running = threadIdx.x ? sums[threadIdx.x - 1] : 0;
  for (int64_t r = lo; r < hi; ++r) {
    running += start[r + 1];
    start[r + 1] = running;
  }
  if (threadIdx.x == 0)
    start[0] = 0;
}

/// The summary a layout reads through attnc_tensor::summary: one thread per
/// run of ATTNC_SUMMARY_BLOCK elements of a row of `length` (the last
/// dimension), over `rows` rows.
template <typename T>
__device__ __forceinline__ void attnc_tensor_summary(const attnc_tensor &t, int64_t rows,
                                                     int64_t length, int64_t *summary) {
  const int64_t runs = (length + ATTNC_SUMMARY_BLOCK - 1) / ATTNC_SUMMARY_BLOCK;
  const int64_t run = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (run >= rows * runs)
    return;
  const int64_t row = run / runs, first = (run % runs) * ATTNC_SUMMARY_BLOCK;
  const int64_t last = attnc_min_i64(first + ATTNC_SUMMARY_BLOCK, length);
  const T *data = static_cast<const T *>(t.data) + row * length;
  int64_t lo = ATTNC_INT64_MAX, hi = ATTNC_INT64_MIN;
  for (int64_t k = first; k < last; ++k) {
    lo = attnc_min_i64(lo, (int64_t)data[k]);
    hi = attnc_max_i64(hi, (int64_t)data[k]);
  }
  summary[2 * run] = lo;
  summary[2 * run + 1] = hi;
}

extern "C" __global__ void attnc_tensor_summary_i32(attnc_tensor t, int64_t rows, int64_t length,
                                                    int64_t *summary) {
  attnc_tensor_summary<int32_t>(t, rows, length, summary);
}

extern "C" __global__ void attnc_tensor_summary_i64(attnc_tensor t, int64_t rows, int64_t length,
                                                    int64_t *summary) {
  attnc_tensor_summary<int64_t>(t, rows, length, summary);
}
