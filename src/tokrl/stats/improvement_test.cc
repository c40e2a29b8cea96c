#include "tokrl/stats/improvement.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tokrl/core/rng.h"
#include "tokrl/core/testing.h"
#include "tokrl/stats/stats_testing.h"

namespace tokrl::stats {
namespace {

using testing::Contains;
using testing::RandomMatrix;

// rliable's test value (tests/rliable/metrics_test.py): 1/3. By hand, task 0:
// x = {1, 2, 1, 2}, y = {1, 2, 3}; each x = 1 scores 0.5 (tie with 1) and
// each x = 2 scores 1 + 0.5 = 1.5, so U = 2 * 0.5 + 2 * 1.5 = 4 of 12 pairs.
// Task 1 has x = {2, 2, 1, 1}, y = {1, 2, 3}: the same 1/3.
TEST(ImprovementTest, RliableMetricsTestValue) {
  const ScoreMatrix x = ScoreMatrix::FromRows({{1, 2}, {2, 2}, {1, 1}, {2, 1}});
  const ScoreMatrix y = ScoreMatrix::FromRows({{1, 1}, {2, 2}, {3, 3}});
  EXPECT_NEAR(ProbabilityOfImprovement(x, y), 1.0 / 3, 1e-15);
  EXPECT_NEAR(ProbabilityOfImprovement(y, x), 2.0 / 3, 1e-15);
}

// x = [[5, 0], [6, 0]], y = [[4, 1]]: task 0: both x beat 4 -> 1; task 1:
// both x lose to 1 -> 0; P = 0.5. Identical matrices -> exactly 0.5.
TEST(ImprovementTest, HandComputed) {
  const ScoreMatrix x = ScoreMatrix::FromRows({{5, 0}, {6, 0}});
  const ScoreMatrix y = ScoreMatrix::FromRows({{4, 1}});
  EXPECT_EQ(ProbabilityOfImprovement(x, y), 0.5);
  const ScoreMatrix z = ScoreMatrix::FromRows({{5, 7}, {6, 9}});
  // task 0: 1 (5, 6 > 4); task 1: 1 -> P = 1.
  EXPECT_EQ(ProbabilityOfImprovement(z, y), 1.0);
  EXPECT_EQ(ProbabilityOfImprovement(y, z), 0.0);
  EXPECT_EQ(ProbabilityOfImprovement(x, x), 0.5);
}

TEST(ImprovementTest, MatchesScipyMannWhitneyGolden) {
  const auto golden = testing::LoadStatsGolden();
  ASSERT_FALSE(golden["improvement"].empty());
  for (const auto& entry : golden["improvement"]) {
    const ScoreMatrix x = testing::MatrixFromJson(entry["x"]);
    const ScoreMatrix y = testing::MatrixFromJson(entry["y"]);
    EXPECT_NEAR(ProbabilityOfImprovement(x, y),
                entry["p_x_greater_y"].get<double>(), 1e-12);
    EXPECT_NEAR(ProbabilityOfImprovement(y, x),
                entry["p_y_greater_x"].get<double>(), 1e-12);
  }
}

// Brute force over all pairs, the definition in improvement.h.
double BruteForce(const ScoreMatrix& x, const ScoreMatrix& y) {
  double total = 0;
  for (int64_t t = 0; t < x.tasks(); ++t) {
    double s = 0;
    for (int64_t i = 0; i < x.runs(); ++i) {
      for (int64_t j = 0; j < y.runs(); ++j) {
        s += x(i, t) > y(j, t) ? 1.0 : x(i, t) == y(j, t) ? 0.5 : 0.0;
      }
    }
    total += s / static_cast<double>(x.runs() * y.runs());
  }
  return total / static_cast<double>(x.tasks());
}

TEST(ImprovementTest, PropertiesOnRandomData) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    const int64_t tasks = 1 + rng.UniformInt(8);
    const int levels = seed % 2 ? 4 : 0;  // many ties half of the time
    const ScoreMatrix x =
        RandomMatrix(rng, 1 + rng.UniformInt(9), tasks, 0, 1, levels);
    const ScoreMatrix y =
        RandomMatrix(rng, 1 + rng.UniformInt(9), tasks, 0.3, 1, levels);
    const double pxy = ProbabilityOfImprovement(x, y);
    const double pyx = ProbabilityOfImprovement(y, x);
    EXPECT_NEAR(pxy + pyx, 1.0, 1e-12) << "seed " << seed;
    EXPECT_NEAR(pxy, BruteForce(x, y), 1e-12) << "seed " << seed;
    EXPECT_GE(pxy, 0);
    EXPECT_LE(pxy, 1);
    EXPECT_EQ(ProbabilityOfImprovement(x, x), 0.5);
  }
}

TEST(ImprovementTest, MismatchedTasksIsAnError) {
  const ScoreMatrix x(2, 3, {1, 2, 3, 4, 5, 6});
  const ScoreMatrix y(2, 2, {1, 2, 3, 4});
  const std::string error = ErrorOf([&] { ProbabilityOfImprovement(x, y); });
  EXPECT_TRUE(Contains(error, "same tasks"));
  EXPECT_TRUE(Contains(error, "X has 3 tasks, Y has 2"));
  EXPECT_TRUE(
      Contains(ErrorOf([&] { ProbabilityOfImprovementCi(x, y, {.reps = 10}); }),
               "same tasks"));
  EXPECT_TRUE(Contains(
      ErrorOf([&] { ProbabilityOfImprovementCi(x, x, {.coverage = 2}); }),
      "coverage"));
  EXPECT_TRUE(Contains(
      ErrorOf([&] { ProbabilityOfImprovement(ScoreMatrix(), y); }), "empty"));
}

// rliable's library_test.py (test_improvement_probability_cis, reps = 100):
// x = arange(80).reshape(5, 16), y = x with its runs reversed; the point
// (0.5: same multiset per task) lies strictly inside the CI.
TEST(ImprovementTest, RliableCiProperty) {
  std::vector<double> x(80), y(80);
  for (int r = 0; r < 5; ++r) {
    for (int t = 0; t < 16; ++t) {
      x[static_cast<size_t>(r * 16 + t)] = r * 16 + t;
      y[static_cast<size_t>((4 - r) * 16 + t)] = r * 16 + t;
    }
  }
  const Interval ci = ProbabilityOfImprovementCi(
      ScoreMatrix(5, 16, x), ScoreMatrix(5, 16, y), {.reps = 100});
  EXPECT_EQ(ci.point, 0.5);
  EXPECT_LT(ci.lower, ci.point);
  EXPECT_LT(ci.point, ci.upper);
}

// The CI's replicates, rebuilt by hand: per replicate X's stratified
// resample, then Y's, from block b's stream Rng(DeriveSeed(seed, b)).
TEST(ImprovementTest, CiFollowsDocumentedStreams) {
  Rng data(5);
  const ScoreMatrix x = RandomMatrix(data, 4, 6, 0, 1, 5);
  const ScoreMatrix y = RandomMatrix(data, 7, 6, 0.2, 1, 5);
  const BootstrapOptions options{.reps = 1300, .coverage = 0.8, .seed = 9};
  std::vector<double> replicates;
  for (uint64_t block = 0; block < 2; ++block) {
    Rng rng(DeriveSeed(options.seed, block));
    for (int i = 0; i < (block == 0 ? 1000 : 300); ++i) {
      const ScoreMatrix xr = StratifiedResample(x, rng);
      const ScoreMatrix yr = StratifiedResample(y, rng);
      replicates.push_back(ProbabilityOfImprovement(xr, yr));
    }
  }
  const Interval ci = ProbabilityOfImprovementCi(x, y, options);
  EXPECT_EQ(ci.point, ProbabilityOfImprovement(x, y));
  EXPECT_NEAR(ci.lower, Percentile(replicates, 10), 1e-12);
  EXPECT_NEAR(ci.upper, Percentile(replicates, 90), 1e-12);
  EXPECT_LE(ci.lower, ci.point);
  EXPECT_GE(ci.upper, ci.point);
}

}  // namespace
}  // namespace tokrl::stats
