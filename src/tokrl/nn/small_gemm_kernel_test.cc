#include "tokrl/nn/small_gemm_kernel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

namespace tokrl::internal {
namespace {

struct Shape {
  int64_t rows, k, cols;
  bool transpose_a;
};

// Random operands of a shape: a [rows, k] (or [k, rows]), b [k, padded]
// with its rows padded to a multiple of 8 columns as callers pad it.
struct Operands {
  std::vector<float> a, b;
  int64_t padded;
};

Operands RandomOperands(const Shape& s, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  Operands o{.a = std::vector<float>(static_cast<size_t>(s.rows * s.k)),
             .b = {},
             .padded = SmallGemmPadded(s.cols)};
  o.b.assign(static_cast<size_t>(s.k * o.padded), 0.0f);
  for (float& x : o.a) x = normal(gen);
  for (int64_t j = 0; j < s.k; ++j) {
    for (int64_t c = 0; c < s.cols; ++c) o.b[j * o.padded + c] = normal(gen);
  }
  return o;
}

// SmallGemm on random operands (a strided when transposed).
std::vector<float> Product(const Shape& s, uint32_t seed) {
  const auto [a, b, padded] = RandomOperands(s, seed);
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

// SoftMoE's shapes (100 x 100 by 100 x 16, 800 x 16 by 16 x 128, ...),
// ones that leave every partial block: rows not a multiple of 12, 8 or 6,
// columns past the last 32, 16 or 8; and the last three, whose b is past
// kChunkedBytes with a of <= 16 rows, so in chunks of b's rows: a C51
// head's gradient g W (5 x 51 by 51 x 1600, the last chunk partial), a^T,
// a partial chunk and 1601 columns.
const Shape kShapes[] = {
    {100, 100, 16, true}, {100, 100, 16, false}, {800, 16, 128, false},
    {16, 800, 128, true}, {100, 16, 100, false}, {13, 7, 40, false},
    {25, 9, 47, true},    {1, 1, 1, false},      {7, 3, 24, true},
    {11, 5, 33, false},   {9, 4, 17, false},     {3, 2, 8, true},
    {5, 51, 1600, false}, {16, 400, 200, true},  {7, 71, 1601, true}};

TEST(SmallGemmTest, EqualsADoublePrecisionProduct) {
  uint32_t seed = 0;
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(::testing::Message() << s.rows << "x" << s.k << "x" << s.cols);
    Product(s, ++seed);
  }
}

// The AVX-512 loop and the AVX2 / baseline one give the same bits.
TEST(SmallGemmTest, Avx512LoopGivesTheSameBits) {
  if (!SmallGemmHasAvx512())
    GTEST_SKIP() << "no AVX-512 loop in this build or on this CPU";
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

// With a's columns at offsets from a table (overlapping runs of one buffer,
// as a convolution's taps), the bits of SmallGemm on those columns copied
// out, in each loop of this CPU: a column read from another offset, or a
// sum in another order, fails it.
TEST(SmallGemmTest, ColumnTableEqualsTheColumnsCopiedOut) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal;
  for (const bool avx512 : {true, false}) {
    if (avx512 && !SmallGemmHasAvx512()) continue;
    const bool before = SetSmallGemmAvx512(avx512);
    for (const Shape& s : kShapes) {
      SCOPED_TRACE(::testing::Message() << s.rows << "x" << s.k << "x" << s.cols
                                        << " avx512 " << avx512);
      // Column j starts at a pseudo-random offset below 3 k, runs overlap.
      std::vector<int64_t> offsets(static_cast<size_t>(s.k));
      for (int64_t j = 0; j < s.k; ++j) offsets[j] = (j * 7919) % (3 * s.k);
      std::vector<float> buffer(static_cast<size_t>(3 * s.k + s.rows));
      for (float& x : buffer) x = normal(gen);
      std::vector<float> copied(static_cast<size_t>(s.k * s.rows));
      for (int64_t j = 0; j < s.k; ++j) {
        std::copy_n(buffer.begin() + offsets[j], s.rows,
                    copied.begin() + j * s.rows);
      }
      const int64_t padded = SmallGemmPadded(s.cols);
      std::vector<float> b(static_cast<size_t>(s.k * padded));
      for (float& x : b) x = normal(gen);
      std::vector<float> want(static_cast<size_t>(s.rows * s.cols));
      std::vector<float> got(want.size(), -1.0f);
      SmallGemm(copied.data(), 1, s.rows, s.rows, s.k, b.data(), padded, s.cols,
                want.data(), s.cols);
      SmallGemmColumnTable(buffer.data(), offsets.data(), s.rows, s.k, b.data(),
                           padded, s.cols, got.data(), s.cols);
      EXPECT_EQ(
          std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0);
    }
    SetSmallGemmAvx512(before);
  }
}

// Every combination of an epilogue's steps gives the bits of the product
// followed by each step as its own pass, in the loops of this CPU (a step
// applied in another order, to the wrong element or not at all fails it).
TEST(SmallGemmTest, EpilogueEqualsPassesAfterTheProduct) {
  uint32_t seed = 300;
  for (const bool avx512 : {true, false}) {
    if (avx512 && !SmallGemmHasAvx512()) continue;
    const bool before = SetSmallGemmAvx512(avx512);
    for (const Shape& s : kShapes) {
      const auto [a, b, padded] = RandomOperands(s, ++seed);
      const int64_t a_row = s.transpose_a ? 1 : s.k;
      const int64_t a_col = s.transpose_a ? s.rows : 1;
      const int64_t n = s.rows * s.cols, ldm = s.cols + 3;
      std::mt19937 gen(seed);
      std::normal_distribution<float> normal;
      std::vector<float> bias(s.cols), mask(s.rows * ldm), old(n),
          sums0(s.cols);
      for (float& x : bias) x = normal(gen);
      for (float& x : old) x = normal(gen);
      for (float& x : sums0) x = normal(gen);
      // Some mask entries exactly 0 (masked, as a ReLU's zeros are).
      for (float& x : mask) x = gen() % 3 == 0 ? 0.0f : normal(gen);
      std::vector<float> product(n);
      SmallGemm(a.data(), a_row, a_col, s.rows, s.k, b.data(), padded, s.cols,
                product.data(), s.cols);
      for (unsigned steps = 1; steps < 32; ++steps) {
        SCOPED_TRACE(::testing::Message()
                     << s.rows << "x" << s.k << "x" << s.cols << " steps "
                     << steps << (avx512 ? " avx512" : ""));
        std::vector<float> out = old, sums = sums0;
        const SmallGemmEpilogue ep{
            .bias = steps & 1 ? bias.data() : nullptr,
            .relu = (steps & 2) != 0,
            .mask = steps & 4 ? mask.data() : nullptr,
            .ldm = ldm,
            .column_sums = steps & 8 ? sums.data() : nullptr,
            .accumulate = (steps & 16) != 0};
        SmallGemm(a.data(), a_row, a_col, s.rows, s.k, b.data(), padded, s.cols,
                  out.data(), s.cols, ep);
        std::vector<float> want = product, want_sums = sums0;
        for (int64_t i = 0; i < s.rows; ++i) {
          for (int64_t c = 0; c < s.cols; ++c) {
            float& x = want[i * s.cols + c];
            if (ep.bias) x += bias[c];
            if (ep.relu) x = std::max(x, 0.0f);
            if (ep.mask && !(mask[i * ldm + c] > 0.0f)) x = 0.0f;
            if (ep.column_sums) want_sums[c] += x;
            if (ep.accumulate) x = old[i * s.cols + c] + x;
          }
        }
        EXPECT_EQ(std::memcmp(out.data(), want.data(), n * sizeof(float)), 0);
        EXPECT_EQ(
            std::memcmp(sums.data(), want_sums.data(), s.cols * sizeof(float)),
            0);
      }
    }
    SetSmallGemmAvx512(before);
  }
}

// a * b + acc as the kernel adds a product to its sum: one fused
// multiply-add where SmallGemmFuses, else a rounded product, then the sum.
float MulAdd(float a, float b, float acc) {
  if (SmallGemmFuses()) return std::fma(a, b, acc);
  const float product = a * b;
  return acc + product;
}

// Every element is the sum over j in order, each term added by MulAdd: the
// same bits in the AVX-512 and the AVX2 loop (a loop that stopped fusing,
// or fused where the CPU cannot, fails this).
TEST(SmallGemmTest, SumsRunInOrderOneMultiplyAddPerTerm) {
  uint32_t seed = 200;
  for (const bool avx512 : {true, false}) {
    if (avx512 && !SmallGemmHasAvx512()) continue;
    const bool before = SetSmallGemmAvx512(avx512);
    for (const Shape& s : kShapes) {
      SCOPED_TRACE(::testing::Message() << s.rows << "x" << s.k << "x" << s.cols
                                        << (avx512 ? " avx512" : ""));
      const auto [a, b, padded] = RandomOperands(s, ++seed);
      std::vector<float> out(static_cast<size_t>(s.rows * s.cols));
      SmallGemm(a.data(), s.k, 1, s.rows, s.k, b.data(), padded, s.cols,
                out.data(), s.cols);
      int64_t differ = 0;
      for (int64_t i = 0; i < s.rows; ++i) {
        for (int64_t c = 0; c < s.cols; ++c) {
          float want = 0.0f;
          for (int64_t j = 0; j < s.k; ++j)
            want = MulAdd(a[i * s.k + j], b[j * padded + c], want);
          differ += std::memcmp(&want, &out[i * s.cols + c], sizeof want) != 0;
        }
      }
      EXPECT_EQ(differ, 0);
    }
    SetSmallGemmAvx512(before);
  }
}

// SmallGemmRowsByRows: 8 lanes of j, each summed in order by MulAdd, then
// the lanes added as ((0 + 4) + (1 + 5)) + ((2 + 6) + (3 + 7)).
TEST(SmallGemmTest, RowsByRowsSumsEightLanesInAFixedOrder) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal;
  for (const auto& [rows, cols, k] :
       {std::tuple<int64_t, int64_t, int64_t>{32, 6, 1600},
        {7, 5, 16},
        {1, 1, 8},
        {4, 9, 24}}) {
    SCOPED_TRACE(::testing::Message() << rows << "x" << cols << "x" << k);
    std::vector<float> a(static_cast<size_t>(rows * k));
    std::vector<float> b(static_cast<size_t>(cols * k));
    for (float& x : a) x = normal(gen);
    for (float& x : b) x = normal(gen);
    std::vector<float> out(static_cast<size_t>(rows * cols));
    SmallGemmRowsByRows(a.data(), k, rows, b.data(), k, cols, k, out.data(),
                        cols);
    int64_t differ = 0;
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t c = 0; c < cols; ++c) {
        float lane[8] = {};
        for (int64_t j = 0; j < k; ++j)
          lane[j % 8] = MulAdd(a[i * k + j], b[c * k + j], lane[j % 8]);
        const float want = ((lane[0] + lane[4]) + (lane[1] + lane[5])) +
                           ((lane[2] + lane[6]) + (lane[3] + lane[7]));
        differ += std::memcmp(&want, &out[i * cols + c], sizeof want) != 0;
      }
    }
    EXPECT_EQ(differ, 0);
  }
}

}  // namespace
}  // namespace tokrl::internal
