// Statistical equivalence with the original Python MinAtar.
//
// tests/golden/minatar_reference_stats.json holds, for every game and seven
// policies (uniform random and "always action a"), statistics of episodes
// played by the reference implementation (docs/minatar_reference_stats.md
// tells how it was made). Here the same protocol runs on our games and every
// mean (return, length, per-channel cell occupancy) is compared with a
// two-sample z-test. |z| < 4.5 over ~250 comparisons keeps the false-alarm
// rate negligible while catching any rule that shifts a statistic by a few
// standard errors. Statistics that are constant in the reference (std 0)
// must match exactly. The random streams differ from the reference's, so
// only distributions can agree, not trajectories.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/core/testing.h"
#include "tokrl/env/registry.h"

namespace tokrl {
namespace {

nlohmann::json LoadReference() {
  std::ifstream in(SourceDir() / "tests/golden/minatar_reference_stats.json");
  if (!in) return nlohmann::json();
  return nlohmann::json::parse(in);
}

struct Sample {
  std::vector<double> values;
  double Mean() const {
    double s = 0;
    for (double v : values) s += v;
    return s / static_cast<double>(values.size());
  }
  double Std() const {
    const double m = Mean();
    double s = 0;
    for (double v : values) s += (v - m) * (v - m);
    return values.size() > 1
               ? std::sqrt(s / static_cast<double>(values.size() - 1))
               : 0.0;
  }
};

// Compares our sample with the reference's mean/std/n.
void ExpectSameMean(const Sample& ours, double ref_mean, double ref_std,
                    double ref_n, const std::string& what) {
  const double n = static_cast<double>(ours.values.size());
  const double mean = ours.Mean(), std = ours.Std();
  if (ref_std == 0.0) {
    EXPECT_NEAR(mean, ref_mean, 1e-5 + 1e-5 * std::abs(ref_mean))
        << what << " (constant in the reference)";
    EXPECT_LT(std, 1e-9) << what
                         << " is constant in the reference but varies here";
    return;
  }
  const double se = std::sqrt(std * std / n + ref_std * ref_std / ref_n);
  const double z = (mean - ref_mean) / se;
  EXPECT_LT(std::abs(z), 4.5)
      << what << ": ours " << mean << " (std " << std << ", n " << n
      << ") vs reference " << ref_mean << " (std " << ref_std << ", n " << ref_n
      << "), z = " << z;
}

class ReferenceStats : public testing::TestWithParam<std::string> {};

TEST_P(ReferenceStats, MatchesTheReferenceDistribution) {
  static const nlohmann::json reference = LoadReference();
  ASSERT_FALSE(reference.is_null())
      << "tests/golden/minatar_reference_stats.json not found "
         "(set TOKRL_SOURCE_DIR)";
  const std::string game = GetParam();
  const nlohmann::json& g = reference["games"][game];
  const int cap = reference["source"]["episode_cap"].get<int>();
  auto env = MakeEnv("minatar/" + game +
                     "(max_episode_steps=" + std::to_string(cap) + ")");
  const int channels = g["num_channels"].get<int>();
  ASSERT_EQ(env->spec().obs_shape[0], channels);
  std::vector<uint8_t> obs(env->spec().obs_size());
  uint64_t seed = 0;
  for (const auto& [policy, stats] : g["policies"].items()) {
    SCOPED_TRACE(game + " " + policy);
    const double ref_n = stats["n_episodes"].get<double>();
    // Long episodes (capped Seaquest, Freeway) need fewer of them.
    const int episodes = stats["length_mean"].get<double>() > 1000 ? 60 : 400;
    const int constant = policy == "random" ? -1 : std::stoi(policy.substr(6));
    env->Seed(DeriveSeed(12345, seed++));
    Rng policy_rng(DeriveSeed(54321, seed));
    Sample returns, lengths, capped;
    std::vector<Sample> occupancy(channels);
    for (int e = 0; e < episodes; ++e) {
      env->Reset(obs);
      std::vector<double> cells(channels, 0.0);
      auto count = [&] {
        for (int c = 0; c < channels; ++c) {
          for (int i = 0; i < 100; ++i) cells[c] += obs[c * 100 + i];
        }
      };
      count();
      double ret = 0;
      int length = 0;
      StepResult r;
      while (!r.done()) {
        r = env->Step(constant >= 0
                          ? constant
                          : static_cast<int>(policy_rng.UniformInt(6)),
                      obs);
        ret += r.reward;
        ++length;
        count();
      }
      returns.values.push_back(ret);
      lengths.values.push_back(length);
      capped.values.push_back(r.truncated ? 1.0 : 0.0);
      for (int c = 0; c < channels; ++c) {
        occupancy[c].values.push_back(cells[c] / (100.0 * (length + 1)));
      }
    }
    ExpectSameMean(returns, stats["return_mean"], stats["return_std"], ref_n,
                   "return");
    ExpectSameMean(lengths, stats["length_mean"], stats["length_std"], ref_n,
                   "length");
    for (int c = 0; c < channels; ++c) {
      ExpectSameMean(occupancy[c], stats["occupancy_mean"][c],
                     stats["occupancy_std"][c], ref_n,
                     "occupancy of channel " + std::to_string(c));
    }
    // Capped in the reference iff capped here.
    EXPECT_EQ(capped.Mean() > 0, stats["n_capped"].get<int>() > 0);
  }
}

INSTANTIATE_TEST_SUITE_P(MinAtar, ReferenceStats,
                         testing::Values("asterix", "breakout", "freeway",
                                         "seaquest", "space_invaders"));

}  // namespace
}  // namespace tokrl
