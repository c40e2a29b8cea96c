#include "tokrl/agents/train_config.h"

#include <gtest/gtest.h>

#include <string>

#include "tokrl/core/gtest_helpers.h"
#include "tokrl/core/testing.h"
#include "tokrl/env/registry.h"

namespace tokrl {
namespace {

EnvSpec BreakoutSpec() { return MakeEnv("minatar/breakout")->spec(); }

// Defaults come from the structs alone: the schema's defaults resolve to
// default-constructed options (plus what the env and the agent set).
TEST(TrainConfig, DefaultsAreTheStructs) {
  const ResolvedConfig r = Resolve(MakeTrainConfig(), BreakoutSpec());
  const TrainOptions train;
  EXPECT_EQ(r.train.env_id, train.env_id);
  EXPECT_EQ(r.train.total_steps, train.total_steps);
  EXPECT_EQ(r.train.eval_every, train.eval_every);
  nn::QNetworkOptions network;
  network.obs_shape = BreakoutSpec().obs_shape;
  network.num_actions = BreakoutSpec().num_actions;
  EXPECT_TRUE(r.network == network);
  const ReplayOptions replay;
  EXPECT_EQ(r.replay.capacity, replay.capacity);
  EXPECT_EQ(r.replay.beta, replay.beta);
  const AgentOptions agent;
  EXPECT_EQ(r.agent.lr, agent.lr);
  EXPECT_EQ(r.agent.epsilon_decay_steps, agent.epsilon_decay_steps);
  // Every key is printed and read back unchanged.
  Config config = MakeTrainConfig();
  Config back = MakeTrainConfig();
  back.LoadTomlString(config.ToToml(), "printed");
  EXPECT_EQ(back.ToJson(), config.ToJson());
}

TEST(TrainConfig, ResolveAppliesCrossFieldRules) {
  Config c = MakeTrainConfig();
  c.Set("agent.type", "rainbow");
  c.Set("agent.n_step", "3");
  c.Set("agent.gamma", "0.9");
  c.Set("env.num_envs", "4");
  const ResolvedConfig r = Resolve(c, BreakoutSpec());
  EXPECT_EQ(r.network.head, nn::HeadType::kC51);
  EXPECT_EQ(r.network.num_atoms, 51);
  EXPECT_EQ(r.replay.n_step, 3);
  EXPECT_EQ(r.replay.gamma, 0.9);
  EXPECT_EQ(r.replay.num_envs, 4);
  EXPECT_EQ(r.replay.obs_shape, BreakoutSpec().obs_shape);
  c.Set("agent.v_min", "10");
  EXPECT_TRUE(Contains(ErrorOf([&] { Resolve(c, BreakoutSpec()); }),
                       "'agent.v_min' (10) must be below 'agent.v_max' (10)"));
}

// Regression (issue 10): `tokrl sweep` checked only the agent and train
// keys, so these passed the sweep and failed in the cluster jobs.
TEST(TrainConfig, ResolveChecksNetworkAndReplayKeys) {
  const auto error = [](const std::string& assignment) {
    Config c = MakeTrainConfig();
    c.SetAssignment(assignment);
    return ErrorOf([&] { Resolve(c, BreakoutSpec()); });
  };
  EXPECT_TRUE(Contains(error("network.tokenizer=perconvv"),
                       "config key 'network.tokenizer': unknown"));
  EXPECT_TRUE(Contains(error("network.experts=0"),
                       "'network.experts' must be between 1 and 4096, got 0"));
  EXPECT_TRUE(Contains(error("replay.alpha=-1"),
                       "'replay.alpha' must be a finite number from 0"));
  // And the keys that had none before: the MoE auxiliary loss, for one.
  Config c = MakeTrainConfig();
  c.Set("network.aux_loss", "importance");
  c.Set("network.minatar_channels", "32");
  const ResolvedConfig r = Resolve(c, BreakoutSpec());
  EXPECT_EQ(r.network.aux_loss, nn::MoEAuxLoss::kImportance);
  EXPECT_EQ(r.network.minatar_channels, 32);
}

TEST(TrainConfig, VariantLabels) {
  const auto label = [](const std::string& agent, const std::string& tokenizer,
                        const std::string& penultimate, int experts,
                        int scale) {
    Config c = MakeTrainConfig();
    c.Set("agent.type", agent);
    c.Set("network.tokenizer", tokenizer);
    c.Set("network.penultimate", penultimate);
    c.Set("network.experts", std::to_string(experts));
    c.Set("network.scale", std::to_string(scale));
    return VariantLabel(Resolve(c, BreakoutSpec()));
  };
  EXPECT_EQ(label("dqn", "flatten", "dense", 4, 1), "dqn flatten+dense");
  EXPECT_EQ(label("dqn", "perconv", "softmoe", 4, 1),
            "dqn perconv+softmoe x4 experts");
  EXPECT_EQ(label("rainbow", "perconv", "moe", 8, 4),
            "rainbow perconv+moe x8 experts scale4");
  EXPECT_EQ(label("dqn", "flatten", "dense", 8, 4), "dqn flatten+dense scale4");
  Config named = MakeTrainConfig();
  named.Set("experiment.variant", "SoftMoE-4");
  EXPECT_EQ(VariantLabel(Resolve(named, BreakoutSpec())), "SoftMoE-4");
}

}  // namespace
}  // namespace tokrl
