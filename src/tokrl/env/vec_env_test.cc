#include "tokrl/env/vec_env.h"

#include <gtest/gtest.h>

#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"
#include "tokrl/env/registry.h"

namespace tokrl {
namespace {

// Everything a VecEnv produces over a rollout, for equality checks.
struct Trace {
  std::vector<uint8_t> obs, next_obs, flags;
  std::vector<float> rewards, returns;
  std::vector<int32_t> lengths;
  bool operator==(const Trace&) const = default;
};

Trace Rollout(const std::string& id, int num_envs, int num_threads, int steps) {
  VecEnv venv(id,
              {.num_envs = num_envs, .num_threads = num_threads, .seed = 17});
  venv.Reset();
  Rng policy(99);
  std::vector<int32_t> actions(num_envs);
  Trace t;
  for (int s = 0; s < steps; ++s) {
    for (auto& a : actions)
      a = static_cast<int32_t>(policy.UniformInt(venv.spec().num_actions));
    venv.Step(actions);
    t.obs.insert(t.obs.end(), venv.obs().begin(), venv.obs().end());
    t.next_obs.insert(t.next_obs.end(), venv.next_obs().begin(),
                      venv.next_obs().end());
    for (int i = 0; i < num_envs; ++i) {
      t.flags.push_back(venv.terminated()[i] | (venv.truncated()[i] << 1));
    }
    t.rewards.insert(t.rewards.end(), venv.reward().begin(),
                     venv.reward().end());
    t.returns.insert(t.returns.end(), venv.episode_return().begin(),
                     venv.episode_return().end());
    t.lengths.insert(t.lengths.end(), venv.episode_length().begin(),
                     venv.episode_length().end());
  }
  return t;
}

TEST(VecEnv, BitIdenticalForAnyThreadCount) {
  for (const char* id :
       {"minatar/breakout", "minatar/seaquest", "minatar/asterix"}) {
    const Trace one = Rollout(id, 13, 1, 300);
    EXPECT_TRUE(one == Rollout(id, 13, 2, 300)) << id;
    EXPECT_TRUE(one == Rollout(id, 13, 8, 300)) << id;
  }
}

TEST(VecEnv, EqualsSingleEnvsSteppedSerially) {
  const int n = 5;
  const std::string id = "minatar/breakout(max_episode_steps=40)";
  VecEnv venv(id, {.num_envs = n, .num_threads = 3, .seed = 4});
  venv.Reset();
  std::vector<std::unique_ptr<Env>> envs;
  const int64_t size = venv.obs_size();
  std::vector<std::vector<uint8_t>> obs(n, std::vector<uint8_t>(size));
  for (int i = 0; i < n; ++i) {
    envs.push_back(MakeEnv(id));
    envs[i]->Seed(DeriveSeed(4, i));
    envs[i]->Reset(obs[i]);
  }
  Rng policy(1);
  std::vector<int32_t> actions(n);
  std::vector<float> returns(n, 0.0f);
  int episodes_ended = 0;
  for (int s = 0; s < 500; ++s) {
    for (auto& a : actions) a = static_cast<int32_t>(policy.UniformInt(6));
    venv.Step(actions);
    for (int i = 0; i < n; ++i) {
      const StepResult r = envs[i]->Step(actions[i], obs[i]);
      returns[i] += r.reward;
      ASSERT_EQ(venv.reward()[i], r.reward);
      ASSERT_EQ(venv.terminated()[i], r.terminated);
      ASSERT_EQ(venv.truncated()[i], r.truncated);
      ASSERT_TRUE(std::equal(obs[i].begin(), obs[i].end(),
                             venv.next_obs().begin() + i * size));
      ASSERT_EQ(venv.episode_return()[i], returns[i]);
      if (r.done()) {
        ++episodes_ended;
        returns[i] = 0.0f;
        envs[i]->Reset(obs[i]);
      }
      // obs() is what to act on next: the reset observation after an end.
      ASSERT_TRUE(std::equal(obs[i].begin(), obs[i].end(),
                             venv.obs().begin() + i * size));
    }
  }
  EXPECT_GT(episodes_ended, 20);
}

TEST(VecEnv, TracksEpisodeLengthAndTruncation) {
  VecEnv venv("minatar/freeway(max_episode_steps=25)",
              {.num_envs = 3, .seed = 0});
  venv.Reset();
  std::vector<int32_t> actions(3, 2);  // up
  for (int s = 1; s <= 60; ++s) {
    venv.Step(actions);
    for (int i = 0; i < 3; ++i) {
      const int expected = (s - 1) % 25 + 1;
      ASSERT_EQ(venv.episode_length()[i], expected);
      ASSERT_EQ(venv.truncated()[i] != 0, expected == 25);
      ASSERT_EQ(venv.terminated()[i], 0);
    }
  }
}

TEST(VecEnv, DifferentSeedsDiffer) {
  VecEnv a("minatar/asterix", {.num_envs = 4, .seed = 1});
  VecEnv b("minatar/asterix", {.num_envs = 4, .seed = 2});
  a.Reset();
  b.Reset();
  std::vector<int32_t> actions(4, 0);
  bool differs = false;
  for (int s = 0; s < 200 && !differs; ++s) {
    a.Step(actions);
    b.Step(actions);
    differs = !std::equal(a.obs().begin(), a.obs().end(), b.obs().begin());
  }
  EXPECT_TRUE(differs);
}

TEST(VecEnv, SaveStateResumesExactly) {
  const std::string id = "minatar/seaquest";
  VecEnv a(id, {.num_envs = 6, .num_threads = 2, .seed = 3});
  a.Reset();
  Rng policy(2);
  std::vector<int32_t> actions(6);
  auto step = [&](VecEnv& v, Rng& p) {
    for (auto& x : actions) x = static_cast<int32_t>(p.UniformInt(6));
    v.Step(actions);
  };
  for (int s = 0; s < 137; ++s) step(a, policy);
  const std::string blob = a.SaveState();
  VecEnv b(id, {.num_envs = 6, .seed = 999});
  b.LoadState(blob);
  EXPECT_TRUE(std::equal(a.obs().begin(), a.obs().end(), b.obs().begin()));
  Rng policy_b = policy;
  for (int s = 0; s < 300; ++s) {
    step(a, policy);
    step(b, policy_b);
    ASSERT_TRUE(std::equal(a.next_obs().begin(), a.next_obs().end(),
                           b.next_obs().begin()));
    ASSERT_TRUE(std::equal(a.episode_return().begin(), a.episode_return().end(),
                           b.episode_return().begin()));
  }
  VecEnv wrong_n(id, {.num_envs = 5});
  EXPECT_THROW(wrong_n.LoadState(blob), Error);
  VecEnv wrong_env("minatar/breakout", {.num_envs = 6});
  EXPECT_THROW(wrong_env.LoadState(blob), Error);
  EXPECT_THROW(b.LoadState(blob.substr(0, blob.size() / 2)), Error);
}

TEST(VecEnv, BadActionIsRethrownOnTheCaller) {
  VecEnv venv("minatar/breakout", {.num_envs = 8, .num_threads = 4});
  venv.Reset();
  std::vector<int32_t> actions(8, 0);
  actions[5] = 6;
  EXPECT_THROW(venv.Step(actions), Error);
  std::vector<int32_t> too_few(3, 0);
  EXPECT_THROW(venv.Step(too_few), Error);
}

}  // namespace
}  // namespace tokrl
