// A matrix product for the small per-sample matrices of SoftMoE's dispatch
// and combine (100 x 100 routing weights against 100 x 16 tokens on
// MinAtar), free of LibTorch so that its .cc builds with its own flags (see
// CMakeLists.txt). BatchedMatmul (experts.h) wraps it for tensors.
//
//   out[i, c] = sum_{j < k} a[i * a_row + j * a_col] * b[j * ldb + c]
//   for i < rows, c < cols.
//
// a is read at any element strides (so A or A^T without a copy); b's rows
// are contiguous and must be readable up to cols rounded up to a multiple
// of 8 (ldb >= that): callers pad it. out is row-major with leading
// dimension ldo >= cols. The sum over j runs in order for every element, as
// fused multiply-adds where the CPU has FMA (every AVX2 CPU) and as
// separate multiplies and adds where it has not (SmallGemmFuses), so the
// AVX-512 loop (16 columns per vector, used where the CPU has it) and the
// AVX2 one give the same bits.
#ifndef TOKRL_NN_SMALL_GEMM_KERNEL_H_
#define TOKRL_NN_SMALL_GEMM_KERNEL_H_

#include <cstdint>
#include <memory>

namespace tokrl::internal {

/// Columns of b a call may read: cols rounded up to a multiple of this.
inline constexpr int64_t kSmallGemmLanes = 8;

/// n floats for a kernel's operands or results, not zeroed: for buffers
/// that every use writes before it reads (zero-filling the experts' and
/// the conv's scratch was ~3% of a MinAtar update's instructions).
inline std::unique_ptr<float[]> ScratchFloats(int64_t n) {
  return std::make_unique_for_overwrite<float[]>(static_cast<size_t>(n));
}

/// n rounded up to a multiple of kSmallGemmLanes: the row length of a b
/// operand padded for n columns.
inline int64_t SmallGemmPadded(int64_t n) {
  return (n + kSmallGemmLanes - 1) / kSmallGemmLanes * kSmallGemmLanes;
}

/// What SmallGemm does with each sum s = out[i, c] before it stores it, in
/// this order (every step optional): adds bias[c]; takes the ReLU (s < 0 ?
/// 0 : s, as std::max(s, 0.0f)); keeps s only where mask[i * ldm + c] > 0
/// (else 0); adds s to column_sums[c] (rows in order); adds s to what out
/// holds (accumulate). The same bits as the product followed by each step
/// as its own pass over out.
struct SmallGemmEpilogue {
  const float* bias = nullptr;  // [cols]
  bool relu = false;
  const float* mask = nullptr;  // [rows, ldm]
  int64_t ldm = 0;
  float* column_sums = nullptr;  // [cols]
  bool accumulate = false;
};

void SmallGemm(const float* a, int64_t a_row, int64_t a_col, int64_t rows,
               int64_t k, const float* b, int64_t ldb, int64_t cols, float* out,
               int64_t ldo, const SmallGemmEpilogue& epilogue = {});

/// SmallGemm with a's rows one float apart and its columns at offsets from
/// a table: out[i, c] = sum_{j < k} a[i + a_columns[j]] * b[j * ldb + c]
/// (each sum in the same order as SmallGemm's, so the same bits as SmallGemm
/// on those columns copied out). For a convolution's shifted input rows,
/// read where they are (conv_kernel.cc).
void SmallGemmColumnTable(const float* a, const int64_t* a_columns,
                          int64_t rows, int64_t k, const float* b, int64_t ldb,
                          int64_t cols, float* out, int64_t ldo);

/// Whether SmallGemm and SmallGemmRowsByRows add each product to its sum
/// in one fused multiply-add (x86-64 CPUs with AVX2 and FMA, and builds
/// with GCC's function targets): then every such CPU gives the same bits;
/// without, the sums multiply and add separately.
bool SmallGemmFuses();

/// Whether SmallGemm runs its AVX-512 loop: this build and CPU have it and
/// SetSmallGemmAvx512 allows it.
bool SmallGemmHasAvx512();
/// Lets SmallGemm use its AVX-512 loop (the default) or not, process-wide,
/// for tests and benchmarks that compare the two; returns the previous
/// setting.
bool SetSmallGemmAvx512(bool allowed);

/// out[i, c] = sum_{j < k} a[i * lda + j] * b[c * ldb + j] for i < rows,
/// c < cols: both operands' rows contiguous (a product with B^T where B is
/// stored row-major, as a Linear layer's weight), k a multiple of 8. Each
/// sum runs over 8 lanes of j (fused as SmallGemm's), then adds the lanes
/// in a fixed order.
void SmallGemmRowsByRows(const float* a, int64_t lda, int64_t rows,
                         const float* b, int64_t ldb, int64_t cols, int64_t k,
                         float* out, int64_t ldo);

}  // namespace tokrl::internal

#endif  // TOKRL_NN_SMALL_GEMM_KERNEL_H_
