// The report of `tokrl report`: rliable statistics over a set of runs,
// written as a web page, a markdown table, a JSON file and gnuplot plots.
//
//   LoadRuns (run_data.h) --> ComputeReport --> WriteReport
//                              GroupRuns          OUT/index.html
//                              bootstrap CIs      OUT/summary.md
//                              profiles, P(X>Y)   OUT/results.json
//                              curves OUT/plots/*.{gp,dat,svg,png,log}
//
// Statistics (stats/, Agarwal et al. 2021, shared/spec/paper.md 4.1), each
// on a variant's [seeds x games] matrix of normalized final scores:
//   * Median, IQM, Mean, Optimality Gap with stratified-bootstrap CIs
//     (options.bootstrap: reps, coverage, seed; one call per variant);
//   * the performance profile, fraction of runs with score > tau, with CIs,
//     over `profile_points` thresholds from min(0, lowest score) to the
//     highest score of any variant;
//   * P(variant > baseline) with CI for every variant but the baseline
//     (options.baseline, default: the first variant whose name contains
//     "flatten", else the first in sorted order);
//   * the IQM over training: at the steps every run of a variant logged
//     (at most kMaxCurvePoints of them, evenly spaced, always the last),
//     IQM of the normalized metric values with CIs from
//     min(reps, kCurveReps) replicates; empty when there are fewer than two
//     such steps.
// Learning curves per game: line = mean over the variant's seeds, band =
// min..max over seeds, on the union of their logging steps (each run
// linearly interpolated inside its own step range, never extrapolated).
//
// Plots (plots.h), file stems in OUT/plots/:
//   aggregates          interval estimates, one panel per aggregate
//   profile             performance profiles
//   iqm_curve           IQM over training (when available)
//   curve_<game>        learning curve of each game
// Variant i (sorted order) has VariantColor(i) in every plot.
//
// Files are written atomically (io/atomic_file.h). An existing OUT folder is
// fine: only the files named above are replaced, nothing else is deleted.
//
// index.html has a tiny script that, on window load, sets
// <body data-plots-loaded="N"> to the number of <img> elements that loaded
// (complete && naturalWidth > 0); data-plots-total="M" is written
// statically. tests/report/browser_test.sh checks N == M > 0 in Chromium.
#ifndef TOKRL_REPORT_REPORT_H_
#define TOKRL_REPORT_REPORT_H_

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "tokrl/report/run_data.h"
#include "tokrl/stats/bootstrap.h"

namespace tokrl::report {

inline constexpr int kCurveReps = 2000;
inline constexpr size_t kMaxCurvePoints = 50;

struct ReportOptions {
  /// Output folder (created if missing).
  std::filesystem::path out_dir;
  /// The metric the runs were loaded with (labels only).
  std::string metric = "train/episode_return";
  /// auto | none | minatar | atari-human (see GroupRuns).
  std::string normalization = "auto";
  /// Variant the others are compared to ("" = the default, see above).
  std::string baseline;
  /// Bootstrap replicates, coverage and seed of every CI.
  stats::BootstrapOptions bootstrap;
  /// Thresholds of the performance profile (>= 2).
  int profile_points = 41;
  /// Draw the plots (needs gnuplot); false writes the tables only.
  bool plots = true;
  /// The gnuplot program (looked up in PATH unless it holds a '/').
  std::string gnuplot = "gnuplot";
  /// Progress lines and warnings ("warning: ..."); nullptr = silent.
  std::ostream* log = nullptr;
};

// A metric over training, summarized over seeds.
struct CurveBand {
  std::vector<double> steps, mean, lower, upper;  // lower/upper = min/max
  std::vector<int> count;                         // runs covering each step
};

// See the file comment. Curves with no points are ignored.
CurveBand MeanOverSeeds(const std::vector<const Curve*>& curves);

// Raw final scores of one game over a variant's seeds.
struct GameScore {
  double mean = 0, min = 0, max = 0;
};

struct VariantResult {
  std::string name, color;
  /// Per game (Grouping::games order): raw final scores over seeds.
  std::vector<GameScore> per_game;
  /// Per game: the learning curve, MeanOverSeeds of the runs' curves.
  std::vector<CurveBand> curves;
  /// In stats::kAllAggregates order.
  std::vector<stats::Interval> aggregates;
  /// At ReportResults::taus.
  std::vector<stats::Interval> profile;
  /// P(this variant > baseline); nullopt for the baseline itself.
  std::optional<stats::Interval> improvement;
  /// IQM over training (see the file comment); may be empty.
  std::vector<double> iqm_steps;
  std::vector<stats::Interval> iqm_curve;
};

// A network statistic over training (stats/*, logged with
// train.stats_every): per variant, MeanOverSeeds of every used run of that
// variant (all games and seeds) that logged it; band min..max.
struct AnalysisCurve {
  std::string metric;
  std::vector<CurveBand> variants;  // parallel to ReportResults::variants
};

struct ReportResults {
  Grouping grouping;
  /// Runs in the score matrices (variants x seeds x games).
  size_t num_runs = 0;
  /// Parallel to the loaded runs: whether the run is in a score matrix.
  std::vector<bool> used;
  std::string baseline;
  std::vector<double> taus;
  std::vector<VariantResult> variants;  // parallel to grouping.variants
  /// Sorted by metric; empty when no used run logged statistics.
  std::vector<AnalysisCurve> analysis;
  /// Loading and grouping warnings.
  std::vector<std::string> warnings;
  /// Files written (WriteReport only), relative to out_dir.
  std::vector<std::string> files;
};

// Every number of the report (statistics, per-game scores, curves); writes
// nothing. Throws tokrl::Error on bad options
// (unknown baseline or normalization, bad bootstrap options) and the errors
// of GroupRuns.
ReportResults ComputeReport(const LoadedRuns& runs,
                            const ReportOptions& options);

// ComputeReport, then the plots (when options.plots) and the three files,
// rendered by report/render.h (which only formats: every number comes from
// ComputeReport).
// Throws tokrl::Error as ComputeReport, when out_dir cannot be created, and
// as RunGnuplot (gnuplot missing or failing).
ReportResults WriteReport(const LoadedRuns& runs, const ReportOptions& options);

}  // namespace tokrl::report

#endif  // TOKRL_REPORT_REPORT_H_
