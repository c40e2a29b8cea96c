// Sweeps: a TOML file naming games x seeds x variants, expanded into one
// training run each (`tokrl sweep`, launchers in sweep/launcher.h).
//
// File format (see configs/sweeps/ for the paper's experiments):
//
//   [sweep]
//   name = "tokenization"            # default: the file's stem
//   description = "DFT Fig. 7 ..."   # optional, free text
//   configs = ["../rainbow_lite_minatar.toml"]   # base presets, relative to
//                                    # this file, loaded first
//   env = "minatar/{game}"           # env id pattern (the default)
//   games = ["breakout", "freeway"]  # >= 1
//   seeds = [0, 1, 2, 3, 4]          # >= 1 distinct
//   set = { "train.eval_every" = 0 } # overrides for every run (optional)
//
//   [variants.perconv]               # >= 1 variant, in file order
//   configs = ["../networks/softmoe1_scaled4.toml"]   # loaded after the base
//   set = { "network.scale" = 4 }    # optional
//
//   [budgets.tiny]                   # optional, chosen with --budget tiny
//   games = ["breakout"]             # optional: replaces [sweep] games
//   seeds = [0]                      # optional: replaces [sweep] seeds
//   set = { "train.total_steps" = 500 }
//
// `set` tables map config keys to TOML values; nested tables are flattened
// to dotted keys, so {train = {total_steps = 500}} is the same override.
//
// Layering for each run, later wins: base configs, variant configs, sweep
// set, variant set, budget set, extra overrides (`--set` on the command
// line), then the sweep's own keys: env.id (the pattern with {game}),
// train.seed, experiment.name and experiment.variant. Setting one of those
// four in a `set` table is an error (the sweep owns them).
//
// Runs are ordered variant-major, then game, then seed; run i's directory
// is <out>/<variant>/<game>/seed<seed>. The default out folder is
// runs/sweeps/<name>, relative to the working directory.
//
// Errors are tokrl::Error naming the file (and line where known): malformed
// TOML, an unknown key in [sweep] / a variant / a budget (a typo must not be
// silently ignored), a missing or empty games/seeds/variants, duplicate
// seeds or games, a reserved key in `set`, an unknown --budget (listing the
// budgets the file has), a missing config file.
#ifndef TOKRL_SWEEP_SWEEP_H_
#define TOKRL_SWEEP_SWEEP_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tokrl::sweep {

struct SweepRun {
  std::string variant, game;
  uint64_t seed = 0;
  std::string name;  // "<variant>/<game>/seed<seed>", unique in the sweep
  std::filesystem::path run_dir;
  std::vector<std::filesystem::path> configs;  // absolute, in load order
  std::vector<std::string> overrides;          // "key=value", in order
};

struct Sweep {
  std::string name, description;
  std::filesystem::path file;        // absolute
  std::filesystem::path out_dir;     // absolute
  std::string budget;                // "" = the file's full budget
  std::vector<std::string> budgets;  // every budget the file defines
  std::vector<SweepRun> runs;
};

struct SweepOptions {
  /// Budget name ("" = none).
  std::string budget;
  /// Output folder; empty = runs/sweeps/<name>.
  std::filesystem::path out_dir;
  /// Extra "key=value" overrides applied to every run (after the budget).
  std::vector<std::string> overrides;
};

Sweep LoadSweep(const std::filesystem::path& file,
                const SweepOptions& options = {});

// Where a run stands, read from its directory (written by tokrl train):
//   kNew       no directory yet
//   kDone      summary.json exists (the trainer writes it last)
//   kPartial   a checkpoint exists but no summary: resume it
//   kStale     a directory without checkpoint or summary (the run died
//              before its first checkpoint): it must start over
enum class RunState { kNew, kDone, kPartial, kStale };
RunState GetRunState(const std::filesystem::path& run_dir);
const char* RunStateName(RunState state);  // "new", "done", "partial", "stale"

// Arguments after the program name for `tokrl train` running `run`:
// train -c <configs>... --set <overrides>... --run-dir <dir> --quiet
// [--resume].
std::vector<std::string> TrainArguments(const SweepRun& run, bool resume);

}  // namespace tokrl::sweep

#endif  // TOKRL_SWEEP_SWEEP_H_
