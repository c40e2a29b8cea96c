#include "tokrl/env/toy/catch.h"

#include <gtest/gtest.h>

#include <vector>

#include "tokrl/core/check.h"

namespace tokrl {
namespace {

TEST(Catch, EpisodeLastsRowsMinusOneStepsAndRewardsCatch) {
  CatchEnv env(6, 4);
  std::vector<uint8_t> obs(env.spec().obs_size());
  env.Seed(3);
  for (int episode = 0; episode < 20; ++episode) {
    env.Reset(obs);
    EXPECT_EQ(obs[env.ball_column()], 1);  // ball in row 0 of channel 0
    StepResult r;
    int steps = 0;
    while (!r.done()) {
      // Chase the ball: always catches.
      const int action = env.ball_column() < env.paddle_column()   ? 0
                         : env.ball_column() > env.paddle_column() ? 2
                                                                   : 1;
      r = env.Step(action, obs);
      ++steps;
    }
    EXPECT_EQ(steps, 5);
    EXPECT_TRUE(r.terminated);
    EXPECT_FALSE(r.truncated);
    EXPECT_EQ(r.reward, 1.0f);
  }
}

TEST(Catch, MissingGivesMinusOne) {
  CatchEnv env(4, 5);
  std::vector<uint8_t> obs(env.spec().obs_size());
  for (uint64_t seed = 0; seed < 30; ++seed) {
    env.Seed(seed);
    env.Reset(obs);
    // Run away from the ball as far as possible.
    const int away = env.ball_column() >= 2 ? 0 : 2;
    StepResult r;
    while (!r.done()) r = env.Step(away, obs);
    const bool caught = env.ball_column() == env.paddle_column();
    EXPECT_EQ(r.reward, caught ? 1.0f : -1.0f);
  }
}

TEST(Catch, RejectsBadActions) {
  CatchEnv env(5, 5);
  std::vector<uint8_t> obs(env.spec().obs_size());
  env.Reset(obs);
  EXPECT_THROW(env.Step(3, obs), Error);
  EXPECT_THROW(env.Step(-1, obs), Error);
}

}  // namespace
}  // namespace tokrl
