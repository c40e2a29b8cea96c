#include "tokrl/agents/trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <variant>

#include "tokrl/agents/losses.h"
#include "tokrl/core/allocator.h"
#include "tokrl/core/bytes.h"
#include "tokrl/core/check.h"
#include "tokrl/env/registry.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/io/checkpoint_dir.h"
#include "tokrl/io/run_dir.h"
#include "tokrl/io/run_info.h"
#include "tokrl/nn/network_stats.h"
#include "tokrl/nn/routing_stats.h"

#ifndef TOKRL_VERSION
#define TOKRL_VERSION "0.1.0"
#endif

namespace tokrl {
namespace fs = std::filesystem;
namespace {

constexpr char kTrainerMagic[] = "tokrl.trainer.v1";

double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds);
  char buf[64];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm",
                  static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds",
                  static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return buf;
}

double Mean(const std::deque<double>& xs) {
  if (xs.empty()) return std::nan("");
  double sum = 0;
  for (double x : xs) sum += x;
  return sum / static_cast<double>(xs.size());
}

// Whether [before, after) crosses a multiple of `period` (> 0).
bool Crossed(int64_t before, int64_t after, int64_t period) {
  return period > 0 && before / period != after / period;
}

std::string TorchRngState() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  const torch::Tensor state = gen.get_state();
  return std::string(static_cast<const char*>(state.data_ptr()),
                     static_cast<size_t>(state.numel()));
}

void SetTorchRngState(const std::string& bytes) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  torch::Tensor state =
      torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(state.data_ptr(), bytes.data(), bytes.size());
  gen.set_state(state);
}

const std::vector<std::string>& MetricColumns() {
  static const std::vector<std::string> columns = {"train/episode_return",
                                                   "train/episode_length",
                                                   "train/episodes",
                                                   "train/epsilon",
                                                   "train/loss",
                                                   "train/aux_loss",
                                                   "train/mean_q",
                                                   "train/grad_norm",
                                                   "train/updates",
                                                   "train/replay_size",
                                                   "train/sps",
                                                   "eval/return_mean",
                                                   "eval/return_std",
                                                   "eval/length_mean",
                                                   "eval/episodes"};
  return columns;
}

std::string ValueText(const ConfigValue& value) {
  std::ostringstream out;
  std::visit([&out](const auto& v) { out << v; }, value);
  return out.str();
}

}  // namespace

const std::vector<std::string>& ResumeMutableKeys() {
  // They affect neither the learning nor the random streams.
  static const std::vector<std::string> keys = {
      "train.total_steps",   "train.log_every",    "train.checkpoint_every",
      "train.stats_every",   "train.stats_batch",  "train.tensorboard",
      "experiment.name",     "experiment.variant", "agent.cuda_graphs",
      "replay.device_frames"};
  return keys;
}

void CheckResumeConfig(const Config& saved, const Config& now,
                       const std::string& saved_name) {
  const auto& mutable_keys = ResumeMutableKeys();
  for (const auto& field : now.fields()) {
    if (std::find(mutable_keys.begin(), mutable_keys.end(), field.key) !=
        mutable_keys.end()) {
      continue;
    }
    const ConfigValue& old_value =
        saved.fields()[&field - now.fields().data()].value;
    if (old_value != field.value) {
      std::string list;
      for (const auto& k : mutable_keys)
        list.append(list.empty() ? "" : ", ").append(k);
      TOKRL_FAIL() << "cannot resume: config key '" << field.key << "' is "
                   << ValueText(field.value) << " but " << ValueText(old_value)
                   << " in " << saved_name << " (on resume only " << list
                   << " may change)";
    }
  }
}

Trainer::Trainer(const Config& config, const fs::path& run_dir, bool resume,
                 std::vector<std::string> command_line, std::ostream* progress)
    : config_(config), run_dir_(run_dir), progress_(progress) {
  // Validate everything that can be wrong before touching the run directory.
  auto prototype = MakeEnv(config.GetString("env.id"));
  const EnvSpec spec = prototype->spec();
  const ResolvedConfig resolved = Resolve(config, spec);
  agent_options_ = resolved.agent;
  train_options_ = resolved.train;
  interventions_ = resolved.interventions;
  variant_ = VariantLabel(resolved);
  const TrainOptions& t = train_options_;
  const nn::QNetworkOptions& network = resolved.network;
  const ReplayOptions& replay = resolved.replay;
  const torch::Device device = ResolveDevice(t.device);
  if (resume && !fs::exists(run_dir / io::run_dir::kConfig)) {
    TOKRL_FAIL() << "nothing to resume: '" << run_dir.string()
                 << "' holds no run (no config.toml)";
  }
  // From here on this process owns the directory (two trainers on one run
  // would overwrite each other's checkpoints).
  lock_ = io::RunLock::Acquire(run_dir);
  const bool has_checkpoint = io::HasCheckpoint(run_dir);
  if (!resume &&
      (fs::exists(run_dir / io::run_dir::kConfig) || has_checkpoint)) {
    TOKRL_FAIL() << "run directory '" << run_dir.string()
                 << "' already holds a run; pass --resume to "
                 << (has_checkpoint ? "continue it"
                                    : "restart it (it has no checkpoint)")
                 << " or choose another --run-dir";
  }
  if (resume && !has_checkpoint) {
    // The run died before its first checkpoint: nothing can be continued,
    // so it starts over; its files are kept for the post-mortem.
    const fs::path aside = io::run_dir::MoveAttemptAside(run_dir);
    resume = false;
    if (progress_ != nullptr) {
      *progress_ << "no checkpoint in " << run_dir.string()
                 << ": restarting the run from scratch (its earlier files "
                    "are in "
                 << aside.string() << ")\n";
    }
  }

  TuneAllocator();
  torch::set_num_threads(t.torch_threads);
  torch::manual_seed(t.seed);
  venv_ = std::make_unique<VecEnv>(
      *prototype, VecEnvOptions{.num_envs = t.num_envs,
                                .num_threads = t.env_threads,
                                .seed = DeriveSeed(t.seed, 0)});
  venv_->Reset();
  evaluator_ =
      std::make_unique<Evaluator>(*prototype, t.eval_episodes, t.eval_max_steps,
                                  t.seed, agent_options_.frame_stack);
  if (agent_options_.frame_stack > 1) {
    stacker_ = std::make_unique<FrameStacker>(t.num_envs, spec.obs_size(),
                                              agent_options_.frame_stack);
    stacker_->ResetAll(venv_->obs());
  }
  replay_ = std::make_unique<ReplayBuffer>(replay);
  if (replay.device_frames && device.is_cuda()) replay_->MirrorFrames(device);
  agent_ = std::make_unique<DqnAgent>(agent_options_, network, device);
  if (interventions_.reset_every > 0) {
    reset_names_ =
        GroupParameterNames(*agent_->online(), interventions_.reset_groups);
  }
  if (interventions_.shrink_perturb_every > 0) {
    shrink_perturb_names_ = GroupParameterNames(
        *agent_->online(), interventions_.shrink_perturb_groups);
  }
  act_rng_.Seed(DeriveSeed(t.seed, 2));
  replay_rng_.Seed(DeriveSeed(t.seed, 3));
  if (resume) {
    LoadCheckpoint();
    if (env_steps_ >= t.total_steps &&
        fs::exists(run_dir / io::run_dir::kSummary)) {
      // Finished: leave every file as it is (Run() does nothing).
      finished_ = true;
      return;
    }
    if (env_steps_ > t.total_steps) {
      TOKRL_FAIL() << "cannot resume: train.total_steps=" << t.total_steps
                   << " is below the run's current step " << env_steps_;
    }
    if (fs::exists(run_dir / io::run_dir::kSummary)) {
      // A finished run extended to more steps: its old summary is history.
      fs::rename(
          run_dir / io::run_dir::kSummary,
          run_dir / ("summary.step-" + std::to_string(env_steps_) + ".json"));
    }
  }

  io::WriteFileAtomic(
      run_dir / io::run_dir::kConfig,
      "# Resolved tokrl training config (every key).\n" + config_.ToToml());
  io::WriteFileAtomic(
      run_dir / (resume
                     ? "run_info.resume-" + std::to_string(env_steps_) + ".json"
                     : std::string(io::run_dir::kRunInfo)),
      io::CollectRunInfo(TOKRL_VERSION, std::move(command_line)).ToJson());
  io::MetricsLoggerOptions log_options;
  log_options.tensorboard = t.tensorboard;
  if (resume) log_options.resume_step = env_steps_;
  log_options.columns = MetricColumns();
  for (auto& name : nn::RoutingStatNames(*agent_->online())) {
    log_options.columns.push_back(std::move(name));
  }
  if (t.stats_every > 0) {
    for (auto& name : nn::NetworkStatNames(*agent_->online())) {
      log_options.columns.push_back(std::move(name));
    }
  }
  if (interventions_.reset_every > 0) {
    log_options.columns.push_back("events/reset");
  }
  if (interventions_.shrink_perturb_every > 0) {
    log_options.columns.push_back("events/shrink_perturb");
  }
  logger_ = std::make_unique<io::MetricsLogger>(run_dir, log_options);
  if (progress_ != nullptr) {
    *progress_ << "tokrl train: " << spec.id << " | "
               << (agent_options_.distributional ? "rainbow" : "dqn")
               << " | network " << config.GetString("network.tokenizer") << "+"
               << config.GetString("network.penultimate") << " ("
               << nn::NumParameters(*agent_->online())
               << " parameters) | device " << device.str() << " | run dir "
               << run_dir.string()
               << (resume ? " | resumed at step " + std::to_string(env_steps_)
                          : "")
               << "\n";
  }
}

Trainer::~Trainer() = default;

void Trainer::Step() {
  double epsilon = 0;
  const std::span<const uint8_t> obs = BeginStep(&epsilon);
  const int updates =
      EndAct(agent_->Act(obs, venv_->num_envs(), epsilon, act_rng_));
  for (int u = 0; u < updates; ++u) {
    const SampledBatch batch = SampleBatch();
    ApplyUpdate(batch, agent_->Update(batch));
  }
  EndStep();
}

int Trainer::num_envs() const { return venv_->num_envs(); }

std::span<const uint8_t> Trainer::BeginStep(double* epsilon) {
  const AgentOptions& a = agent_options_;
  *epsilon = LinearSchedule(a.epsilon_start, a.epsilon_end,
                            a.epsilon_decay_steps, env_steps_, a.min_replay);
  acted_obs_.assign(venv_->obs().begin(), venv_->obs().end());
  return stacker_ ? stacker_->stacked() : std::span<const uint8_t>(acted_obs_);
}

int Trainer::EndAct(const std::vector<int32_t>& actions) {
  const TrainOptions& t = train_options_;
  const AgentOptions& a = agent_options_;
  const int n = venv_->num_envs();
  venv_->Step(actions);
  if (stacker_) {
    done_.resize(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) done_[static_cast<size_t>(i)] = venv_->done(i);
    stacker_->Step(venv_->obs(), done_);
  }
  std::span<const float> rewards = venv_->reward();
  if (agent_options_.reward_clip) {
    clipped_rewards_.assign(rewards.begin(), rewards.end());
    for (float& r : clipped_rewards_) r = std::clamp(r, -1.0f, 1.0f);
    rewards = clipped_rewards_;
  }
  replay_->Add(acted_obs_, actions, rewards, venv_->terminated(),
               venv_->truncated(), venv_->next_obs());
  step_before_ = env_steps_;
  env_steps_ += n;
  for (int i = 0; i < n; ++i) {
    if (!venv_->done(i)) continue;
    ++episodes_;
    recent_returns_.push_back(venv_->episode_return()[i]);
    recent_lengths_.push_back(venv_->episode_length()[i]);
    if (static_cast<int>(recent_returns_.size()) > t.episode_window) {
      recent_returns_.pop_front();
      recent_lengths_.pop_front();
    }
  }
  int updates = 0;
  if (env_steps_ >= a.min_replay && replay_->size() > 0) {
    update_credit_ += n;
    updates = static_cast<int>(update_credit_ / a.update_period);
    update_credit_ -= updates * a.update_period;
  }
  return updates;
}

SampledBatch Trainer::SampleBatch() {
  return replay_->Sample(agent_options_.batch_size, replay_rng_);
}

void Trainer::ApplyUpdate(const SampledBatch& batch, const UpdateMetrics& m) {
  if (m.diverged) StopDiverged(m);
  if (replay_->options().prioritized)
    replay_->UpdatePriorities(batch.indices, m.priorities);
  ++updates_;
  probe_obs_ = batch.obs;  // the routing statistics' probe
  loss_sum_ += m.loss;
  aux_sum_ += m.aux_loss;
  q_sum_ += m.mean_q;
  grad_norm_sum_ += m.grad_norm;
  ++loss_count_;
}

bool Trainer::Due(int64_t period) const {
  return Crossed(step_before_, env_steps_, period);
}

bool Trainer::EndStepReadsAgent() const {
  const TrainOptions& t = train_options_;
  return Intervenes() || Due(t.eval_every) || Due(t.log_every) ||
         Due(t.stats_every) || Due(t.checkpoint_every);
}

bool Trainer::Intervenes() const {
  // None at the end of the run: the final evaluation and checkpoint should
  // see the trained network, not one reset a moment ago.
  return env_steps_ < train_options_.total_steps &&
         (Due(interventions_.reset_every) ||
          Due(interventions_.shrink_perturb_every));
}

void Trainer::EndStep() {
  const TrainOptions& t = train_options_;
  Intervene();
  if (Due(agent_options_.target_update_period)) agent_->SyncTarget();
  if (Due(t.eval_every)) EvaluateAndLog();
  if (Due(t.log_every)) Log();
  if (Due(t.stats_every)) LogNetworkStats();
  if (Due(t.checkpoint_every)) SaveCheckpoint();
}

TrainSummary Trainer::Run(int64_t stop_after, const std::atomic<bool>* stop) {
  if (finished_) return FinishedSummary();
  StartClock();
  while (!ShouldStop(stop_after, stop)) Step();
  return Finish();
}

TrainSummary Trainer::FinishedSummary() const {
  if (progress_ != nullptr) {
    *progress_ << "run " << run_dir_.string() << " already finished at "
               << env_steps_
               << " env steps (train.total_steps=" << train_options_.total_steps
               << "); nothing to do. Raise train.total_steps to extend it.\n";
  }
  TrainSummary summary;
  summary.env_steps = env_steps_;
  summary.updates = updates_;
  summary.episodes = episodes_;
  summary.train_return = Mean(recent_returns_);
  summary.final_eval = last_eval_;
  return summary;
}

void Trainer::StartClock() {
  start_time_ = last_log_time_ = Now();
  last_log_steps_ = env_steps_;
}

bool Trainer::ShouldStop(int64_t stop_after,
                         const std::atomic<bool>* stop) const {
  return env_steps_ >= train_options_.total_steps ||
         (stop_after >= 0 && env_steps_ >= stop_after) ||
         (stop != nullptr && stop->load(std::memory_order_relaxed));
}

TrainSummary Trainer::Finish() {
  const TrainOptions& t = train_options_;
  TrainSummary summary;
  const bool finished = env_steps_ >= t.total_steps;
  if (finished) {
    // The periodic evaluation may have just run at this very step.
    summary.final_eval =
        last_eval_step_ == env_steps_ ? last_eval_ : EvaluateAndLog();
  }
  SaveCheckpoint();
  summary.env_steps = env_steps_;
  summary.updates = updates_;
  summary.episodes = episodes_;
  summary.train_return = Mean(recent_returns_);
  summary.seconds = Now() - start_time_;
  if (finished) {
    nlohmann::ordered_json j;
    j["env_steps"] = summary.env_steps;
    j["updates"] = summary.updates;
    j["episodes"] = summary.episodes;
    j["train_return"] = std::isfinite(summary.train_return)
                            ? nlohmann::ordered_json(summary.train_return)
                            : nlohmann::ordered_json();
    j["eval_return_mean"] = summary.final_eval.return_mean;
    j["eval_return_std"] = summary.final_eval.return_std;
    j["eval_episodes"] = summary.final_eval.episodes;
    j["seconds_this_session"] = summary.seconds;
    j["variant"] = variant_;
    io::WriteFileAtomic(run_dir_ / io::run_dir::kSummary, j.dump(2) + "\n");
    if (progress_ != nullptr) {
      *progress_ << "done  " << env_steps_ << " env steps, " << updates_
                 << " updates, " << episodes_ << " episodes in "
                 << FormatDuration(summary.seconds) << "; final eval return "
                 << summary.final_eval.return_mean << " +- "
                 << summary.final_eval.return_std << "\n";
    }
  }
  return summary;
}

EvalResult Trainer::EvaluateAndLog() {
  const EvalResult e = Evaluate();
  last_eval_ = e;
  last_eval_step_ = env_steps_;
  logger_->Log(env_steps_, {{"eval/return_mean", e.return_mean},
                            {"eval/return_std", e.return_std},
                            {"eval/length_mean", e.length_mean},
                            {"eval/episodes", e.episodes}});
  if (progress_ != nullptr) {
    *progress_ << "eval  step " << env_steps_ << "  return " << e.return_mean
               << " +- " << e.return_std << "  length " << e.length_mean << " ("
               << e.episodes << " episodes)\n";
  }
  return e;
}

void Trainer::Log() {
  const double now = Now();
  const double sps = static_cast<double>(env_steps_ - last_log_steps_) /
                     std::max(1e-9, now - last_log_time_);
  const double epsilon =
      LinearSchedule(agent_options_.epsilon_start, agent_options_.epsilon_end,
                     agent_options_.epsilon_decay_steps, env_steps_,
                     agent_options_.min_replay);
  const double count = static_cast<double>(std::max<int64_t>(1, loss_count_));
  std::map<std::string, double> row = {
      {"train/episode_return", Mean(recent_returns_)},
      {"train/episode_length", Mean(recent_lengths_)},
      {"train/episodes", static_cast<double>(episodes_)},
      {"train/epsilon", epsilon},
      {"train/updates", static_cast<double>(updates_)},
      {"train/replay_size", static_cast<double>(replay_->size())},
      {"train/sps", sps}};
  if (loss_count_ > 0) {
    row["train/loss"] = loss_sum_ / count;
    row["train/aux_loss"] = aux_sum_ / count;
    row["train/mean_q"] = q_sum_ / count;
    row["train/grad_norm"] = grad_norm_sum_ / count;
  }
  if (probe_obs_.defined()) LogRouting(row);
  logger_->Log(env_steps_, row);
  if (progress_ != nullptr) {
    const double remaining =
        static_cast<double>(train_options_.total_steps - env_steps_) / sps;
    // Before the first update of a window there is no loss to show.
    char learning[64] = "loss -  q -";
    if (loss_count_ > 0) {
      std::snprintf(learning, sizeof(learning), "loss %.4g  q %.3g",
                    loss_sum_ / count, q_sum_ / count);
    }
    char line[320];
    std::snprintf(line, sizeof(line),
                  "step %lld/%lld (%.1f%%)  sps %.0f  return %.2f (%zu ep)  "
                  "eps %.3f  %s  eta %s\n",
                  static_cast<long long>(env_steps_),
                  static_cast<long long>(train_options_.total_steps),
                  100.0 * static_cast<double>(env_steps_) /
                      static_cast<double>(train_options_.total_steps),
                  sps, Mean(recent_returns_), recent_returns_.size(), epsilon,
                  learning, FormatDuration(remaining).c_str());
    *progress_ << line << std::flush;
  }
  loss_sum_ = aux_sum_ = q_sum_ = grad_norm_sum_ = 0;
  loss_count_ = 0;
  last_log_time_ = now;
  last_log_steps_ = env_steps_;
}

void Trainer::Intervene() {
  if (!Intervenes()) return;
  const InterventionOptions& iv = interventions_;
  const uint64_t seed = DeriveSeed(DeriveSeed(train_options_.seed, 8),
                                   static_cast<uint64_t>(env_steps_));
  if (Due(iv.reset_every)) {
    agent_->Reset(reset_names_, seed);
    logger_->Log(env_steps_, {{"events/reset", 1.0}});
    if (progress_ != nullptr) {
      *progress_ << "step " << env_steps_ << ": reset "
                 << ToString(iv.reset_groups) << "\n";
    }
  }
  if (Due(iv.shrink_perturb_every)) {
    agent_->ShrinkPerturb(shrink_perturb_names_, iv.shrink, iv.perturb,
                          DeriveSeed(seed, 1));
    logger_->Log(env_steps_, {{"events/shrink_perturb", 1.0}});
    if (progress_ != nullptr) {
      *progress_ << "step " << env_steps_ << ": shrink-and-perturb "
                 << ToString(iv.shrink_perturb_groups) << " (shrink "
                 << iv.shrink << ", perturb " << iv.perturb << ")\n";
    }
  }
}

void Trainer::LogNetworkStats() {
  if (replay_->size() == 0) return;
  // The probe: a replay sample drawn with its own stream, seeded by the run
  // seed and the step. It takes nothing from the training streams, and the
  // replay is part of the checkpoint, so a resumed run logs the same values.
  Rng rng(DeriveSeed(DeriveSeed(train_options_.seed, 7),
                     static_cast<uint64_t>(env_steps_)));
  const SampledBatch probe =
      replay_->Sample(train_options_.stats_batch, rng, /*beta=*/0.0);
  const auto stats =
      nn::NetworkStats(*agent_->online(), probe.obs.to(agent_->device()));
  logger_->Log(env_steps_, stats);
}

void Trainer::LogRouting(std::map<std::string, double>& row) {
  nn::QNetworkImpl& online = *agent_->online();
  if (!online.softmoe && !online.moe) return;
  const auto stats = nn::RoutingStats(online, probe_obs_.to(agent_->device()));
  row.insert(stats.begin(), stats.end());
  // The failure of docs/softmoe_routing.md: routing flat at init, the
  // router's gradient far below Adam's eps, so Adam barely moves it.
  const auto rms = stats.find("routing/grad_rms");
  if (rms == stats.end()) return;
  const bool starved = rms->second < 0.1 * agent_options_.adam_eps;
  starved_logs_ = starved ? starved_logs_ + 1 : 0;
  if (starved_logs_ == 3 && progress_ != nullptr) {
    *progress_ << "warning: the "
               << (online.softmoe ? "SoftMoE Phi" : "MoE router")
               << " gradient RMS (" << rms->second
               << ") has stayed below 10% of agent.adam_eps ("
               << agent_options_.adam_eps
               << ") for 3 log steps: Adam barely moves the router. See "
                  "docs/softmoe_routing.md (network.normalize with "
                  "network.softmoe_scale_init, network.phi_init_scale)\n";
  }
}

EvalResult Trainer::Evaluate() {
  return evaluator_->Run(
      static_cast<uint64_t>(evaluations_++),
      [this](std::span<const uint8_t> obs, int num_envs, Rng& rng) {
        return agent_->Act(obs, num_envs, agent_options_.epsilon_eval, rng,
                           /*eval=*/true);
      });
}

std::optional<int64_t> CheckpointStep(const fs::path& run_dir) {
  if (!io::HasCheckpoint(run_dir)) return std::nullopt;
  const fs::path file = io::CheckpointToLoad(run_dir) / "trainer.bin";
  const std::string blob = io::ReadFile(file);
  // The layout of TrainerStateBlob: magic, config, then the step.
  ByteReader r(blob, "checkpoint file " + file.string());
  TOKRL_CHECK_EQ(r.GetString(), std::string(kTrainerMagic))
      << "checkpoint file " << file.string() << " is not a tokrl trainer state";
  r.GetString();
  return r.Get<int64_t>();
}

std::string Trainer::TrainerStateBlob() const {
  ByteWriter w;
  w.PutString(kTrainerMagic).PutString(config_.ToToml());
  w.Put(env_steps_)
      .Put(updates_)
      .Put(update_credit_)
      .Put(episodes_)
      .Put(evaluations_);
  w.Put(act_rng_.state()).Put(replay_rng_.state());
  w.Put<uint64_t>(recent_returns_.size());
  for (size_t i = 0; i < recent_returns_.size(); ++i) {
    w.Put(recent_returns_[i]).Put(recent_lengths_[i]);
  }
  w.Put(loss_sum_)
      .Put(aux_sum_)
      .Put(q_sum_)
      .Put(grad_norm_sum_)
      .Put(loss_count_);
  w.PutString(venv_->SaveState()).PutString(TorchRngState());
  if (stacker_) w.PutString(stacker_->Save());  // only then: older blobs load
  return w.str();
}

void Trainer::RestoreTrainerState(std::string_view blob) {
  ByteReader r(blob, "checkpoint file trainer.bin");
  TOKRL_CHECK_EQ(r.GetString(), std::string(kTrainerMagic))
      << "checkpoint file trainer.bin is not a tokrl trainer state";
  Config saved = MakeTrainConfig();
  saved.LoadTomlString(r.GetString(), "checkpointed config");
  CheckResumeConfig(saved, config_, "the checkpointed run");
  env_steps_ = r.Get<int64_t>();
  updates_ = r.Get<int64_t>();
  update_credit_ = r.Get<int64_t>();
  episodes_ = r.Get<int64_t>();
  evaluations_ = r.Get<int64_t>();
  act_rng_.set_state(r.Get<std::array<uint64_t, 4>>());
  replay_rng_.set_state(r.Get<std::array<uint64_t, 4>>());
  const auto window = r.Get<uint64_t>();
  TOKRL_CHECK_LE(window, 1u << 24) << "checkpoint file trainer.bin is corrupt";
  recent_returns_.clear();
  recent_lengths_.clear();
  for (uint64_t i = 0; i < window; ++i) {
    recent_returns_.push_back(r.Get<double>());
    recent_lengths_.push_back(r.Get<double>());
  }
  loss_sum_ = r.Get<double>();
  aux_sum_ = r.Get<double>();
  q_sum_ = r.Get<double>();
  grad_norm_sum_ = r.Get<double>();
  loss_count_ = r.Get<int64_t>();
  const std::string venv_state = r.GetString();
  const std::string torch_rng = r.GetString();
  const std::string stacks = stacker_ ? r.GetString() : std::string();
  r.ExpectDone();
  if (stacker_) stacker_->Load(stacks);
  venv_->LoadState(venv_state);
  SetTorchRngState(torch_rng);
}

void Trainer::SaveCheckpoint() {
  io::WriteCheckpoint(
      run_dir_, {"agent.pt", "replay.bin", "trainer.bin"},
      [this](const fs::path& dir) {
        // Serialized in memory and written by WriteFileAtomic: LibTorch's
        // file writer throws from a destructor on a full disk (terminate).
        std::ostringstream agent_bytes;
        {
          torch::serialize::OutputArchive archive;
          agent_->Save(archive);
          archive.save_to(agent_bytes);
        }
        io::WriteFileAtomic(dir / "agent.pt", agent_bytes.str());
        replay_->Save(dir / "replay.bin");
        io::WriteFileAtomic(dir / "trainer.bin", TrainerStateBlob());
      });
}

void Trainer::StopDiverged(const UpdateMetrics& m) {
  std::ostringstream what;
  what << "training diverged at env step " << env_steps_ << " (update "
       << updates_ + 1 << ": loss " << m.loss << ", gradient norm "
       << m.grad_norm << ")";
  // The divergent step was not applied: if the networks are still finite,
  // checkpoint them, the state just before the divergence.
  if (agent_->ParametersFinite()) {
    SaveCheckpoint();
    TOKRL_FAIL() << what.str()
                 << "; the update was not applied and a checkpoint of the "
                    "state before it is in "
                 << (run_dir_ / io::run_dir::kCheckpoint).string()
                 << ". Try a lower agent.lr or a gradient clip "
                    "(agent.grad_clip_norm)";
  }
  TOKRL_FAIL() << what.str()
               << "; the network parameters are no longer finite, so no "
                  "checkpoint was written (an earlier one, if any, is kept)";
}

void Trainer::LoadCheckpoint() {
  fs::path dir;
  auto files = io::ReadCheckpoint(
      run_dir_, {"agent.pt", "replay.bin", "trainer.bin"}, &dir);
  const std::string where = "checkpoint '" + dir.string() + "'";
  RestoreTrainerState(files["trainer.bin"]);
  try {
    torch::serialize::InputArchive archive;
    const std::string& bytes = files["agent.pt"];
    archive.load_from(bytes.data(), bytes.size(), agent_->device());
    agent_->Load(archive);
  } catch (const c10::Error& e) {
    TOKRL_FAIL() << "cannot load networks from " << where
                 << "/agent.pt (a different network "
                 << "config?): " << e.what_without_backtrace();
  }
  replay_->Load(dir / "replay.bin");
}

}  // namespace tokrl
