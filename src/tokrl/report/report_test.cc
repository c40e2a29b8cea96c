#include "tokrl/report/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokrl/core/testing.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/report/plots.h"
#include "tokrl/report/testing.h"

namespace tokrl::report {
namespace {

namespace fs = std::filesystem;

// Hand-built case (raw scores, --normalization none), two games:
//   game a: 0, 0.2, 0.6, 1.0, 2.0   (mean 0.76)
//   game b: 1, 1,   1,   1,   1     (mean 1)
// Median = (0.76 + 1) / 2 = 0.88, Mean = 0.88,
// IQM = trim 2 of 10 from each end of
//       0 0.2 | 0.6 1 1 1 1 1 | 1 2  -> 5.6 / 6 = 0.93333,
// Optimality gap = 1 - (0 + 0.2 + 0.6 + 1 + 1 + 5) / 10 = 0.22.
// The second variant scores 5 everywhere: P(it > first) = (1 + 1) / 2... on
// game a 4 of 5 baseline runs are below 5 and 0 tie: P_a = 1, on game b
// P_b = 1, so P = 1.
constexpr double kGameA[] = {0, 0.2, 0.6, 1.0, 2.0};

void WriteHandBuiltRuns(const fs::path& root) {
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const std::string s = std::to_string(seed);
    FakeRun run;
    run.env_id = "toy/a";
    run.variant = "z flatten";
    run.seed = seed;
    run.curve = {{100, -1}, {200, kGameA[seed]}};
    WriteFakeRun(root / "flat" / "a" / s, run);
    run.env_id = "toy/b";
    run.curve = {{100, -1}, {200, 1}};
    WriteFakeRun(root / "flat" / "b" / s, run);
    run.variant = "a tokenized";
    run.curve = {{100, 0}, {200, 5}};
    WriteFakeRun(root / "tok" / "b" / s, run);
    run.env_id = "toy/a";
    WriteFakeRun(root / "tok" / "a" / s, run);
  }
}

ReportOptions SmallOptions(const fs::path& out) {
  ReportOptions options;
  options.out_dir = out;
  options.bootstrap.reps = 500;
  options.bootstrap.seed = 3;
  options.plots = false;
  return options;
}

TEST(ReportTest, MeanOverSeedsInterpolatesInsideEachRun) {
  Curve a{{0, 100, 200}, {0, 10, 20}};
  Curve b{{0, 50, 100}, {2, 4, 6}};
  Curve empty;
  const CurveBand band = MeanOverSeeds({&a, &b, &empty});
  EXPECT_EQ(band.steps, (std::vector<double>{0, 50, 100, 200}));
  // At 50: a interpolates to 5, b logged 4.
  EXPECT_EQ(band.mean, (std::vector<double>{1, 4.5, 8, 20}));
  EXPECT_EQ(band.lower, (std::vector<double>{0, 4, 6, 20}));
  EXPECT_EQ(band.upper, (std::vector<double>{2, 5, 10, 20}));
  // b ends at 100: never extrapolated.
  EXPECT_EQ(band.count, (std::vector<int>{2, 2, 2, 1}));
  EXPECT_TRUE(MeanOverSeeds({}).steps.empty());
}

TEST(ReportTest, HandBuiltAggregates) {
  ScopedTempDir tmp("report_hand");
  WriteHandBuiltRuns(tmp.path() / "runs");
  const LoadedRuns runs = LoadRuns({tmp.path() / "runs"});
  ASSERT_EQ(runs.runs.size(), 20u);
  const ReportResults r = ComputeReport(runs, SmallOptions(tmp.path() / "out"));
  EXPECT_EQ(r.grouping.normalization, stats::Normalization::kNone);
  // "z flatten" is the baseline although it sorts last.
  EXPECT_EQ(r.baseline, "z flatten");
  ASSERT_EQ(r.variants.size(), 2u);
  const VariantResult& flat = r.variants[1];
  EXPECT_EQ(flat.name, "z flatten");
  ASSERT_EQ(flat.aggregates.size(), 4u);
  EXPECT_NEAR(flat.aggregates[0].point, 0.88, 1e-12);     // median
  EXPECT_NEAR(flat.aggregates[1].point, 5.6 / 6, 1e-12);  // IQM
  EXPECT_NEAR(flat.aggregates[2].point, 0.88, 1e-12);     // mean
  EXPECT_NEAR(flat.aggregates[3].point, 0.22, 1e-12);     // optimality gap
  for (const auto& ci : flat.aggregates) {
    EXPECT_LE(ci.lower, ci.point);
    EXPECT_GE(ci.upper, ci.point);
  }
  EXPECT_FALSE(flat.improvement.has_value());
  const VariantResult& tok = r.variants[0];
  ASSERT_TRUE(tok.improvement.has_value());
  EXPECT_DOUBLE_EQ(tok.improvement->point, 1.0);
  EXPECT_EQ(tok.aggregates[1].lower, 5.0);
  EXPECT_EQ(tok.color, VariantColor(0));
  EXPECT_EQ(flat.color, VariantColor(1));

  // Thresholds from 0 to the best score, 41 of them.
  ASSERT_EQ(r.taus.size(), 41u);
  EXPECT_EQ(r.taus.front(), 0);
  EXPECT_EQ(r.taus.back(), 5);
  ASSERT_EQ(flat.profile.size(), 41u);
  EXPECT_DOUBLE_EQ(flat.profile[0].point, 0.9);  // 9 of 10 scores > 0
  EXPECT_DOUBLE_EQ(tok.profile.back().point, 0.0);

  // All runs logged steps 100 and 200: the IQM curve ends at the final IQM.
  ASSERT_EQ(flat.iqm_steps, (std::vector<double>{100, 200}));
  EXPECT_NEAR(flat.iqm_curve.back().point, 5.6 / 6, 1e-12);
  EXPECT_EQ(flat.iqm_curve.front().point, -1);
}

// Network statistics: per variant, pooled over games and seeds; a variant
// that never logged one gets an empty band. Values are small (like an
// expert's mean gradient) so the table must keep significant digits.
TEST(ReportTest, NetworkStatisticsPerVariant) {
  ScopedTempDir tmp("report_analysis");
  const fs::path root = tmp.path() / "runs";
  for (uint64_t seed = 0; seed < 3; ++seed) {
    for (const char* game : {"a", "b"}) {
      FakeRun run;
      run.env_id = std::string("toy/") + game;
      run.seed = seed;
      run.variant = "flat";
      run.dormant = {{100, 0.0}, {200, 1e-4 * static_cast<double>(seed)}};
      WriteFakeRun(root / "flat" / game / std::to_string(seed), run);
      run.variant = "tok";
      run.dormant.clear();
      WriteFakeRun(root / "tok" / game / std::to_string(seed), run);
    }
  }
  const LoadedRuns loaded = LoadRuns({root});
  ReportOptions options = SmallOptions(tmp.path() / "out");
  options.normalization = "none";
  const ReportResults r = WriteReport(loaded, options);
  ASSERT_EQ(r.analysis.size(), 1u);
  EXPECT_EQ(r.analysis[0].metric, "stats/dormant/tau0");
  ASSERT_EQ(r.variants[0].name, "flat");
  const CurveBand& flat = r.analysis[0].variants[0];
  ASSERT_EQ(flat.steps.size(), 2u);
  EXPECT_NEAR(flat.mean.back(), 1e-4, 1e-12);  // (0 + 1e-4 + 2e-4) / 3
  EXPECT_NEAR(flat.lower.back(), 0.0, 1e-12);
  EXPECT_NEAR(flat.upper.back(), 2e-4, 1e-12);
  EXPECT_EQ(flat.count.back(), 6);
  EXPECT_TRUE(r.analysis[0].variants[1].steps.empty());
  const std::string md = io::ReadFile(tmp.path() / "out" / "summary.md");
  EXPECT_NE(md.find("| stats/dormant/tau0 | 0.0001 [0, 0.0002] | - |"),
            std::string::npos)
      << md;
  const auto json =
      nlohmann::json::parse(io::ReadFile(tmp.path() / "out" / "results.json"));
  EXPECT_EQ(json["analysis"]["stats/dormant/tau0"]["flat"]["runs"].back(), 6);
  EXPECT_FALSE(json["analysis"]["stats/dormant/tau0"].contains("tok"));
}

TEST(ReportTest, OptionErrors) {
  ScopedTempDir tmp("report_option_errors");
  WriteHandBuiltRuns(tmp.path() / "runs");
  const LoadedRuns runs = LoadRuns({tmp.path() / "runs"});
  ReportOptions options = SmallOptions(tmp.path() / "out");
  options.baseline = "nope";
  EXPECT_TRUE(Contains(ErrorOf([&] { ComputeReport(runs, options); }),
                       "unknown --baseline 'nope'; the variants are 'a "
                       "tokenized', 'z flatten'"));
  options = SmallOptions(tmp.path() / "out");
  options.bootstrap.reps = 0;
  EXPECT_TRUE(Contains(ErrorOf([&] { ComputeReport(runs, options); }),
                       "--reps must be at least 1"));
  options = SmallOptions(tmp.path() / "out");
  options.bootstrap.coverage = 1.5;
  EXPECT_TRUE(Contains(ErrorOf([&] { ComputeReport(runs, options); }),
                       "--coverage must be in (0, 1)"));
  options = SmallOptions(tmp.path() / "out");
  options.normalization = "minatar";
  EXPECT_NE(ErrorOf([&] { ComputeReport(runs, options); }), "");
  options = SmallOptions("");
  EXPECT_TRUE(Contains(ErrorOf([&] { WriteReport(runs, options); }),
                       "no output folder given"));
}

TEST(ReportTest, WritesTablesAndKeepsOtherFiles) {
  ScopedTempDir tmp("report_write");
  WriteHandBuiltRuns(tmp.path() / "runs");
  // An unfinished run of seed 5: skipped, with a warning in every output.
  FakeRun running;
  running.env_id = "toy/a";
  running.variant = "z flatten";
  running.seed = 5;
  running.complete = false;
  WriteFakeRun(tmp.path() / "runs" / "flat" / "a" / "5", running);
  const fs::path out = tmp.path() / "out";
  fs::create_directories(out / "plots");
  WriteText(out / "notes.txt", "mine");
  WriteText(out / "plots" / "custom.gp", "mine");

  const LoadedRuns runs = LoadRuns({tmp.path() / "runs"});
  ReportOptions options = SmallOptions(out);
  options.baseline = "a tokenized";
  const ReportResults r = WriteReport(runs, options);
  EXPECT_EQ(io::ReadFile(out / "notes.txt"), "mine");
  EXPECT_EQ(io::ReadFile(out / "plots" / "custom.gp"), "mine");
  EXPECT_EQ(r.files, (std::vector<std::string>{"index.html", "summary.md",
                                               "results.json"}));

  const std::string md = io::ReadFile(out / "summary.md");
  EXPECT_TRUE(Contains(md,
                       "| Variant | Runs | Games | Median | IQM | Mean | "
                       "Optimality Gap | P(improvement) vs a tokenized |"));
  EXPECT_TRUE(Contains(md,
                       "| a tokenized | 5 | 2 | 5.000 [5.000, 5.000] | "
                       "5.000 [5.000, 5.000] | 5.000 [5.000, 5.000] | "
                       "0.000 [0.000, 0.000] | (baseline) |"));
  EXPECT_TRUE(Contains(md, "| z flatten | 5 | 2 | 0.880 ["));
  EXPECT_TRUE(Contains(md, "| 0.933 ["));
  EXPECT_TRUE(Contains(md, "| 0.220 ["));
  EXPECT_TRUE(Contains(md, "| 0.000 [0.000, 0.000] |\n"));  // P(flat > tok)
  EXPECT_TRUE(Contains(md, "normalization none"));
  EXPECT_TRUE(Contains(md,
                       "20 runs, 2 games (a, b), 2 variants. 95% CIs from "
                       "500 stratified bootstrap replicates (seed 3)"));
  EXPECT_TRUE(Contains(md,
                       "| z flatten | 0.760 [0.000, 2.000] | 1.000 [1.000, "
                       "1.000] |"));
  EXPECT_TRUE(Contains(md, "skipped unfinished run"));

  const auto j = nlohmann::json::parse(io::ReadFile(out / "results.json"));
  EXPECT_EQ(j["metric"], "train/episode_return");
  EXPECT_EQ(j["normalization"]["table"], "none");
  EXPECT_EQ(j["bootstrap"]["reps"], 500);
  EXPECT_EQ(j["bootstrap"]["seed"], 3);
  EXPECT_EQ(j["baseline"], "a tokenized");
  EXPECT_EQ(j["games"], (std::vector<std::string>{"a", "b"}));
  const auto& flat = j["variants"][1];
  EXPECT_EQ(flat["name"], "z flatten");
  EXPECT_EQ(flat["runs"], 5);
  EXPECT_NEAR(flat["aggregates"]["IQM"]["point"].get<double>(), 5.6 / 6, 1e-12);
  EXPECT_NEAR(flat["aggregates"]["Optimality Gap"]["point"].get<double>(), 0.22,
              1e-12);
  EXPECT_EQ(flat["probability_of_improvement"]["vs"], "a tokenized");
  EXPECT_EQ(flat["probability_of_improvement"]["point"], 0.0);
  EXPECT_TRUE(j["variants"][0]["probability_of_improvement"].is_null());
  EXPECT_EQ(flat["per_game"]["a"]["raw"],
            (std::vector<double>{0, 0.2, 0.6, 1.0, 2.0}));
  EXPECT_EQ(flat["profile"].size(), 41u);
  EXPECT_EQ(flat["iqm_curve"].size(), 2u);
  EXPECT_EQ(j["runs"].size(), 20u);
  EXPECT_EQ(j["warnings"].size(), 1u);

  const std::string html = io::ReadFile(out / "index.html");
  EXPECT_TRUE(Contains(html, "<body data-plots-total=\"0\">"));
  EXPECT_TRUE(Contains(html, "data-plots-loaded"));
  EXPECT_TRUE(Contains(html, "naturalWidth > 0"));
  EXPECT_TRUE(Contains(html, "<td>0.933 ["));
  EXPECT_TRUE(Contains(html, "500 replicates, seed 3"));
  EXPECT_TRUE(Contains(html, "Plots were not drawn"));
  EXPECT_FALSE(Contains(html, "<img"));
}

// Regression (issue 9): variant labels reached summary.md as raw HTML.
TEST(ReportTest, SummaryMarkdownEscapesLabels) {
  ScopedTempDir tmp("report_md_escape");
  for (uint64_t seed = 0; seed < 2; ++seed) {
    FakeRun run;
    run.env_id = "toy/a";
    run.variant = "<img src=x onerror=alert(1)> | *b* `c`";
    run.seed = seed;
    run.curve = {{100, 0}, {200, 1}};
    WriteFakeRun(tmp.path() / "runs" / std::to_string(seed), run);
  }
  const fs::path out = tmp.path() / "out";
  WriteReport(LoadRuns({tmp.path() / "runs"}), SmallOptions(out));
  const std::string md = io::ReadFile(out / "summary.md");
  EXPECT_FALSE(Contains(md, "<img"));
  EXPECT_TRUE(Contains(
      md, "| &lt;img src=x onerror=alert(1)&gt; \\| \\*b\\* \\`c\\` | 2 |"));
}

TEST(ReportTest, WritesPlotsWithGnuplot) {
  if (!GnuplotAvailable()) GTEST_SKIP() << "gnuplot is not installed";
  ScopedTempDir tmp("report_plots");
  WriteHandBuiltRuns(tmp.path() / "runs");
  const fs::path out = tmp.path() / "out";
  const LoadedRuns runs = LoadRuns({tmp.path() / "runs"});
  ReportOptions options = SmallOptions(out);
  options.plots = true;
  const ReportResults r = WriteReport(runs, options);
  for (const char* stem :
       {"aggregates", "profile", "iqm_curve", "curve_a", "curve_b"}) {
    for (const char* ext : {".gp", ".dat", ".svg", ".png", ".log"}) {
      EXPECT_TRUE(
          fs::is_regular_file(out / "plots" / (std::string(stem) + ext)))
          << stem << ext;
    }
  }
  EXPECT_EQ(r.files.size(), 3u + 5u * 4u);
  const std::string html = io::ReadFile(out / "index.html");
  EXPECT_TRUE(Contains(html, "<body data-plots-total=\"5\">"));
  size_t images = 0;
  for (size_t pos = 0; (pos = html.find("<img ", pos)) != std::string::npos;
       ++pos) {
    ++images;
  }
  EXPECT_EQ(images, 5u);
  EXPECT_TRUE(Contains(html, "<img src=\"plots/curve_a.svg\""));
  EXPECT_TRUE(
      Contains(io::ReadFile(out / "plots" / "aggregates.svg"), "z flatten"));

  // gnuplot missing: a clear error.
  options.gnuplot = "tokrl-no-such-gnuplot";
  EXPECT_TRUE(Contains(ErrorOf([&] { WriteReport(runs, options); }),
                       "gnuplot not found: install it with apt-get install "
                       "gnuplot-nox"));
}

}  // namespace
}  // namespace tokrl::report
