// Run data for `tokrl report`: finding run directories, loading their
// config and metrics, and grouping final scores into one rliable score
// matrix per variant.
//
// A run directory is a folder holding config.toml (written by `tokrl train`,
// see agents/trainer.h). Files read:
//   config.toml    env.id, train.seed, train.total_steps, agent.type,
//                  network.{tokenizer,penultimate,experts,scale},
//                  experiment.{name,variant}; env.id is required, the rest
//                  have defaults (seed 0, empty strings)
//   metrics.jsonl  one JSON object per line with an integer "step" and any
//                  number of metrics; a metric may be absent from a line
//   summary.json   present only once the run finished (the complete flag)
//
// Final score of a run = the last logged value of the chosen metric. With
// the default metric train/episode_return that value already is the mean
// return of the last 100 training episodes, the protocol of the MinAtar
// paper (Young & Tian 2019) and of Dopamine's reported training returns.
//
// Grouping (GroupRuns): runs -> variants; per variant a ScoreMatrix
// [seeds x games] of normalized final scores. The games (columns) are the
// union over all variants, sorted; every variant must have every game. A
// row is a seed (train.seed); only the seeds present in all of a variant's
// games are kept (rliable needs a rectangular matrix), and each dropped run
// is named in a warning. Normalization: stats/normalization.h.
//
// Errors (tokrl::Error) name the file and line where one is known: no run
// directory found, a path that does not exist, unreadable or malformed
// config.toml / metrics.jsonl, a metric never logged (naming the run and the
// metrics it has), two runs of the same variant/game/seed, mixed
// normalization tables with "auto", a game missing from the normalization
// table, a variant without a complete set of games.
#ifndef TOKRL_REPORT_RUN_DATA_H_
#define TOKRL_REPORT_RUN_DATA_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokrl/stats/normalization.h"
#include "tokrl/stats/score_matrix.h"

namespace tokrl::report {

// One metric over training: values[i] was logged at env step steps[i]
// (steps strictly increasing; a repeated step keeps the last value).
struct Curve {
  std::vector<int64_t> steps;
  std::vector<double> values;
};

struct RunData {
  std::filesystem::path dir;
  std::string env_id;  // "minatar/breakout(sticky=0)"
  std::string game;    // stats::GameOfEnv(env_id): "breakout"
  // The label the trainer wrote into summary.json (its VariantLabel: the
  // experiment.variant, or one derived from agent and network); for a run
  // without a summary, experiment.variant or "unlabelled".
  std::string variant;
  std::string experiment;  // experiment.name ("" if unset)
  uint64_t seed = 0;
  int64_t total_steps = 0;  // train.total_steps (0 if unset)
  Curve curve;              // the chosen metric
  // Every network statistic (keys "stats/...", nn/network_stats.h) logged.
  std::map<std::string, Curve> analysis;
  double final_score = 0;  // curve.values.back()
  bool complete = false;   // summary.json exists
  // Every metric name metrics.jsonl logged (sorted), for error messages.
  std::vector<std::string> metrics_seen;
  // Recoverable oddities met while loading (LoadRuns collects them).
  std::vector<std::string> warnings;
};

struct LoadOptions {
  /// Metric of the curves and final scores.
  std::string metric = "train/episode_return";
  /// Keep runs without summary.json (still training or crashed).
  bool include_incomplete = false;
};

struct LoadedRuns {
  std::vector<RunData> runs;          // sorted by (variant, game, seed)
  std::vector<std::string> warnings;  // skipped runs, oddities
};

// The run directories of `paths`, sorted and without duplicates: a path
// with config.toml is a run directory; any other folder is searched
// recursively, at most `max_depth` levels down, not descending into run
// directories. Throws on a missing path or when nothing is found.
std::vector<std::filesystem::path> FindRunDirs(
    const std::vector<std::filesystem::path>& paths, int max_depth = 4);

// Loads one run directory. The curve may be empty (metric not logged yet);
// LoadRuns decides whether that is an error.
RunData LoadRun(const std::filesystem::path& dir, const std::string& metric);

// FindRunDirs + LoadRun for each. Incomplete runs are skipped with a
// warning unless options.include_incomplete. A kept run that never logged
// the metric is an error; a skipped one only a warning.
LoadedRuns LoadRuns(const std::vector<std::filesystem::path>& paths,
                    const LoadOptions& options = {});

// The scores of one variant: row r = seeds[r], column t = games[t] of the
// enclosing Grouping.
struct VariantScores {
  std::string name;
  std::vector<uint64_t> seeds;
  stats::ScoreMatrix raw;         // final scores as logged
  stats::ScoreMatrix normalized;  // after the normalization
  // runs[r][t] indexes the LoadedRuns::runs entry behind cell (r, t).
  std::vector<std::vector<size_t>> runs;
};

struct Grouping {
  stats::Normalization normalization = stats::Normalization::kNone;
  std::vector<std::string> games;  // sorted
  // Each game's score range in the normalization table (identity for
  // kNone), parallel to games.
  std::vector<stats::ScoreRange> ranges;
  std::vector<VariantScores> variants;  // sorted by name
  std::vector<std::string> warnings;    // dropped runs
};

// A --normalization value: "auto" -> nullopt (the table of the runs' env
// ids), "none", "minatar" or "atari-human" -> that table. Anything else
// throws, listing the four choices.
std::optional<stats::Normalization> ParseNormalizationOption(
    std::string_view name);

// `normalization` is "auto" (the table of the runs' env ids, which must all
// agree), "none", "minatar" or "atari-human".
Grouping GroupRuns(const std::vector<RunData>& runs,
                   const std::string& normalization = "auto");

}  // namespace tokrl::report

#endif  // TOKRL_REPORT_RUN_DATA_H_
