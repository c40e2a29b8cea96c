#include "tokrl/replay/nstep.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"

namespace tokrl {
namespace {

struct Step {
  float reward;
  bool terminated, truncated;
};

TEST(NStepAccumulator, FullLengthTransitionWaitsForItsBootstrapRow) {
  NStepAccumulator acc(/*num_envs=*/1, /*n_step=*/3, /*gamma=*/0.5);
  std::vector<NStepTransition> ready;
  acc.Step(0, 0, 1.0f, false, false, &ready);
  acc.Step(0, 1, 2.0f, false, false, &ready);
  acc.Step(0, 2, 4.0f, false, false, &ready);
  EXPECT_TRUE(ready.empty());  // row 0 has 3 rewards but s_3 is not stored
  EXPECT_EQ(acc.open(0), 3);
  acc.Step(0, 3, 8.0f, false, false, &ready);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].row, 0);
  EXPECT_FLOAT_EQ(ready[0].ret, 1.0f + 0.5f * 2.0f + 0.25f * 4.0f);
  EXPECT_FLOAT_EQ(ready[0].discount, 0.125f);
  EXPECT_EQ(ready[0].steps, 3);
  EXPECT_FALSE(ready[0].bootstrap_is_final);
}

TEST(NStepAccumulator, TruncationBootstrapsWithGammaToTheStepsTaken) {
  NStepAccumulator acc(1, 3, 0.5);
  std::vector<NStepTransition> ready;
  acc.Step(0, 10, 1.0f, false, false, &ready);
  acc.Step(0, 11, 2.0f, false, /*truncated=*/true, &ready);
  ASSERT_EQ(ready.size(), 2u);
  // Oldest first.
  EXPECT_EQ(ready[0].row, 10);
  EXPECT_FLOAT_EQ(ready[0].ret, 1.0f + 0.5f * 2.0f);
  EXPECT_FLOAT_EQ(ready[0].discount, 0.25f);
  EXPECT_EQ(ready[0].steps, 2);
  EXPECT_TRUE(ready[0].bootstrap_is_final);
  EXPECT_EQ(ready[1].row, 11);
  EXPECT_FLOAT_EQ(ready[1].ret, 2.0f);
  EXPECT_FLOAT_EQ(ready[1].discount, 0.5f);
  EXPECT_EQ(ready[1].steps, 1);
  EXPECT_EQ(acc.open(0), 0);
}

TEST(NStepAccumulator, TerminationZeroesTheDiscount) {
  NStepAccumulator acc(1, 3, 0.5);
  std::vector<NStepTransition> ready;
  acc.Step(0, 0, 1.0f, false, false, &ready);
  acc.Step(0, 1, 1.0f, false, false, &ready);
  acc.Step(0, 2, 1.0f, /*terminated=*/true, false, &ready);
  ASSERT_EQ(ready.size(), 3u);
  for (const auto& t : ready) {
    EXPECT_EQ(t.discount, 0.0f);
    EXPECT_TRUE(t.bootstrap_is_final);
  }
  EXPECT_FLOAT_EQ(ready[0].ret, 1.75f);
  EXPECT_EQ(ready[0].steps, 3);
  // An episode end exactly at the n-th step also bootstraps from the final
  // observation (the next row belongs to the next episode).
  ready.clear();
  acc.Step(0, 3, 1.0f, false, false, &ready);
  acc.Step(0, 4, 1.0f, false, false, &ready);
  acc.Step(0, 5, 1.0f, false, true, &ready);
  ASSERT_EQ(ready.size(), 3u);
  EXPECT_EQ(ready[0].row, 3);
  EXPECT_EQ(ready[0].steps, 3);
  EXPECT_FLOAT_EQ(ready[0].discount, 0.125f);
  EXPECT_TRUE(ready[0].bootstrap_is_final);
}

// Seeded random episodes on several envs stepped in lockstep: every reported
// transition equals the brute-force n-step sum over its own env and episode,
// is reported exactly once and at the documented time.
TEST(NStepAccumulator, MatchesBruteForceOnRandomEpisodes) {
  for (int n : {1, 2, 3, 5, 10}) {
    const int num_envs = 4;
    const double gamma = 0.9;
    const int rows = 600;
    Rng rng(100 + n);
    std::vector<std::vector<Step>> steps(num_envs);
    NStepAccumulator acc(num_envs, n, gamma);
    std::vector<NStepTransition> ready;
    std::vector<std::vector<int>> reported(num_envs, std::vector<int>(rows, 0));
    for (int row = 0; row < rows; ++row) {
      ready.clear();
      for (int env = 0; env < num_envs; ++env) {
        const bool end = rng.Bernoulli(0.12);
        const bool term = end && rng.Bernoulli(0.5);
        const Step s{static_cast<float>(rng.UniformRange(-3, 3)), term,
                     end && !term};
        steps[env].push_back(s);
        acc.Step(env, row, s.reward, s.terminated, s.truncated, &ready);
      }
      for (const auto& t : ready) {
        ASSERT_LE(t.row, row);
        ++reported[t.env][t.row];
        // Brute force over env t.env from row t.row.
        double ret = 0.0, disc = 1.0;
        int k = 0;
        bool ended = false, terminated = false;
        while (k < n) {
          const Step& s = steps[t.env][t.row + k];
          ret += disc * s.reward;
          disc *= gamma;
          ++k;
          if (s.terminated || s.truncated) {
            ended = true;
            terminated = s.terminated;
            break;
          }
        }
        EXPECT_NEAR(t.ret, ret, 1e-5);
        EXPECT_EQ(t.steps, k);
        EXPECT_NEAR(t.discount, terminated ? 0.0 : disc, 1e-6);
        EXPECT_EQ(t.bootstrap_is_final, ended);
        // Reported when the end arrived, or once row + n is stored.
        EXPECT_EQ(row, ended ? t.row + k - 1 : t.row + n);
      }
    }
    // Everything old enough was reported exactly once.
    for (int env = 0; env < num_envs; ++env) {
      for (int row = 0; row + n < rows; ++row) {
        ASSERT_EQ(reported[env][row], 1) << "n " << n << " env " << env;
      }
    }
  }
}

TEST(NStepAccumulator, SaveLoadRoundTrip) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("tokrl_nstep_" + std::to_string(::getpid()) + ".bin");
  NStepAccumulator a(2, 4, 0.7);
  std::vector<NStepTransition> ra, rb;
  for (int row = 0; row < 6; ++row) {
    a.Step(0, row, 1.0f + row, false, false, &ra);
    a.Step(1, row, -1.0f * row, row == 2, false, &ra);
  }
  {
    ReplayFileWriter out(path);
    a.Save(out);
    out.Commit();
  }
  NStepAccumulator b(2, 4, 0.7);
  {
    ReplayFileReader in(path);
    b.Load(in);
    in.Finish();
  }
  ra.clear();
  for (int row = 6; row < 12; ++row) {
    for (NStepAccumulator* acc : {&a, &b}) {
      auto* out = acc == &a ? &ra : &rb;
      acc->Step(0, row, 0.5f * row, row == 9, false, out);
      acc->Step(1, row, 2.0f, false, row == 7, out);
    }
  }
  ASSERT_EQ(ra.size(), rb.size());
  for (size_t i = 0; i < ra.size(); ++i) {
    EXPECT_EQ(ra[i].row, rb[i].row);
    EXPECT_EQ(ra[i].ret, rb[i].ret);
    EXPECT_EQ(ra[i].discount, rb[i].discount);
  }
  NStepAccumulator wrong(3, 4, 0.7);
  ReplayFileReader in(path);
  EXPECT_THROW(wrong.Load(in), Error);
  std::filesystem::remove(path);
}

TEST(NStepAccumulator, RejectsNonConsecutiveRowsWhileOpen) {
  NStepAccumulator acc(1, 3, 0.9);
  std::vector<NStepTransition> ready;
  acc.Step(0, 0, 1.0f, false, false, &ready);
  EXPECT_THROW(acc.Step(0, 2, 1.0f, false, false, &ready), Error);
  EXPECT_THROW(NStepAccumulator(1, 0, 0.9), Error);
  EXPECT_THROW(NStepAccumulator(1, 1, 1.5), Error);
}

}  // namespace
}  // namespace tokrl
