// Test helpers for src/tokrl/report: fabricated run directories with the
// files `tokrl train` writes (config.toml, metrics.jsonl, summary.json).
// Used by the report tests only.
#ifndef TOKRL_REPORT_TESTING_H_
#define TOKRL_REPORT_TESTING_H_

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "tokrl/core/gtest_helpers.h"

namespace tokrl::report {

struct FakeRun {
  std::string env_id = "minatar/breakout";
  std::string variant;  // experiment.variant ("" = a label derived as the
                        // trainer does, written to summary.json only)
  uint64_t seed = 0;
  std::string agent = "dqn";
  std::string tokenizer = "flatten";
  std::string penultimate = "dense";
  int64_t experts = 4;
  int64_t scale = 1;
  /// (step, train/episode_return); every row also logs train/loss, and an
  /// eval row (eval/return_mean = value + 1) follows each training row.
  std::vector<std::pair<int64_t, double>> curve = {{100, 0.0}, {200, 1.0}};
  bool complete = true;
  /// (step, stats/dormant/tau0) rows, a network statistic.
  std::vector<std::pair<int64_t, double>> dormant;
};

inline void WriteText(const std::filesystem::path& file,
                      const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

inline void WriteFakeRun(const std::filesystem::path& dir, const FakeRun& run) {
  std::filesystem::create_directories(dir);
  std::string config = "# Resolved tokrl training config (every key).\n\n";
  config.append("[agent]\ntype = \"")
      .append(run.agent)
      .append("\"\n\n[env]\nid = \"")
      .append(run.env_id)
      .append("\"\n\n[experiment]\nname = \"test\"\nvariant = \"")
      .append(run.variant)
      .append("\"\n\n[network]\ntokenizer = \"")
      .append(run.tokenizer)
      .append("\"\npenultimate = \"")
      .append(run.penultimate)
      .append("\"\nexperts = ")
      .append(std::to_string(run.experts))
      .append("\nscale = ")
      .append(std::to_string(run.scale))
      .append("\n\n[train]\nseed = ")
      .append(std::to_string(run.seed))
      .append("\ntotal_steps = ")
      .append(std::to_string(run.curve.empty() ? 0 : run.curve.back().first))
      .append("\n");
  WriteText(dir / "config.toml", config);
  std::string metrics;
  for (const auto& [step, value] : run.curve) {
    const std::string s = std::to_string(step);
    metrics.append("{\"step\":").append(s);
    metrics.append(",\"train/episode_return\":").append(std::to_string(value));
    metrics.append(",\"train/loss\":0.5}\n");
    metrics.append("{\"step\":").append(s);
    metrics.append(",\"eval/return_mean\":")
        .append(std::to_string(value + 1))
        .append("}\n");
  }
  for (const auto& [step, value] : run.dormant) {
    metrics.append("{\"step\":").append(std::to_string(step));
    metrics.append(",\"stats/dormant/tau0\":")
        .append(std::to_string(value))
        .append("}\n");
  }
  WriteText(dir / "metrics.jsonl", metrics);
  // The label the trainer writes (its VariantLabel).
  std::string label = run.variant;
  if (label.empty()) {
    label = run.agent + " " + run.tokenizer + "+" + run.penultimate;
    if (run.penultimate == "softmoe" || run.penultimate == "moe")
      label.append(" x").append(std::to_string(run.experts)).append(" experts");
    if (run.scale != 1)
      label.append(" scale").append(std::to_string(run.scale));
  }
  if (run.complete) {
    WriteText(dir / "summary.json",
              "{\"env_steps\": 1, \"variant\": \"" + label + "\"}\n");
  }
}

}  // namespace tokrl::report

#endif  // TOKRL_REPORT_TESTING_H_
