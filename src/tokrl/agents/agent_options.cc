#include "tokrl/agents/agent_options.h"

#include <string>

namespace tokrl {
namespace {

// agent.type and agent.loss are names for a bool and an enum.
OptionRow<AgentOptions> TypeRow() {
  return {
      "type", "dqn (scalar Q) | rainbow (C51 distributional)",
      [](const AgentOptions& o) {
        return ConfigValue(std::string(o.distributional ? "rainbow" : "dqn"));
      },
      [](AgentOptions& o, const ConfigValue& value, const std::string& key) {
        const auto& type = std::get<std::string>(value);
        if (type != "dqn" && type != "rainbow") {
          TOKRL_FAIL() << "config key '" << key << "': unknown agent '" << type
                       << "'; valid choices: dqn, rainbow";
        }
        o.distributional = type == "rainbow";
      }};
}

OptionRow<AgentOptions> LossRow() {
  return {
      "loss", "dqn TD loss: mse | huber",
      [](const AgentOptions& o) {
        return ConfigValue(
            std::string(o.loss == LossType::kHuber ? "huber" : "mse"));
      },
      [](AgentOptions& o, const ConfigValue& value, const std::string& key) {
        const auto& loss = std::get<std::string>(value);
        if (loss != "mse" && loss != "huber") {
          TOKRL_FAIL() << "config key '" << key << "': unknown loss '" << loss
                       << "'; valid choices: mse, huber";
        }
        o.loss = loss == "huber" ? LossType::kHuber : LossType::kMse;
      }};
}

}  // namespace

const OptionsTable<AgentOptions>& AgentOptionsTable() {
  using O = AgentOptions;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr double kHuge = 1e30;
  static const OptionsTable<O> table = {
      TypeRow(),
      FloatOption("gamma", &O::gamma, 0.0, 1.0, "discount"),
      IntOption("n_step", &O::n_step, 1, 1000, "multi-step returns"),
      // Adam's step is about lr per parameter: above 1 it only diverges.
      FloatOption("lr", &O::lr, 0.0, 1.0, "Adam learning rate",
                  /*lo_open=*/true),
      FloatOption("adam_eps", &O::adam_eps, 0.0, 1.0, "Adam epsilon",
                  /*lo_open=*/true),
      IntOption("batch_size", &O::batch_size, 1, 1 << 20, "minibatch size"),
      LossRow(),
      BoolOption("double_q", &O::double_q, "double DQN targets"),
      FloatOption("grad_clip_norm", &O::grad_clip_norm, 0.0, kHuge,
                  "global gradient norm clip (0 = off)"),
      IntOption("min_replay", &O::min_replay, 1, kMax,
                "env steps before learning starts"),
      IntOption("update_period", &O::update_period, 1, kMax,
                "env steps per gradient update"),
      IntOption("target_update_period", &O::target_update_period, 1, kMax,
                "env steps per target copy"),
      FloatOption("epsilon_start", &O::epsilon_start, 0.0, 1.0,
                  "epsilon during warm-up"),
      FloatOption("epsilon_end", &O::epsilon_end, 0.0, 1.0,
                  "epsilon after decay"),
      IntOption("epsilon_decay_steps", &O::epsilon_decay_steps, 0, kMax,
                "env steps of linear decay after warm-up"),
      FloatOption("epsilon_eval", &O::epsilon_eval, 0.0, 1.0,
                  "epsilon during evaluation"),
      IntOption("num_atoms", &O::num_atoms, 2, 100'000, "rainbow: C51 atoms"),
      FloatOption("v_min", &O::v_min, -kHuge, kHuge,
                  "rainbow: support minimum"),
      FloatOption("v_max", &O::v_max, -kHuge, kHuge,
                  "rainbow: support maximum"),
      BoolOption("reward_clip", &O::reward_clip,
                 "clip rewards to [-1, 1] for learning (Atari)"),
      IntOption("frame_stack", &O::frame_stack, 1, 64,
                "observations stacked as the network input (Atari: 4)"),
      BoolOption("cuda_graphs", &O::cuda_graphs,
                 "on a CUDA device, run the update and acting's forward as "
                 "captured CUDA graphs (false: eager kernel launches; no "
                 "effect on the CPU, or with noisy or MoE networks)"),
  };
  return table;
}

}  // namespace tokrl
