#include "tokrl/nn/small_gemm_kernel.h"

#include <cstring>

#include "tokrl/core/cpu_clones.h"

namespace tokrl::internal {
namespace {

// Why by hand: OpenBLAS packs both operands for every call, which at these
// sizes (a 100 x 100 by 100 x 16 product is 0.3 MFLOP) costs about as much
// as the arithmetic: ATen's bmm, one sgemm per sample, ran at 30-45 GFLOP/s
// on a 2.45 GHz Zen 3 core where this loop runs at 55-70 (in cache). The
// register block is R rows x V vectors of 8 columns: R * V accumulators
// (12 of AVX2's 16 registers for 6 x 2), one broadcast of a per row and one
// load of b per vector for every j.
typedef float Vec __attribute__((vector_size(32)));
// The same vector at any float's alignment, for loads and stores.
typedef float VecU __attribute__((vector_size(32), aligned(4), may_alias));

template <int R, int V>
inline __attribute__((always_inline)) void Block(const float* a, int64_t a_row,
                                                 int64_t a_col, int64_t k,
                                                 const float* b, int64_t ldb,
                                                 int64_t cols, float* out,
                                                 int64_t ldo) {
  Vec acc[R][V];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) acc[r][v] = Vec{};
  }
  for (int64_t j = 0; j < k; ++j) {
    Vec bj[V];
    for (int v = 0; v < V; ++v) {
      bj[v] = *reinterpret_cast<const VecU*>(b + j * ldb + v * 8);
    }
    for (int r = 0; r < R; ++r) {
      const float s = a[r * a_row + j * a_col];
      for (int v = 0; v < V; ++v) acc[r][v] += s * bj[v];
    }
  }
  // A last block narrower than its vectors keeps only its columns.
  for (int r = 0; r < R; ++r) {
    if (cols == V * 8) {
      for (int v = 0; v < V; ++v) {
        *reinterpret_cast<VecU*>(out + r * ldo + v * 8) = acc[r][v];
      }
    } else {
      float last[V * 8];
      for (int v = 0; v < V; ++v) {
        *reinterpret_cast<VecU*>(last + v * 8) = acc[r][v];
      }
      std::memcpy(out + r * ldo, last,
                  static_cast<size_t>(cols) * sizeof(float));
    }
  }
}

template <int V>
inline __attribute__((always_inline)) void Columns(
    const float* a, int64_t a_row, int64_t a_col, int64_t rows, int64_t k,
    const float* b, int64_t ldb, int64_t cols, float* out, int64_t ldo) {
  // Rows in blocks of 6, the rest in one block of 4, 2 or 1 (fewer
  // accumulators: each waits on its previous addition).
  int64_t i = 0;
  for (; i + 6 <= rows; i += 6) {
    Block<6, V>(a + i * a_row, a_row, a_col, k, b, ldb, cols, out + i * ldo,
                ldo);
  }
  if (i + 4 <= rows) {
    Block<4, V>(a + i * a_row, a_row, a_col, k, b, ldb, cols, out + i * ldo,
                ldo);
    i += 4;
  }
  if (i + 2 <= rows) {
    Block<2, V>(a + i * a_row, a_row, a_col, k, b, ldb, cols, out + i * ldo,
                ldo);
    i += 2;
  }
  if (i < rows) {
    Block<1, V>(a + i * a_row, a_row, a_col, k, b, ldb, cols, out + i * ldo,
                ldo);
  }
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
  for (; c < cols; ++c)
    DotBlock<RA, 1>(a, lda, b + c * ldb, ldb, k, out + c, ldo);
}

}  // namespace

TOKRL_CLONES
void SmallGemmRowsByRows(const float* a, int64_t lda, int64_t rows,
                         const float* b, int64_t ldb, int64_t cols, int64_t k,
                         float* out, int64_t ldo) {
  // 3 x 4 accumulators: 7 loads for 12 multiply-adds per 8 lanes of j.
  int64_t i = 0;
  for (; i + 3 <= rows; i += 3) {
    DotRows<3>(a + i * lda, lda, b, ldb, cols, k, out + i * ldo, ldo);
  }
  for (; i < rows; ++i)
    DotRows<1>(a + i * lda, lda, b, ldb, cols, k, out + i * ldo, ldo);
}

TOKRL_CLONES
void SmallGemm(const float* a, int64_t a_row, int64_t a_col, int64_t rows,
               int64_t k, const float* b, int64_t ldb, int64_t cols, float* out,
               int64_t ldo) {
  int64_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    Columns<2>(a, a_row, a_col, rows, k, b + c, ldb, 16, out + c, ldo);
  }
  for (; c < cols; c += 8) {
    Columns<1>(a, a_row, a_col, rows, k, b + c, ldb,
               cols - c < 8 ? cols - c : 8, out + c, ldo);
  }
}

}  // namespace tokrl::internal
