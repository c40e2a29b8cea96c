// The ALE backend on ALE's public-domain Tetris ROM (built only with ALE;
// skipped when the build was not given a ROM folder: configure with
// -DTOKRL_ALE_TEST_ROM_DIR=<folder holding tetris.bin>).
#include "tokrl/env/ale/ale_env.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"
#include "tokrl/env/registry.h"
#include "tokrl/env/vec_env.h"

namespace tokrl::ale {
namespace {

class AleEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = TOKRL_ALE_TEST_ROM_DIR;
    if (dir.empty() || !std::filesystem::exists(dir + "/tetris.bin")) {
      GTEST_SKIP() << "no tetris.bin (configure with -DTOKRL_ALE_TEST_ROM_DIR)";
    }
    SetRomDir(dir);
  }
};

struct Rollout {
  std::vector<uint8_t> obs;
  std::vector<float> rewards;
  std::vector<int> ends;
  bool operator==(const Rollout&) const = default;
};

Rollout Play(Env& env, uint64_t policy_seed, int steps, bool reset) {
  std::vector<uint8_t> obs(env.spec().obs_size());
  if (reset) env.Reset(obs);
  Rng rng(policy_seed);
  Rollout r;
  for (int t = 0; t < steps; ++t) {
    const auto a = static_cast<int>(
        rng.UniformInt(static_cast<uint32_t>(env.spec().num_actions)));
    const StepResult s = env.Step(a, obs);
    r.obs.insert(r.obs.end(), obs.begin(), obs.end());
    r.rewards.push_back(s.reward);
    if (s.done()) {
      r.ends.push_back(t);
      env.Reset(obs);
    }
  }
  return r;
}

TEST_F(AleEnvTest, TetrisSpecAndObservations) {
  auto env = MakeEnv("ale/tetris");
  const EnvSpec& spec = env->spec();
  EXPECT_EQ(spec.id, "ale/tetris");
  EXPECT_EQ(spec.obs_shape, (std::vector<int64_t>{1, 84, 84}));
  EXPECT_EQ(spec.num_actions, 5);  // NOOP FIRE RIGHT LEFT DOWN
  EXPECT_EQ(spec.action_names[0], "NOOP");
  EXPECT_EQ(MakeEnv("ale/tetris(full_action_space=true)")->spec().num_actions,
            18);
  env->Seed(1);
  const Rollout r = Play(*env, 2, 300, true);
  // Not a blank screen, and the screen changes as pieces fall.
  uint8_t hi = 0;
  for (uint8_t v : r.obs) hi = std::max(hi, v);
  EXPECT_GT(hi, 0);
  EXPECT_NE(std::vector<uint8_t>(r.obs.begin(), r.obs.begin() + 84 * 84),
            std::vector<uint8_t>(r.obs.end() - 84 * 84, r.obs.end()));
}

TEST_F(AleEnvTest, SameSeedSameRunAndStatesRoundTrip) {
  auto a = MakeEnv("ale/tetris(sticky=0.25)");
  auto b = MakeEnv("ale/tetris(sticky=0.25)");
  a->Seed(7);
  b->Seed(7);
  EXPECT_EQ(Play(*a, 3, 400, true), Play(*b, 3, 400, true));
  // SaveState mid-episode, play on; the restored copy and a Clone replay it.
  auto c = MakeEnv("ale/tetris(sticky=0.25)");
  const std::string state = a->SaveState();
  auto clone = a->Clone();
  const Rollout expected = Play(*a, 4, 300, false);
  c->LoadState(state);
  EXPECT_EQ(Play(*c, 4, 300, false), expected);
  EXPECT_EQ(Play(*clone, 4, 300, false), expected);
  // A different seed gives another run (sticky actions draw from it).
  auto d = MakeEnv("ale/tetris(sticky=0.25)");
  d->Seed(8);
  b->Seed(7);
  EXPECT_NE(Play(*d, 3, 400, true), Play(*b, 3, 400, true));
  EXPECT_THROW(c->LoadState(state.substr(0, state.size() / 2)), Error);
}

TEST_F(AleEnvTest, TruncatesAfterMaxEpisodeFrames) {
  auto env = MakeEnv("ale/tetris(max_episode_frames=400,sticky=0)");
  std::vector<uint8_t> obs(env->spec().obs_size());
  env->Seed(0);
  env->Reset(obs);
  int steps = 0;
  StepResult r;
  while (!r.done() && steps < 1000) {
    r = env->Step(0, obs);
    ++steps;
  }
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(steps, 100);  // 400 frames at frame_skip 4
}

TEST_F(AleEnvTest, VecEnvRunsAleEnvs) {
  VecEnv venv("ale/tetris", {.num_envs = 4, .num_threads = 2, .seed = 5});
  venv.Reset();
  std::vector<int32_t> actions(4, 1);
  for (int t = 0; t < 50; ++t) venv.Step(actions);
  EXPECT_EQ(venv.obs().size(), 4u * 84 * 84);
}

TEST_F(AleEnvTest, MissingAndWrongRomsAreNamed) {
  try {
    MakeEnv("ale/pong");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pong.bin is not in"),
              std::string::npos)
        << e.what();
  }
  // A file that is not a ROM ALE knows.
  const auto dir = std::filesystem::temp_directory_path() / "tokrl_ale_roms";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "breakout.bin") << "not a rom";
  SetRomDir(dir.string());
  try {
    MakeEnv("ale/breakout");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a ROM that ALE supports"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
  SetRomDir(TOKRL_ALE_TEST_ROM_DIR);  // for the tests that follow
}

}  // namespace
}  // namespace tokrl::ale
