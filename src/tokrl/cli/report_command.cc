// tokrl report: rliable statistics and gnuplot plots over training runs
// (src/tokrl/report/, docs/report.md).
#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tokrl/cli/commands.h"
#include "tokrl/core/check.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/report/report.h"
#include "tokrl/report/run_data.h"

namespace tokrl::cli {
namespace {

struct ReportArgs {
  std::vector<std::string> paths;
  std::string out;
  std::string metric = "train/episode_return";
  std::string normalization = "auto";
  std::string baseline;
  int reps = 50'000;
  uint64_t seed = 0;
  double coverage = 0.95;
  int profile_points = 41;
  bool include_incomplete = false;
  bool no_plots = false;
  std::string gnuplot = "gnuplot";
};

void RunReport(const ReportArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  // Checked before loading anything: a typo should not wait for a large
  // sweep folder to be read.
  report::ParseNormalizationOption(args.normalization);
  report::LoadOptions load;
  load.metric = args.metric;
  load.include_incomplete = args.include_incomplete;
  std::vector<std::filesystem::path> paths(args.paths.begin(),
                                           args.paths.end());
  const report::LoadedRuns runs = report::LoadRuns(paths, load);
  std::cerr << "loaded " << runs.runs.size() << " runs\n";

  report::ReportOptions options;
  options.out_dir = args.out;
  options.metric = args.metric;
  options.normalization = args.normalization;
  options.baseline = args.baseline;
  options.bootstrap.reps = args.reps;
  options.bootstrap.seed = args.seed;
  options.bootstrap.coverage = args.coverage;
  options.profile_points = args.profile_points;
  options.plots = !args.no_plots;
  options.gnuplot = args.gnuplot;
  options.log = &std::cerr;
  const report::ReportResults results = report::WriteReport(runs, options);

  std::cout << io::ReadFile(options.out_dir / "summary.md") << "\n";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::cout << "wrote " << (options.out_dir / "index.html").string() << " ("
            << results.files.size() << " files) in " << seconds << " s\n";
}

}  // namespace

void AddReportCommand(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report",
      "Statistics and plots over training runs: rliable aggregates (median, "
      "IQM, mean, optimality gap) with bootstrap CIs, performance profiles, "
      "P(improvement), learning curves; writes index.html, summary.md, "
      "results.json and plots/ (see docs/report.md)");
  cmd->add_option("runs", args->paths,
                  "Run directories (with config.toml) or folders searched "
                  "for them up to 4 levels deep, e.g. a sweep's output")
      ->required();
  cmd->add_option("--out,-o", args->out, "Output folder of the report")
      ->required();
  cmd->add_option("--metric,-m", args->metric,
                  "Metric of the learning curves and final scores (final "
                  "score = its last logged value)")
      ->capture_default_str();
  cmd->add_option("--normalization,-n", args->normalization,
                  "Score normalization: auto (from the env ids), none, "
                  "minatar, atari-human")
      ->capture_default_str();
  cmd->add_option("--baseline", args->baseline,
                  "Variant that P(improvement) compares against (default: "
                  "the first variant named *flatten*, else the first)");
  cmd->add_option("--reps", args->reps, "Bootstrap replicates per CI")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the bootstrap resampling")
      ->capture_default_str();
  cmd->add_option("--coverage", args->coverage,
                  "Confidence interval coverage, in (0, 1)")
      ->check(CLI::Range(1e-6, 1 - 1e-6))
      ->capture_default_str();
  cmd->add_option("--profile-points", args->profile_points,
                  "Number of thresholds tau of the performance profiles")
      ->check(CLI::Range(2, 10'000))
      ->capture_default_str();
  cmd->add_flag("--include-incomplete", args->include_incomplete,
                "Also use runs without summary.json (unfinished); their "
                "final score is the last value logged so far");
  cmd->add_flag("--no-plots", args->no_plots,
                "Skip the plots (no gnuplot needed): tables only");
  cmd->add_option("--gnuplot", args->gnuplot, "The gnuplot program to run")
      ->capture_default_str();
  cmd->callback([args] { RunReport(*args); });
}

}  // namespace tokrl::cli
