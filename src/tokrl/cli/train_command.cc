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
};

// runs/<config name>-<game>-s<seed>-<UTC time>
std::string DefaultRunDir(const TrainArgs& args, const Config& config) {
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
  return "runs/" + name + "-" + env + "-s" +
         std::to_string(config.GetInt("train.seed")) + "-" + stamp;
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

void RunTrain(const TrainArgs& args, const std::vector<std::string>& argv) {
  if (args.resume && args.run_dir.empty()) {
    TOKRL_FAIL() << "--resume needs --run-dir naming the run to continue";
  }
  Config config = MakeTrainConfig();
  // A resumed run starts from its own resolved config: -c and --set may
  // then change only the keys a resume may change.
  const std::filesystem::path saved_file =
      std::filesystem::path(args.run_dir) / io::run_dir::kConfig;
  const bool from_run = args.resume && std::filesystem::exists(saved_file);
  if (from_run) config.LoadTomlFile(saved_file);
  const Config saved = config;
  for (const auto& file : args.configs) config.LoadTomlFile(file);
  for (const auto& assignment : args.overrides)
    config.SetAssignment(assignment);
  if (from_run) CheckResumeConfig(saved, config, saved_file.string());
  if (args.print_config) {
    std::cout << config.ToToml();
    return;
  }
  const std::string run_dir =
      args.run_dir.empty() ? DefaultRunDir(args, config) : args.run_dir;
  Trainer trainer(config, run_dir, args.resume, argv,
                  args.quiet ? nullptr : &std::cout);
  struct sigaction action = {};
  action.sa_handler = RequestStop;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int = {}, old_term = {};
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);
  const TrainSummary summary = trainer.Run(args.stop_after, &g_stop);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (g_stop.load()) {
    TOKRL_FAIL() << "stopped by signal " << g_stop_signal.load() << " ("
                 << strsignal(g_stop_signal.load()) << ") at env step "
                 << summary.env_steps
                 << "; a checkpoint was saved: continue with --resume "
                    "--run-dir "
                 << run_dir;
  }
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
  train->callback([args, argv] { RunTrain(*args, argv); });
}

}  // namespace tokrl::cli
