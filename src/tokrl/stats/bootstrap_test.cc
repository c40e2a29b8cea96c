#include "tokrl/stats/bootstrap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "tokrl/core/rng.h"
#include "tokrl/core/testing.h"
#include "tokrl/stats/kernels.h"
#include "tokrl/stats/stats_testing.h"

namespace tokrl::stats {
namespace {

using testing::Contains;
using testing::RandomMatrix;

std::vector<AggregateFn> AllFunctions() {
  std::vector<AggregateFn> fns;
  for (Aggregate a : kAllAggregates) fns.push_back(AsFunction(a));
  return fns;
}

// The same statistics, hidden in lambdas so that the bootstrap takes the
// generic path (materialized replicates) instead of the count kernels.
std::vector<AggregateFn> AllFunctionsGeneric() {
  std::vector<AggregateFn> fns;
  for (Aggregate a : kAllAggregates) {
    fns.push_back([a](const ScoreMatrix& m) { return Compute(a, m); });
  }
  return fns;
}

TEST(BootstrapTest, RejectsBadOptions) {
  const ScoreMatrix m = ScoreMatrix::FromRows({{1, 2}, {3, 4}});
  const AggregateFn mean = AsFunction(Aggregate::kMean);
  auto error_with = [&](BootstrapOptions options) {
    return ErrorOf([&] { StratifiedBootstrapCi(m, mean, options); });
  };
  EXPECT_TRUE(Contains(error_with({.reps = 0}), "reps must be >= 1, got 0"));
  EXPECT_TRUE(Contains(error_with({.reps = -5}), "reps must be >= 1"));
  EXPECT_TRUE(
      Contains(error_with({.coverage = 0}), "coverage must be in (0, 1)"));
  EXPECT_TRUE(
      Contains(error_with({.coverage = 1}), "coverage must be in (0, 1)"));
  EXPECT_TRUE(Contains(error_with({.coverage = 95}), "got 95"));
  EXPECT_TRUE(Contains(
      error_with({.coverage = std::numeric_limits<double>::quiet_NaN()}),
      "coverage"));
  EXPECT_TRUE(Contains(
      ErrorOf([&] { StratifiedBootstrapCi(m, AggregateFn(), {.reps = 10}); }),
      "empty function"));
  EXPECT_TRUE(Contains(ErrorOf([&] {
                         StratifiedBootstrapCi(ScoreMatrix(), mean,
                                               {.reps = 10});
                       }),
                       "empty score matrix"));
}

TEST(BootstrapTest, StatisticReturningNanIsAnError) {
  const ScoreMatrix m = ScoreMatrix::FromRows({{1, 2}, {3, 4}});
  const AggregateFn bad = [](const ScoreMatrix& s) {
    return s(0, 0) > 2 ? std::nan("") : 0.0;
  };
  EXPECT_TRUE(
      Contains(ErrorOf([&] { StratifiedBootstrapCi(m, bad, {.reps = 100}); }),
               "returned nan"));
}

// rliable's library_test.py (test_interval_estimation, percentile method,
// reps = 100): for x = arange(80).reshape(5, 16) and y = x with its runs
// reversed, every aggregate's point estimate lies strictly inside its CI.
TEST(BootstrapTest, RliableIntervalEstimationProperty) {
  std::vector<double> x(80), y(80);
  for (int r = 0; r < 5; ++r) {
    for (int t = 0; t < 16; ++t) {
      x[static_cast<size_t>(r * 16 + t)] = r * 16 + t;
      y[static_cast<size_t>((4 - r) * 16 + t)] = r * 16 + t;
    }
  }
  for (const auto& values : {x, y}) {
    const ScoreMatrix m(5, 16, values);
    const auto cis = StratifiedBootstrapCis(m, AllFunctions(), {.reps = 100});
    ASSERT_EQ(cis.size(), 4u);
    for (size_t i = 0; i < cis.size(); ++i) {
      SCOPED_TRACE(AggregateName(kAllAggregates[i]));
      EXPECT_EQ(cis[i].point, Compute(kAllAggregates[i], m));
      EXPECT_LT(cis[i].lower, cis[i].point);
      EXPECT_LT(cis[i].point, cis[i].upper);
    }
    // Hand-computed points: mean 39.5; IQM of 0..79 (k = 20) = 39.5;
    // optimality gap = 1 - 79/80 (only the 0 is below gamma = 1).
    EXPECT_DOUBLE_EQ(cis[1].point, 39.5);
    EXPECT_DOUBLE_EQ(cis[2].point, 39.5);
    EXPECT_NEAR(cis[3].point, 1.0 / 80, 1e-15);
  }
}

TEST(BootstrapTest, DeterministicAndSeedDependent) {
  Rng rng(3);
  const ScoreMatrix m = RandomMatrix(rng, 5, 8);
  const BootstrapOptions options{.reps = 2500, .seed = 42};
  const auto a = StratifiedBootstrapCis(m, AllFunctions(), options);
  const auto b = StratifiedBootstrapCis(m, AllFunctions(), options);
  BootstrapOptions other = options;
  other.seed = 43;
  const auto c = StratifiedBootstrapCis(m, AllFunctions(), other);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].lower, b[i].lower);
    EXPECT_EQ(a[i].upper, b[i].upper);
    EXPECT_EQ(a[i].point, b[i].point);
    EXPECT_NE(a[i].lower, c[i].lower);
  }
  // One statistic alone gives the same interval as in the joint call.
  const Interval iqm =
      StratifiedBootstrapCi(m, AsFunction(Aggregate::kIqm), options);
  EXPECT_EQ(iqm.lower, a[1].lower);
  EXPECT_EQ(iqm.upper, a[1].upper);
}

// The documented replicate streams, rebuilt by hand for a custom statistic:
// block b (1000 replicates) draws from Rng(DeriveSeed(seed, b)), one
// StratifiedResample per replicate; the interval is the numpy percentiles.
// 1500 replicates span two blocks.
TEST(BootstrapTest, ReplicatesFollowTheDocumentedStreams) {
  Rng data(11);
  const ScoreMatrix m = RandomMatrix(data, 4, 3);
  const AggregateFn max_entry = [](const ScoreMatrix& s) {
    return *std::max_element(s.values().begin(), s.values().end());
  };
  const BootstrapOptions options{.reps = 1500, .coverage = 0.9, .seed = 5};
  std::vector<double> replicates;
  for (uint64_t block = 0; block < 2; ++block) {
    Rng rng(DeriveSeed(options.seed, block));
    for (int i = 0; i < (block == 0 ? 1000 : 500); ++i) {
      replicates.push_back(max_entry(StratifiedResample(m, rng)));
    }
  }
  const Interval ci = StratifiedBootstrapCi(m, max_entry, options);
  EXPECT_EQ(ci.point, max_entry(m));
  EXPECT_EQ(ci.lower, Percentile(replicates, 5));
  EXPECT_EQ(ci.upper, Percentile(replicates, 95));
}

// The count-kernel fast path and the generic path see the same replicates.
TEST(BootstrapTest, FastPathMatchesGenericPath) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng rng(seed);
    const int64_t runs = 2 + rng.UniformInt(6);
    const int64_t tasks = 1 + rng.UniformInt(12);
    const ScoreMatrix m =
        RandomMatrix(rng, runs, tasks, 0.5, 1.0, seed % 2 ? 5 : 0);
    const BootstrapOptions options{.reps = 1200, .seed = seed};
    const auto fast = StratifiedBootstrapCis(m, AllFunctions(), options);
    const auto slow = StratifiedBootstrapCis(m, AllFunctionsGeneric(), options);
    // Mixed: built-in and custom statistics in one call.
    std::vector<AggregateFn> mixed = {
        AllFunctions()[0], AllFunctionsGeneric()[1], AllFunctions()[2],
        AllFunctionsGeneric()[3]};
    const auto both = StratifiedBootstrapCis(m, mixed, options);
    for (size_t i = 0; i < fast.size(); ++i) {
      SCOPED_TRACE(::testing::Message()
                   << AggregateName(kAllAggregates[i]) << " seed " << seed);
      EXPECT_EQ(fast[i].point, slow[i].point);
      EXPECT_NEAR(fast[i].lower, slow[i].lower, 1e-12);
      EXPECT_NEAR(fast[i].upper, slow[i].upper, 1e-12);
      EXPECT_NEAR(both[i].lower, slow[i].lower, 1e-12);
      EXPECT_NEAR(both[i].upper, slow[i].upper, 1e-12);
    }
  }
}

TEST(BootstrapTest, CiContainsPointOnRandomData) {
  for (uint64_t seed = 0; seed < 60; ++seed) {
    Rng rng(seed);
    const int64_t runs = 3 + rng.UniformInt(8);
    const int64_t tasks = 3 + rng.UniformInt(20);
    const ScoreMatrix m = RandomMatrix(rng, runs, tasks, 1.0, 1.0);
    const auto cis =
        StratifiedBootstrapCis(m, AllFunctions(), {.reps = 2000, .seed = seed});
    for (size_t i = 0; i < cis.size(); ++i) {
      SCOPED_TRACE(::testing::Message()
                   << AggregateName(kAllAggregates[i]) << " seed " << seed);
      EXPECT_LE(cis[i].lower, cis[i].point);
      EXPECT_LE(cis[i].point, cis[i].upper);
      EXPECT_LT(cis[i].lower, cis[i].upper);
    }
  }
}

// Same seed -> same replicates, so a narrower coverage gives a nested
// interval.
TEST(BootstrapTest, IntervalsNestByCoverage) {
  Rng rng(9);
  const ScoreMatrix m = RandomMatrix(rng, 6, 10);
  const auto wide = StratifiedBootstrapCis(m, AllFunctions(),
                                           {.reps = 3000, .coverage = 0.95});
  const auto narrow = StratifiedBootstrapCis(m, AllFunctions(),
                                             {.reps = 3000, .coverage = 0.5});
  for (size_t i = 0; i < wide.size(); ++i) {
    EXPECT_LE(wide[i].lower, narrow[i].lower);
    EXPECT_GE(wide[i].upper, narrow[i].upper);
    EXPECT_LT(narrow[i].upper - narrow[i].lower, wide[i].upper - wide[i].lower);
  }
}

TEST(BootstrapTest, DegenerateMatrices) {
  // Constant scores: every replicate equals the point.
  const ScoreMatrix constant(4, 3, std::vector<double>(12, 2.5));
  for (const Interval& ci :
       StratifiedBootstrapCis(constant, AllFunctions(), {.reps = 500})) {
    EXPECT_EQ(ci.lower, ci.point);
    EXPECT_EQ(ci.upper, ci.point);
  }
  // One run per task: resampling within a task can only pick that run.
  const ScoreMatrix one_run(1, 5, {3, -1, 4, 1, -5});
  const auto cis =
      StratifiedBootstrapCis(one_run, AllFunctions(), {.reps = 500});
  for (size_t i = 0; i < cis.size(); ++i) {
    EXPECT_EQ(cis[i].lower, cis[i].point);
    EXPECT_EQ(cis[i].upper, cis[i].point);
  }
  // reps = 1: both ends are the single replicate.
  Rng rng(1);
  const ScoreMatrix m = RandomMatrix(rng, 3, 3);
  const Interval single =
      StratifiedBootstrapCi(m, AsFunction(Aggregate::kMean), {.reps = 1});
  EXPECT_EQ(single.lower, single.upper);
}

// All-negative scores: the whole interval is negative.
TEST(BootstrapTest, AllNegativeScores) {
  Rng rng(4);
  const ScoreMatrix m = RandomMatrix(rng, 5, 6, -50, 3);
  for (Aggregate a : {Aggregate::kMedian, Aggregate::kIqm, Aggregate::kMean}) {
    const Interval ci = StratifiedBootstrapCi(m, AsFunction(a), {.reps = 2000});
    EXPECT_LT(ci.upper, 0) << AggregateName(a);
    EXPECT_LE(ci.lower, ci.point) << AggregateName(a);
    EXPECT_GE(ci.upper, ci.point) << AggregateName(a);
  }
}

// Stratification: entry (r, t) of a resample is one of task t's own scores,
// and the run indices are uniform.
TEST(BootstrapTest, StratifiedResampleStaysWithinTasks) {
  const ScoreMatrix m(4, 3, {0, 10, 20, 1, 11, 21, 2, 12, 22, 3, 13, 23});
  Rng rng(8);
  std::vector<int> run_counts(4, 0);
  const int trials = 4000;
  for (int i = 0; i < trials; ++i) {
    const ScoreMatrix s = StratifiedResample(m, rng);
    ASSERT_EQ(s.runs(), 4);
    ASSERT_EQ(s.tasks(), 3);
    for (int64_t r = 0; r < 4; ++r) {
      for (int64_t t = 0; t < 3; ++t) {
        const double v = s(r, t);
        const auto run = static_cast<int>(v) - 10 * static_cast<int>(t);
        ASSERT_GE(run, 0) << "value " << v << " is not from task " << t;
        ASSERT_LT(run, 4) << "value " << v << " is not from task " << t;
        ++run_counts[static_cast<size_t>(run)];
      }
    }
  }
  // 48,000 draws, 12,000 expected per run (sd ~ 95).
  for (int c : run_counts) EXPECT_NEAR(c, 12000, 500);
}

// The resampling draws are uniform over [0, n) on both the 16-bit (n <= 256)
// and the 32-bit path; n = 1 always gives 0.
TEST(BootstrapTest, IndexDrawerIsUniform) {
  for (uint32_t n : {1u, 3u, 7u, 256u, 257u, 1000u}) {
    Rng rng(n);
    internal::IndexDrawer draw(rng, n);
    std::vector<int> hist(n, 0);
    const int per_bin = 2000;
    for (uint32_t i = 0; i < n * per_bin; ++i) {
      const uint32_t k = draw.Next();
      ASSERT_LT(k, n);
      ++hist[k];
    }
    // Chi-square with n - 1 degrees of freedom: mean n - 1, sd sqrt(2(n-1)).
    double chi2 = 0;
    for (int h : hist) chi2 += (h - per_bin) * (h - per_bin) / double{per_bin};
    EXPECT_LT(chi2, (n - 1) + 6 * std::sqrt(2.0 * (n - 1)) + 1) << "n " << n;
  }
}

// Coverage on synthetic data with a known mean: 10 runs x 5 tasks of
// N(mu_t, 1); the 90% CI of Mean should contain mean(mu_t) in about 90% of
// independent experiments (the percentile bootstrap undercovers a little at
// 10 runs, as (n-1)/n shrinks its variance).
TEST(BootstrapTest, CoverageOfKnownMean) {
  const double mu[] = {0.0, 1.0, -2.0, 5.0, 0.5};
  const double true_mean = (0.0 + 1.0 - 2.0 + 5.0 + 0.5) / 5;
  int covered = 0;
  const int experiments = 400;
  for (int e = 0; e < experiments; ++e) {
    Rng rng(DeriveSeed(1234, static_cast<uint64_t>(e)));
    std::vector<double> values(50);
    for (int r = 0; r < 10; ++r) {
      for (int t = 0; t < 5; ++t) {
        double s = 0;
        for (int i = 0; i < 12; ++i) s += rng.Uniform();
        values[static_cast<size_t>(r * 5 + t)] = mu[t] + (s - 6);
      }
    }
    const Interval ci = StratifiedBootstrapCi(
        ScoreMatrix(10, 5, values), AsFunction(Aggregate::kMean),
        {.reps = 1000, .coverage = 0.9, .seed = static_cast<uint64_t>(e)});
    if (ci.lower <= true_mean && true_mean <= ci.upper) ++covered;
  }
  const double rate = static_cast<double>(covered) / experiments;
  EXPECT_GT(rate, 0.82);
  EXPECT_LT(rate, 0.95);
}

}  // namespace
}  // namespace tokrl::stats
