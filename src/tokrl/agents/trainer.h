// Trainer: the training loop behind `tokrl train`.
//
//   VecEnv (N envs) --obs--> DqnAgent::Act (epsilon-greedy) --actions--> VecEnv
//        |                                                        |
//        +-- (obs, a, r, terminated, truncated, next_obs) --> ReplayBuffer
//                                                                  |
//        every update_period env steps after min_replay: Sample -> Update
//        every target_update_period env steps: SyncTarget
//        every eval_every: Evaluate on separate env copies
//        every log_every: progress line + metrics row
//        every checkpoint_every and at the end: checkpoint
//
// Run directory (created; an existing one is refused unless resuming):
//   config.toml       the fully resolved config (every key)
//   run_info.json     version, git commit, machine, start time, command line
//   metrics.csv / metrics.jsonl / events.out.tfevents.*   (io/metrics_logger.h)
//   checkpoint/       agent.pt, replay.bin, trainer.bin, MANIFEST (sizes and
//                     CRC32C of each file); written to checkpoint.tmp/ and
//                     renamed into place, so a crash never leaves a partial
//                     checkpoint (the previous one survives as
//                     checkpoint.old/ until the new one is complete)
//   summary.json      final evaluation and timing, written at the end
//
// Resume: Trainer(..., resume=true) loads checkpoint/ (after verifying every
// file against MANIFEST) and continues. On the CPU the result is identical to
// an uninterrupted run (tested): the checkpoint holds networks, optimizer,
// replay, every env's state, the exploration and sampling RNGs and torch's
// CPU generator. The resumed config must equal the checkpointed one except
// for train.total_steps, train.log_every, train.checkpoint_every and
// train.tensorboard. A corrupt or mismatched checkpoint is an error naming
// the file and the problem, and nothing in the run directory is changed.
#ifndef TOKRL_AGENTS_TRAINER_H_
#define TOKRL_AGENTS_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tokrl/agents/dqn_agent.h"
#include "tokrl/agents/train_config.h"
#include "tokrl/core/config.h"
#include "tokrl/core/rng.h"
#include "tokrl/env/vec_env.h"
#include "tokrl/io/metrics_logger.h"
#include "tokrl/replay/replay_buffer.h"

namespace tokrl {

struct EvalResult {
  int episodes = 0;
  double return_mean = 0, return_std = 0, length_mean = 0;
};

struct TrainSummary {
  int64_t env_steps = 0;
  int64_t updates = 0;
  int64_t episodes = 0;
  double train_return = 0;  // mean over the last episode_window episodes
  EvalResult final_eval;
  double seconds = 0;
};

class Trainer {
 public:
  // `progress` receives the progress lines (nullptr: silent).
  Trainer(const Config& config, const std::filesystem::path& run_dir,
          bool resume, std::vector<std::string> command_line,
          std::ostream* progress);
  ~Trainer();

  // Trains until train.total_steps env steps, or stops early (with a
  // checkpoint, as if interrupted) once `stop_after` env steps are reached
  // or, between two steps, once `*stop` is true (set from a signal handler
  // by `tokrl train`, so SIGINT/SIGTERM, e.g. a SLURM time limit, leave a
  // resumable checkpoint instead of losing the work since the last one).
  TrainSummary Run(int64_t stop_after = -1,
                   const std::atomic<bool>* stop = nullptr);

  // One iteration of the loop: act in all N envs, store, update as due,
  // then evaluate / log / checkpoint when their periods are crossed.
  void Step();

  // Evaluates the current greedy(epsilon_eval) policy on fresh env copies.
  EvalResult Evaluate();

  int64_t env_steps() const { return env_steps_; }
  DqnAgent& agent() { return *agent_; }
  void SaveCheckpoint();

 private:
  void LoadCheckpoint();
  void Log();
  EvalResult EvaluateAndLog();
  std::string TrainerStateBlob() const;
  void RestoreTrainerState(std::string_view blob);

  Config config_;
  std::filesystem::path run_dir_;
  AgentOptions agent_options_;
  TrainOptions train_options_;
  std::ostream* progress_;
  std::unique_ptr<VecEnv> venv_;
  std::unique_ptr<ReplayBuffer> replay_;
  std::unique_ptr<DqnAgent> agent_;
  std::unique_ptr<io::MetricsLogger> logger_;
  Rng act_rng_, replay_rng_;

  int64_t env_steps_ = 0;
  int64_t updates_ = 0;
  int64_t update_credit_ = 0;  // env steps not yet paid out as updates
  int64_t episodes_ = 0;
  int64_t evaluations_ = 0;
  EvalResult last_eval_;
  int64_t last_eval_step_ = -1;
  std::deque<double> recent_returns_, recent_lengths_;
  // Since the last log row:
  double loss_sum_ = 0, q_sum_ = 0, grad_norm_sum_ = 0, aux_sum_ = 0;
  int64_t loss_count_ = 0;
  double last_log_time_ = 0;
  int64_t last_log_steps_ = 0;
  double start_time_ = 0;
  std::vector<uint8_t> acted_obs_;
};

}  // namespace tokrl

#endif  // TOKRL_AGENTS_TRAINER_H_
