#include "tokrl/replay/sum_tree.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"

namespace tokrl {
namespace {

// Upper 0.999 quantile of chi-square with `df` degrees of freedom
// (Wilson-Hilferty approximation, accurate to ~1% for df >= 5).
double ChiSquareCritical999(int df) {
  const double z = 3.0902;  // standard normal 0.999 quantile
  const double a = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - a + z * std::sqrt(a), 3.0);
}

// Random priorities with about a quarter of them zero.
std::vector<double> RandomPriorities(int64_t n, Rng& rng) {
  std::vector<double> p(static_cast<size_t>(n));
  for (auto& x : p) x = rng.Bernoulli(0.25) ? 0.0 : rng.Uniform() * 10.0;
  return p;
}

TEST(SumTree, TotalEqualsSumOfLeavesAfterAnySetSequence) {
  Rng rng(1);
  for (int trial = 0; trial < 50; ++trial) {
    const int64_t capacity = 1 + rng.UniformInt(300);
    SumTree tree(capacity);
    std::vector<double> leaves(static_cast<size_t>(capacity), 0.0);
    double max_set = 0.0;
    for (int op = 0; op < 500; ++op) {
      const int64_t i = rng.UniformInt(static_cast<uint32_t>(capacity));
      const double p = rng.Bernoulli(0.2) ? 0.0 : rng.Uniform() * 100.0;
      tree.Set(i, p);
      leaves[static_cast<size_t>(i)] = p;
      max_set = std::max(max_set, p);
      double sum = 0.0;
      for (double x : leaves) sum += x;
      ASSERT_NEAR(tree.Total(), sum, 1e-12 * std::max(1.0, sum));
      ASSERT_EQ(tree.Get(i), p);
      ASSERT_EQ(tree.Max(), max_set);
    }
  }
}

TEST(SumTree, IntegerPrioritiesGiveExactTotals) {
  SumTree tree(5);
  tree.Set(0, 3);
  tree.Set(4, 7);
  tree.Set(2, 1);
  EXPECT_EQ(tree.Total(), 11.0);
  tree.Set(4, 0);
  EXPECT_EQ(tree.Total(), 4.0);
  EXPECT_EQ(tree.Max(), 7.0);  // the maximum ever set, not the current one
}

TEST(SumTree, FindFollowsPrefixSums) {
  // Integer priorities make every prefix sum exact.
  const std::vector<double> p = {2, 0, 3, 0, 0, 1, 4};
  SumTree tree(static_cast<int64_t>(p.size()));
  for (size_t i = 0; i < p.size(); ++i) tree.Set(static_cast<int64_t>(i), p[i]);
  double prefix = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] > 0) {
      EXPECT_EQ(tree.Find(prefix), static_cast<int64_t>(i))
          << "mass " << prefix;
      EXPECT_EQ(tree.Find(prefix + p[i] - 0.5), static_cast<int64_t>(i));
    }
    prefix += p[i];
  }
  EXPECT_EQ(tree.Find(-1.0), 0);
  EXPECT_EQ(tree.Find(tree.Total()), 6);  // clamped to last positive
  EXPECT_EQ(tree.Find(tree.Total() * 2.0), 6);
}

TEST(SumTree, FindIsMonotoneInMass) {
  Rng rng(2);
  for (int trial = 0; trial < 30; ++trial) {
    const int64_t capacity = 1 + rng.UniformInt(1000);
    SumTree tree(capacity);
    auto p = RandomPriorities(capacity, rng);
    p[static_cast<size_t>(rng.UniformInt(static_cast<uint32_t>(capacity)))] =
        1.0;  // total > 0
    for (int64_t i = 0; i < capacity; ++i) {
      tree.Set(i, p[static_cast<size_t>(i)]);
    }
    int64_t previous = 0;
    const int steps = 5000;
    for (int k = 0; k <= steps; ++k) {
      const double mass = tree.Total() * k / steps;
      const int64_t leaf = tree.Find(mass);
      ASSERT_GE(leaf, previous) << "mass " << mass;
      ASSERT_GT(tree.Get(leaf), 0.0);
      previous = leaf;
    }
  }
}

TEST(SumTree, ZeroPriorityLeavesAreNeverSampled) {
  Rng rng(3);
  const int64_t capacity = 257;  // not a power of two: padding leaves exist
  SumTree tree(capacity);
  // Only a few positive leaves, tiny next to huge ones, at the edges too.
  tree.Set(0, 1e-9);
  tree.Set(100, 5.0);
  tree.Set(101, 1e9);
  tree.Set(256, 1e-12);
  std::vector<int64_t> batch;
  for (int round = 0; round < 2000; ++round) {
    tree.SampleStratified(32, rng, &batch);
    for (int64_t leaf : batch) ASSERT_GT(tree.Get(leaf), 0.0) << leaf;
    const int64_t leaf = tree.Find(rng.Uniform() * tree.Total());
    ASSERT_GT(tree.Get(leaf), 0.0) << leaf;
  }
  for (double mass : {0.0, tree.Total(), std::nextafter(tree.Total(), 1e300),
                      -5.0, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_GT(tree.Get(tree.Find(mass)), 0.0) << mass;
  }
}

TEST(SumTree, SampleFrequenciesAreProportionalToPriorities) {
  Rng rng(4);
  const int64_t capacity = 40;
  SumTree tree(capacity);
  const auto p = RandomPriorities(capacity, rng);
  for (int64_t i = 0; i < capacity; ++i) tree.Set(i, p[static_cast<size_t>(i)]);

  // Both single inverse-CDF draws and stratified batches.
  for (bool stratified : {false, true}) {
    std::vector<int64_t> counts(static_cast<size_t>(capacity), 0);
    const int64_t draws = 200'000;
    std::vector<int64_t> batch;
    if (stratified) {
      for (int64_t d = 0; d < draws / 50; ++d) {
        tree.SampleStratified(50, rng, &batch);
        for (int64_t leaf : batch) ++counts[static_cast<size_t>(leaf)];
      }
    } else {
      for (int64_t d = 0; d < draws; ++d) {
        ++counts[static_cast<size_t>(tree.Find(rng.Uniform() * tree.Total()))];
      }
    }
    double chi2 = 0.0;
    int df = -1;
    for (int64_t i = 0; i < capacity; ++i) {
      const double expected = draws * p[static_cast<size_t>(i)] / tree.Total();
      if (expected == 0.0) {
        EXPECT_EQ(counts[static_cast<size_t>(i)], 0) << "leaf " << i;
        continue;
      }
      const double diff =
          static_cast<double>(counts[static_cast<size_t>(i)]) - expected;
      chi2 += diff * diff / expected;
      ++df;
    }
    EXPECT_LT(chi2, ChiSquareCritical999(df))
        << (stratified ? "stratified" : "single");
  }
}

TEST(SumTree, StratifiedSamplingTakesOneDrawPerSegment) {
  // With unit priorities the leaf index is the mass segment: draw k must come
  // from leaves [k * capacity / n, (k + 1) * capacity / n).
  const int64_t capacity = 64, n = 8;
  SumTree tree(capacity);
  for (int64_t i = 0; i < capacity; ++i) tree.Set(i, 1.0);
  Rng rng(5);
  for (int round = 0; round < 100; ++round) {
    const auto batch = tree.SampleStratified(n, rng);
    ASSERT_EQ(static_cast<int64_t>(batch.size()), n);
    for (int64_t k = 0; k < n; ++k) {
      EXPECT_GE(batch[static_cast<size_t>(k)], k * capacity / n);
      EXPECT_LT(batch[static_cast<size_t>(k)], (k + 1) * capacity / n);
    }
  }
}

TEST(SumTree, AssignMatchesIncrementalSetsBitForBit) {
  Rng rng(6);
  const int64_t capacity = 333;
  SumTree built(capacity);
  for (int op = 0; op < 3000; ++op) {
    built.Set(rng.UniformInt(static_cast<uint32_t>(capacity)),
              rng.Uniform() * 3.0);
  }
  SumTree assigned(capacity);
  assigned.Assign(built.leaves(), built.Max());
  EXPECT_EQ(assigned.Total(), built.Total());
  EXPECT_EQ(assigned.Max(), built.Max());
  Rng a(7), b(7);
  EXPECT_EQ(assigned.SampleStratified(500, a), built.SampleStratified(500, b));
}

TEST(SumTree, RejectsInvalidInput) {
  SumTree tree(4);
  EXPECT_THROW(tree.Set(4, 1.0), Error);
  EXPECT_THROW(tree.Set(-1, 1.0), Error);
  EXPECT_THROW(tree.Set(0, -1.0), Error);
  EXPECT_THROW(tree.Set(0, std::numeric_limits<double>::quiet_NaN()), Error);
  EXPECT_THROW(tree.Set(0, std::numeric_limits<double>::infinity()), Error);
  EXPECT_THROW(tree.Find(0.5), Error);  // empty tree
  Rng rng(0);
  EXPECT_THROW(tree.SampleStratified(1, rng), Error);
  EXPECT_THROW(SumTree(0), Error);
}

}  // namespace
}  // namespace tokrl
