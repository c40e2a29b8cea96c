#include "tokrl/report/render.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokrl/report/plots.h"
#include "tokrl/stats/aggregate.h"

#ifndef TOKRL_VERSION
#define TOKRL_VERSION "unknown"
#endif

namespace tokrl::report {
namespace fs = std::filesystem;
using stats::Interval;
namespace {

std::string Fixed(double x, int digits = 3) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, x);
  return buffer;
}

// Statistics span many magnitudes (expert gradients ~1e-4, norms ~1e2), so
// the analysis table keeps significant digits rather than decimals.
std::string Significant(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.3g", x);
  return buffer;
}

// "0.512 [0.400, 0.600]", the form of every CI in the tables.
std::string FormatCi(const Interval& ci) {
  std::string out = Fixed(ci.point);
  out.append(" [")
      .append(Fixed(ci.lower))
      .append(", ")
      .append(Fixed(ci.upper))
      .append("]");
  return out;
}

std::string Html(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out.append("&amp;");
        break;
      case '<':
        out.append("&lt;");
        break;
      case '>':
        out.append("&gt;");
        break;
      case '"':
        out.append("&quot;");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Markdown table cells: a '|' would end the cell.
// Text for a markdown table cell: no raw HTML (Html's entities), no markup
// (\ ` * [ ] | escaped), one line.
std::string Md(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      out.push_back(' ');
    } else if (std::string_view("\\`*[]|").find(c) != std::string_view::npos) {
      out.push_back('\\');
      out.push_back(c);
    } else {
      out.append(Html(std::string_view(&c, 1)));
    }
  }
  return out;
}

std::string AxisLabel(stats::Normalization n) {
  switch (n) {
    case stats::Normalization::kMinAtar:
      return "MinAtar-normalized score";
    case stats::Normalization::kAtariHuman:
      return "human-normalized score";
    case stats::Normalization::kNone:
      break;
  }
  return "score (not normalized)";
}

std::string NormalizationDescription(stats::Normalization n) {
  switch (n) {
    case stats::Normalization::kMinAtar:
      return "MinAtar-normalized: (score - random) / (reference - random), "
             "0 = uniform-random policy, 1 = DQN's final return in the "
             "MinAtar paper (Young & Tian 2019)";
    case stats::Normalization::kAtariHuman:
      return "human-normalized: (score - random) / (human - random), the "
             "Atari-57 random and human scores (Mnih et al. 2015)";
    case stats::Normalization::kNone:
      break;
  }
  return "none: raw scores";
}

// A plotted line with its shaded CI band: y = point, band = [lower, upper].
Series IntervalSeries(const std::string& name, const std::string& color,
                      const std::vector<double>& x,
                      const std::vector<Interval>& intervals) {
  Series s;
  s.name = name;
  s.color = color;
  s.x = x;
  for (const auto& ci : intervals) {
    s.y.push_back(ci.point);
    s.lower.push_back(ci.lower);
    s.upper.push_back(ci.upper);
  }
  return s;
}

nlohmann::json IntervalJson(const Interval& ci) {
  return {{"lower", ci.lower}, {"point", ci.point}, {"upper", ci.upper}};
}

}  // namespace

std::vector<fs::path> WritePlots(const ReportResults& r,
                                 const ReportOptions& options,
                                 const fs::path& dir,
                                 std::vector<std::string>& stems) {
  const Grouping& g = r.grouping;
  std::vector<fs::path> scripts;
  const std::string axis = AxisLabel(g.normalization);

  IntervalPlot agg;
  agg.name = "aggregates";
  agg.title = "Aggregate metrics (" +
              Fixed(options.bootstrap.coverage * 100, 0) +
              "% stratified bootstrap CIs)";
  agg.xlabel = axis;
  for (auto a : stats::kAllAggregates) {
    agg.panels.emplace_back(stats::AggregateName(a));
  }
  for (const auto& v : r.variants)
    agg.rows.push_back({v.name, v.color, v.aggregates});
  scripts.push_back(WriteIntervalPlot(dir, agg));
  stems.push_back(agg.name);

  LinePlot profile;
  profile.name = "profile";
  profile.title = "Performance profiles (shaded: " +
                  Fixed(options.bootstrap.coverage * 100, 0) + "% CI)";
  profile.xlabel = axis + " (tau)";
  profile.ylabel = "fraction of runs with score > tau";
  profile.ymin = 0;
  profile.ymax = 1.02;
  for (const auto& v : r.variants) {
    profile.series.push_back(
        IntervalSeries(v.name, v.color, r.taus, v.profile));
  }
  scripts.push_back(WriteLinePlot(dir, profile));
  stems.push_back(profile.name);

  bool any_iqm = false;
  for (const auto& v : r.variants) any_iqm = any_iqm || !v.iqm_steps.empty();
  if (any_iqm) {
    LinePlot iqm;
    iqm.name = "iqm_curve";
    iqm.title = "IQM over training (shaded: " +
                Fixed(options.bootstrap.coverage * 100, 0) + "% CI)";
    iqm.xlabel = "env steps";
    iqm.ylabel = "IQM of " + axis;
    iqm.xformat = "%.1s%c";
    for (const auto& v : r.variants) {
      iqm.series.push_back(
          IntervalSeries(v.name, v.color, v.iqm_steps, v.iqm_curve));
    }
    scripts.push_back(WriteLinePlot(dir, iqm));
    stems.push_back(iqm.name);
  }

  for (size_t t = 0; t < g.games.size(); ++t) {
    LinePlot curve;
    curve.name = SafeFileName("curve_" + g.games[t]);
    size_t max_seeds = 0;
    for (size_t k = 0; k < g.variants.size(); ++k) {
      const VariantResult& v = r.variants[k];
      max_seeds = std::max(max_seeds, g.variants[k].runs.size());
      const CurveBand& band = v.curves[t];
      curve.series.push_back({.name = v.name,
                              .color = v.color,
                              .x = band.steps,
                              .y = band.mean,
                              .lower = band.lower,
                              .upper = band.upper});
    }
    curve.title = g.games[t];
    curve.title.append("\nline: mean over seeds (up to ")
        .append(std::to_string(max_seeds))
        .append("), shaded: min..max");
    curve.xlabel = "env steps";
    curve.ylabel = options.metric;
    curve.xformat = "%.1s%c";
    scripts.push_back(WriteLinePlot(dir, curve));
    stems.push_back(curve.name);
  }

  for (const AnalysisCurve& a : r.analysis) {
    LinePlot plot;
    plot.name = SafeFileName(a.metric);
    for (size_t k = 0; k < r.variants.size(); ++k) {
      const CurveBand& band = a.variants[k];
      if (band.steps.empty()) continue;
      plot.series.push_back({.name = r.variants[k].name,
                             .color = r.variants[k].color,
                             .x = band.steps,
                             .y = band.mean,
                             .lower = band.lower,
                             .upper = band.upper});
    }
    plot.title = a.metric +
                 "\nline: mean over runs (games x seeds), "
                 "shaded: min..max";
    plot.xlabel = "env steps";
    plot.ylabel = a.metric;
    plot.xformat = "%.1s%c";
    scripts.push_back(WriteLinePlot(dir, plot));
    stems.push_back(plot.name);
  }
  return scripts;
}

std::string SummaryMarkdown(const ReportResults& r,
                            const ReportOptions& options) {
  const Grouping& g = r.grouping;
  std::ostringstream md;
  md << "# tokrl report\n\n"
     << "Metric `" << options.metric
     << "` (final score = its last logged value); normalization "
     << stats::NormalizationName(g.normalization) << " ("
     << NormalizationDescription(g.normalization) << ").\n"
     << r.num_runs << " runs, " << g.games.size() << " games (" <<
      [&] {
        std::string s;
        for (size_t i = 0; i < g.games.size(); ++i) {
          s.append(i ? ", " : "").append(g.games[i]);
        }
        return s;
      }()
     << "), " << g.variants.size() << " variants. "
     << Fixed(options.bootstrap.coverage * 100, 0) << "% CIs from "
     << options.bootstrap.reps << " stratified bootstrap replicates (seed "
     << options.bootstrap.seed << "), shown as point [lower, upper].\n\n";
  md << "| Variant | Runs | Games |";
  for (auto a : stats::kAllAggregates)
    md << " " << stats::AggregateName(a) << " |";
  md << " P(improvement) vs " << Md(r.baseline) << " |\n|---|---:|---:|";
  for (size_t i = 0; i < std::size(stats::kAllAggregates) + 1; ++i)
    md << "---|";
  md << "\n";
  for (size_t k = 0; k < r.variants.size(); ++k) {
    const auto& v = r.variants[k];
    md << "| " << Md(v.name) << " | " << g.variants[k].runs.size() << " | "
       << g.games.size() << " |";
    for (const auto& ci : v.aggregates) md << " " << FormatCi(ci) << " |";
    md << " " << (v.improvement ? FormatCi(*v.improvement) : "(baseline)")
       << " |\n";
  }
  md << "\nOptimality gap: lower is better. P(improvement) = P(variant > "
        "baseline) on a random game and pair of runs.\n\n";
  md << "## Final score per game (raw " << options.metric
     << ": mean over seeds [min, max])\n\n| Variant |";
  for (const auto& game : g.games) md << " " << Md(game) << " |";
  md << "\n|---|";
  for (size_t t = 0; t < g.games.size(); ++t) md << "---|";
  md << "\n";
  for (const auto& v : r.variants) {
    md << "| " << Md(v.name) << " |";
    for (const GameScore& score : v.per_game) {
      md << " " << Fixed(score.mean) << " [" << Fixed(score.min) << ", "
         << Fixed(score.max) << "] |";
    }
    md << "\n";
  }
  if (!r.analysis.empty()) {
    md << "\n## Network statistics (last logged value: mean over runs "
          "[min, max]; see nn/network_stats.h)\n\n| Statistic |";
    for (const auto& v : r.variants) md << " " << Md(v.name) << " |";
    md << "\n|---|";
    for (size_t k = 0; k < r.variants.size(); ++k) md << "---|";
    md << "\n";
    for (const AnalysisCurve& a : r.analysis) {
      md << "| " << Md(a.metric) << " |";
      for (const CurveBand& band : a.variants) {
        if (band.steps.empty()) {
          md << " - |";
        } else {
          md << " " << Significant(band.mean.back()) << " ["
             << Significant(band.lower.back()) << ", "
             << Significant(band.upper.back()) << "] |";
        }
      }
      md << "\n";
    }
  }
  if (!r.warnings.empty()) {
    md << "\n## Warnings\n\n";
    for (const auto& w : r.warnings) md << "- " << Md(w) << "\n";
  }
  return md.str();
}

std::string ResultsJson(const LoadedRuns& loaded, const ReportResults& r,
                        const ReportOptions& options) {
  const Grouping& g = r.grouping;
  nlohmann::json j;
  j["tokrl_version"] = TOKRL_VERSION;
  j["metric"] = options.metric;
  j["final_score"] = "last logged value of the metric";
  nlohmann::json ranges = nlohmann::json::object();
  for (size_t t = 0; t < g.games.size(); ++t) {
    ranges[g.games[t]] = {{"random", g.ranges[t].random},
                          {"reference", g.ranges[t].reference}};
  }
  j["normalization"] = {
      {"table", std::string(stats::NormalizationName(g.normalization))},
      {"description", NormalizationDescription(g.normalization)},
      {"ranges", ranges}};
  j["bootstrap"] = {
      {"method", "stratified bootstrap, percentile"},
      {"reps", options.bootstrap.reps},
      {"coverage", options.bootstrap.coverage},
      {"seed", options.bootstrap.seed},
      {"iqm_curve_reps", std::min(options.bootstrap.reps, kCurveReps)}};
  j["games"] = g.games;
  j["baseline"] = r.baseline;
  j["profile_taus"] = r.taus;
  nlohmann::json variants = nlohmann::json::array();
  for (size_t k = 0; k < r.variants.size(); ++k) {
    const VariantResult& v = r.variants[k];
    const VariantScores& s = g.variants[k];
    nlohmann::json jv;
    jv["name"] = v.name;
    jv["color"] = v.color;
    jv["seeds"] = s.seeds;
    jv["runs"] = s.runs.size();
    nlohmann::json aggregates = nlohmann::json::object();
    for (size_t a = 0; a < std::size(stats::kAllAggregates); ++a) {
      aggregates[std::string(stats::AggregateName(stats::kAllAggregates[a]))] =
          IntervalJson(v.aggregates[a]);
    }
    jv["aggregates"] = aggregates;
    if (v.improvement) {
      nlohmann::json p = IntervalJson(*v.improvement);
      p["vs"] = r.baseline;
      jv["probability_of_improvement"] = p;
    } else {
      jv["probability_of_improvement"] = nullptr;
    }
    nlohmann::json per_game = nlohmann::json::object();
    for (int64_t t = 0; t < s.raw.tasks(); ++t) {
      per_game[g.games[static_cast<size_t>(t)]] = {
          {"raw", s.raw.Task(t)}, {"normalized", s.normalized.Task(t)}};
    }
    jv["per_game"] = per_game;
    nlohmann::json profile = nlohmann::json::array();
    for (const auto& ci : v.profile) profile.push_back(IntervalJson(ci));
    jv["profile"] = profile;
    nlohmann::json curve = nlohmann::json::array();
    for (size_t i = 0; i < v.iqm_steps.size(); ++i) {
      nlohmann::json point = IntervalJson(v.iqm_curve[i]);
      point["step"] = v.iqm_steps[i];
      curve.push_back(point);
    }
    jv["iqm_curve"] = curve;
    variants.push_back(jv);
  }
  j["variants"] = variants;
  nlohmann::json analysis = nlohmann::json::object();
  for (const AnalysisCurve& a : r.analysis) {
    nlohmann::json per_variant = nlohmann::json::object();
    for (size_t k = 0; k < r.variants.size(); ++k) {
      const CurveBand& band = a.variants[k];
      if (band.steps.empty()) continue;
      per_variant[r.variants[k].name] = {{"steps", band.steps},
                                         {"mean", band.mean},
                                         {"min", band.lower},
                                         {"max", band.upper},
                                         {"runs", band.count}};
    }
    analysis[a.metric] = per_variant;
  }
  j["analysis"] = analysis;
  nlohmann::json runs = nlohmann::json::array();
  for (size_t i = 0; i < loaded.runs.size(); ++i) {
    const RunData& run = loaded.runs[i];
    runs.push_back({{"dir", run.dir.string()},
                    {"env_id", run.env_id},
                    {"game", run.game},
                    {"variant", run.variant},
                    {"seed", run.seed},
                    {"final_score", run.final_score},
                    {"last_step", run.curve.steps.back()},
                    {"complete", run.complete},
                    {"used", r.used[i]}});
  }
  j["runs"] = runs;
  j["warnings"] = r.warnings;
  j["files"] = r.files;
  return j.dump(2) + "\n";
}

std::string IndexHtml(const LoadedRuns& loaded, const ReportResults& r,
                      const ReportOptions& options,
                      const std::vector<std::string>& stems) {
  const Grouping& g = r.grouping;
  std::ostringstream h;
  const std::string coverage = Fixed(options.bootstrap.coverage * 100, 0);
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<title>tokrl report</title>\n<style>\n"
    << "body{font-family:Arial,Helvetica,sans-serif;margin:2em;color:#222;"
       "max-width:1400px}\n"
    << "table{border-collapse:collapse;margin:1em 0}\n"
    << "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right;"
       "white-space:nowrap}\n"
    << "th:first-child,td:first-child{text-align:left}\n"
    << "th{background:#f3f3f3}\n"
    << ".swatch{display:inline-block;width:12px;height:12px;margin-right:6px;"
       "vertical-align:middle}\n"
    << ".plots{display:flex;flex-wrap:wrap;gap:12px}\n"
    << "figure{margin:0;flex:1 1 560px;max-width:680px}\n"
    << "figure.wide{flex-basis:100%;max-width:100%}\n"
    << "figcaption{font-size:90%;color:#555}\n"
    << "img{max-width:100%;height:auto;border:1px solid #eee}\n"
    << ".warn{color:#a05000}\ncode{background:#f6f6f6;padding:0 3px}\n"
    << "</style>\n"
    // Counts the plots that rendered, for tests/report/browser_test.sh.
    << "<script>\nwindow.addEventListener('load', function () {\n"
    << "  var imgs = document.getElementsByTagName('img'), n = 0;\n"
    << "  for (var i = 0; i < imgs.length; i++) {\n"
    << "    if (imgs[i].complete && imgs[i].naturalWidth > 0) n++;\n"
    << "  }\n"
    << "  document.body.setAttribute('data-plots-loaded', String(n));\n"
    << "});\n</script>\n</head>\n"
    << "<body data-plots-total=\"" << stems.size() << "\">\n"
    << "<h1>tokrl report</h1>\n<ul>\n"
    << "<li>Metric: <code>" << Html(options.metric)
    << "</code>; a run's final score is its last logged value (for "
       "<code>train/episode_return</code> already the mean of the last 100 "
       "episodes).</li>\n"
    << "<li>Normalization: <b>" << stats::NormalizationName(g.normalization)
    << "</b>, " << Html(NormalizationDescription(g.normalization)) << ".</li>\n"
    << "<li>" << r.num_runs << " runs, " << g.games.size() << " games, "
    << g.variants.size() << " variants (" << loaded.runs.size()
    << " runs loaded).</li>\n"
    << "<li>" << coverage << "% confidence intervals: stratified bootstrap "
    << "(percentile), " << options.bootstrap.reps << " replicates, seed "
    << options.bootstrap.seed
    << " (IQM over training: " << std::min(options.bootstrap.reps, kCurveReps)
    << ").</li>\n"
    << "<li>Baseline for P(improvement): <b>" << Html(r.baseline)
    << "</b>.</li>\n"
    << "<li>Files: <a href=\"summary.md\">summary.md</a>, "
    << "<a href=\"results.json\">results.json</a>, plot scripts and data in "
    << "<code>plots/</code> (re-run with <code>gnuplot NAME.gp</code>).</li>\n"
    << "</ul>\n";
  if (!r.warnings.empty()) {
    h << "<h2>Warnings</h2>\n<ul class=\"warn\">\n";
    for (const auto& w : r.warnings) h << "<li>" << Html(w) << "</li>\n";
    h << "</ul>\n";
  }
  h << "<h2>Aggregate metrics</h2>\n<table>\n<tr><th>Variant</th><th>Runs</th>"
    << "<th>Games</th>";
  for (auto a : stats::kAllAggregates) {
    h << "<th>" << Html(stats::AggregateName(a)) << "</th>";
  }
  h << "<th>P(improvement) vs " << Html(r.baseline) << "</th></tr>\n";
  for (size_t k = 0; k < r.variants.size(); ++k) {
    const auto& v = r.variants[k];
    h << "<tr><td><span class=\"swatch\" style=\"background:" << v.color
      << "\"></span>" << Html(v.name) << "</td><td>"
      << g.variants[k].runs.size() << "</td><td>" << g.games.size() << "</td>";
    for (const auto& ci : v.aggregates) h << "<td>" << FormatCi(ci) << "</td>";
    h << "<td>" << (v.improvement ? FormatCi(*v.improvement) : "baseline")
      << "</td></tr>\n";
  }
  h << "</table>\n<p>Point estimate [" << coverage
    << "% CI]. Optimality gap: lower is better.</p>\n";

  auto figure = [&h](const std::string& stem, const std::string& caption) {
    h << "<figure" << (stem == "aggregates" ? " class=\"wide\"" : "")
      << "><a href=\"plots/" << stem << ".png\"><img src=\"plots/" << stem
      << ".svg\" alt=\"" << Html(caption) << "\"></a><figcaption>"
      << Html(caption) << "</figcaption></figure>\n";
  };
  auto has = [&stems](const std::string& stem) {
    return std::find(stems.begin(), stems.end(), stem) != stems.end();
  };
  if (!stems.empty()) {
    h << "<h2>Plots</h2>\n<div class=\"plots\">\n";
    if (has("aggregates")) {
      figure("aggregates", "Median, IQM, mean and optimality gap with " +
                               coverage + "% CIs (rliable interval estimates)");
    }
    if (has("profile")) {
      figure("profile",
             "Performance profiles: fraction of runs above each normalized "
             "score tau, with CIs");
    }
    if (has("iqm_curve")) {
      figure("iqm_curve",
             "IQM of the normalized metric over training, at the steps all "
             "runs logged");
    }
    h << "</div>\n<h2>Learning curves</h2>\n<div class=\"plots\">\n";
    for (const auto& game : g.games) {
      const std::string stem = SafeFileName("curve_" + game);
      if (has(stem)) {
        figure(stem, game + ": " + options.metric +
                         ", mean over seeds, shaded min..max");
      }
    }
    h << "</div>\n";
    if (!r.analysis.empty()) {
      h << "<h2>Network statistics</h2>\n<div class=\"plots\">\n";
      for (const AnalysisCurve& a : r.analysis) {
        const std::string stem = SafeFileName(a.metric);
        if (has(stem)) {
          figure(stem, a.metric +
                           ": mean over runs (games x seeds), shaded min..max");
        }
      }
      h << "</div>\n";
    }
  } else {
    h << "<p>Plots were not drawn (--no-plots).</p>\n";
  }

  h << "<h2>Final score per game</h2>\n<p>Raw " << Html(options.metric)
    << ": mean over seeds [min, max]; normalization range (random, "
       "reference) in the header.</p>\n<table>\n<tr><th>Variant</th>";
  for (size_t t = 0; t < g.games.size(); ++t) {
    h << "<th>" << Html(g.games[t]) << "<br><small>("
      << Fixed(g.ranges[t].random, 2) << ", " << Fixed(g.ranges[t].reference, 2)
      << ")</small></th>";
  }
  h << "</tr>\n";
  for (const auto& v : r.variants) {
    h << "<tr><td>" << Html(v.name) << "</td>";
    for (const GameScore& score : v.per_game) {
      h << "<td>" << Fixed(score.mean) << " [" << Fixed(score.min) << ", "
        << Fixed(score.max) << "]</td>";
    }
    h << "</tr>\n";
  }
  h << "</table>\n";

  h << "<details><summary>All " << loaded.runs.size()
    << " runs loaded</summary>\n<table>\n<tr><th>Run directory</th>"
       "<th>Variant</th><th>Env</th><th>Seed</th><th>Last step</th>"
       "<th>Final score</th><th>Finished</th><th>Used</th></tr>\n";
  for (size_t i = 0; i < loaded.runs.size(); ++i) {
    const RunData& run = loaded.runs[i];
    h << "<tr><td>" << Html(run.dir.string()) << "</td><td>"
      << Html(run.variant) << "</td><td>" << Html(run.env_id) << "</td><td>"
      << run.seed << "</td><td>" << run.curve.steps.back() << "</td><td>"
      << Fixed(run.final_score) << "</td><td>" << (run.complete ? "yes" : "no")
      << "</td><td>" << (r.used[i] ? "yes" : "no") << "</td></tr>\n";
  }
  h << "</table>\n</details>\n<p><small>Generated by tokrl " << TOKRL_VERSION
    << " report.</small></p>\n</body>\n</html>\n";
  return h.str();
}

}  // namespace tokrl::report
