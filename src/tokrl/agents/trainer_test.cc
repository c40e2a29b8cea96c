#include "tokrl/agents/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>

#include "tokrl/core/check.h"
#include "tokrl/core/gtest_helpers.h"
#include "tokrl/core/testing.h"
#include "tokrl/env/registry.h"
#include "tokrl/io/atomic_file.h"

namespace tokrl {
namespace {
namespace fs = std::filesystem;

// A tiny but complete training setup on Catch: learning starts at step 64,
// one update per 2 env steps, target sync every 50 steps.
Config TinyConfig(const std::string& agent = "dqn") {
  Config c = MakeTrainConfig();
  c.LoadTomlString(R"toml(
[env]
id = "toy/catch(rows=6,columns=4)"
num_envs = 2
[network]
hidden = 16
[agent]
min_replay = 64
update_period = 2
target_update_period = 50
epsilon_decay_steps = 200
batch_size = 8
[replay]
capacity = 500
[train]
total_steps = 400
eval_every = 200
eval_episodes = 4
log_every = 100
stats_every = 100
stats_batch = 32
tensorboard = false
[interventions]
reset_every = 150
reset_groups = "head"
shrink_perturb_every = 100
shrink_perturb_groups = "penultimate"
)toml",
                   "tiny");
  // "stacked": DQN acting on and learning from stacks of 3 observations.
  c.Set("agent.type", agent == "stacked" ? "dqn" : agent);
  if (agent == "stacked") c.Set("agent.frame_stack", "3");
  if (agent == "rainbow") {
    c.Set("agent.n_step", "3");
    c.Set("replay.prioritized", "true");
    c.Set("network.noisy", "true");
    c.Set("network.dueling", "true");
    c.Set("agent.double_q", "true");
  }
  return c;
}

fs::path FreshDir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("tokrl_trainer_test_" + name);
  fs::remove_all(dir);
  return dir;
}

std::vector<torch::Tensor> Parameters(Trainer& t) {
  std::vector<torch::Tensor> out;
  for (const auto& p : t.agent().online()->parameters())
    out.push_back(p.detach().clone());
  return out;
}

// Drops the wall-clock column (train/sps) so two runs' logs can be compared.
std::string CsvWithoutSps(const fs::path& file) {
  std::ifstream in(file);
  std::string line, out;
  int sps_column = -1;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (sps_column < 0) {
      for (size_t i = 0; i < cells.size(); ++i) {
        if (cells[i] == "train/sps") sps_column = static_cast<int>(i);
      }
    }
    for (size_t i = 0; i < cells.size(); ++i) {
      if (static_cast<int>(i) != sps_column) out += cells[i] + ",";
    }
    out += "\n";
  }
  return out;
}

class ResumeTest : public testing::TestWithParam<std::string> {};

TEST_P(ResumeTest, ResumedRunEqualsUninterruptedRun) {
  const Config config = TinyConfig(GetParam());
  const fs::path straight_dir = FreshDir("straight_" + GetParam());
  const fs::path resumed_dir = FreshDir("resumed_" + GetParam());
  std::vector<torch::Tensor> straight_params;
  {
    Trainer straight(config, straight_dir, false, {}, nullptr);
    straight.Run();
    straight_params = Parameters(straight);
  }
  {
    Trainer first(config, resumed_dir, false, {}, nullptr);
    first.Run(/*stop_after=*/250);
    EXPECT_EQ(first.env_steps(), 250);
  }
  Trainer second(config, resumed_dir, true, {}, nullptr);
  EXPECT_EQ(second.env_steps(), 250);
  second.Run();
  const auto resumed_params = Parameters(second);
  ASSERT_EQ(resumed_params.size(), straight_params.size());
  for (size_t i = 0; i < resumed_params.size(); ++i) {
    EXPECT_TRUE(torch::equal(resumed_params[i], straight_params[i]))
        << "parameter " << i;
  }
  // Including the network statistics rows (stats/*), drawn from the replay
  // with their own stream.
  const std::string csv = CsvWithoutSps(straight_dir / "metrics.csv");
  EXPECT_EQ(CsvWithoutSps(resumed_dir / "metrics.csv"), csv);
  EXPECT_NE(csv.find("stats/dormant/redo_0.1"), std::string::npos);
  std::ifstream jsonl(straight_dir / "metrics.jsonl");
  int stats_rows = 0, shrink_rows = 0, reset_rows = 0;
  for (std::string line; std::getline(jsonl, line);) {
    stats_rows += line.find("\"stats/srank\"") != std::string::npos;
    shrink_rows += line.find("\"events/shrink_perturb\"") != std::string::npos;
    reset_rows += line.find("\"events/reset\"") != std::string::npos;
  }
  EXPECT_EQ(stats_rows, 4);  // steps 100, 200, 300, 400
  // Not at the last step (400): the final evaluation measures the trained
  // network, not a freshly perturbed one.
  EXPECT_EQ(shrink_rows, 3);  // steps 100, 200, 300
  EXPECT_EQ(reset_rows, 2);   // steps 150, 300
  EXPECT_TRUE(fs::exists(resumed_dir / "summary.json"));
  fs::remove_all(straight_dir);
  fs::remove_all(resumed_dir);
}

INSTANTIATE_TEST_SUITE_P(Agents, ResumeTest,
                         testing::Values("dqn", "rainbow", "stacked"));

TEST(Trainer, WritesRunFiles) {
  const fs::path dir = FreshDir("files");
  {
    Trainer t(TinyConfig(), dir, false, {"tokrl", "train"}, nullptr);
    const TrainSummary s = t.Run();
    EXPECT_EQ(s.env_steps, 400);
    EXPECT_EQ(s.updates, (400 - 64) / 2 + 1);  // the first at step 64
    EXPECT_EQ(s.final_eval.episodes, 4);
  }
  for (const char* f :
       {"config.toml", "run_info.json", "metrics.csv", "metrics.jsonl",
        "summary.json", "checkpoint/MANIFEST", "checkpoint/agent.pt",
        "checkpoint/replay.bin", "checkpoint/trainer.bin"}) {
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  }
  // The resolved config loads back into an identical config.
  Config again = MakeTrainConfig();
  again.LoadTomlFile(dir / "config.toml");
  EXPECT_EQ(again.ToToml(), TinyConfig().ToToml());
  fs::remove_all(dir);
}

// The progress line of a window without updates shows no loss (it showed
// "loss nan  q nan"), later ones show the window's numbers.
TEST(Trainer, ProgressShowsNoLossBeforeTheFirstUpdate) {
  const fs::path dir = FreshDir("progress");
  Config c = TinyConfig();
  c.Set("agent.min_replay", "150");
  c.Set("train.total_steps", "300");
  c.Set("train.eval_every", "0");
  std::ostringstream progress;
  Trainer(c, dir, false, {}, &progress).Run();
  std::string first, last;
  std::istringstream lines(progress.str());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("step 100/300", 0) == 0) first = line;
    if (line.rfind("step 300/300", 0) == 0) last = line;
  }
  EXPECT_TRUE(Contains(first, "  loss -  q -  ")) << progress.str();
  EXPECT_FALSE(Contains(last, "loss -")) << progress.str();
  EXPECT_TRUE(Contains(last, "  loss ")) << progress.str();
  EXPECT_FALSE(Contains(progress.str(), "nan")) << progress.str();
  fs::remove_all(dir);
}

// Catch whose every reward is multiplied by 5 (a test env).
class BigRewardCatch final : public Env {
 public:
  BigRewardCatch() : inner_(MakeEnv("toy/catch(rows=6,columns=4)")) {}
  const EnvSpec& spec() const override { return spec_; }
  void Seed(uint64_t seed) override { inner_->Seed(seed); }
  void Reset(ObsSpan obs) override { inner_->Reset(obs); }
  StepResult Step(int action, ObsSpan obs) override {
    StepResult r = inner_->Step(action, obs);
    r.reward *= 5.0f;
    return r;
  }
  std::unique_ptr<Env> Clone() const override {
    auto copy = std::make_unique<BigRewardCatch>();
    copy->inner_ = inner_->Clone();
    return copy;
  }
  std::string SaveState() const override { return inner_->SaveState(); }
  void LoadState(std::string_view blob) override { inner_->LoadState(blob); }

 private:
  std::unique_ptr<Env> inner_;
  EnvSpec spec_ = [this] {
    EnvSpec s = inner_->spec();
    s.id = "test/big_reward_catch";
    return s;
  }();
};

TEST(Trainer, RewardClipClipsTheReplaysRewards) {
  static std::once_flag once;
  std::call_once(once, [] {
    RegisterEnv("test/big_reward_catch", "Catch with rewards x5",
                [](EnvOptions&) { return std::make_unique<BigRewardCatch>(); });
  });
  for (const bool clip : {false, true}) {
    Config c = TinyConfig();
    c.Set("env.id", "test/big_reward_catch");
    c.Set("agent.reward_clip", clip ? "true" : "false");
    c.Set("agent.min_replay", "400");  // no updates: only the replay matters
    c.Set("train.stats_every", "0");
    c.Set("interventions.reset_every", "0");
    c.Set("interventions.shrink_perturb_every", "0");
    const fs::path dir = FreshDir(clip ? "clip" : "noclip");
    Trainer t(c, dir, false, {}, nullptr);
    t.Run();
    Rng rng(0);
    const SampledBatch b = t.replay().Sample(256, rng);
    const double max_abs = b.returns.abs().max().item<double>();
    EXPECT_EQ(max_abs, clip ? 1.0 : 5.0) << "clip " << clip;
    fs::remove_all(dir);
  }
}

TEST(Trainer, RefusesToOverwriteAnExistingRun) {
  const fs::path dir = FreshDir("exists");
  {
    Trainer t(TinyConfig(), dir, false, {}, nullptr);
    t.Run(100);
  }
  const std::string before = io::ReadFile(dir / "metrics.csv");
  EXPECT_NE(ErrorOf([&] {
              Trainer(TinyConfig(), dir, false, {}, nullptr);
            }).find("already holds a run"),
            std::string::npos);
  EXPECT_EQ(io::ReadFile(dir / "metrics.csv"), before);
  fs::remove_all(dir);
}

TEST(Trainer, CorruptCheckpointIsRejectedAndNothingChanges) {
  const fs::path dir = FreshDir("corrupt");
  {
    Trainer t(TinyConfig(), dir, false, {}, nullptr);
    t.Run(100);
  }
  const std::string csv = io::ReadFile(dir / "metrics.csv");
  const std::string agent = io::ReadFile(dir / "checkpoint/agent.pt");
  std::string flipped = agent;
  flipped[flipped.size() / 2] ^= 0x5A;
  { std::ofstream(dir / "checkpoint/agent.pt", std::ios::binary) << flipped; }
  const std::string msg =
      ErrorOf([&] { Trainer(TinyConfig(), dir, true, {}, nullptr); });
  EXPECT_NE(msg.find("corrupt checkpoint"), std::string::npos) << msg;
  EXPECT_NE(msg.find("agent.pt"), std::string::npos) << msg;
  EXPECT_EQ(io::ReadFile(dir / "metrics.csv"), csv);
  // A truncated trainer state is caught too.
  { std::ofstream(dir / "checkpoint/agent.pt", std::ios::binary) << agent; }
  fs::resize_file(dir / "checkpoint/trainer.bin", 10);
  EXPECT_NE(ErrorOf([&] {
              Trainer(TinyConfig(), dir, true, {}, nullptr);
            }).find("trainer.bin"),
            std::string::npos);
  fs::remove_all(dir);
}

TEST(Trainer, ResumeWithChangedLearningConfigIsRejected) {
  const fs::path dir = FreshDir("changed");
  {
    Trainer t(TinyConfig(), dir, false, {}, nullptr);
    t.Run(100);
  }
  Config changed = TinyConfig();
  changed.Set("agent.lr", "0.5");
  EXPECT_NE(ErrorOf([&] { Trainer(changed, dir, true, {}, nullptr); })
                .find("config key 'agent.lr' is 0.5 but 0.00025 in the "
                      "checkpointed run"),
            std::string::npos);
  Config longer = TinyConfig();
  longer.Set("train.total_steps", "500");
  EXPECT_NO_THROW(Trainer(longer, dir, true, {}, nullptr));
  EXPECT_NE(ErrorOf([&] {
              Trainer(TinyConfig(), FreshDir("none"), true, {}, nullptr);
            }).find("nothing to resume"),
            std::string::npos);
  fs::remove_all(dir);
}

TEST(Trainer, BadConfigValuesAreNamed) {
  const fs::path dir = FreshDir("bad");
  Config c = TinyConfig();
  c.Set("env.id", "minatar/pong");
  EXPECT_NE(
      ErrorOf([&] { Trainer(c, dir, false, {}, nullptr); }).find("unknown env"),
      std::string::npos);
  c = TinyConfig();
  c.Set("network.penultimate", "softmax");
  EXPECT_NE(
      ErrorOf([&] { Trainer(c, dir, false, {}, nullptr); }).find("softmax"),
      std::string::npos);
  c = TinyConfig();
  c.Set("agent.type", "ppo");
  EXPECT_NE(ErrorOf([&] {
              Trainer(c, dir, false, {}, nullptr);
            }).find("'agent.type'"),
            std::string::npos);
  c = TinyConfig();
  c.Set("train.device", "tpu");
  EXPECT_NE(ErrorOf([&] {
              Trainer(c, dir, false, {}, nullptr);
            }).find("unknown device"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir));  // nothing was created
}

// Regression (issue 9.7): two trainers on one directory overwrote each
// other's checkpoints.
TEST(Trainer, SecondTrainerOnALiveRunIsRefused) {
  const fs::path dir = FreshDir("locked");
  Trainer first(TinyConfig(), dir, false, {}, nullptr);
  first.Run(100);
  const std::string pid = "(pid " + std::to_string(::getpid()) + ")";
  for (bool resume : {true, false}) {
    EXPECT_TRUE(Contains(
        ErrorOf([&] { Trainer(TinyConfig(), dir, resume, {}, nullptr); }),
        "is in use by another tokrl process " + pid));
  }
  fs::remove_all(dir);
}

// Regression (issue 9.3): a run that died before its first checkpoint could
// be neither started ("already holds a run") nor resumed.
TEST(Trainer, RunWithoutACheckpointRestartsUnderResume) {
  const fs::path dir = FreshDir("no_checkpoint");
  { Trainer died(TinyConfig(), dir, false, {}, nullptr); }
  ASSERT_TRUE(fs::exists(dir / "config.toml"));
  EXPECT_TRUE(
      Contains(ErrorOf([&] { Trainer(TinyConfig(), dir, false, {}, nullptr); }),
               "already holds a run; pass --resume to restart it (it has no "
               "checkpoint)"));
  std::ostringstream progress;
  Trainer restarted(TinyConfig(), dir, true, {}, &progress);
  EXPECT_TRUE(Contains(progress.str(), "restarting the run from scratch"));
  EXPECT_TRUE(fs::exists(dir / "attempt-1" / "config.toml"));
  EXPECT_TRUE(fs::exists(dir / "attempt-1" / "metrics.csv"));
  EXPECT_EQ(restarted.Run().env_steps, 400);
  EXPECT_TRUE(fs::exists(dir / "summary.json"));
  fs::remove_all(dir);
}

// Regression (issue 9.6): resuming a finished run re-ran its evaluation and
// rewrote summary.json; a total_steps below the current step was accepted.
TEST(Trainer, FinishedRunStaysAsItIsAndGrowsOnlyForward) {
  const fs::path dir = FreshDir("finished");
  { Trainer(TinyConfig(), dir, false, {}, nullptr).Run(); }
  const std::string summary = io::ReadFile(dir / "summary.json");
  const std::string csv = io::ReadFile(dir / "metrics.csv");
  for (const char* total : {"400", "300"}) {
    Config c = TinyConfig();
    c.Set("train.total_steps", total);
    std::ostringstream progress;
    Trainer again(c, dir, true, {}, &progress);
    EXPECT_TRUE(again.finished());
    EXPECT_EQ(again.Run().env_steps, 400);
    EXPECT_TRUE(Contains(progress.str(), "already finished at 400 env steps"));
  }
  EXPECT_EQ(io::ReadFile(dir / "summary.json"), summary);
  EXPECT_EQ(io::ReadFile(dir / "metrics.csv"), csv);
  EXPECT_FALSE(fs::exists(dir / "run_info.resume-400.json"));
  // Extending keeps the old summary aside and writes a new one.
  Config longer = TinyConfig();
  longer.Set("train.total_steps", "500");
  EXPECT_EQ(Trainer(longer, dir, true, {}, nullptr).Run().env_steps, 500);
  EXPECT_EQ(io::ReadFile(dir / "summary.step-400.json"), summary);
  EXPECT_TRUE(
      Contains(io::ReadFile(dir / "summary.json"), "\"env_steps\": 500"));
  fs::remove_all(dir);

  const fs::path partial = FreshDir("partial_shrink");
  { Trainer(TinyConfig(), partial, false, {}, nullptr).Run(200); }
  Config shorter = TinyConfig();
  shorter.Set("train.total_steps", "100");
  EXPECT_TRUE(
      Contains(ErrorOf([&] { Trainer(shorter, partial, true, {}, nullptr); }),
               "train.total_steps=100 is below the run's current step 200"));
  fs::remove_all(partial);
}

void FillNan(nn::QNetwork& network) {
  torch::NoGradGuard no_grad;
  for (auto& p : network->parameters()) p.fill_(std::nan(""));
}

// Regression (issue 9.9): a diverged run exited 0 with NaN Q-values.
TEST(Trainer, DivergenceStopsWithACheckpointOfTheStateBefore) {
  const fs::path dir = FreshDir("diverged");
  {
    Trainer t(TinyConfig(), dir, false, {}, nullptr);
    t.Run(100);
    FillNan(t.agent().target());  // NaN targets: the next loss is NaN
    const auto before = Parameters(t);
    const std::string e = ErrorOf([&] { t.Run(); });
    EXPECT_TRUE(Contains(e, "training diverged at env step 10"));
    EXPECT_TRUE(Contains(e, "loss nan"));
    EXPECT_TRUE(Contains(e, "a checkpoint of the state before it is in"));
    const auto after = Parameters(t);
    for (size_t i = 0; i < before.size(); ++i) {
      EXPECT_TRUE(torch::equal(before[i], after[i]));  // no step applied
    }
  }
  Trainer resumed(TinyConfig(), dir, true, {}, nullptr);
  EXPECT_GT(resumed.env_steps(), 100);
  EXPECT_TRUE(resumed.agent().ParametersFinite());
  FillNan(resumed.agent().online());
  EXPECT_TRUE(Contains(ErrorOf([&] { resumed.Run(); }),
                       "the network parameters are no longer finite, so no "
                       "checkpoint was written"));
  EXPECT_FALSE(fs::exists(dir / "summary.json"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tokrl
