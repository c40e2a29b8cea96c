#include "tokrl/report/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "tokrl/core/check.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/report/plots.h"
#include "tokrl/report/render.h"
#include "tokrl/stats/aggregate.h"
#include "tokrl/stats/improvement.h"
#include "tokrl/stats/profiles.h"

namespace tokrl::report {
namespace fs = std::filesystem;
using stats::Interval;
namespace {

std::string DefaultBaseline(const Grouping& g) {
  for (const auto& v : g.variants) {
    if (v.name.find("flatten") != std::string::npos) return v.name;
  }
  return g.variants.front().name;
}

// Linear interpolation of a curve at `step`, which lies in its range.
double Interpolate(const Curve& c, double step) {
  const auto it = std::lower_bound(
      c.steps.begin(), c.steps.end(), step,
      [](int64_t s, double x) { return static_cast<double>(s) < x; });
  const auto i = static_cast<size_t>(it - c.steps.begin());
  if (static_cast<double>(c.steps[i]) == step || i == 0) return c.values[i];
  const double x0 = static_cast<double>(c.steps[i - 1]);
  const double x1 = static_cast<double>(c.steps[i]);
  const double w = (step - x0) / (x1 - x0);
  return c.values[i - 1] + w * (c.values[i] - c.values[i - 1]);
}

// IQM over training for one variant (see the header).
void ComputeIqmCurve(const LoadedRuns& loaded, const Grouping& g,
                     const VariantScores& v,
                     const stats::BootstrapOptions& options,
                     VariantResult& out) {
  std::vector<int64_t> common;
  bool first = true;
  for (const auto& row : v.runs) {
    for (size_t index : row) {
      const auto& steps = loaded.runs[index].curve.steps;
      if (first) {
        common = steps;
        first = false;
        continue;
      }
      std::vector<int64_t> both;
      std::set_intersection(common.begin(), common.end(), steps.begin(),
                            steps.end(), std::back_inserter(both));
      common = std::move(both);
    }
  }
  if (common.size() < 2) return;
  std::vector<int64_t> chosen;
  if (common.size() <= kMaxCurvePoints) {
    chosen = common;
  } else {
    for (size_t k = 0; k < kMaxCurvePoints; ++k) {
      const size_t i = k * (common.size() - 1) / (kMaxCurvePoints - 1);
      chosen.push_back(common[i]);
    }
  }
  stats::BootstrapOptions curve_options = options;
  curve_options.reps = std::min(options.reps, kCurveReps);
  const auto n_runs = static_cast<int64_t>(v.runs.size());
  const auto n_games = static_cast<int64_t>(g.games.size());
  const stats::AggregateFn iqm = stats::AsFunction(stats::Aggregate::kIqm);
  for (int64_t step : chosen) {
    std::vector<double> values;
    for (const auto& row : v.runs) {
      for (size_t t = 0; t < row.size(); ++t) {
        const Curve& c = loaded.runs[row[t]].curve;
        const auto it = std::lower_bound(c.steps.begin(), c.steps.end(), step);
        const auto i = static_cast<size_t>(it - c.steps.begin());
        values.push_back(stats::Normalize(c.values[i], g.ranges[t]));
      }
    }
    const stats::ScoreMatrix m(n_runs, n_games, std::move(values));
    out.iqm_steps.push_back(static_cast<double>(step));
    out.iqm_curve.push_back(
        stats::StratifiedBootstrapCi(m, iqm, curve_options));
  }
}

}  // namespace

CurveBand MeanOverSeeds(const std::vector<const Curve*>& curves) {
  std::vector<const Curve*> live;
  std::set<int64_t> grid;
  for (const Curve* c : curves) {
    if (c == nullptr || c->steps.empty()) continue;
    live.push_back(c);
    grid.insert(c->steps.begin(), c->steps.end());
  }
  CurveBand band;
  for (int64_t s : grid) {
    const auto step = static_cast<double>(s);
    double sum = 0, lo = std::numeric_limits<double>::max();
    double hi = std::numeric_limits<double>::lowest();
    int n = 0;
    for (const Curve* c : live) {
      if (s < c->steps.front() || s > c->steps.back()) continue;
      const double v = Interpolate(*c, step);
      sum += v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      ++n;
    }
    band.steps.push_back(step);
    band.mean.push_back(sum / n);
    band.lower.push_back(lo);
    band.upper.push_back(hi);
    band.count.push_back(n);
  }
  return band;
}

ReportResults ComputeReport(const LoadedRuns& loaded,
                            const ReportOptions& options) {
  if (!(options.profile_points >= 2)) {
    TOKRL_FAIL() << "--profile-points must be at least 2, got "
                 << options.profile_points;
  }
  if (!(options.bootstrap.reps >= 1)) {
    TOKRL_FAIL() << "--reps must be at least 1, got " << options.bootstrap.reps;
  }
  if (!(options.bootstrap.coverage > 0 && options.bootstrap.coverage < 1)) {
    TOKRL_FAIL() << "--coverage must be in (0, 1), got "
                 << options.bootstrap.coverage;
  }
  ReportResults r;
  r.grouping = GroupRuns(loaded.runs, options.normalization);
  const Grouping& g = r.grouping;
  r.warnings = loaded.warnings;
  r.warnings.insert(r.warnings.end(), g.warnings.begin(), g.warnings.end());
  if (options.log) {
    for (const auto& w : r.warnings) *options.log << "warning: " << w << "\n";
  }

  r.baseline = options.baseline.empty() ? DefaultBaseline(g) : options.baseline;
  const VariantScores* baseline = nullptr;
  for (const auto& v : g.variants) {
    if (v.name == r.baseline) baseline = &v;
  }
  if (baseline == nullptr) {
    std::string names;
    for (const auto& v : g.variants) {
      names.append(names.empty() ? "'" : ", '").append(v.name).append("'");
    }
    TOKRL_FAIL() << "unknown --baseline '" << r.baseline
                 << "'; the variants are " << names;
  }

  // Thresholds spanning every variant's scores, from 0 (random level) or
  // below when some run scores below random.
  double lo = 0, hi = std::numeric_limits<double>::lowest();
  for (const auto& v : g.variants) {
    for (double x : v.normalized.values()) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  if (!(hi > lo)) hi = lo + 1;
  r.taus = stats::Linspace(lo, hi, options.profile_points);

  std::vector<stats::AggregateFn> fns;
  for (auto a : stats::kAllAggregates) fns.push_back(stats::AsFunction(a));
  for (size_t k = 0; k < g.variants.size(); ++k) {
    const VariantScores& v = g.variants[k];
    if (options.log) {
      *options.log << "bootstrapping " << v.name << " (" << v.runs.size()
                   << " runs x " << g.games.size() << " games, "
                   << options.bootstrap.reps << " reps)\n";
    }
    VariantResult out;
    out.name = v.name;
    out.color = VariantColor(k);
    out.aggregates =
        stats::StratifiedBootstrapCis(v.normalized, fns, options.bootstrap);
    out.profile =
        stats::PerformanceProfileCis(v.normalized, r.taus, options.bootstrap);
    if (&v != baseline) {
      out.improvement = stats::ProbabilityOfImprovementCi(
          v.normalized, baseline->normalized, options.bootstrap);
    }
    ComputeIqmCurve(loaded, g, v, options.bootstrap, out);
    for (int64_t t = 0; t < v.raw.tasks(); ++t) {
      const auto column = v.raw.Task(t);
      double sum = 0;
      for (double x : column) sum += x;
      const auto [min, max] = std::minmax_element(column.begin(), column.end());
      out.per_game.push_back(
          {sum / static_cast<double>(column.size()), *min, *max});
      std::vector<const Curve*> curves;
      for (const auto& row : v.runs) {
        curves.push_back(&loaded.runs[row[static_cast<size_t>(t)]].curve);
      }
      out.curves.push_back(MeanOverSeeds(curves));
    }
    r.variants.push_back(std::move(out));
  }
  r.used.assign(loaded.runs.size(), false);
  for (const auto& v : g.variants) {
    r.num_runs += v.runs.size() * g.games.size();
    for (const auto& row : v.runs) {
      for (size_t index : row) r.used[index] = true;
    }
  }
  std::set<std::string> metrics;
  for (size_t i = 0; i < loaded.runs.size(); ++i) {
    if (!r.used[i]) continue;
    for (const auto& [metric, curve] : loaded.runs[i].analysis) {
      metrics.insert(metric);
    }
  }
  for (const std::string& metric : metrics) {
    AnalysisCurve a{.metric = metric, .variants = {}};
    for (const auto& v : g.variants) {
      std::vector<const Curve*> curves;
      for (const auto& row : v.runs) {
        for (size_t index : row) {
          const auto& analysis = loaded.runs[index].analysis;
          if (auto it = analysis.find(metric); it != analysis.end()) {
            curves.push_back(&it->second);
          }
        }
      }
      a.variants.push_back(MeanOverSeeds(curves));
    }
    r.analysis.push_back(std::move(a));
  }
  return r;
}

ReportResults WriteReport(const LoadedRuns& loaded,
                          const ReportOptions& options) {
  if (options.out_dir.empty()) {
    TOKRL_FAIL() << "no output folder given (--out)";
  }
  ReportResults r = ComputeReport(loaded, options);
  const fs::path plots_dir = options.out_dir / "plots";
  std::error_code ec;
  fs::create_directories(plots_dir, ec);
  if (ec || !fs::is_directory(plots_dir)) {
    TOKRL_FAIL() << "cannot create output folder " << plots_dir.string() << ": "
                 << ec.message();
  }
  std::vector<std::string> stems;
  if (options.plots) {
    const std::vector<fs::path> scripts =
        WritePlots(r, options, plots_dir, stems);
    if (options.log) {
      *options.log << "drawing " << scripts.size() << " plots with gnuplot\n";
    }
    RunGnuplot(scripts, options.gnuplot);
    for (const auto& stem : stems) {
      for (const char* ext : {".gp", ".dat", ".svg", ".png"}) {
        r.files.push_back("plots/" + stem + ext);
      }
    }
  }
  r.files.insert(r.files.begin(), {"index.html", "summary.md", "results.json"});
  io::WriteFileAtomic(options.out_dir / "summary.md",
                      SummaryMarkdown(r, options));
  io::WriteFileAtomic(options.out_dir / "results.json",
                      ResultsJson(loaded, r, options));
  io::WriteFileAtomic(options.out_dir / "index.html",
                      IndexHtml(loaded, r, options, stems));
  return r;
}

}  // namespace tokrl::report
