#include "tokrl/stats/aggregate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tokrl/core/rng.h"
#include "tokrl/core/testing.h"
#include "tokrl/stats/bootstrap.h"
#include "tokrl/stats/kernels.h"
#include "tokrl/stats/stats_testing.h"

namespace tokrl::stats {
namespace {

using testing::Contains;
using testing::RandomMatrix;

// rliable's own test values (google-research/rliable,
// tests/rliable/metrics_test.py, test_aggregate_metrics).
TEST(AggregateTest, RliableMetricsTestValues) {
  const ScoreMatrix x = ScoreMatrix::FromRows({{1, 2}, {2, 2}, {1, 1}, {2, 1}});
  const ScoreMatrix y = ScoreMatrix::FromRows({{1, 1}, {2, 2}, {3, 3}});
  EXPECT_EQ(Median(x), 1.5);
  EXPECT_EQ(Mean(x), 1.5);
  EXPECT_EQ(Iqm(x), 1.5);
  EXPECT_EQ(Median(y), 2);
  EXPECT_EQ(Mean(y), 2);
  EXPECT_EQ(Iqm(y), 2);
}

// Worked by hand:
//   [[1, 2, 2],
//    [2, 2, 3],
//    [1, 1, 3],
//    [0, 2, 2]]
// task means: (1+2+1+0)/4 = 1, (2+2+1+2)/4 = 1.75, (2+3+3+2)/4 = 2.5
//   Mean = 5.25 / 3 = 1.75, Median = 1.75.
// pooled, sorted: 0 1 1 1 2 2 2 2 2 2 3 3 (n = 12, k = 3 from each end):
//   kept 1 2 2 2 2 2 -> IQM = 11 / 6.
// min(x, 1): all 1 except the 0 -> OptimalityGap = 1 - 11/12 = 1/12.
// min(x, 2): 1 2 2 / 2 2 2 / 1 1 2 / 0 2 2 = 19 -> gap(2) = 2 - 19/12.
TEST(AggregateTest, HandComputedTies) {
  const ScoreMatrix m =
      ScoreMatrix::FromRows({{1, 2, 2}, {2, 2, 3}, {1, 1, 3}, {0, 2, 2}});
  EXPECT_DOUBLE_EQ(Mean(m), 1.75);
  EXPECT_DOUBLE_EQ(Median(m), 1.75);
  EXPECT_DOUBLE_EQ(Iqm(m), 11.0 / 6);
  EXPECT_DOUBLE_EQ(OptimalityGap(m), 1.0 / 12);
  EXPECT_DOUBLE_EQ(OptimalityGap(m, 2.0), 2 - 19.0 / 12);
}

// n = 5 -> k = floor(1.25) = 1: drop 1 and 50, mean(2, 3, 4) = 3 (the
// outlier 50 is ignored; the plain mean would be 12).
// n = 7 -> k = 1; n = 3 -> k = 0 (the plain mean).
TEST(AggregateTest, IqmTrimsFloorOfAQuarter) {
  EXPECT_DOUBLE_EQ(Iqm(ScoreMatrix(1, 5, {50, 1, 4, 2, 3})), 3);
  EXPECT_DOUBLE_EQ(Iqm(ScoreMatrix(7, 1, {7, 1, 6, 2, 5, 3, 4})), 4);
  EXPECT_DOUBLE_EQ(Iqm(ScoreMatrix(3, 1, {1, 2, 9})), 4);
  EXPECT_DOUBLE_EQ(Iqm(ScoreMatrix(1, 1, {-2.5})), -2.5);
}

// Median of an even number of task means averages the two middle ones:
// task means 4, 1, 3, 10 -> (3 + 4) / 2.
TEST(AggregateTest, MedianOfEvenTaskCount) {
  EXPECT_DOUBLE_EQ(Median(ScoreMatrix(1, 4, {4, 1, 3, 10})), 3.5);
  EXPECT_DOUBLE_EQ(Median(ScoreMatrix(1, 3, {4, 1, 10})), 4);
}

TEST(AggregateTest, MatchesScipyAndNumpyGolden) {
  const auto golden = testing::LoadStatsGolden();
  ASSERT_GE(golden["matrices"].size(), 5u);
  for (const auto& entry : golden["matrices"]) {
    SCOPED_TRACE(entry["name"].get<std::string>());
    const ScoreMatrix m = testing::MatrixFromJson(entry["rows"]);
    const double tol = 1e-12 * (1 + std::abs(entry["mean"].get<double>()));
    EXPECT_NEAR(Mean(m), entry["mean"].get<double>(), tol);
    EXPECT_NEAR(Median(m), entry["median"].get<double>(), 1e-12 * 200);
    EXPECT_NEAR(Iqm(m), entry["iqm"].get<double>(), 1e-12 * 200);
    EXPECT_NEAR(OptimalityGap(m), entry["optimality_gap"].get<double>(), 1e-12);
  }
}

TEST(AggregateTest, PercentileMatchesNumpyGolden) {
  const auto golden = testing::LoadStatsGolden();
  for (const auto& entry : golden["percentiles"]) {
    const auto values = entry["values"].get<std::vector<double>>();
    const auto qs = entry["q"].get<std::vector<double>>();
    const auto expected = entry["result"].get<std::vector<double>>();
    for (size_t i = 0; i < qs.size(); ++i) {
      EXPECT_NEAR(Percentile(values, qs[i]), expected[i],
                  1e-12 * (1 + std::abs(expected[i])))
          << "n = " << values.size() << ", q = " << qs[i];
    }
  }
}

// numpy.percentile([1, 2, 3, 4], q): h = 3q/100.
//   q = 50 -> h = 1.5 -> 2.5; q = 10 -> h = 0.3 -> 1.3; q = 100 -> 4.
TEST(AggregateTest, PercentileHandComputed) {
  const std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(Percentile(v, 10), 1.3);
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(Percentile(v, 100), 4);
  EXPECT_TRUE(Contains(ErrorOf([&] { Percentile(v, 101); }), "[0, 100]"));
  EXPECT_TRUE(Contains(ErrorOf([] { Percentile({}, 50); }), "no values"));
}

TEST(AggregateTest, NamesAndDispatch) {
  const ScoreMatrix m =
      ScoreMatrix::FromRows({{0.1, 2.0, -1}, {0.7, 1.5, 3}, {0.3, 0.2, 9}});
  std::vector<std::string> names;
  for (Aggregate a : kAllAggregates) {
    names.emplace_back(AggregateName(a));
    EXPECT_EQ(AsFunction(a)(m), Compute(a, m)) << AggregateName(a);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Median", "IQM", "Mean",
                                             "Optimality Gap"}));
  EXPECT_EQ(Compute(Aggregate::kIqm, m), Iqm(m));
  EXPECT_EQ(Compute(Aggregate::kOptimalityGap, m), OptimalityGap(m));
}

TEST(AggregateTest, EmptyMatrixIsAnError) {
  const ScoreMatrix empty;
  EXPECT_TRUE(Contains(ErrorOf([&] { Mean(empty); }), "empty score matrix"));
  EXPECT_TRUE(Contains(ErrorOf([&] { Iqm(empty); }), "empty score matrix"));
  EXPECT_TRUE(Contains(ErrorOf([&] { Median(empty); }), "empty"));
  EXPECT_TRUE(Contains(ErrorOf([&] { OptimalityGap(empty); }), "empty"));
}

// Seeded property loop over random shapes, with and without ties.
TEST(AggregateTest, PropertiesOnRandomMatrices) {
  for (uint64_t seed = 0; seed < 300; ++seed) {
    Rng rng(seed);
    const int64_t runs = 1 + rng.UniformInt(8);
    const int64_t tasks = 1 + rng.UniformInt(10);
    const int levels = seed % 3 == 0 ? 4 : 0;
    const ScoreMatrix m = RandomMatrix(rng, runs, tasks, 0.5, 2.0, levels);
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    const auto [lo, hi] =
        std::minmax_element(m.values().begin(), m.values().end());
    for (Aggregate a : kAllAggregates) {
      if (a == Aggregate::kOptimalityGap) continue;
      EXPECT_GE(Compute(a, m), *lo - 1e-12) << AggregateName(a);
      EXPECT_LE(Compute(a, m), *hi + 1e-12) << AggregateName(a);
    }
    EXPECT_GE(OptimalityGap(m), std::max(0.0, 1 - *hi) - 1e-12);
    EXPECT_LE(OptimalityGap(m), std::max(0.0, 1 - *lo) + 1e-12);

    // Invariance to the order of runs (rows shuffled).
    std::vector<int64_t> perm(static_cast<size_t>(runs));
    std::iota(perm.begin(), perm.end(), 0);
    for (size_t i = perm.size(); i > 1; --i) {
      std::swap(perm[i - 1], perm[rng.UniformInt(static_cast<uint32_t>(i))]);
    }
    std::vector<double> shuffled;
    for (int64_t r : perm) {
      for (int64_t t = 0; t < tasks; ++t) shuffled.push_back(m(r, t));
    }
    const ScoreMatrix p(runs, tasks, shuffled);
    EXPECT_EQ(Iqm(p), Iqm(m));  // same sorted multiset: bit-identical
    EXPECT_NEAR(Mean(p), Mean(m), 1e-12);
    EXPECT_NEAR(Median(p), Median(m), 1e-12);
    EXPECT_NEAR(OptimalityGap(p), OptimalityGap(m), 1e-12);

    // Shift equivariance: every aggregate but the gap moves with a constant.
    std::vector<double> plus(m.values().begin(), m.values().end());
    for (double& v : plus) v += 10;
    const ScoreMatrix s(runs, tasks, plus);
    EXPECT_NEAR(Iqm(s), Iqm(m) + 10, 1e-9);
    EXPECT_NEAR(Median(s), Median(m) + 10, 1e-9);
    EXPECT_NEAR(Mean(s), Mean(m) + 10, 1e-9);
  }
}

// On all-negative data the aggregates stay negative and inside [min, max]
// (a max initialized with 0 or min() would break this).
TEST(AggregateTest, AllNegativeData) {
  Rng rng(7);
  const ScoreMatrix m = RandomMatrix(rng, 5, 9, -100, 5);
  const double hi = *std::max_element(m.values().begin(), m.values().end());
  ASSERT_LT(hi, 0);
  for (Aggregate a : {Aggregate::kMedian, Aggregate::kIqm, Aggregate::kMean}) {
    EXPECT_LT(Compute(a, m), 0) << AggregateName(a);
    EXPECT_LE(Compute(a, m), hi) << AggregateName(a);
  }
  // Every score is below gamma = 1: the gap is 1 - mean.
  EXPECT_NEAR(OptimalityGap(m), 1 - Mean(m), 1e-9);
}

// The bootstrap's count-based kernel (kernels.h) must agree with the public
// functions on the materialized resample, for the same draws: DrawCounts and
// StratifiedResample consume one Rng identically.
TEST(AggregateTest, CountKernelMatchesMaterializedResample) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng shape(seed);
    const int64_t runs = 1 + shape.UniformInt(7);
    const int64_t tasks = 1 + shape.UniformInt(12);
    const ScoreMatrix m =
        RandomMatrix(shape, runs, tasks, 0.8, 1.0, seed % 2 == 0 ? 3 : 0);
    internal::CountAggregator aggregator(m);
    Rng rng(seed + 1000);
    Rng same = rng;
    std::vector<uint32_t> counts(m.values().size());
    internal::DrawCounts(rng, runs, tasks, counts);
    const ScoreMatrix resample = StratifiedResample(m, same);
    EXPECT_EQ(rng, same) << "the two draw orders consumed different amounts";
    aggregator.SetCounts(counts);
    for (Aggregate a : kAllAggregates) {
      EXPECT_NEAR(aggregator.Evaluate(a), Compute(a, resample), 1e-12)
          << AggregateName(a) << " seed " << seed;
    }
    // All-ones counts reproduce the original matrix.
    const std::vector<uint32_t> ones(m.values().size(), 1u);
    aggregator.SetCounts(ones);
    for (Aggregate a : kAllAggregates) {
      EXPECT_NEAR(aggregator.Evaluate(a), Compute(a, m), 1e-12);
    }
  }
}

}  // namespace
}  // namespace tokrl::stats
