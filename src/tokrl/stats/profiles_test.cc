#include "tokrl/stats/profiles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tokrl/core/rng.h"
#include "tokrl/core/testing.h"
#include "tokrl/stats/stats_testing.h"

namespace tokrl::stats {
namespace {

using testing::Contains;
using testing::RandomMatrix;

// [[0.5, 2.0],
//  [1.5, -1.0]]: entries strictly above tau, out of 4:
//   tau = -2 -> 4; 0 -> 3 (0.5, 2, 1.5); 0.5 -> 2 (strict: 0.5 is out);
//   1 -> 2; 2 -> 0 (strict); 3 -> 0.
TEST(ProfilesTest, HandComputed) {
  const ScoreMatrix m = ScoreMatrix::FromRows({{0.5, 2.0}, {1.5, -1.0}});
  const std::vector<double> taus = {-2, 0, 0.5, 1, 2, 3};
  EXPECT_EQ(PerformanceProfile(m, taus),
            (std::vector<double>{1, 0.75, 0.5, 0.5, 0, 0}));
  // Unsorted taus: result[i] still belongs to taus[i].
  const std::vector<double> shuffled = {2, -2, 0.5};
  EXPECT_EQ(PerformanceProfile(m, shuffled), (std::vector<double>{0, 1, 0.5}));
}

TEST(ProfilesTest, MatchesNumpyGolden) {
  const auto golden = testing::LoadStatsGolden();
  const auto taus = golden["taus"].get<std::vector<double>>();
  for (const auto& entry : golden["matrices"]) {
    const ScoreMatrix m = testing::MatrixFromJson(entry["rows"]);
    const auto expected = entry["profile"].get<std::vector<double>>();
    const auto profile = PerformanceProfile(m, taus);
    for (size_t i = 0; i < taus.size(); ++i) {
      EXPECT_DOUBLE_EQ(profile[i], expected[i])
          << entry["name"].get<std::string>() << " tau " << taus[i];
    }
  }
}

TEST(ProfilesTest, LinspaceMatchesNumpy) {
  const auto golden = testing::LoadStatsGolden();
  for (const auto& entry : golden["linspace"]) {
    const auto expected = entry["result"].get<std::vector<double>>();
    EXPECT_EQ(Linspace(entry["lo"].get<double>(), entry["hi"].get<double>(),
                       entry["count"].get<int>()),
              expected);
  }
  EXPECT_EQ(Linspace(0, 1, 3), (std::vector<double>{0, 0.5, 1}));
  EXPECT_TRUE(Contains(ErrorOf([] { Linspace(0, 1, 1); }), "count >= 2"));
  EXPECT_TRUE(Contains(
      ErrorOf([] { Linspace(0, std::numeric_limits<double>::infinity(), 5); }),
      "finite"));
}

TEST(ProfilesTest, MonotoneAndBoundedOnRandomData) {
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Rng rng(seed);
    const ScoreMatrix m =
        RandomMatrix(rng, 1 + rng.UniformInt(6), 1 + rng.UniformInt(10), 0, 2,
                     seed % 2 ? 6 : 0);
    const auto [lo, hi] =
        std::minmax_element(m.values().begin(), m.values().end());
    std::vector<double> taus = Linspace(*lo - 1, *hi + 1, 41);
    taus.push_back(*hi);
    taus.push_back(*lo);
    const auto profile = PerformanceProfile(m, taus);
    EXPECT_EQ(profile[0], 1.0);
    EXPECT_EQ(profile[40], 0.0);
    EXPECT_EQ(profile[41], 0.0) << "profile at the maximum (strict >)";
    if (*lo < *hi) {
      EXPECT_GT(profile[42], 0.0);
    }
    for (size_t i = 1; i < 41; ++i) {
      EXPECT_LE(profile[i], profile[i - 1]) << "seed " << seed;
    }
  }
}

// The histogram percentiles of PerformanceProfileCis equal a generic
// bootstrap of the profile at one tau (same replicates, same percentiles).
TEST(ProfilesTest, CisMatchGenericBootstrap) {
  Rng rng(21);
  const ScoreMatrix m = RandomMatrix(rng, 5, 7, 1.0, 1.0);
  const std::vector<double> taus = {2.0, 0.0, 1.0, 0.5, -5.0, 1.5};
  const BootstrapOptions options{.reps = 3000, .coverage = 0.9, .seed = 77};
  const auto cis = PerformanceProfileCis(m, taus, options);
  ASSERT_EQ(cis.size(), taus.size());
  const auto point = PerformanceProfile(m, taus);
  for (size_t i = 0; i < taus.size(); ++i) {
    const double tau = taus[i];
    const AggregateFn at_tau = [tau](const ScoreMatrix& s) {
      return PerformanceProfile(s, std::span(&tau, 1))[0];
    };
    const Interval expected = StratifiedBootstrapCi(m, at_tau, options);
    EXPECT_EQ(cis[i].point, point[i]);
    EXPECT_DOUBLE_EQ(cis[i].lower, expected.lower) << "tau " << tau;
    EXPECT_DOUBLE_EQ(cis[i].upper, expected.upper) << "tau " << tau;
    EXPECT_LE(cis[i].lower, cis[i].point);
    EXPECT_GE(cis[i].upper, cis[i].point);
  }
  // Below every score the profile is 1 in every replicate.
  EXPECT_EQ(cis[4].lower, 1.0);
  EXPECT_EQ(cis[4].upper, 1.0);
}

// rliable's library_test.py (test_performance_profiles): on
// x = arange(80).reshape(5, 16) the profile at taus [0, 0.25, 0.5, 1] is
// non-increasing; here also hand-computed: 79/80, 79/80, 79/80, 78/80.
TEST(ProfilesTest, RliableArangeProfile) {
  std::vector<double> x(80);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i);
  const ScoreMatrix m(5, 16, x);
  const std::vector<double> taus = {0.0, 0.25, 0.5, 1.0};
  const auto profile = PerformanceProfile(m, taus);
  EXPECT_EQ(profile,
            (std::vector<double>{79.0 / 80, 79.0 / 80, 79.0 / 80, 78.0 / 80}));
  const auto cis = PerformanceProfileCis(m, taus, {.reps = 100});
  for (size_t i = 0; i < taus.size(); ++i) {
    EXPECT_LE(cis[i].lower, profile[i]);
    EXPECT_GE(cis[i].upper, profile[i]);
  }
}

TEST(ProfilesTest, BadInput) {
  const ScoreMatrix m = ScoreMatrix::FromRows({{1, 2}});
  const std::vector<double> taus = {0, std::nan("")};
  EXPECT_TRUE(
      Contains(ErrorOf([&] { PerformanceProfile(m, taus); }), "tau[1] is NaN"));
  EXPECT_TRUE(Contains(ErrorOf([&] {
                         PerformanceProfileCis(m, std::vector<double>{0.0},
                                               {.reps = 0});
                       }),
                       "reps must be >= 1"));
  EXPECT_TRUE(Contains(
      ErrorOf([&] { PerformanceProfile(ScoreMatrix(), std::vector{0.0}); }),
      "empty score matrix"));
  EXPECT_TRUE(PerformanceProfile(m, {}).empty());
}

}  // namespace
}  // namespace tokrl::stats
