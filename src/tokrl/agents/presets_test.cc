// Every preset in configs/ must load, validate and build its network.
#include <gtest/gtest.h>

#include <filesystem>

#include "tokrl/agents/dqn_agent.h"
#include "tokrl/agents/train_config.h"
#include "tokrl/core/testing.h"
#include "tokrl/env/registry.h"

namespace tokrl {
namespace {
namespace fs = std::filesystem;

fs::path ConfigDir() { return SourceDir() / "configs"; }

void CheckBuilds(Config config) {
  // The Atari presets' 1M-frame replay is 7 GB: a small one checks the same.
  config.Set("replay.capacity", "1000");
  // Atari presets in a build without ALE: its nominal spec.
  const EnvSpec spec = SpecForConfigChecks(config.GetString("env.id"));
  const ResolvedConfig r = Resolve(config, spec);
  ReplayBuffer replay(r.replay);
  DqnAgent dqn(r.agent, r.network, torch::kCPU);
  // The network acts on stacks of agent.frame_stack observations.
  std::vector<uint8_t> obs(2 * spec.obs_size() * r.agent.frame_stack, 1);
  Rng rng(0);
  const auto actions = dqn.Act(obs, 2, 0.0, rng);
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_LT(actions[0], spec.num_actions);
}

TEST(Presets, EveryAgentPresetBuilds) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(ConfigDir())) {
    if (entry.path().extension() != ".toml") continue;
    SCOPED_TRACE(entry.path().string());
    Config config = MakeTrainConfig();
    config.LoadTomlFile(entry.path());
    CheckBuilds(config);
    ++count;
  }
  EXPECT_GE(count, 4);
}

TEST(Presets, EveryNetworkVariantBuildsOnMinAtar) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(ConfigDir() / "networks")) {
    SCOPED_TRACE(entry.path().string());
    for (const char* agent :
         {"dqn_minatar.toml", "rainbow_lite_minatar.toml"}) {
      Config config = MakeTrainConfig();
      config.LoadTomlFile(ConfigDir() / agent);
      config.LoadTomlFile(entry.path());
      CheckBuilds(config);
    }
    ++count;
  }
  EXPECT_GE(count, 10);
}

}  // namespace
}  // namespace tokrl
