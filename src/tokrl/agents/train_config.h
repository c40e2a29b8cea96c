// The training configuration: every key `tokrl train` understands, and one
// Resolve that turns a Config into the typed option structs.
//
// Keys are grouped in tables, each the options table of one struct (see
// core/options_table.h; the default of a key is its struct's default):
//   [experiment]  ExperimentOptions (labels only)
//   [env]         TrainOptions' env fields (TrainEnvOptionsTable)
//   [network]     nn::QNetworkOptions (nn/q_network.h)
//   [agent]       AgentOptions (agents/agent_options.h)
//   [replay]      ReplayOptions (replay/replay_buffer.h)
//   [train]       TrainOptions (TrainOptionsTable)
// Print them all with `tokrl train --print-config`. Presets in configs/ set
// a subset and cite their source. Defaults: DQN on MinAtar Breakout with the
// Revisiting Rainbow MinAtar settings (Obando-Ceron & Castro 2021; see
// shared/spec/minatar.md section 4.2).
//
// Counting conventions (Dopamine's, generalised to N parallel envs):
//   * every step count (total_steps, min_replay, update_period,
//     target_update_period, epsilon_decay_steps, eval_every, ...) counts
//     environment steps summed over all envs ("frames" for MinAtar);
//   * one gradient update happens every agent.update_period env steps once
//     the replay holds agent.min_replay transitions, so the replay ratio is
//     batch_size / update_period;
//   * the target network is copied every agent.target_update_period env
//     steps.
#ifndef TOKRL_AGENTS_TRAIN_CONFIG_H_
#define TOKRL_AGENTS_TRAIN_CONFIG_H_

#include <cstdint>
#include <string>

#include "tokrl/agents/agent_options.h"
#include "tokrl/agents/interventions.h"
#include "tokrl/core/config.h"
#include "tokrl/core/options_table.h"
#include "tokrl/env/env.h"
#include "tokrl/nn/q_network.h"
#include "tokrl/replay/replay_buffer.h"

namespace tokrl {

// Labels only: they change nothing in training.
struct ExperimentOptions {
  std::string name;     // the sweep this run belongs to
  std::string variant;  // `tokrl report` groups runs by it ("" = derived)
};
const OptionsTable<ExperimentOptions>& ExperimentOptionsTable();

struct TrainOptions {
  // [env]
  std::string env_id = "minatar/breakout";
  int num_envs = 1;
  int env_threads = 1;
  // [train]
  int64_t total_steps = 10'000'000;
  uint64_t seed = 0;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int torch_threads = 1;
  int64_t eval_every = 100'000;  // 0 = never
  int eval_episodes = 10;
  int64_t eval_max_steps = 27'000;
  int64_t log_every = 10'000;
  int64_t checkpoint_every = 0;  // 0 = only at the end
  int64_t stats_every = 0;       // 0 = never (nn/network_stats.h)
  int stats_batch = 256;
  bool tensorboard = true;
  int episode_window = 100;
};
// `env.<name>`: id, num_envs, num_threads.
const OptionsTable<TrainOptions>& TrainEnvOptionsTable();
// `train.<name>`: the rest.
const OptionsTable<TrainOptions>& TrainOptionsTable();

// A Config holding every training key at its default.
Config MakeTrainConfig();

// Every option struct of one run, read from a Config made by
// MakeTrainConfig.
struct ResolvedConfig {
  ExperimentOptions experiment;
  TrainOptions train;
  AgentOptions agent;
  nn::QNetworkOptions network;
  ReplayOptions replay;
  InterventionOptions interventions;
};

// Reads every key (each range-checked, errors naming the key) and applies
// the cross-field rules: agent.v_min < agent.v_max; the network's input and
// output from `spec`, its head and C51 support from the agent; the replay's
// num_envs, obs_shape, n_step and gamma from the env and the agent. The
// rules that need the network built (slot counts, patch sizes) are checked
// when it is built. `tokrl train` and `tokrl sweep` both validate with it.
ResolvedConfig Resolve(const Config& config, const EnvSpec& spec);

// The label `tokrl report` groups this run under: experiment.variant, or
// one derived from agent and network ("dqn perconv+softmoe x4 experts").
std::string VariantLabel(const ResolvedConfig& resolved);

}  // namespace tokrl

#endif  // TOKRL_AGENTS_TRAIN_CONFIG_H_
