#include "tokrl/capi/env_c.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokrl/env/registry.h"

namespace {

TEST(EnvC, StepsExactlyLikeTheRegistryEnv) {
  tokrl_env* env = nullptr;
  ASSERT_EQ(tokrl_env_create("minatar/breakout", 7, &env), 0)
      << tokrl_env_last_error();
  int64_t shape[3];
  int32_t num_actions = 0;
  ASSERT_EQ(tokrl_env_spec(env, shape, &num_actions), 0);
  auto reference = tokrl::MakeEnv("minatar/breakout");
  reference->Seed(7);
  const tokrl::EnvSpec& spec = reference->spec();
  EXPECT_EQ(num_actions, spec.num_actions);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(shape[i], spec.obs_shape[i]);

  std::vector<uint8_t> a(spec.obs_size()), b(spec.obs_size());
  ASSERT_EQ(tokrl_env_reset(env, a.data()), 0);
  reference->Reset(b);
  EXPECT_EQ(a, b);
  int episodes = 0;
  for (int t = 0; t < 3000; ++t) {
    const int action = (t * 7 + t / 5) % num_actions;
    float reward = 0;
    int32_t terminated = 0, truncated = 0;
    ASSERT_EQ(
        tokrl_env_step(env, action, a.data(), &reward, &terminated, &truncated),
        0);
    const tokrl::StepResult r = reference->Step(action, b);
    ASSERT_EQ(a, b) << "step " << t;
    ASSERT_EQ(reward, r.reward);
    ASSERT_EQ(terminated != 0, r.terminated);
    ASSERT_EQ(truncated != 0, r.truncated);
    if (r.done()) {
      ++episodes;
      ASSERT_EQ(tokrl_env_reset(env, a.data()), 0);
      reference->Reset(b);
    }
  }
  EXPECT_GT(episodes, 3);
  tokrl_env_destroy(env);
}

TEST(EnvC, ErrorsAreReturnedNotThrown) {
  tokrl_env* env = reinterpret_cast<tokrl_env*>(1);
  EXPECT_EQ(tokrl_env_create("minatar/pong", 0, &env), -1);
  EXPECT_EQ(env, nullptr);
  EXPECT_NE(std::string(tokrl_env_last_error()).find("pong"), std::string::npos)
      << tokrl_env_last_error();
  EXPECT_EQ(tokrl_env_create(nullptr, 0, &env), -1);

  ASSERT_EQ(tokrl_env_create("minatar/breakout", 0, &env), 0);
  std::vector<uint8_t> obs(4 * 10 * 10);
  ASSERT_EQ(tokrl_env_reset(env, obs.data()), 0);
  float reward;
  int32_t terminated, truncated;
  EXPECT_EQ(
      tokrl_env_step(env, 99, obs.data(), &reward, &terminated, &truncated),
      -1);
  EXPECT_NE(std::string(tokrl_env_last_error()).find("99"), std::string::npos);
  EXPECT_EQ(tokrl_env_step(env, 0, nullptr, &reward, &terminated, &truncated),
            -1);
  tokrl_env_destroy(env);
  tokrl_env_destroy(nullptr);  // a no-op, as free()
}

}  // namespace
