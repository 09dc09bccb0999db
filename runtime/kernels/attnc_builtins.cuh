//===- attnc_builtins.cuh - Device helpers called by generated code -------===//
//
// The device meaning of the attn dialect's builtins, called by the functions
// that `attnc compile --emit=cuda` generates. Each helper matches its CPU
// counterpart bit for bit: attn.floormod and arith.floordivsi as
// dialect/lib/Evaluator.cpp evaluates them, the interval transfer functions as
// dialect/include/attnc/Dialect/Attn/IntervalMath.h defines them, ALiBi slopes
// with the floating-point operations of dialect/lib/AlibiSlope.cpp.
//
// Device code only and free of the standard library: NVRTC compiles it, handed
// over as an in-memory header. No __builtin_*_overflow either (NVRTC lacks
// them): overflow is tested before the operation.
//
//===----------------------------------------------------------------------===//
#pragma once

#if defined(__CUDACC_RTC__)
// The same types as libcu++'s <cuda/std/cstdint> under NVRTC, so that kernels
// may include both.
typedef signed int int32_t;
typedef signed long long int64_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
#else
#include <stdint.h>
#endif

#define ATTNC_INT64_MIN (-9223372036854775807LL - 1)
#define ATTNC_INT64_MAX 9223372036854775807LL
#define ATTNC_MAX_TENSORS 8
#define ATTNC_MAX_RANK 4

//===----------------------------------------------------------------------===//
// What generated functions are passed: the run-time sizes and the tensors
//===----------------------------------------------------------------------===//

/// The run-time sizes attn.dim reads. Parameters are not here: code is
/// generated after specialization, so they are constants in the functions.
struct attnc_shape {
  int64_t H, Nq, Nk, D;
};

enum attnc_dim_kind { ATTNC_DIM_H, ATTNC_DIM_NQ, ATTNC_DIM_NK, ATTNC_DIM_D };

/// One row-major tensor parameter. The generated code knows its element type
/// and rank; `dims` bounds every index.
struct attnc_tensor {
  const void *data;
  int64_t dims[ATTNC_MAX_RANK];
  // For the layout kernel: the smallest and largest element of each run of
  // ATTNC_SUMMARY_BLOCK elements along the last dimension (pairs, row by
  // row, the last run of a row possibly short), or null.
  const int64_t *summary;
};

#define ATTNC_SUMMARY_BLOCK 16

/// The tensor parameters of a pattern, in declaration order (the generated
/// source lists them in an enum).
struct attnc_tensors {
  attnc_tensor t[ATTNC_MAX_TENSORS];
};

/// A gradient accumulator: a fixed-point number of 2^-32 units in two's
/// complement. Integer additions commute exactly, so the sum of many
/// threads' contributions is the same bits whatever their order: gradients
/// stay deterministic. |sum| < 2^31.
typedef unsigned long long attnc_grad_word;
#define ATTNC_GRAD_WORD_SCALE 4294967296.0 // 2^32

/// Where attnc_<p>_tensor_grad adds the gradients of the f32 tensors that
/// bias and score read: g[k] for tensor slot k, row-major with the shape of
/// tensors.t[k]; null for a tensor without a gradient.
struct attnc_tensor_grads {
  attnc_grad_word *g[ATTNC_MAX_TENSORS];
};

__device__ __forceinline__ int64_t attnc_dim(const attnc_shape &shape, attnc_dim_kind kind) {
  switch (kind) {
  case ATTNC_DIM_H: return shape.H;
  case ATTNC_DIM_NQ: return shape.Nq;
  case ATTNC_DIM_NK: return shape.Nk;
  default: return shape.D;
  }
}

//===----------------------------------------------------------------------===//
// Integer element operations (i64 arithmetic wraps, as the language says)
//===----------------------------------------------------------------------===//

// The unsigned type of T, through which T's arithmetic wraps.
template <typename T> struct attnc_unsigned;
template <> struct attnc_unsigned<int64_t> { typedef uint64_t type; };
template <> struct attnc_unsigned<int32_t> { typedef uint32_t type; };

/// floor(a / b) for b != 0 and not (a == min and b == -1).
template <typename T> __device__ __forceinline__ T attnc_floor_div_plain(T a, T b) {
  T q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

template <typename T> __device__ __forceinline__ T attnc_floor_mod_plain(T a, T b) {
  T r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

// Division by zero is an error on the CPU; device code cannot report it, so it
// yields 0 rather than an undefined value. T is int64_t, or int32_t in masks
// proven narrow (attn.narrow_mask; the proof keeps divisors away from 0 and
// results within int32, and these guards fold away for constant divisors).
template <typename T> __device__ __forceinline__ T attnc_floordiv(T a, T b) {
  typedef typename attnc_unsigned<T>::type U;
  if (b == 0)
    return 0;
  if (b == -1) // wraps for the minimum instead of trapping
    return (T)((U)0 - (U)a);
  return attnc_floor_div_plain(a, b);
}

template <typename T> __device__ __forceinline__ T attnc_floormod(T a, T b) {
  if (b == 0 || b == -1)
    return 0;
  return attnc_floor_mod_plain(a, b);
}

__device__ __forceinline__ int64_t attnc_min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ int64_t attnc_max_i64(int64_t a, int64_t b) { return a > b ? a : b; }
__device__ __forceinline__ int64_t attnc_abs_i64(int64_t a) {
  return a < 0 ? (int64_t)(0ULL - (uint64_t)a) : a;
}
// For masks proven narrow: no result leaves int32 (so abs never sees INT32_MIN).
__device__ __forceinline__ int32_t attnc_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
__device__ __forceinline__ int32_t attnc_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
__device__ __forceinline__ int32_t attnc_abs_i32(int32_t a) { return a < 0 ? -a : a; }

//===----------------------------------------------------------------------===//
// ALiBi slopes (Press et al., 2022), as AlibiSlope.cpp computes them
//===----------------------------------------------------------------------===//

/// 2^x; 2^-inf = 0, within 2 ulp (exp2f's own instruction; the kernels'
/// probabilities are then rounded to 16 bits anyway). Plain asm, unlike
/// exp2f's intrinsic, merges across calls with the same x.
__device__ __forceinline__ float attnc_exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// The slope of head h of n as in AlibiSlope.h, 2^(-8 (k + 1) / m), in
// float arithmetic that the compiler can hoist out of the kernels' loops (a
// double pow called per tile cost ALiBi 73 % more instructions than causal).
// Every exponent is exact in float (m is a power of two). The power is
// attnc_exp2_approx (no denormals here): with exp2f each pair of a tile
// would pay one MUFU op for the same slope.
// Outside 0 <= h < n <= 2^30 the CPU reports an error; here the slope is 0.
__device__ __forceinline__ float attnc_alibi_slope(int64_t h, int64_t n) {
  if (n < 1 || n > (1LL << 30) || h < 0 || h >= n)
    return 0.0f;
  int64_t closest = 1LL << (63 - __clzll(n)); // the largest power of two <= n
  float exponent = h < closest ? -8.0f * (float)(h + 1) / (float)closest
                               : -4.0f * (float)(2 * (h - closest) + 1) / (float)closest;
  return attnc_exp2_approx(exponent);
}

//===----------------------------------------------------------------------===//
// Tensor parameters
//===----------------------------------------------------------------------===//

/// Row-major offset of `index` (one entry per dimension), or -1 when an index
/// is out of range (an error on the CPU; here the element reads as 0).
template <int Rank>
__device__ __forceinline__ int64_t attnc_tensor_offset(const attnc_tensor &t,
                                                      const int64_t (&index)[Rank]) {
  int64_t offset = 0;
  for (int k = 0; k < Rank; ++k) {
    if (index[k] < 0 || index[k] >= t.dims[k])
      return -1;
    offset = offset * t.dims[k] + index[k];
  }
  return offset;
}

template <typename T, typename Result, typename... Index>
__device__ __forceinline__ Result attnc_tensor_element(const attnc_tensor &t, Index... indices) {
  const int64_t index[] = {(int64_t)indices...};
  int64_t offset = attnc_tensor_offset(t, index);
  return offset < 0 ? Result(0) : Result(static_cast<const T *>(t.data)[offset]);
}

// attn.tensor_load: integer elements are sign-extended to i64.
template <typename... Index>
__device__ __forceinline__ int64_t attnc_tensor_load_i32(const attnc_tensors &ts, int k,
                                                         Index... indices) {
  return attnc_tensor_element<int32_t, int64_t>(ts.t[k], indices...);
}
template <typename... Index>
__device__ __forceinline__ int64_t attnc_tensor_load_i64(const attnc_tensors &ts, int k,
                                                         Index... indices) {
  return attnc_tensor_element<int64_t, int64_t>(ts.t[k], indices...);
}
template <typename... Index>
__device__ __forceinline__ float attnc_tensor_load_f32(const attnc_tensors &ts, int k,
                                                       Index... indices) {
  return attnc_tensor_element<float, float>(ts.t[k], indices...);
}

//===----------------------------------------------------------------------===//
// Gradients of tensor parameters (attn.grad_accumulate)
//===----------------------------------------------------------------------===//

/// The row-major offset of an element of tensor k, or -1 when an index is out
/// of range (the element read as 0: it has no gradient).
template <typename... Index>
__device__ __forceinline__ int64_t attnc_tensor_offset_at(const attnc_tensors &ts, int k,
                                                         Index... indices) {
  const int64_t index[] = {(int64_t)indices...};
  return attnc_tensor_offset(ts.t[k], index);
}

__device__ __forceinline__ attnc_grad_word *attnc_tensor_grad(const attnc_tensor_grads &gs,
                                                             int k) {
  return gs.g[k];
}

/// Adds `amount` to grad[offset]. The contract generated code relies on: an
/// offset below 0 (an index out of range) or a null grad adds nothing; pairs
/// of many threads may add to one element at once.
__device__ __forceinline__ void attnc_grad_accumulate(attnc_grad_word *grad, int64_t offset,
                                                      float amount) {
  if (grad == nullptr || offset < 0)
    return;
  long long fixed = __double2ll_rn((double)amount * ATTNC_GRAD_WORD_SCALE);
  atomicAdd(grad + offset, (attnc_grad_word)fixed);
}

//===----------------------------------------------------------------------===//
// Interval twins: IntervalMath.h on the device
//===----------------------------------------------------------------------===//

/// An inclusive interval of i64.
struct attnc_range {
  int64_t lo, hi;
};

/// Whether a predicate may be true, and may be false, over a tile.
struct attnc_truth {
  bool may_be_true, may_be_false;
};

__device__ __forceinline__ attnc_range attnc_full_range() {
  return {ATTNC_INT64_MIN, ATTNC_INT64_MAX};
}
__device__ __forceinline__ int64_t attnc_range_lo(attnc_range r) { return r.lo; }
__device__ __forceinline__ int64_t attnc_range_hi(attnc_range r) { return r.hi; }
__device__ __forceinline__ attnc_truth attnc_make_truth(bool may_be_true, bool may_be_false) {
  return {may_be_true, may_be_false};
}
__device__ __forceinline__ bool attnc_truth_may_be_true(attnc_truth t) { return t.may_be_true; }
__device__ __forceinline__ bool attnc_truth_may_be_false(attnc_truth t) { return t.may_be_false; }

__device__ __forceinline__ bool attnc_add_overflows(int64_t a, int64_t b) {
  return b > 0 ? a > ATTNC_INT64_MAX - b : a < ATTNC_INT64_MIN - b;
}
__device__ __forceinline__ bool attnc_sub_overflows(int64_t a, int64_t b) {
  return b < 0 ? a > ATTNC_INT64_MAX + b : a < ATTNC_INT64_MIN + b;
}
/// The product overflows when the high 64 bits of the 128-bit product are not
/// the sign extension of the low 64 bits.
__device__ __forceinline__ bool attnc_mul_overflows(int64_t a, int64_t b) {
  int64_t low = (int64_t)((uint64_t)a * (uint64_t)b);
  return __mul64hi(a, b) != (low < 0 ? -1LL : 0LL);
}

__device__ __forceinline__ attnc_range attnc_hull(int64_t c0, int64_t c1, int64_t c2, int64_t c3) {
  return {attnc_min_i64(attnc_min_i64(c0, c1), attnc_min_i64(c2, c3)),
          attnc_max_i64(attnc_max_i64(c0, c1), attnc_max_i64(c2, c3))};
}

__device__ __forceinline__ attnc_range attnc_int_range_add(int64_t alo, int64_t ahi, int64_t blo,
                                                           int64_t bhi) {
  if (attnc_add_overflows(alo, blo) || attnc_add_overflows(ahi, bhi))
    return attnc_full_range();
  return {alo + blo, ahi + bhi};
}

__device__ __forceinline__ attnc_range attnc_int_range_sub(int64_t alo, int64_t ahi, int64_t blo,
                                                           int64_t bhi) {
  if (attnc_sub_overflows(alo, bhi) || attnc_sub_overflows(ahi, blo))
    return attnc_full_range();
  return {alo - bhi, ahi - blo};
}

__device__ __forceinline__ attnc_range attnc_int_range_mul(int64_t alo, int64_t ahi, int64_t blo,
                                                           int64_t bhi) {
  if (attnc_mul_overflows(alo, blo) || attnc_mul_overflows(alo, bhi) ||
      attnc_mul_overflows(ahi, blo) || attnc_mul_overflows(ahi, bhi))
    return attnc_full_range();
  return attnc_hull(alo * blo, alo * bhi, ahi * blo, ahi * bhi);
}

/// With the divisor of one sign, floor(a / b) is monotone in each argument,
/// so the extremes are at the corners.
__device__ __forceinline__ attnc_range attnc_int_range_floordiv(int64_t alo, int64_t ahi,
                                                                int64_t blo, int64_t bhi) {
  if (blo <= 0 && bhi >= 0)
    return attnc_full_range();
  if (alo == ATTNC_INT64_MIN && (blo == -1 || bhi == -1))
    return attnc_full_range(); // INT64_MIN / -1 overflows
  return attnc_hull(attnc_floor_div_plain(alo, blo), attnc_floor_div_plain(alo, bhi),
                    attnc_floor_div_plain(ahi, blo), attnc_floor_div_plain(ahi, bhi));
}

__device__ __forceinline__ attnc_range attnc_int_range_floormod(int64_t alo, int64_t ahi,
                                                                int64_t blo, int64_t bhi) {
  if (blo <= 0 && bhi >= 0)
    return attnc_full_range();
  if (blo == bhi && alo > ATTNC_INT64_MIN && ahi < ATTNC_INT64_MAX) {
    // One divisor: exact while the dividend stays within one period.
    int64_t d = blo;
    if (attnc_floor_div_plain(alo, d) == attnc_floor_div_plain(ahi, d)) {
      int64_t x = attnc_floor_mod_plain(alo, d), y = attnc_floor_mod_plain(ahi, d);
      return {attnc_min_i64(x, y), attnc_max_i64(x, y)};
    }
  }
  if (blo > 0) {
    if (alo >= 0 && ahi < blo)
      return {alo, ahi}; // a mod b == a for 0 <= a < b
    return {0, bhi - 1};
  }
  return {blo + 1, 0};
}

__device__ __forceinline__ attnc_range attnc_int_range_min(int64_t alo, int64_t ahi, int64_t blo,
                                                           int64_t bhi) {
  return {attnc_min_i64(alo, blo), attnc_min_i64(ahi, bhi)};
}

__device__ __forceinline__ attnc_range attnc_int_range_max(int64_t alo, int64_t ahi, int64_t blo,
                                                           int64_t bhi) {
  return {attnc_max_i64(alo, blo), attnc_max_i64(ahi, bhi)};
}

__device__ __forceinline__ attnc_range attnc_int_range_neg(int64_t alo, int64_t ahi) {
  if (alo == ATTNC_INT64_MIN)
    return attnc_full_range();
  return {-ahi, -alo};
}

__device__ __forceinline__ attnc_range attnc_int_range_abs(int64_t alo, int64_t ahi) {
  if (alo >= 0)
    return {alo, ahi};
  if (alo == ATTNC_INT64_MIN)
    return attnc_full_range();
  if (ahi <= 0)
    return {-ahi, -alo};
  return {0, attnc_max_i64(-alo, ahi)};
}

__device__ __forceinline__ attnc_truth attnc_cmp_range_lt(int64_t alo, int64_t ahi, int64_t blo,
                                                          int64_t bhi) {
  return {alo < bhi, ahi >= blo};
}

__device__ __forceinline__ attnc_truth attnc_cmp_range_le(int64_t alo, int64_t ahi, int64_t blo,
                                                          int64_t bhi) {
  return {alo <= bhi, ahi > blo};
}

__device__ __forceinline__ attnc_truth attnc_cmp_range_gt(int64_t alo, int64_t ahi, int64_t blo,
                                                          int64_t bhi) {
  return attnc_cmp_range_lt(blo, bhi, alo, ahi);
}

__device__ __forceinline__ attnc_truth attnc_cmp_range_ge(int64_t alo, int64_t ahi, int64_t blo,
                                                          int64_t bhi) {
  return attnc_cmp_range_le(blo, bhi, alo, ahi);
}

__device__ __forceinline__ attnc_truth attnc_cmp_range_eq(int64_t alo, int64_t ahi, int64_t blo,
                                                          int64_t bhi) {
  bool overlap = alo <= bhi && blo <= ahi;
  bool samePoint = alo == ahi && blo == bhi && alo == blo;
  return {overlap, !samePoint};
}

__device__ __forceinline__ attnc_truth attnc_cmp_range_ne(int64_t alo, int64_t ahi, int64_t blo,
                                                          int64_t bhi) {
  attnc_truth t = attnc_cmp_range_eq(alo, ahi, blo, bhi);
  return {t.may_be_false, t.may_be_true};
}

/// Widens `r` to the elements [lo, hi] of one row along the last dimension
/// (`row`: the flat index of the leading indices). Whole runs of the summary
/// cost one read instead of ATTNC_SUMMARY_BLOCK.
template <typename T, int Rank>
__device__ __forceinline__ void attnc_widen_by_run(const attnc_tensor &t, int64_t row, int64_t lo,
                                                   int64_t hi, attnc_range &r) {
  const int64_t length = t.dims[Rank - 1];
  const T *data = static_cast<const T *>(t.data) + row * length;
  const int64_t *summary =
      t.summary ? t.summary + 2 * row * ((length + ATTNC_SUMMARY_BLOCK - 1) / ATTNC_SUMMARY_BLOCK)
                : nullptr;
  for (int64_t k = lo; k <= hi;) {
    if (summary && k % ATTNC_SUMMARY_BLOCK == 0 && k + ATTNC_SUMMARY_BLOCK - 1 <= hi) {
      const int64_t *run = summary + 2 * (k / ATTNC_SUMMARY_BLOCK);
      r.lo = attnc_min_i64(r.lo, run[0]);
      r.hi = attnc_max_i64(r.hi, run[1]);
      k += ATTNC_SUMMARY_BLOCK;
    } else {
      int64_t v = data[k];
      r.lo = attnc_min_i64(r.lo, v);
      r.hi = attnc_max_i64(r.hi, v);
      ++k;
    }
  }
}

/// attn.tensor_range: the smallest and largest element over a box of indices
/// (`bounds` holds lo, hi per dimension), clipped to the shape; an empty box
/// gives the whole i64 range.
template <typename T, int Rank>
__device__ __forceinline__ attnc_range attnc_tensor_box(const attnc_tensor &t,
                                                        const int64_t (&bounds)[2 * Rank]) {
  int64_t lo[Rank], hi[Rank], index[Rank];
  for (int k = 0; k < Rank; ++k) {
    lo[k] = attnc_max_i64(bounds[2 * k], 0);
    hi[k] = attnc_min_i64(bounds[2 * k + 1], t.dims[k] - 1);
    if (lo[k] > hi[k])
      return attnc_full_range();
    index[k] = lo[k];
  }
  // The leading indices walk the box like an odometer; each of their
  // combinations is one run along the last dimension.
  attnc_range r = {ATTNC_INT64_MAX, ATTNC_INT64_MIN};
  while (true) {
    int64_t row = 0;
    for (int k = 0; k + 1 < Rank; ++k)
      row = row * t.dims[k] + index[k];
    attnc_widen_by_run<T, Rank>(t, row, lo[Rank - 1], hi[Rank - 1], r);
    int k = Rank - 1;
    while (k > 0 && index[k - 1] == hi[k - 1]) {
      index[k - 1] = lo[k - 1];
      --k;
    }
    if (k == 0)
      return r;
    ++index[k - 1];
  }
}

template <typename... Bound>
__device__ __forceinline__ attnc_range attnc_tensor_range_i32(const attnc_tensors &ts, int k,
                                                              Bound... bounds) {
  const int64_t box[] = {(int64_t)bounds...};
  return attnc_tensor_box<int32_t, sizeof...(Bound) / 2>(ts.t[k], box);
}

template <typename... Bound>
__device__ __forceinline__ attnc_range attnc_tensor_range_i64(const attnc_tensors &ts, int k,
                                                              Bound... bounds) {
  const int64_t box[] = {(int64_t)bounds...};
  return attnc_tensor_box<int64_t, sizeof...(Bound) / 2>(ts.t[k], box);
}
