// The conformance suite every registered env must pass (OpenSpiel's
// RandomSimTest analogue): seeded random rollouts checking the Env contract.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"
#include "tokrl/env/ale/ale_env.h"
#include "tokrl/env/registry.h"

namespace tokrl {
namespace {

// Each registered env with a step cap small enough to see truncation; of
// the ALE family, Tetris when the build has ALE and its ROM
// (TOKRL_ALE_TEST_ROM_DIR).
std::vector<std::string> ConformanceIds() {
  std::vector<std::string> ids;
  for (const auto& info : ListEnvs()) {
    if (info.id.find('<') != std::string::npos) continue;  // a family
    ids.push_back(info.id.rfind("minatar/", 0) == 0
                      ? info.id + "(max_episode_steps=150)"
                      : info.id);
  }
  const std::string rom_dir = TOKRL_ALE_TEST_ROM_DIR;
  if (ale::AleAvailable() && !rom_dir.empty()) {
    ale::SetRomDir(rom_dir);
    ids.push_back("ale/tetris(max_episode_frames=600)");
  }
  return ids;
}

struct Transcript {
  std::vector<uint8_t> obs;
  std::vector<float> rewards;
  std::vector<int> ends;
  bool operator==(const Transcript&) const = default;
};

// Runs `steps` random steps with resets, checking the contract on the way.
Transcript RandomRollout(Env& env, uint64_t policy_seed, int steps,
                         bool reset_first) {
  const EnvSpec& spec = env.spec();
  std::vector<uint8_t> obs(spec.obs_size(), 0xAB);
  Transcript t;
  Rng policy(policy_seed);
  if (reset_first) env.Reset(obs);
  int length = 0;
  bool length_known = reset_first;  // false until the first reset
  // Binary envs write 0/1. Any other value is a valid pixel of the others,
  // so every 50 steps a clone steps into a buffer pre-filled differently:
  // a byte the env does not write differs between the two.
  const bool binary =
      spec.id.rfind("minatar/", 0) == 0 || spec.id.rfind("toy/", 0) == 0;
  for (int s = 0; s < steps; ++s) {
    const int action = static_cast<int>(policy.UniformInt(spec.num_actions));
    std::unique_ptr<Env> twin = !binary && s % 50 == 0 ? env.Clone() : nullptr;
    std::fill(obs.begin(), obs.end(), 0xAB);  // every byte must be rewritten
    const StepResult r = env.Step(action, obs);
    if (twin) {
      std::vector<uint8_t> other(obs.size(), 0x54);
      twin->Step(action, other);
      EXPECT_TRUE(other == obs) << spec.id << " step " << s
                                << ": not every observation byte is written";
    }
    ++length;
    EXPECT_TRUE(std::isfinite(r.reward));
    EXPECT_FALSE(r.terminated && r.truncated);
    if (spec.max_episode_steps > 0 && length_known) {
      EXPECT_LE(length, spec.max_episode_steps);
      EXPECT_EQ(r.truncated, !r.terminated && length == spec.max_episode_steps);
    }
    if (binary) {
      const auto bad = std::count_if(obs.begin(), obs.end(),
                                     [&](uint8_t v) { return v > 1; });
      EXPECT_EQ(bad, 0) << spec.id << " step " << s;
    }
    t.obs.insert(t.obs.end(), obs.begin(), obs.end());
    t.rewards.push_back(r.reward);
    if (r.done()) {
      t.ends.push_back(s);
      env.Reset(obs);
      t.obs.insert(t.obs.end(), obs.begin(), obs.end());
      length = 0;
      length_known = true;
    }
  }
  return t;
}

class EnvConformance : public testing::TestWithParam<std::string> {};

TEST_P(EnvConformance, SpecIsConsistent) {
  auto env = MakeEnv(GetParam());
  const EnvSpec& spec = env->spec();
  ASSERT_EQ(spec.obs_shape.size(), 3u);
  EXPECT_GT(spec.obs_size(), 0);
  EXPECT_GT(spec.num_actions, 0);
  EXPECT_EQ(static_cast<int>(spec.action_names.size()), spec.num_actions);
  // The spec's id recreates an identical env.
  EXPECT_EQ(MakeEnv(spec.id)->spec().id, spec.id);
}

TEST_P(EnvConformance, SameSeedSameTrajectory) {
  auto a = MakeEnv(GetParam());
  auto b = MakeEnv(GetParam());
  a->Seed(77);
  b->Seed(77);
  const Transcript ta = RandomRollout(*a, 1, 3000, true);
  const Transcript tb = RandomRollout(*b, 1, 3000, true);
  EXPECT_TRUE(ta == tb);
  EXPECT_FALSE(ta.ends.empty()) << "no episode ended in 3000 random steps";
}

TEST_P(EnvConformance, CloneHasTheSameFuture) {
  auto env = MakeEnv(GetParam());
  env->Seed(5);
  RandomRollout(*env, 2, 321, true);  // somewhere mid-episode
  auto clone = env->Clone();
  const Transcript original = RandomRollout(*env, 3, 1000, false);
  const Transcript cloned = RandomRollout(*clone, 3, 1000, false);
  EXPECT_TRUE(original == cloned);
}

TEST_P(EnvConformance, SavedStateHasTheSameFuture) {
  auto env = MakeEnv(GetParam());
  env->Seed(6);
  RandomRollout(*env, 4, 517, true);
  const std::string blob = env->SaveState();
  auto restored = MakeEnv(GetParam());
  restored->LoadState(blob);
  EXPECT_TRUE(RandomRollout(*env, 5, 1000, false) ==
              RandomRollout(*restored, 5, 1000, false));
  // Truncated blobs and blobs of another env are rejected.
  EXPECT_THROW(restored->LoadState(blob.substr(0, blob.size() - 1)), Error);
  EXPECT_THROW(restored->LoadState(blob + "x"), Error);
  auto other =
      MakeEnv(GetParam() == "toy/catch" ? "minatar/breakout" : "toy/catch");
  EXPECT_THROW(other->LoadState(blob), Error);
}

TEST_P(EnvConformance, OutOfRangeActionThrows) {
  auto env = MakeEnv(GetParam());
  std::vector<uint8_t> obs(env->spec().obs_size());
  env->Reset(obs);
  EXPECT_THROW(env->Step(env->spec().num_actions, obs), Error);
  EXPECT_THROW(env->Step(-1, obs), Error);
}

INSTANTIATE_TEST_SUITE_P(
    AllEnvs, EnvConformance, testing::ValuesIn(ConformanceIds()),
    [](const testing::TestParamInfo<std::string>& param_info) {
      std::string name;
      for (char c : param_info.param) {
        if (c == '(') break;
        name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      }
      return name;
    });

}  // namespace
}  // namespace tokrl
