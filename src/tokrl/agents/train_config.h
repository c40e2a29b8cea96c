// The training configuration: every key `tokrl train` understands, its
// default and meaning, and the translation into typed option structs.
//
// Keys are grouped in tables: [experiment] (labels only), [env], [network],
// [agent], [replay], [train].
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

#include "tokrl/agents/losses.h"
#include "tokrl/core/config.h"
#include "tokrl/env/env.h"
#include "tokrl/nn/q_network.h"
#include "tokrl/replay/replay_buffer.h"

namespace tokrl {

// A Config holding every training key at its default.
Config MakeTrainConfig();

struct AgentOptions {
  bool distributional = false;  // agent.type = "rainbow": C51 head and loss
  double gamma = 0.99;
  int n_step = 1;
  double lr = 2.5e-4;
  double adam_eps = 3.125e-4;
  int64_t batch_size = 32;
  LossType loss = LossType::kMse;  // scalar Q only
  bool double_q = false;
  double grad_clip_norm = 0.0;  // 0 = no clipping
  int64_t min_replay = 1000;
  int64_t update_period = 4;
  int64_t target_update_period = 1000;
  double epsilon_start = 1.0;
  double epsilon_end = 0.01;
  int64_t epsilon_decay_steps = 250'000;
  double epsilon_eval = 0.001;
  double v_min = -10.0, v_max = 10.0;
  int64_t num_atoms = 51;
};

struct TrainOptions {
  std::string env_id;
  int num_envs = 1;
  int env_threads = 1;
  int64_t total_steps = 0;
  uint64_t seed = 0;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int torch_threads = 1;
  int64_t eval_every = 0;  // 0 = never
  int eval_episodes = 10;
  int64_t eval_max_steps = 27'000;
  int64_t log_every = 10'000;
  int64_t checkpoint_every = 0;  // 0 = only at the end
  bool tensorboard = true;
  int episode_window = 100;
};

// Typed views of a Config. Each validates ranges and cross-field rules and
// throws tokrl::Error naming the key.
AgentOptions AgentOptionsFrom(const Config& config);
TrainOptions TrainOptionsFrom(const Config& config);
nn::QNetworkOptions NetworkOptionsFrom(const Config& config,
                                       const EnvSpec& spec);
ReplayOptions ReplayOptionsFrom(const Config& config, const EnvSpec& spec);

}  // namespace tokrl

#endif  // TOKRL_AGENTS_TRAIN_CONFIG_H_
