// Trainer: the training loop behind `tokrl train`.
//
//   VecEnv (N envs) --obs--> DqnAgent::Act (epsilon-greedy) --actions--> VecEnv
//        |                                                        |
//        +-- (obs, a, r, terminated, truncated, next_obs) --> ReplayBuffer
//                                                                  |
//        every update_period env steps after min_replay: Sample -> Update
//        every target_update_period env steps: SyncTarget
//        every eval_every: Evaluate (Evaluator: its own envs, own streams)
//        every log_every: progress line + metrics row (with the routing
//                         statistics of nn/routing_stats.h for SoftMoE/MoE)
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
//   summary.json      final evaluation, timing and the variant label
//                     (VariantLabel), written at the end
//
//   lock              flock'ed by the trainer for its lifetime (io/run_lock.h):
//                     a second trainer on the directory is an error naming
//                     the first one's pid
//   attempt-<k>/      files of an attempt that died before its first
//                     checkpoint (see Resume)
//
// Resume: Trainer(..., resume=true) loads checkpoint/ (after verifying every
// file against MANIFEST) and continues. On the CPU the result is identical to
// an uninterrupted run (tested): the checkpoint holds networks, optimizer,
// replay, every env's state, the exploration and sampling RNGs and torch's
// CPU generator. The resumed config must equal the checkpointed one except
// for ResumeMutableKeys(). A corrupt or mismatched checkpoint is an error
// naming the file and the problem, and nothing in the run directory is
// changed. The rules, one per state of the directory:
//   * no config.toml: nothing to resume (an error);
//   * a run without a checkpoint (it died before its first one): its files
//     move to attempt-<k>/ and the run starts over from scratch;
//   * a finished run (summary.json) with train.total_steps not above its
//     step: nothing is done and nothing is written (Run() returns at once);
//   * a finished run with a larger train.total_steps: it continues, and the
//     old summary.json becomes summary.step-<N>.json;
//   * train.total_steps below the checkpoint's step otherwise: an error.
//
// Divergence: an update whose loss or gradient norm is not finite is not
// applied; the trainer then checkpoints the state before it (if the
// networks are finite) and throws a tokrl::Error saying so.
//
// Full disk: a checkpoint that cannot be written completely is an error;
// the previous checkpoint stays intact and checkpoint.tmp/ is removed.
#ifndef TOKRL_AGENTS_TRAINER_H_
#define TOKRL_AGENTS_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tokrl/agents/dqn_agent.h"
#include "tokrl/agents/evaluator.h"
#include "tokrl/agents/frame_stacker.h"
#include "tokrl/agents/train_config.h"
#include "tokrl/core/config.h"
#include "tokrl/core/rng.h"
#include "tokrl/env/vec_env.h"
#include "tokrl/io/metrics_logger.h"
#include "tokrl/io/run_lock.h"
#include "tokrl/replay/replay_buffer.h"

namespace tokrl {

struct TrainSummary {
  int64_t env_steps = 0;
  int64_t updates = 0;
  int64_t episodes = 0;
  double train_return = 0;  // mean over the last episode_window episodes
  EvalResult final_eval;
  double seconds = 0;
};

// The config keys a resumed run may change.
const std::vector<std::string>& ResumeMutableKeys();

// The env step of run_dir's checkpoint, read from its trainer state alone
// (the full verification comes with the load), or nullopt without one; for
// checks before a run is opened. An unreadable state is a tokrl::Error.
std::optional<int64_t> CheckpointStep(const std::filesystem::path& run_dir);

// Throws a tokrl::Error naming the first key outside ResumeMutableKeys()
// whose value differs between `saved` (described as `saved_name` in the
// message) and `now`; both must come from MakeTrainConfig().
void CheckResumeConfig(const Config& saved, const Config& now,
                       const std::string& saved_name);

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

  // Step() in phases, for PackedTrainer (packed_trainer.h), which runs them
  // for its members with one PackedAgent in place of each member's agent:
  //   obs = BeginStep(&epsilon); actions = <act on obs with act_rng()>;
  //   updates = EndAct(actions);
  //   updates times: batch = SampleBatch(); ApplyUpdate(batch, <update>);
  //   EndStep();
  // ApplyUpdate throws (after a checkpoint) on a diverged update. EndStep
  // reads the agent (evaluation, logs, statistics, interventions,
  // checkpoints) only when EndStepReadsAgent(); it changes the agent's
  // online network only when Intervenes().
  std::span<const uint8_t> BeginStep(double* epsilon);
  int EndAct(const std::vector<int32_t>& actions);
  SampledBatch SampleBatch();
  void ApplyUpdate(const SampledBatch& batch, const UpdateMetrics& m);
  void EndStep();
  bool EndStepReadsAgent() const;
  bool Intervenes() const;
  // Whether the last step crossed a multiple of `period` (> 0).
  bool Due(int64_t period) const;
  // Run() in phases: StartClock(); while (!ShouldStop(...)) <step>;
  // Finish() (final evaluation, checkpoint, summary.json). A finished run
  // returns FinishedSummary() instead.
  void StartClock();
  bool ShouldStop(int64_t stop_after, const std::atomic<bool>* stop) const;
  TrainSummary Finish();
  TrainSummary FinishedSummary() const;
  Rng& act_rng() { return act_rng_; }
  const AgentOptions& agent_options() const { return agent_options_; }
  int num_envs() const;

  // Evaluates the greedy(epsilon_eval) policy (agents/evaluator.h).
  EvalResult Evaluate();

  int64_t env_steps() const { return env_steps_; }
  // Whether the resumed run had already finished (Run() does nothing).
  bool finished() const { return finished_; }
  DqnAgent& agent() { return *agent_; }
  ReplayBuffer& replay() { return *replay_; }
  void SaveCheckpoint();

 private:
  void LoadCheckpoint();
  [[noreturn]] void StopDiverged(const UpdateMetrics& m);
  void Log();
  void LogRouting(std::map<std::string, double>& row);
  // A stats/* row (nn/network_stats.h) every train.stats_every steps.
  void LogNetworkStats();
  // The interventions due at this step (interventions.h), each logged as an
  // events/* row.
  void Intervene();
  EvalResult EvaluateAndLog();
  std::string TrainerStateBlob() const;
  void RestoreTrainerState(std::string_view blob);

  Config config_;
  std::filesystem::path run_dir_;
  std::optional<io::RunLock> lock_;
  bool finished_ = false;
  std::string variant_;  // VariantLabel, written to summary.json
  AgentOptions agent_options_;
  TrainOptions train_options_;
  InterventionOptions interventions_;
  std::vector<std::string> reset_names_, shrink_perturb_names_;
  std::ostream* progress_;
  std::unique_ptr<VecEnv> venv_;
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<ReplayBuffer> replay_;
  std::unique_ptr<DqnAgent> agent_;
  std::unique_ptr<io::MetricsLogger> logger_;
  Rng act_rng_, replay_rng_;

  int64_t env_steps_ = 0;
  int64_t step_before_ = 0;  // env_steps_ before the last step
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
  std::vector<float> clipped_rewards_;     // agent.reward_clip
  std::unique_ptr<FrameStacker> stacker_;  // agent.frame_stack > 1
  std::vector<uint8_t> done_;
  torch::Tensor probe_obs_;  // the last training batch's observations
  int starved_logs_ = 0;     // consecutive log steps with a starved router
};

}  // namespace tokrl

#endif  // TOKRL_AGENTS_TRAINER_H_
