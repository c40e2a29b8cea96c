#include "tokrl/env/minatar/minatar_env.h"

#include <gtest/gtest.h>

#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/env/registry.h"

namespace tokrl::minatar {
namespace {

// Breakout draws exactly one randint(2) per reset and nothing per step, so a
// mirror Rng predicts every sticky draw of the wrapper.
TEST(MinAtarEnv, StickyRepeatsPreviousExecutedActionAcrossResets) {
  MinAtarOptions options;
  options.sticky = 0.5;
  MinAtarEnv env("breakout", options);
  std::vector<uint8_t> obs(env.spec().obs_size());
  env.Seed(123);
  Rng mirror(123);
  env.Reset(obs);
  mirror.UniformInt(2);
  Rng policy(5);
  int expected_previous = kNoop;
  int stuck = 0, resets = 0;
  for (int step = 0; step < 5000; ++step) {
    const int action = static_cast<int>(policy.UniformInt(6));
    const StepResult r = env.Step(action, obs);
    const bool sticks = mirror.Uniform() < 0.5;
    stuck += sticks;
    expected_previous = sticks ? expected_previous : action;
    ASSERT_EQ(env.previous_action(), expected_previous) << "step " << step;
    if (r.done()) {
      env.Reset(obs);  // must not clear the previous action
      mirror.UniformInt(2);
      ++resets;
      ASSERT_EQ(env.previous_action(), expected_previous);
    }
  }
  EXPECT_GT(resets, 50);
  EXPECT_NEAR(stuck / 5000.0, 0.5, 0.03);
}

TEST(MinAtarEnv, DrawsEvenWhenStickyIsZero) {
  // With sticky=0 every Step still consumes one uniform draw, so the ball side
  // of Breakout's next reset (one randint(2)) is predicted by a mirror that
  // skips 3 draws for 3 steps, and not by one that skips none.
  MinAtarOptions options;
  options.sticky = 0.0;
  int agree_with_draws = 0, agree_without = 0;
  const int seeds = 64;
  for (int seed = 0; seed < seeds; ++seed) {
    MinAtarEnv env("breakout", options);
    std::vector<uint8_t> obs(env.spec().obs_size());
    env.Seed(seed);
    env.Reset(obs);
    for (int i = 0; i < 3; ++i) env.Step(kRight, obs);
    env.Reset(obs);
    const int side = obs[1 * 100 + 3 * 10 + 0] ? 0 : 1;  // ball channel, row 3
    Rng with_draws(seed), without(seed);
    with_draws.UniformInt(2);
    without.UniformInt(2);
    for (int i = 0; i < 3; ++i) with_draws.Uniform();
    agree_with_draws += static_cast<int>(with_draws.UniformInt(2)) == side;
    agree_without += static_cast<int>(without.UniformInt(2)) == side;
  }
  // The side mapping is the game's choice; either way it must be consistent.
  EXPECT_TRUE(agree_with_draws == seeds || agree_with_draws == 0)
      << agree_with_draws;
  EXPECT_TRUE(agree_without != seeds && agree_without != 0) << agree_without;
}

TEST(MinAtarEnv, MinimalActionsMapToTheFullSet) {
  MinAtarOptions options;
  options.sticky = 0.0;
  options.minimal_actions = true;
  MinAtarEnv env("freeway", options);
  EXPECT_EQ(env.spec().num_actions, 3);
  EXPECT_EQ(env.spec().action_names,
            (std::vector<std::string>{"noop", "up", "down"}));
  std::vector<uint8_t> obs(env.spec().obs_size());
  env.Reset(obs);
  env.Step(1, obs);  // "up" in the minimal set is full-set action 2
  EXPECT_EQ(env.previous_action(), kUp);
  EXPECT_THROW(env.Step(3, obs), Error);
}

TEST(MinAtarEnv, TruncatesAtMaxEpisodeStepsOnly) {
  MinAtarOptions options;
  options.max_episode_steps = 7;
  MinAtarEnv env("freeway", options);
  std::vector<uint8_t> obs(env.spec().obs_size());
  env.Reset(obs);
  for (int i = 1; i <= 7; ++i) {
    const StepResult r = env.Step(kNoop, obs);
    EXPECT_EQ(r.truncated, i == 7);
    EXPECT_FALSE(r.terminated);
  }
}

TEST(MinAtarEnv, FreewayTerminatesAfter2501Steps) {
  auto env = MakeEnv("minatar/freeway");
  std::vector<uint8_t> obs(env->spec().obs_size());
  env->Reset(obs);
  int steps = 0;
  StepResult r;
  while (!r.done()) {
    r = env->Step(kUp, obs);
    ++steps;
  }
  EXPECT_EQ(steps, 2501);
  EXPECT_TRUE(r.terminated);
  EXPECT_FALSE(r.truncated);
}

TEST(MinAtarEnv, UnknownGameIsAnError) {
  EXPECT_THROW(MinAtarEnv("pong", MinAtarOptions()), Error);
}

}  // namespace
}  // namespace tokrl::minatar
