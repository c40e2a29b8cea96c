// tokrl sweep: expand a sweep file (sweep/sweep.h) into runs and launch them
// locally or as a SLURM array job (sweep/launcher.h).
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tokrl/agents/train_config.h"
#include "tokrl/agents/trainer.h"
#include "tokrl/cli/commands.h"
#include "tokrl/core/check.h"
#include "tokrl/core/subprocess.h"
#include "tokrl/env/registry.h"
#include "tokrl/nn/packed_q_network.h"
#include "tokrl/sweep/launcher.h"
#include "tokrl/sweep/sweep.h"

namespace tokrl::cli {
namespace {

// Set by SIGINT / SIGTERM: the local launcher stops its runs with a
// checkpoint and returns (sweep/launcher.h).
std::atomic<bool> g_sweep_stop{false};
extern "C" void RequestSweepStop(int) { g_sweep_stop.store(true); }

void InstallStopHandlers() {
  struct sigaction action = {};
  action.sa_handler = RequestSweepStop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

struct SweepArgs {
  std::string file;
  std::string budget;
  std::string out;
  std::vector<std::string> overrides;
  std::string launcher = "local";
  int jobs = 1;
  int pack = 1;
  bool list = false;
  int64_t task = -1;
  int64_t stop_after = -1;
  // SLURM
  bool no_submit = false;
  bool wait = false;
  int cpus_per_task = 1;
  std::string time, partition, mem;
  std::vector<std::string> sbatch_args;
};

// Builds every run's config exactly as `tokrl train` will, so a typo in a
// preset or override fails here, naming the run, before anything starts;
// with `packed`, also a network that packed runs cannot stack.
void ValidateRuns(const sweep::Sweep& sweep, const std::vector<size_t>& indices,
                  bool packed) {
  std::map<std::string, EnvSpec> specs;  // one env built per id
  for (const size_t i : indices) {
    const sweep::SweepRun& run = sweep.runs[i];
    try {
      Config config = MakeTrainConfig();
      for (const auto& c : run.configs) config.LoadTomlFile(c);
      for (const auto& o : run.overrides) config.SetAssignment(o);
      // The same Resolve as `tokrl train`: every key and cross-field rule.
      const std::string& env_id = config.GetString("env.id");
      auto it = specs.find(env_id);
      if (it == specs.end()) {
        // Atari runs on a machine without ALE (a login node) are checked
        // with the nominal spec; their trainers build the env.
        it = specs.emplace(env_id, SpecForConfigChecks(env_id)).first;
      }
      const ResolvedConfig resolved = Resolve(config, it->second);
      if (packed) nn::CheckPackable(resolved.network);
    } catch (const Error& e) {
      TOKRL_FAIL() << sweep.file.string() << ": run " << run.name << ": "
                   << e.what();
    }
  }
}

// The arguments that recreate this sweep in a SLURM task.
std::vector<std::string> SweepArguments(const SweepArgs& args,
                                        const sweep::Sweep& sweep) {
  std::vector<std::string> out = {"sweep", sweep.file.string(), "--out",
                                  sweep.out_dir.string()};
  if (!args.budget.empty()) {
    out.push_back("--budget");
    out.push_back(args.budget);
  }
  for (const auto& o : args.overrides) {
    out.push_back("--set");
    out.push_back(o);
  }
  if (args.stop_after >= 0) {
    out.push_back("--stop-after");
    out.push_back(std::to_string(args.stop_after));
  }
  return out;
}

// How far a partial run got: "<step>/<total> steps" from its checkpoint and
// its resolved config.toml, or "" if unreadable (--list must not fail on a
// run folder that is being written).
std::string PartialProgress(const std::filesystem::path& run_dir) {
  try {
    const std::optional<int64_t> step = CheckpointStep(run_dir);
    Config config = MakeTrainConfig();
    config.LoadTomlFile(run_dir / "config.toml");
    if (!step) return "";
    return std::to_string(*step) + "/" +
           std::to_string(config.GetInt("train.total_steps")) + " steps";
  } catch (const Error&) {
    return "";
  }
}

void PrintList(const sweep::Sweep& sweep) {
  int counts[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < sweep.runs.size(); ++i) {
    const auto& run = sweep.runs[i];
    const auto state = sweep::GetRunState(run.run_dir);
    ++counts[static_cast<int>(state)];
    std::cout << i << "\t" << sweep::RunStateName(state) << "\t" << run.name
              << "\t" << run.run_dir.string();
    if (state == sweep::RunState::kPartial) {
      std::cout << "\t" << PartialProgress(run.run_dir);
    }
    std::cout << "\n";
  }
  std::cout << sweep.runs.size() << " runs: " << counts[1] << " done, "
            << counts[2] << " partial, " << counts[0] + counts[3]
            << " to start\n";
}

void RunSweep(const SweepArgs& args) {
  // Progress lines appear as they happen, also in a log file or a SLURM
  // output (few lines, so flushing each costs nothing).
  std::cout << std::unitbuf;
  sweep::SweepOptions options;
  options.budget = args.budget;
  options.out_dir = args.out;
  options.overrides = args.overrides;
  const sweep::Sweep sweep = sweep::LoadSweep(args.file, options);
  if (args.list) {
    PrintList(sweep);
    return;
  }
  // A SLURM array task validates only its own run, or pack (the submitting
  // command validated them all).
  std::vector<size_t> runs;
  if (args.task >= 0) {
    const auto packs = sweep::SweepPacks(sweep, args.pack);
    if (static_cast<size_t>(args.task) >= packs.size()) {
      TOKRL_FAIL() << "--task " << args.task
                   << " is out of range: the sweep has " << packs.size()
                   << (args.pack > 1 ? " packs of up to " +
                                           std::to_string(args.pack) + " runs"
                                     : " runs");
    }
    runs = packs[static_cast<size_t>(args.task)];
  } else {
    for (size_t i = 0; i < sweep.runs.size(); ++i) runs.push_back(i);
  }
  ValidateRuns(sweep, runs, args.pack > 1);

  sweep::LocalOptions local;
  local.jobs = args.task >= 0 ? 1 : args.jobs;
  local.pack = args.pack;
  local.tokrl = SelfExecutable();
  if (args.stop_after >= 0) {
    local.extra_train_args = {"--stop-after", std::to_string(args.stop_after)};
  }
  local.log = &std::cout;
  local.stop = &g_sweep_stop;
  InstallStopHandlers();

  if (args.task >= 0) {  // one SLURM array task
    const auto summary = sweep::RunLocal(sweep, local, runs);
    if (summary.failed > 0) TOKRL_FAIL() << summary.failures.front();
    return;
  }

  sweep::WriteSweepManifest(sweep);
  std::cout << "sweep " << sweep.name << ": " << sweep.runs.size()
            << " runs in " << sweep.out_dir.string()
            << (sweep.budget.empty() ? "" : " (budget " + sweep.budget + ")")
            << "\n";
  if (args.launcher == "local") {
    const auto summary = sweep::RunLocal(sweep, local);
    std::cout << "finished " << summary.finished << ", skipped "
              << summary.skipped << " (already done), failed " << summary.failed
              << ", stopped " << summary.stopped << "\n";
    std::string failures;
    for (const auto& f : summary.failures) failures.append(f);
    if (summary.interrupted) {
      TOKRL_FAIL() << "interrupted; the stopped runs saved checkpoints: run "
                      "the same command again to resume them"
                   << (failures.empty() ? "" : "\nfailed runs:\n") << failures;
    }
    if (summary.failed > 0) {
      TOKRL_FAIL() << summary.failed << " of " << summary.total
                   << " runs failed:\n"
                   << failures;
    }
    return;
  }
  sweep::SlurmOptions slurm;
  slurm.tokrl = local.tokrl;
  slurm.pack = args.pack;
  slurm.sweep_args = SweepArguments(args, sweep);
  slurm.max_parallel = args.jobs > 1 ? args.jobs : 0;
  slurm.cpus_per_task = args.cpus_per_task;
  slurm.time = args.time;
  slurm.partition = args.partition;
  slurm.mem = args.mem;
  slurm.sbatch_args = args.sbatch_args;
  const auto sub = sweep::SubmitSlurm(sweep, slurm, !args.no_submit, args.wait);
  if (sub.tasks == 0) {
    std::cout << "all " << sweep.runs.size()
              << " runs are done; nothing to submit\n";
    return;
  }
  std::cout << "wrote " << sub.script.string() << " (" << sub.tasks
            << " array tasks)\n";
  if (!sub.job_id.empty()) {
    std::cout << "submitted SLURM job " << sub.job_id << "\n";
  }
  if (args.wait) {
    const auto pending = sweep::PendingRuns(sweep);
    std::cout << "job " << sub.job_id
              << " ended: " << sweep.runs.size() - pending.size() << " of "
              << sweep.runs.size() << " runs done\n";
    if (!pending.empty() && args.stop_after < 0) {
      TOKRL_FAIL() << pending.size() << " runs are not done; see the logs in "
                   << (sweep.out_dir / "slurm").string();
    }
  }
}

}  // namespace

void AddSweepCommand(CLI::App& app) {
  auto args = std::make_shared<SweepArgs>();
  auto* cmd = app.add_subcommand(
      "sweep",
      "Run a sweep file (games x seeds x variants, see configs/sweeps/): "
      "skips finished runs, resumes interrupted ones");
  cmd->add_option("file", args->file, "Sweep TOML file")->required();
  cmd->add_option("--budget,-b", args->budget,
                  "A [budgets.<name>] of the file, e.g. tiny (default: the "
                  "full budget)");
  cmd->add_option("--out,-o", args->out,
                  "Output folder (default: runs/sweeps/<sweep name>)");
  cmd->add_option("--set,-s", args->overrides,
                  "Override one config key in every run: --set agent.lr=1e-4");
  cmd->add_option("--launcher", args->launcher, "Where runs execute")
      ->check(CLI::IsMember({"local", "slurm"}));
  cmd->add_option("--jobs,-j", args->jobs,
                  "Runs at a time (local), or the array's task limit (slurm)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--pack", args->pack,
                  "Train up to K runs of one variant and game (seeds) per "
                  "process, their networks packed (tokrl train --pack-seeds); "
                  "slurm: one array task per pack")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--list", args->list,
                "List the runs and their state (done/partial/new; a partial "
                "run's step) and exit");
  cmd->add_option("--task", args->task,
                  "Run only run number TASK, or with --pack pack number TASK "
                  "(what each SLURM array task does)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--stop-after", args->stop_after,
                  "Pass --stop-after to every train run (stop with a "
                  "checkpoint, as if interrupted)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-submit", args->no_submit,
                "slurm: write the sbatch script but do not submit it");
  cmd->add_flag("--wait", args->wait,
                "slurm: wait until the array job ends (sbatch --wait)");
  cmd->add_option("--cpus-per-task", args->cpus_per_task, "slurm: CPUs per run")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--time", args->time, "slurm: time limit per run (--time)");
  cmd->add_option("--partition", args->partition, "slurm: partition");
  cmd->add_option("--mem", args->mem, "slurm: memory per run (--mem)");
  cmd->add_option(
      "--sbatch-arg", args->sbatch_args,
      "slurm: extra #SBATCH option, e.g. --sbatch-arg=--account=rl");
  cmd->callback([args] { RunSweep(*args); });
}

}  // namespace tokrl::cli
