// AgentOptions: the DQN / Rainbow agent's settings, and their config keys
// (`agent.<name>`, see core/options_table.h). Defaults: DQN with the
// Revisiting Rainbow MinAtar settings (Obando-Ceron & Castro 2021).
#ifndef TOKRL_AGENTS_AGENT_OPTIONS_H_
#define TOKRL_AGENTS_AGENT_OPTIONS_H_

#include <cstdint>

#include "tokrl/agents/losses.h"
#include "tokrl/core/options_table.h"

namespace tokrl {

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
  // Rewards stored in the replay clipped to [-1, 1] (Atari presets); the
  // logged returns stay the env's.
  bool reward_clip = false;
  // Observations stacked as the network's input (Dopamine's stack_size; 4 on
  // Atari): acting stacks them (frame_stacker.h), the replay at sample time.
  int frame_stack = 1;
  // On a CUDA device, the update runs as one captured CUDA graph
  // (graphed_update.h); the same values as eager launches to float rounding.
  bool cuda_graphs = true;
};

// Every field is a key; `distributional` is agent.type (dqn | rainbow).
const OptionsTable<AgentOptions>& AgentOptionsTable();

}  // namespace tokrl

#endif  // TOKRL_AGENTS_AGENT_OPTIONS_H_
