// Shared helpers of the agent tests: a preset's resolved config and random
// replay batches. Test-only: included by *_test.cc files, never by the
// library.
#ifndef TOKRL_AGENTS_TESTING_H_
#define TOKRL_AGENTS_TESTING_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "tokrl/agents/train_config.h"
#include "tokrl/core/testing.h"
#include "tokrl/env/registry.h"
#include "tokrl/replay/replay_buffer.h"

namespace tokrl::testing {

struct AgentSetup {
  ResolvedConfig resolved;
  EnvSpec spec;
};

// The training Config of configs/<agent>_minatar.toml with
// configs/networks/<network>.toml.
inline Config MakePresetConfig(const std::string& agent,
                               const std::string& network) {
  Config config = MakeTrainConfig();
  config.LoadTomlFile(SourceDir() / "configs" / (agent + "_minatar.toml"));
  config.LoadTomlFile(SourceDir() / "configs" / "networks" /
                      (network + ".toml"));
  return config;
}

// MakePresetConfig(agent, network), resolved for its env.
inline AgentSetup MakeSetup(const std::string& agent,
                            const std::string& network) {
  const Config config = MakePresetConfig(agent, network);
  auto env = MakeEnv(config.GetString("env.id"));
  return {Resolve(config, env->spec()), env->spec()};
}

// An Atari game's spec (84x84 grayscale frames, Pong's 6 actions) without
// the ALE: for Atari networks and updates on synthetic frames.
inline EnvSpec SyntheticAtariSpec() {
  EnvSpec spec;
  spec.id = "ale/pong";
  spec.obs_shape = {1, 84, 84};
  spec.num_actions = 6;
  return spec;
}

// b transitions of random binary observations (from torch's generator),
// random actions and returns, discount 0.97, importance weights in
// [0.5, 1.5).
inline SampledBatch RandomBatch(const nn::QNetworkOptions& network, int64_t b) {
  std::vector<int64_t> shape = {b};
  shape.insert(shape.end(), network.obs_shape.begin(), network.obs_shape.end());
  SampledBatch batch;
  batch.obs = torch::randint(0, 2, shape, torch::kUInt8);
  batch.next_obs = torch::randint(0, 2, shape, torch::kUInt8);
  batch.actions = torch::randint(0, network.num_actions, {b}, torch::kInt64);
  batch.returns = torch::randn({b});
  batch.discounts = torch::full({b}, 0.97);
  batch.weights = torch::rand({b}) + 0.5;
  return batch;
}

}  // namespace tokrl::testing

#endif  // TOKRL_AGENTS_TESTING_H_
