#include "tokrl/nn/small_gemm_kernel.h"

#include <algorithm>
#include <atomic>

#include "tokrl/core/cpu_clones.h"  // TOKRL_HAVE_AVX512_CLONE

namespace tokrl::internal {
namespace {

// Why by hand: OpenBLAS packs both operands for every call, which at these
// sizes (a 100 x 100 by 100 x 16 product is 0.3 MFLOP) costs about as much
// as the arithmetic: ATen's bmm, one sgemm per sample, ran at 30-45 GFLOP/s
// on a 2.45 GHz Zen 3 core where this loop runs at 55-70 (in cache). The
// register block is R rows x V vectors of W columns: R * V accumulators
// (12 of AVX2's 16 registers for 6 x 2 of 8), one broadcast of a per row
// and one load of b per vector for every j. With AVX-512 the vectors hold 16
// columns and there are 32 registers (Zen 5: ~2x the AVX2 loop's rate);
// every element is still the same sum in the same order.
//
// Fused multiply-adds: this file builds with -ffp-contract=fast where the
// loops have FMA targets (CMakeLists.txt), so `acc += s * b` is one FMA in
// the AVX2 + FMA and AVX-512 loops, and both give the same bits; the
// baseline loop, for CPUs without FMA, multiplies and adds. Why: a multiply
// and an add are two instructions and, on cores whose adders share the FMA
// pipes (Intel's without AVX-512), two pipe slots. On a shared Zen 5 core
// the FMA loops took up to 13% off SoftMoE updates in a busy hour and 0-3%
// in a quiet one, AVX2 and AVX-512 loops alike (bench_agent BM_Update,
// builds alternating; docs/speed.md).
template <int W>
struct Lanes;
template <>
struct Lanes<8> {
  typedef float Vec __attribute__((vector_size(32)));
  // The same vector at any float's alignment, for loads and stores.
  typedef float VecU __attribute__((vector_size(32), aligned(4), may_alias));
};
template <>
struct Lanes<1> {  // one float: a block's last columns
  typedef float Vec;
  typedef float VecU;
};
template <>
struct Lanes<16> {
  typedef float Vec __attribute__((vector_size(64)));
  typedef float VecU __attribute__((vector_size(64), aligned(4), may_alias));
};
typedef Lanes<8>::Vec Vec;
typedef Lanes<8>::VecU VecU;

// An epilogue's steps as bits of a template argument, so that each loop
// has only its own steps in it (tested at run time, they cost more than
// separate passes on products with k = 16). kAny: any steps, tested at
// run time, for combinations no caller uses now. kContinue is no step of
// the epilogue: the sums start from what out holds (the sums of b's
// earlier rows, stored by the previous chunk; see SmallGemmWith) instead
// of 0.
// kColumnTable is no step of the epilogue either: a's columns are at the
// offsets Epilogue::a_columns (SmallGemmColumnTable).
constexpr unsigned kBias = 1, kRelu = 2, kMask = 4, kColumnSums = 8,
                   kAccumulate = 16, kAny = 32, kContinue = 64,
                   kColumnTable = 128;

// The epilogue, and a's column offsets for kColumnTable, as the loops take
// them.
struct Epilogue : SmallGemmEpilogue {
  const int64_t* a_columns = nullptr;
};

// The epilogue's pointers moved to the output element [i, c].
inline Epilogue At(Epilogue ep, int64_t i, int64_t c) {
  if (ep.bias) ep.bias += c;
  if (ep.mask) ep.mask += i * ep.ldm + c;
  if (ep.column_sums) ep.column_sums += c;
  return ep;
}

// Stores W sums s at out, elements [i, c .. c + W) of the output, after
// the epilogue: ep is At(the caller's, the block's first row and column)
// and [i, c] is relative to it. The column sums' step adds s to
// *column_sum: the caller keeps these columns' running sums there (in
// registers or at ep.column_sums). (The unaligned type comes from Lanes
// here: as a template argument a typedef's attributes would be dropped.)
template <unsigned F, int W>
inline __attribute__((always_inline)) void Store(
    const typename Lanes<W>::Vec& sum, const Epilogue& ep, int64_t i, int64_t c,
    float* out, typename Lanes<W>::Vec* column_sum) {
  typedef typename Lanes<W>::Vec T;
  typedef typename Lanes<W>::VecU U;
  T s = sum;
  constexpr bool any = F & kAny;
  if ((F & kBias) || (any && ep.bias))
    s += *reinterpret_cast<const U*>(ep.bias + c);
  if ((F & kRelu) || (any && ep.relu)) s = s < T{} ? T{} : s;
  if ((F & kMask) || (any && ep.mask)) {
    const T m = *reinterpret_cast<const U*>(ep.mask + i * ep.ldm + c);
    s = m > T{} ? s : T{};
  }
  if ((F & kColumnSums) || (any && ep.column_sums)) {
    *column_sum = *column_sum + s;
  }
  U* o = reinterpret_cast<U*>(out);
  *o = (F & kAccumulate) || (any && ep.accumulate) ? *o + s : s;
}

// kUnitRow: a_row == 1 (a transposed operand, as SoftMoE's dispatch D^T X),
// so that row r's element is at a constant offset r from column j's and the
// compiler needs no register per row for it (with a_row a variable, GCC kept
// the 12 rows' offsets in vector registers and moved one out for every
// broadcast; bench_nn BM_SmallGemm/0/1, paired: -14%).
// F: the epilogue's steps.
template <unsigned F, int R, int V, int W, bool kUnitRow>
inline __attribute__((always_inline)) void Block(
    const float* a, int64_t a_row, int64_t a_col, int64_t k, const float* b,
    int64_t ldb, int64_t cols, float* out, int64_t ldo, const Epilogue& ep) {
  typedef typename Lanes<W>::Vec BVec;
  typedef typename Lanes<W>::VecU BVecU;
  BVec acc[R][V];
  for (int r = 0; r < R; ++r) {
    if constexpr ((F & kContinue) != 0) {
      if (cols == V * W) {
        for (int v = 0; v < V; ++v) {
          acc[r][v] = *reinterpret_cast<const BVecU*>(out + r * ldo + v * W);
        }
      } else {
        float last[V * W] = {};
        std::copy(out + r * ldo, out + r * ldo + cols, last);
        for (int v = 0; v < V; ++v) {
          acc[r][v] = *reinterpret_cast<const BVecU*>(last + v * W);
        }
      }
    } else {
      for (int v = 0; v < V; ++v) acc[r][v] = BVec{};
    }
  }
  for (int64_t j = 0; j < k; ++j) {
    BVec bj[V];
    for (int v = 0; v < V; ++v) {
      bj[v] = *reinterpret_cast<const BVecU*>(b + j * ldb + v * W);
    }
    for (int r = 0; r < R; ++r) {
      const float s = (F & kColumnTable) ? a[r + ep.a_columns[j]]
                      : kUnitRow         ? a[r + j * a_col]
                                         : a[r * a_row + j * a_col];
      for (int v = 0; v < V; ++v) acc[r][v] += s * bj[v];
    }
  }
  if (cols == V * W) {
    // The column sums' running values in registers across the block's rows
    // (the same additions in the same order). Why: added to memory row
    // after row, each row's addition waited on the previous row's store
    // (forwarded, ~10 cycles on a Zen 3), and the experts' dh = gy W2^T
    // with its mask and b1's gradient ran at 39-58 GFLOP/s there against
    // 50-75 for the same shapes with bias and ReLU; held here, 0.82-0.94x
    // the time (in one process, docs/speed.md).
    const bool has_sums =
        (F & kColumnSums) || ((F & kAny) && ep.column_sums != nullptr);
    BVec sums[V] = {};
    if (has_sums) {
      for (int v = 0; v < V; ++v) {
        sums[v] = *reinterpret_cast<const BVecU*>(ep.column_sums + v * W);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int v = 0; v < V; ++v) {
        Store<F, W>(acc[r][v], ep, r, v * W, out + r * ldo + v * W, &sums[v]);
      }
    }
    if (has_sums) {
      for (int v = 0; v < V; ++v) {
        *reinterpret_cast<BVecU*>(ep.column_sums + v * W) = sums[v];
      }
    }
    return;
  }
  // A last block narrower than its vectors keeps only its columns.
  for (int r = 0; r < R; ++r) {
    float last[V * W];
    for (int v = 0; v < V; ++v) {
      *reinterpret_cast<BVecU*>(last + v * W) = acc[r][v];
    }
    for (int64_t c = 0; c < cols; ++c) {
      Store<F, 1>(last[c], ep, r, c, out + r * ldo + c,
                  ep.column_sums ? ep.column_sums + c : nullptr);
    }
  }
}

// Rows in blocks of RM, the rest in blocks of 6, 4, 2 and 1 (fewer
// accumulators: each waits on its previous addition).
template <unsigned F, int V, int W, int RM, bool kUnitRow>
inline __attribute__((always_inline)) void RowBlocks(
    const float* a, int64_t a_row, int64_t a_col, int64_t rows, int64_t k,
    const float* b, int64_t ldb, int64_t cols, float* out, int64_t ldo,
    const Epilogue& ep) {
  int64_t i = 0;
  for (; i + RM <= rows; i += RM) {
    Block<F, RM, V, W, kUnitRow>(a + i * a_row, a_row, a_col, k, b, ldb, cols,
                                 out + i * ldo, ldo, At(ep, i, 0));
  }
  for (; i + 6 <= rows; i += 6) {
    Block<F, 6, V, W, kUnitRow>(a + i * a_row, a_row, a_col, k, b, ldb, cols,
                                out + i * ldo, ldo, At(ep, i, 0));
  }
  if (i + 4 <= rows) {
    Block<F, 4, V, W, kUnitRow>(a + i * a_row, a_row, a_col, k, b, ldb, cols,
                                out + i * ldo, ldo, At(ep, i, 0));
    i += 4;
  }
  if (i + 2 <= rows) {
    Block<F, 2, V, W, kUnitRow>(a + i * a_row, a_row, a_col, k, b, ldb, cols,
                                out + i * ldo, ldo, At(ep, i, 0));
    i += 2;
  }
  if (i < rows) {
    Block<F, 1, V, W, kUnitRow>(a + i * a_row, a_row, a_col, k, b, ldb, cols,
                                out + i * ldo, ldo, At(ep, i, 0));
  }
}

template <unsigned F, int V, int W, int RM>
inline __attribute__((always_inline)) void Columns(
    const float* a, int64_t a_row, int64_t a_col, int64_t rows, int64_t k,
    const float* b, int64_t ldb, int64_t cols, float* out, int64_t ldo,
    const Epilogue& ep) {
  if (a_row == 1) {
    RowBlocks<F, V, W, RM, true>(a, a_row, a_col, rows, k, b, ldb, cols, out,
                                 ldo, ep);
  } else {
    RowBlocks<F, V, W, RM, false>(a, a_row, a_col, rows, k, b, ldb, cols, out,
                                  ldo, ep);
  }
}

// Whether the epilogue F stores the same values when a block runs again
// over columns that an earlier block wrote: nothing added to out or to the
// column sums, no sums continued from out.
template <unsigned F>
constexpr bool Rewritable() {
  return (F & (kAccumulate | kColumnSums | kContinue | kAny)) == 0;
}

// Columns in blocks of 16, then of 8 (the last one partial, or whole over
// columns written before): b is readable up to cols rounded up to 8.
template <unsigned F>
inline __attribute__((always_inline)) void Gemm8(const float* a, int64_t a_row,
                                                 int64_t a_col, int64_t rows,
                                                 int64_t k, const float* b,
                                                 int64_t ldb, int64_t cols,
                                                 float* out, int64_t ldo,
                                                 const Epilogue& ep) {
  int64_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    Columns<F, 2, 8, 6>(a, a_row, a_col, rows, k, b + c, ldb, 16, out + c, ldo,
                        At(ep, 0, c));
  }
  for (; c + 8 <= cols; c += 8) {
    Columns<F, 1, 8, 6>(a, a_row, a_col, rows, k, b + c, ldb, 8, out + c, ldo,
                        At(ep, 0, c));
  }
  if (c == cols) return;
  // The last < 8 columns: a whole block over the last 8 where the epilogue
  // allows (see SmallGemmAvx512), else a partial one.
  const int64_t last = Rewritable<F>() && cols >= 8 ? cols - 8 : c;
  Columns<F, 1, 8, 6>(a, a_row, a_col, rows, k, b + last, ldb, cols - last,
                      out + last, ldo, At(ep, 0, last));
}

// RA rows of a against RB rows of b, dot products of length k (a multiple
// of 8).
template <int RA, int RB>
inline __attribute__((always_inline)) void DotBlock(const float* a, int64_t lda,
                                                    const float* b, int64_t ldb,
                                                    int64_t k, float* out,
                                                    int64_t ldo) {
  Vec acc[RA][RB];
  for (int r = 0; r < RA; ++r) {
    for (int c = 0; c < RB; ++c) acc[r][c] = Vec{};
  }
  for (int64_t j = 0; j < k; j += 8) {
    Vec bj[RB];
    for (int c = 0; c < RB; ++c) {
      bj[c] = *reinterpret_cast<const VecU*>(b + c * ldb + j);
    }
    for (int r = 0; r < RA; ++r) {
      const Vec aj = *reinterpret_cast<const VecU*>(a + r * lda + j);
      for (int c = 0; c < RB; ++c) acc[r][c] += aj * bj[c];
    }
  }
  for (int r = 0; r < RA; ++r) {
    for (int c = 0; c < RB; ++c) {
      const Vec v = acc[r][c];
      out[r * ldo + c] =
          ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
    }
  }
}

template <int RA>
inline __attribute__((always_inline)) void DotRows(const float* a, int64_t lda,
                                                   const float* b, int64_t ldb,
                                                   int64_t cols, int64_t k,
                                                   float* out, int64_t ldo) {
  int64_t c = 0;
  for (; c + 4 <= cols; c += 4) {
    DotBlock<RA, 4>(a, lda, b + c * ldb, ldb, k, out + c, ldo);
  }
  if (c + 2 <= cols) {
    DotBlock<RA, 2>(a, lda, b + c * ldb, ldb, k, out + c, ldo);
    c += 2;
  }
  if (c < cols) DotBlock<RA, 1>(a, lda, b + c * ldb, ldb, k, out + c, ldo);
}

// 3 x 4 accumulators: 7 loads for 12 multiply-adds per 8 lanes of j. The
// last rows and columns in blocks of 2, then 1 (were: of 1): each
// accumulator waits on its previous multiply-add (4-5 cycles with FMA),
// so the fewer accumulators a block has, the more it waits. With FMA and
// these blocks a 32 x 1600 by 1600 x 6 product took 9.0 us where the
// previous loop took 10.2. (An element's sum is the same in any block.)
inline __attribute__((always_inline)) void RowsByRows(
    const float* a, int64_t lda, int64_t rows, const float* b, int64_t ldb,
    int64_t cols, int64_t k, float* out, int64_t ldo) {
  int64_t i = 0;
  for (; i + 3 <= rows; i += 3) {
    DotRows<3>(a + i * lda, lda, b, ldb, cols, k, out + i * ldo, ldo);
  }
  if (i + 2 <= rows) {
    DotRows<2>(a + i * lda, lda, b, ldb, cols, k, out + i * ldo, ldo);
    i += 2;
  }
  if (i < rows)
    DotRows<1>(a + i * lda, lda, b, ldb, cols, k, out + i * ldo, ldo);
}

// The loops for CPUs without FMA: separate multiplies and adds.
void RowsByRowsPlain(const float* a, int64_t lda, int64_t rows, const float* b,
                     int64_t ldb, int64_t cols, int64_t k, float* out,
                     int64_t ldo) {
  RowsByRows(a, lda, rows, b, ldb, cols, k, out, ldo);
}

template <unsigned F>
void SmallGemmPlain(const float* a, int64_t a_row, int64_t a_col, int64_t rows,
                    int64_t k, const float* b, int64_t ldb, int64_t cols,
                    float* out, int64_t ldo, const Epilogue& ep) {
  Gemm8<F>(a, a_row, a_col, rows, k, b, ldb, cols, out, ldo, ep);
}

#if TOKRL_HAVE_AVX512_CLONE
__attribute__((target("avx2,fma"))) void RowsByRowsFma(
    const float* a, int64_t lda, int64_t rows, const float* b, int64_t ldb,
    int64_t cols, int64_t k, float* out, int64_t ldo) {
  RowsByRows(a, lda, rows, b, ldb, cols, k, out, ldo);
}

template <unsigned F>
__attribute__((target("avx2,fma"))) void SmallGemmFma(
    const float* a, int64_t a_row, int64_t a_col, int64_t rows, int64_t k,
    const float* b, int64_t ldb, int64_t cols, float* out, int64_t ldo,
    const Epilogue& ep) {
  Gemm8<F>(a, a_row, a_col, rows, k, b, ldb, cols, out, ldo, ep);
}

template <unsigned F>
__attribute__((target("avx512f,fma"))) void SmallGemmAvx512(
    const float* a, int64_t a_row, int64_t a_col, int64_t rows, int64_t k,
    const float* b, int64_t ldb, int64_t cols, float* out, int64_t ldo,
    const Epilogue& ep) {
  int64_t c = 0;
  for (; c + 32 <= cols; c += 32) {
    Columns<F, 2, 16, 8>(a, a_row, a_col, rows, k, b + c, ldb, 32, out + c, ldo,
                         At(ep, 0, c));
  }
  for (; c + 16 <= cols; c += 16) {
    Columns<F, 1, 16, 12>(a, a_row, a_col, rows, k, b + c, ldb, 16, out + c,
                          ldo, At(ep, 0, c));
  }
  // The last < 16 columns: where the epilogue allows, one whole block over
  // the last 16, again over some that the blocks before wrote (each element
  // is the same sum in the same order whichever block makes it). Why: a
  // block narrower than its vectors stores column by column; SoftMoE's
  // MinAtar products of 100 columns took 78 us for 32 samples, their first
  // 96 columns 58.8 and their last 4 alone 18.9, a whole 16-column block
  // 12.6. Else as the 8-wide loop does them.
  if (Rewritable<F>() && c < cols && cols >= 16) {
    Columns<F, 1, 16, 12>(a, a_row, a_col, rows, k, b + cols - 16, ldb, 16,
                          out + cols - 16, ldo, At(ep, 0, cols - 16));
    return;
  }
  if (c < cols) {
    Gemm8<F>(a, a_row, a_col, rows, k, b + c, ldb, cols - c, out + c, ldo,
             At(ep, 0, c));
  }
}
#endif

std::atomic<bool> avx512_allowed{true};

}  // namespace

bool SmallGemmFuses() {
#if TOKRL_HAVE_AVX512_CLONE
  return CpuHasAvx2Fma();
#else
  return false;
#endif
}

bool SmallGemmHasAvx512() {
#if TOKRL_HAVE_AVX512_CLONE && !defined(TOKRL_NO_AVX512)
  return CpuHasAvx512() && avx512_allowed.load(std::memory_order_relaxed);
#else
  return false;
#endif
}

bool SetSmallGemmAvx512(bool allowed) {
  return avx512_allowed.exchange(allowed);
}

void SmallGemmRowsByRows(const float* a, int64_t lda, int64_t rows,
                         const float* b, int64_t ldb, int64_t cols, int64_t k,
                         float* out, int64_t ldo) {
#if TOKRL_HAVE_AVX512_CLONE
  if (CpuHasAvx2Fma()) {
    RowsByRowsFma(a, lda, rows, b, ldb, cols, k, out, ldo);
    return;
  }
#endif
  RowsByRowsPlain(a, lda, rows, b, ldb, cols, k, out, ldo);
}

namespace {

template <unsigned F>
void SmallGemmOn(const float* a, int64_t a_row, int64_t a_col, int64_t rows,
                 int64_t k, const float* b, int64_t ldb, int64_t cols,
                 float* out, int64_t ldo, const Epilogue& ep) {
#if TOKRL_HAVE_AVX512_CLONE
  if (SmallGemmHasAvx512()) {
    SmallGemmAvx512<F>(a, a_row, a_col, rows, k, b, ldb, cols, out, ldo, ep);
    return;
  }
  if (CpuHasAvx2Fma()) {
    SmallGemmFma<F>(a, a_row, a_col, rows, k, b, ldb, cols, out, ldo, ep);
    return;
  }
#endif
  SmallGemmPlain<F>(a, a_row, a_col, rows, k, b, ldb, cols, out, ldo, ep);
}

// b's rows per chunk; the size of b above which, and the most rows of a
// for which, the product runs in chunks of them.
constexpr int64_t kRowChunk = 16;
constexpr int64_t kChunkedBytes = int64_t{256} << 10;
constexpr int64_t kChunkedRows = 16;

// A b of many rows far apart in chunks of kRowChunk rows, each continuing
// the sums that the chunk before it stored in out, the epilogue after the
// last (its sums are the same, in the same order). Why: a block of columns
// reads one cache line from each of b's k rows, k lines ldb floats apart;
// when b is not in L2 (a C51 head's weight block, 51 x 1600 floats, in its
// gradient g W at the taken actions) those are k streams at once, more
// than the hardware prefetcher follows, and with a few rows of a (a few
// multiply-adds per line) the loop waits on memory. On a Zen 3 (in one
// process, old loop against chunks of 8, 16, 32 rows): the head's
// gradient, W out of L2, 276 -> 127-140 us (from DRAM 690 -> 126-135; in
// cache ~100 either way); a 16 x 3200 by 3200 x 100 product with b in L3
// 263 -> 187 us. With 32 rows (a dense layer's g W, 128 x 1600) the sums'
// reloads cost more than the streams: 169 -> 211-219 us, so only products
// of few rows go in chunks.
template <unsigned F>
void SmallGemmWith(const float* a, int64_t a_row, int64_t a_col, int64_t rows,
                   int64_t k, const float* b, int64_t ldb, int64_t cols,
                   float* out, int64_t ldo, const Epilogue& ep) {
  // An accumulating product's out holds what its sums add to.
  const bool accumulates = (F & kAccumulate) || ((F & kAny) && ep.accumulate);
  if (accumulates || rows > kChunkedRows || k <= 2 * kRowChunk ||
      k * ldb * static_cast<int64_t>(sizeof(float)) <= kChunkedBytes) {
    SmallGemmOn<F>(a, a_row, a_col, rows, k, b, ldb, cols, out, ldo, ep);
    return;
  }
  SmallGemmOn<0>(a, a_row, a_col, rows, kRowChunk, b, ldb, cols, out, ldo, ep);
  int64_t j = kRowChunk;
  for (; j + kRowChunk < k; j += kRowChunk) {
    SmallGemmOn<kContinue>(a + j * a_col, a_row, a_col, rows, kRowChunk,
                           b + j * ldb, ldb, cols, out, ldo, ep);
  }
  SmallGemmOn<F | kContinue>(a + j * a_col, a_row, a_col, rows, k - j,
                             b + j * ldb, ldb, cols, out, ldo, ep);
}

}  // namespace

void SmallGemm(const float* a, int64_t a_row, int64_t a_col, int64_t rows,
               int64_t k, const float* b, int64_t ldb, int64_t cols, float* out,
               int64_t ldo, const SmallGemmEpilogue& epilogue) {
  Epilogue ep;
  static_cast<SmallGemmEpilogue&>(ep) = epilogue;
  const unsigned steps =
      (epilogue.bias ? kBias : 0) | (epilogue.relu ? kRelu : 0) |
      (epilogue.mask ? kMask : 0) | (epilogue.column_sums ? kColumnSums : 0) |
      (epilogue.accumulate ? kAccumulate : 0);
  // The combinations in use: the experts' MLP (expert_mlp_kernel.cc) and
  // the tokenized baselines' weight gradient (token_aggregate_kernel.cc).
  switch (steps) {
    case 0:
      return SmallGemmWith<0>(a, a_row, a_col, rows, k, b, ldb, cols, out, ldo,
                              ep);
    case kBias:
      return SmallGemmWith<kBias>(a, a_row, a_col, rows, k, b, ldb, cols, out,
                                  ldo, ep);
    case kBias | kRelu:
      return SmallGemmWith<kBias | kRelu>(a, a_row, a_col, rows, k, b, ldb,
                                          cols, out, ldo, ep);
    case kMask | kColumnSums:
      return SmallGemmWith<kMask | kColumnSums>(a, a_row, a_col, rows, k, b,
                                                ldb, cols, out, ldo, ep);
    case kAccumulate:
      return SmallGemmWith<kAccumulate>(a, a_row, a_col, rows, k, b, ldb, cols,
                                        out, ldo, ep);
    default:
      return SmallGemmWith<kAny>(a, a_row, a_col, rows, k, b, ldb, cols, out,
                                 ldo, ep);
  }
}

void SmallGemmColumnTable(const float* a, const int64_t* a_columns,
                          int64_t rows, int64_t k, const float* b, int64_t ldb,
                          int64_t cols, float* out, int64_t ldo) {
  Epilogue ep;
  ep.a_columns = a_columns;
  // Not SmallGemmWith: its chunks of b's rows move a by whole columns.
  SmallGemmOn<kColumnTable>(a, 1, 0, rows, k, b, ldb, cols, out, ldo, ep);
}

}  // namespace tokrl::internal
