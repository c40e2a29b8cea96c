#include "tokrl/nn/small_gemm_kernel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace tokrl::internal {
namespace {

struct Shape {
  int64_t rows, k, cols;
  bool transpose_a;
};

// SmallGemm on random operands (a strided when transposed, b padded to a
// multiple of 8 columns as callers pad it).
std::vector<float> Product(const Shape& s, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  const int64_t padded = SmallGemmPadded(s.cols);
  std::vector<float> a(static_cast<size_t>(s.rows * s.k));
  std::vector<float> b(static_cast<size_t>(s.k * padded), 0.0f);
  for (float& x : a) x = normal(gen);
  for (int64_t j = 0; j < s.k; ++j) {
    for (int64_t c = 0; c < s.cols; ++c) b[j * padded + c] = normal(gen);
  }
  // Stored [rows, k] or, transposed, [k, rows].
  const int64_t a_row = s.transpose_a ? 1 : s.k;
  const int64_t a_col = s.transpose_a ? s.rows : 1;
  std::vector<float> out(static_cast<size_t>(s.rows * s.cols), -1.0f);
  SmallGemm(a.data(), a_row, a_col, s.rows, s.k, b.data(), padded, s.cols,
            out.data(), s.cols);
  // Against a double-precision product.
  for (int64_t i = 0; i < s.rows; ++i) {
    for (int64_t c = 0; c < s.cols; ++c) {
      double want = 0;
      for (int64_t j = 0; j < s.k; ++j) {
        want +=
            static_cast<double>(a[i * a_row + j * a_col]) * b[j * padded + c];
      }
      EXPECT_NEAR(out[i * s.cols + c], want, 1e-4 * (1 + std::abs(want)))
          << i << ", " << c;
    }
  }
  return out;
}

// SoftMoE's shapes (100 x 100 by 100 x 16, 800 x 16 by 16 x 128, ...) and
// ones that leave every partial block: rows not a multiple of 12, 8 or 6,
// columns past the last 32, 16 or 8.
const Shape kShapes[] = {
    {100, 100, 16, true}, {100, 100, 16, false}, {800, 16, 128, false},
    {16, 800, 128, true}, {100, 16, 100, false}, {13, 7, 40, false},
    {25, 9, 47, true},    {1, 1, 1, false},      {7, 3, 24, true},
    {11, 5, 33, false},   {9, 4, 17, false},     {3, 2, 8, true}};

TEST(SmallGemmTest, EqualsADoublePrecisionProduct) {
  uint32_t seed = 0;
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(::testing::Message() << s.rows << "x" << s.k << "x" << s.cols);
    Product(s, ++seed);
  }
}

// The AVX-512 loop and the AVX2 / baseline one give the same bits.
TEST(SmallGemmTest, Avx512LoopGivesTheSameBits) {
  if (!SmallGemmHasAvx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  uint32_t seed = 100;
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(::testing::Message() << s.rows << "x" << s.k << "x" << s.cols);
    ++seed;
    const bool before = SetSmallGemmAvx512(true);
    const std::vector<float> wide = Product(s, seed);
    SetSmallGemmAvx512(false);
    const std::vector<float> narrow = Product(s, seed);
    SetSmallGemmAvx512(before);
    EXPECT_EQ(
        std::memcmp(wide.data(), narrow.data(), wide.size() * sizeof(float)),
        0);
  }
}

}  // namespace
}  // namespace tokrl::internal
