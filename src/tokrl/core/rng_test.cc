#include "tokrl/core/rng.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace tokrl {
namespace {

TEST(Rng, SameSeedSameStream) {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.NextU64();
    EXPECT_EQ(x, b.NextU64());
    differs |= x != c.NextU64();
  }
  EXPECT_TRUE(differs);
}

TEST(Rng, KnownFirstValuesArePinned) {
  // Pins the generator so a silent change (which would change every seeded
  // experiment) fails here. Values computed by this implementation once.
  Rng rng(0);
  EXPECT_EQ(rng.NextU64(), 5987356902031041503ull);
  EXPECT_EQ(rng.NextU64(), 7051070477665621255ull);
  EXPECT_DOUBLE_EQ(rng.Uniform(), 0.35961720764735527);
}

TEST(Rng, UniformInUnitInterval) {
  Rng rng(1);
  double sum = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double u = rng.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.005);
}

TEST(Rng, UniformIntIsUnbiased) {
  Rng rng(7);
  const int n = 7, draws = 140000;
  std::vector<int> counts(n, 0);
  for (int i = 0; i < draws; ++i) {
    const uint32_t v = rng.UniformInt(n);
    ASSERT_LT(v, static_cast<uint32_t>(n));
    ++counts[v];
  }
  // Chi-square with 6 degrees of freedom; 22.46 is the 0.999 quantile.
  double chi2 = 0;
  const double expected = static_cast<double>(draws) / n;
  for (int c : counts) chi2 += (c - expected) * (c - expected) / expected;
  EXPECT_LT(chi2, 22.46);
}

TEST(Rng, UniformRangeIsInclusive) {
  Rng rng(3);
  bool saw_lo = false, saw_hi = false;
  for (int i = 0; i < 1000; ++i) {
    const int v = rng.UniformRange(1, 8);
    ASSERT_GE(v, 1);
    ASSERT_LE(v, 8);
    saw_lo |= v == 1;
    saw_hi |= v == 8;
  }
  EXPECT_TRUE(saw_lo && saw_hi);
}

TEST(Rng, DeriveSeedGivesDistinctSeeds) {
  EXPECT_NE(DeriveSeed(0, 0), DeriveSeed(0, 1));
  EXPECT_NE(DeriveSeed(0, 1), DeriveSeed(1, 0));
  EXPECT_EQ(DeriveSeed(5, 3), DeriveSeed(5, 3));
}

TEST(Rng, CopyContinuesTheSameStream) {
  Rng a(9);
  a.NextU64();
  Rng b = a;
  EXPECT_TRUE(a == b);
  EXPECT_EQ(a.NextU64(), b.NextU64());
}

}  // namespace
}  // namespace tokrl
