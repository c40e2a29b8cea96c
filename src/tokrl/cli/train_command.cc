// tokrl train
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tokrl/agents/packed_trainer.h"
#include "tokrl/agents/train_config.h"
#include "tokrl/agents/trainer.h"
#include "tokrl/cli/commands.h"
#include "tokrl/core/check.h"
#include "tokrl/io/run_dir.h"

namespace tokrl::cli {
namespace {

struct TrainArgs {
  std::vector<std::string> configs;
  std::vector<std::string> overrides;
  std::string run_dir;
  bool resume = false;
  bool print_config = false;
  bool quiet = false;
  int64_t stop_after = -1;
  int64_t pack = 0;                  // --pack K
  std::vector<uint64_t> pack_seeds;  // --pack-seeds
};

// runs/<config name>-<game>-<tag>-<UTC time>, tag "s<seed>" or "pack<K>".
std::string DefaultRunDir(const TrainArgs& args, const Config& config,
                          const std::string& tag) {
  std::string name =
      args.configs.empty()
          ? "default"
          : std::filesystem::path(args.configs.back()).stem().string();
  std::string env = config.GetString("env.id");
  env = env.substr(0, env.find('('));
  env = env.substr(env.rfind('/') + 1);
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::gmtime(&now));
  return "runs/" + name + "-" + env + "-" + tag + "-" + stamp;
}

// Set by SIGINT / SIGTERM while training; the trainer then stops between two
// steps and writes a checkpoint (signal-safe: a lock-free atomic store).
std::atomic<bool> g_stop{false};
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void RequestStop(int signal) {
  g_stop_signal.store(signal);
  g_stop.store(true);
}

// The config of the run in `run_dir`: -c files and --set on the defaults,
// or, when resuming, on the run's own saved config (then only the keys a
// resume may change may differ). `seed` >= 0 sets train.seed first.
Config RunConfig(const TrainArgs& args, const std::filesystem::path& run_dir,
                 int64_t seed) {
  Config config = MakeTrainConfig();
  const std::filesystem::path saved_file = run_dir / io::run_dir::kConfig;
  const bool from_run = args.resume && std::filesystem::exists(saved_file);
  if (from_run) config.LoadTomlFile(saved_file);
  const Config saved = config;
  for (const auto& file : args.configs) config.LoadTomlFile(file);
  for (const auto& assignment : args.overrides)
    config.SetAssignment(assignment);
  if (seed >= 0) config.Set("train.seed", std::to_string(seed));
  if (from_run) CheckResumeConfig(saved, config, saved_file.string());
  return config;
}

// Installs the SIGINT / SIGTERM handlers for the lifetime of the object.
class StopOnSignals {
 public:
  StopOnSignals() {
    struct sigaction action = {};
    action.sa_handler = RequestStop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopOnSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  struct sigaction old_int_ = {}, old_term_ = {};
};

// `how`: what continues the run(s).
void FailIfStopped(int64_t env_steps, const std::string& how) {
  if (!g_stop.load()) return;
  TOKRL_FAIL() << "stopped by signal " << g_stop_signal.load() << " ("
               << strsignal(g_stop_signal.load()) << ") at env step "
               << env_steps << "; a checkpoint was saved: continue with "
               << how;
}

// --pack K / --pack-seeds: members seed<s>/ under --run-dir.
void RunPacked(const TrainArgs& args, const std::vector<std::string>& argv) {
  TOKRL_CHECK(args.pack == 0 || args.pack_seeds.empty())
      << "give either --pack or --pack-seeds, not both";
  TOKRL_CHECK(!args.print_config)
      << "--print-config prints one run's config: drop --pack";
  if (args.resume && args.run_dir.empty()) {
    TOKRL_FAIL() << "--resume needs --run-dir naming the packed runs' folder";
  }
  std::vector<uint64_t> seeds = args.pack_seeds;
  if (seeds.empty()) {
    TOKRL_CHECK(args.pack >= 1 && args.pack <= 1024)
        << "--pack must be between 1 and 1024, got " << args.pack;
    const Config base = RunConfig(args, "", -1);
    const auto first = static_cast<uint64_t>(base.GetInt("train.seed"));
    for (int64_t k = 0; k < args.pack; ++k) {
      seeds.push_back(first + static_cast<uint64_t>(k));
    }
  }
  std::string root = args.run_dir;
  if (root.empty()) {
    root = DefaultRunDir(args, RunConfig(args, "", -1),
                         "pack" + std::to_string(seeds.size()));
  }
  std::vector<Config> configs;
  std::vector<std::filesystem::path> dirs;
  for (const uint64_t seed : seeds) {
    dirs.push_back(std::filesystem::path(root) /
                   ("seed" + std::to_string(seed)));
    configs.push_back(RunConfig(args, dirs.back(), static_cast<int64_t>(seed)));
  }
  PackedTrainer trainer(configs, dirs, args.resume, argv,
                        args.quiet ? nullptr : &std::cout);
  std::vector<TrainSummary> summaries;
  {
    StopOnSignals handlers;
    summaries = trainer.Run(args.stop_after, &g_stop);
  }
  FailIfStopped(summaries.front().env_steps,
                "the same command plus --resume --run-dir " + root);
}

void RunTrain(const TrainArgs& args, const std::vector<std::string>& argv) {
  if (args.pack != 0 || !args.pack_seeds.empty()) {
    RunPacked(args, argv);
    return;
  }
  if (args.resume && args.run_dir.empty()) {
    TOKRL_FAIL() << "--resume needs --run-dir naming the run to continue";
  }
  const Config config = RunConfig(args, args.run_dir, -1);
  if (args.print_config) {
    std::cout << config.ToToml();
    return;
  }
  const std::string run_dir =
      args.run_dir.empty()
          ? DefaultRunDir(args, config,
                          "s" + std::to_string(config.GetInt("train.seed")))
          : args.run_dir;
  Trainer trainer(config, run_dir, args.resume, argv,
                  args.quiet ? nullptr : &std::cout);
  TrainSummary summary;
  {
    StopOnSignals handlers;
    summary = trainer.Run(args.stop_after, &g_stop);
  }
  FailIfStopped(summary.env_steps, "--resume --run-dir " + run_dir);
}

}  // namespace

void AddTrainCommands(CLI::App& app, const std::vector<std::string>& argv) {
  auto args = std::make_shared<TrainArgs>();
  auto* train = app.add_subcommand(
      "train",
      "Train a value-based agent (DQN / Rainbow / DER) from a TOML config");
  train->add_option(
      "--config,-c", args->configs,
      "Preset TOML file(s), later ones override earlier ones (see configs/)");
  train->add_option("--set,-s", args->overrides,
                    "Override one key: --set agent.lr=1e-4 (repeatable)");
  train->add_option(
      "--run-dir", args->run_dir,
      "Output directory (default: runs/<config>-<game>-s<seed>-<time>)");
  train->add_flag("--resume", args->resume,
                  "Continue the run in --run-dir from its checkpoint");
  train->add_flag("--print-config", args->print_config,
                  "Print the resolved config (every key) and exit");
  train->add_flag("--quiet,-q", args->quiet, "No progress lines");
  train->add_option(
      "--stop-after", args->stop_after,
      "Stop (with a checkpoint) after this many env steps, as if interrupted");
  train->add_option(
      "--pack", args->pack,
      "Train K runs in one process, seeds train.seed .. train.seed+K-1, "
      "their networks packed (see docs/speed.md); runs go to "
      "<run-dir>/seed<s>");
  train
      ->add_option("--pack-seeds", args->pack_seeds,
                   "Like --pack, with these seeds (comma list)")
      ->delimiter(',');
  train->callback([args, argv] { RunTrain(*args, argv); });
}

}  // namespace tokrl::cli
