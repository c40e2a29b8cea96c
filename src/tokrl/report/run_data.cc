#include "tokrl/report/run_data.h"

#include <toml++/toml.h>

#include <algorithm>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <system_error>
#include <tuple>
#include <utility>

#include "tokrl/core/check.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/io/run_dir.h"

namespace tokrl::report {
namespace fs = std::filesystem;
namespace {

std::string Quote(const fs::path& path) {
  std::string out = "'";
  out.append(path.string()).append("'");
  return out;
}

std::string Join(const std::vector<std::string>& items,
                 const std::string& sep = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.append(sep);
    out.append(items[i]);
  }
  return out;
}

bool IsRunDir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / io::run_dir::kConfig, ec);
}

// Depth-first, in sorted order so the result does not depend on the file
// system's listing order. Unreadable folders are skipped: a sweep folder may
// hold other people's files, and a search is not the place to fail on them.
void Search(const fs::path& dir, int depth_left, std::vector<fs::path>& out) {
  if (IsRunDir(dir)) {
    out.push_back(dir);
    return;  // never look inside a run (checkpoint/ etc.)
  }
  if (depth_left <= 0) return;
  std::error_code ec;
  std::vector<fs::path> children;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_directory(type_ec)) children.push_back(it->path());
  }
  std::sort(children.begin(), children.end());
  for (const auto& child : children) Search(child, depth_left - 1, out);
}

std::string TomlString(const toml::table& table, std::string_view key,
                       std::string fallback = "") {
  const auto node = table.at_path(key);
  if (!node) return fallback;
  if (auto s = node.value<std::string>()) return *s;
  return fallback;
}

int64_t TomlInt(const toml::table& table, std::string_view key,
                int64_t fallback) {
  const auto node = table.at_path(key);
  if (!node) return fallback;
  if (auto v = node.value<int64_t>()) return *v;
  return fallback;
}

// A metrics line whose step is not after the previous one comes from a
// resumed run that re-logged steps after its last checkpoint: the later rows
// supersede the earlier ones, so drop every point at or after that step.
void Append(Curve& curve, int64_t step, double value) {
  while (!curve.steps.empty() && curve.steps.back() >= step) {
    curve.steps.pop_back();
    curve.values.pop_back();
  }
  curve.steps.push_back(step);
  curve.values.push_back(value);
}

void LoadMetrics(const fs::path& file, const std::string& metric, bool complete,
                 RunData& run) {
  const std::string text = io::ReadFile(file);
  std::set<std::string> seen;
  size_t pos = 0;
  int line_number = 0;
  while (pos < text.size()) {
    ++line_number;
    size_t end = text.find('\n', pos);
    const bool terminated = end != std::string::npos;
    if (!terminated) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      // parse_error, or out_of_range for a number beyond a double (1e400).
      // A run that is still training may be caught mid-write: an
      // unterminated last line is skipped, not an error.
      if (!terminated && !complete) {
        std::string warning = file.string();
        warning.append(":")
            .append(std::to_string(line_number))
            .append(
                ": skipped the unterminated last line (run still "
                "writing?)");
        run.warnings.push_back(warning);
        break;
      }
      TOKRL_FAIL() << file.string() << ":" << line_number
                   << ": malformed JSON: " << e.what();
    }
    if (!row.is_object()) {
      TOKRL_FAIL() << file.string() << ":" << line_number
                   << ": expected a JSON object";
    }
    const auto step_it = row.find("step");
    if (step_it == row.end() || !step_it->is_number()) {
      TOKRL_FAIL() << file.string() << ":" << line_number
                   << ": missing or non-numeric \"step\"";
    }
    // Only a non-negative integer that fits int64 is a step (casting 1e300
    // or 2^64-1 would be undefined behaviour).
    if (!step_it->is_number_integer() ||
        (step_it->is_number_unsigned() &&
         step_it->get<uint64_t>() >
             static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) ||
        (!step_it->is_number_unsigned() && step_it->get<int64_t>() < 0)) {
      TOKRL_FAIL() << file.string() << ":" << line_number << ": \"step\" "
                   << step_it->dump()
                   << " is not a non-negative integer of at most 2^63-1";
    }
    const int64_t step = step_it->get<int64_t>();
    for (const auto& [key, value] : row.items()) {
      if (key == "step") continue;
      seen.insert(key);
      // Non-numbers (null: a NaN the logger could not write) carry no score.
      if (!value.is_number()) continue;
      if (key == metric) Append(run.curve, step, value.get<double>());
      if (key.rfind("stats/", 0) == 0) {
        Append(run.analysis[key], step, value.get<double>());
      }
    }
  }
  run.metrics_seen.assign(seen.begin(), seen.end());
}

// summary.json's "variant" ("" when it has none: runs from before it was
// recorded).
std::string SummaryVariant(const fs::path& file) {
  nlohmann::json summary;
  try {
    summary = nlohmann::json::parse(io::ReadFile(file));
  } catch (const nlohmann::json::exception& e) {
    TOKRL_FAIL() << file.string() << ": malformed JSON: " << e.what();
  }
  const auto it = summary.is_object() ? summary.find("variant") : summary.end();
  if (it == summary.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

std::vector<fs::path> FindRunDirs(const std::vector<fs::path>& paths,
                                  int max_depth) {
  if (paths.empty()) {
    TOKRL_FAIL() << "no run directories given";
  }
  std::vector<fs::path> found;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      TOKRL_FAIL() << "no such run directory or folder: " << Quote(path);
    }
    if (!fs::is_directory(path, ec)) {
      TOKRL_FAIL() << Quote(path)
                   << " is not a directory (pass run directories or folders "
                      "holding them)";
    }
    Search(path, max_depth, found);
  }
  // The same run reached twice (a folder and its subfolder, a symlink) is
  // one run.
  std::vector<fs::path> unique;
  std::set<fs::path> canonical;
  for (const auto& dir : found) {
    std::error_code ec;
    fs::path key = fs::weakly_canonical(dir, ec);
    if (ec) key = dir;
    if (canonical.insert(key).second) unique.push_back(dir);
  }
  if (unique.empty()) {
    std::vector<std::string> names;
    for (const auto& p : paths) names.push_back(Quote(p));
    TOKRL_FAIL() << "no run directories (folders with config.toml) found in "
                 << Join(names) << " (searched " << max_depth
                 << " levels deep)";
  }
  std::sort(unique.begin(), unique.end());
  return unique;
}

RunData LoadRun(const fs::path& dir, const std::string& metric) {
  RunData run;
  run.dir = dir;
  const fs::path config_file = dir / io::run_dir::kConfig;
  toml::table config;
  try {
    config = toml::parse(io::ReadFile(config_file), config_file.string());
  } catch (const toml::parse_error& e) {
    TOKRL_FAIL() << "malformed TOML in " << config_file.string() << " at line "
                 << e.source().begin.line << ": " << e.description();
  }
  run.env_id = TomlString(config, "env.id");
  if (run.env_id.empty()) {
    TOKRL_FAIL() << config_file.string()
                 << ": missing env.id (is this a tokrl run directory?)";
  }
  run.game = stats::GameOfEnv(run.env_id);
  const int64_t seed = TomlInt(config, "train.seed", 0);
  if (seed < 0) TOKRL_FAIL() << config_file.string() << ": negative train.seed";
  run.seed = static_cast<uint64_t>(seed);
  run.total_steps = TomlInt(config, "train.total_steps", 0);
  run.experiment = TomlString(config, "experiment.name");
  run.variant = TomlString(config, "experiment.variant");
  std::error_code ec;
  run.complete = fs::is_regular_file(dir / io::run_dir::kSummary, ec);
  if (run.complete) {
    const std::string label = SummaryVariant(dir / io::run_dir::kSummary);
    if (!label.empty()) run.variant = label;
  }
  if (run.variant.empty()) run.variant = "unlabelled";
  LoadMetrics(dir / io::run_dir::kMetricsJsonl, metric, run.complete, run);
  if (!run.curve.values.empty()) run.final_score = run.curve.values.back();
  return run;
}

LoadedRuns LoadRuns(const std::vector<fs::path>& paths,
                    const LoadOptions& options) {
  if (options.metric.empty()) {
    TOKRL_FAIL() << "empty metric name";
  }
  LoadedRuns out;
  int skipped = 0;
  for (const auto& dir : FindRunDirs(paths)) {
    RunData run = LoadRun(dir, options.metric);
    for (auto& w : run.warnings) out.warnings.push_back(std::move(w));
    run.warnings.clear();
    if (!run.complete && !options.include_incomplete) {
      ++skipped;
      out.warnings.push_back("skipped unfinished run " + dir.string() +
                             " (no summary.json; --include-incomplete keeps "
                             "it)");
      continue;
    }
    const bool only_nulls =
        std::find(run.metrics_seen.begin(), run.metrics_seen.end(),
                  options.metric) != run.metrics_seen.end();
    if (run.curve.values.empty() && only_nulls) {
      TOKRL_FAIL() << "run " << dir.string() << " logged metric '"
                   << options.metric
                   << "' only as null (undefined: e.g. no training episode "
                      "had ended yet); choose another with --metric, e.g. "
                      "eval/return_mean";
    }
    if (run.curve.values.empty()) {
      TOKRL_FAIL() << "run " << dir.string() << " never logged metric '"
                   << options.metric << "'; it logged: "
                   << (run.metrics_seen.empty() ? std::string("nothing")
                                                : Join(run.metrics_seen))
                   << " (choose one with --metric)";
    }
    out.runs.push_back(std::move(run));
  }
  if (out.runs.empty()) {
    TOKRL_FAIL() << "all " << skipped
                 << " runs found are unfinished (no summary.json); pass "
                    "--include-incomplete to report on them anyway";
  }
  std::sort(out.runs.begin(), out.runs.end(),
            [](const RunData& a, const RunData& b) {
              return std::tie(a.variant, a.game, a.seed, a.dir) <
                     std::tie(b.variant, b.game, b.seed, b.dir);
            });
  return out;
}

std::optional<stats::Normalization> ParseNormalizationOption(
    std::string_view name) {
  if (name == "auto") return std::nullopt;
  try {
    return stats::ParseNormalization(name);
  } catch (const Error&) {
    // stats lists its tables; "auto" is this layer's addition.
    TOKRL_FAIL() << "unknown normalization '" << name
                 << "' (choices: auto, none, minatar, atari-human)";
  }
  return std::nullopt;
}

Grouping GroupRuns(const std::vector<RunData>& runs,
                   const std::string& normalization) {
  if (runs.empty()) {
    TOKRL_FAIL() << "no runs to group";
  }
  Grouping g;
  const std::optional<stats::Normalization> table =
      ParseNormalizationOption(normalization);
  if (!table) {
    // Every run must map to the same table: a MinAtar-normalized breakout
    // next to a raw toy/catch return would be meaningless in one aggregate.
    const stats::Normalization first =
        stats::NormalizationForEnv(runs.front().env_id);
    for (const auto& run : runs) {
      const stats::Normalization n = stats::NormalizationForEnv(run.env_id);
      if (n != first) {
        TOKRL_FAIL() << "--normalization auto: the runs use different score "
                        "tables: "
                     << stats::NormalizationName(first) << " ("
                     << runs.front().env_id << " in "
                     << runs.front().dir.string() << ") and "
                     << stats::NormalizationName(n) << " (" << run.env_id
                     << " in " << run.dir.string()
                     << "); pick one with --normalization "
                        "none|minatar|atari-human or report them separately";
      }
    }
    g.normalization = first;
  } else {
    g.normalization = *table;
  }

  // variant -> game -> seed -> run index.
  std::map<std::string, std::map<std::string, std::map<uint64_t, size_t>>>
      by_variant;
  std::map<std::string, std::set<std::string>> env_ids_of_game;
  std::map<std::string, std::string> env_of_game;
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunData& run = runs[i];
    auto [it, inserted] =
        by_variant[run.variant][run.game].emplace(run.seed, i);
    if (!inserted) {
      TOKRL_FAIL() << "two runs of variant '" << run.variant << "', game "
                   << run.game << ", seed " << run.seed << ": "
                   << runs[it->second].dir.string() << " and "
                   << run.dir.string()
                   << " (give them different experiment.variant labels or "
                      "pass only one)";
    }
    env_ids_of_game[run.game].insert(run.env_id);
    env_of_game.emplace(run.game, run.env_id);
  }
  for (const auto& [game, ids] : env_ids_of_game) {
    g.games.push_back(game);
    g.ranges.push_back(
        stats::ScoreRangeFor(g.normalization, env_of_game[game]));
    if (ids.size() > 1) {
      std::vector<std::string> list(ids.begin(), ids.end());
      g.warnings.push_back("game " + game +
                           " is pooled over different env ids: " + Join(list));
    }
  }

  for (const auto& [variant, games] : by_variant) {
    std::vector<std::string> missing;
    for (const auto& game : g.games) {
      if (!games.count(game)) missing.push_back(game);
    }
    if (!missing.empty()) {
      TOKRL_FAIL() << "variant '" << variant << "' has no runs of "
                   << Join(missing) << "; every variant needs every game ("
                   << Join(g.games)
                   << ") for a common score matrix: pass only the runs to "
                      "compare";
    }
    // Seeds present in every game.
    std::vector<uint64_t> seeds;
    for (const auto& [seed, index] : games.begin()->second) {
      bool everywhere = true;
      for (const auto& [game, by_seed] : games) {
        everywhere = everywhere && by_seed.count(seed) > 0;
      }
      if (everywhere) seeds.push_back(seed);
    }
    if (seeds.empty()) {
      TOKRL_FAIL() << "variant '" << variant
                   << "' has no seed that ran on every game (" << Join(g.games)
                   << "), so it has no complete row for the score matrix";
    }
    std::vector<std::string> dropped;
    for (const auto& [game, by_seed] : games) {
      for (const auto& [seed, index] : by_seed) {
        if (!std::binary_search(seeds.begin(), seeds.end(), seed)) {
          dropped.push_back(game + " seed " + std::to_string(seed) + " (" +
                            runs[index].dir.string() + ")");
        }
      }
    }
    if (!dropped.empty()) {
      g.warnings.push_back(
          "variant '" + variant + "': dropped " +
          std::to_string(dropped.size()) +
          " run(s) whose seed is missing from another game (rliable needs "
          "the same runs in every game): " +
          Join(dropped));
    }
    VariantScores v;
    v.name = variant;
    v.seeds = seeds;
    std::vector<double> raw, normalized;
    for (uint64_t seed : seeds) {
      std::vector<size_t> row;
      for (size_t t = 0; t < g.games.size(); ++t) {
        const size_t index = games.at(g.games[t]).at(seed);
        row.push_back(index);
        raw.push_back(runs[index].final_score);
        normalized.push_back(
            stats::Normalize(runs[index].final_score, g.ranges[t]));
      }
      v.runs.push_back(std::move(row));
    }
    const auto n_runs = static_cast<int64_t>(seeds.size());
    const auto n_games = static_cast<int64_t>(g.games.size());
    v.raw = stats::ScoreMatrix(n_runs, n_games, std::move(raw));
    v.normalized = stats::ScoreMatrix(n_runs, n_games, std::move(normalized));
    g.variants.push_back(std::move(v));
  }
  return g;
}

}  // namespace tokrl::report
