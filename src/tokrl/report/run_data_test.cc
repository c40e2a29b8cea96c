#include "tokrl/report/run_data.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokrl/core/testing.h"
#include "tokrl/report/testing.h"
#include "tokrl/stats/normalization.h"

namespace tokrl::report {
namespace {

namespace fs = std::filesystem;

FakeRun MakeRun(std::string env, std::string variant, uint64_t seed,
                double final_score) {
  FakeRun r;
  r.env_id = std::move(env);
  r.variant = std::move(variant);
  r.seed = seed;
  r.curve = {{100, 0.0}, {200, final_score}};
  return r;
}

TEST(RunDataTest, FindsRunDirsRecursivelyAndOnce) {
  ScopedTempDir tmp("report_find");
  const fs::path sweep = tmp.path() / "sweep";
  WriteFakeRun(sweep / "flatten" / "breakout" / "seed0", {});
  WriteFakeRun(sweep / "flatten" / "breakout" / "seed1", {});
  WriteFakeRun(sweep / "a" / "b" / "c" / "d" / "too_deep", {});
  fs::create_directories(sweep / "empty" / "folder");
  // A run dir is a leaf: a config.toml inside it is never looked for.
  WriteFakeRun(sweep / "flatten" / "breakout" / "seed0" / "nested", {});

  const auto dirs =
      FindRunDirs({sweep, sweep / "flatten" / "breakout" / "seed1"});
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(dirs[0], sweep / "flatten" / "breakout" / "seed0");
  EXPECT_EQ(dirs[1], sweep / "flatten" / "breakout" / "seed1");
  // The too-deep run is found from closer up.
  EXPECT_EQ(FindRunDirs({sweep / "a"}).size(), 1u);
}

TEST(RunDataTest, FindErrors) {
  ScopedTempDir tmp("report_find_errors");
  fs::create_directories(tmp.path() / "nothing_here");
  const std::string none =
      ErrorOf([&] { FindRunDirs({tmp.path() / "nothing_here"}); });
  EXPECT_TRUE(Contains(none,
                       "no run directories (folders with config.toml) "
                       "found in"));
  EXPECT_TRUE(Contains(none, "nothing_here"));
  EXPECT_TRUE(Contains(ErrorOf([&] { FindRunDirs({tmp.path() / "missing"}); }),
                       "no such run directory or folder"));
  WriteText(tmp.path() / "file.txt", "x");
  EXPECT_TRUE(Contains(ErrorOf([&] { FindRunDirs({tmp.path() / "file.txt"}); }),
                       "is not a directory"));
}

TEST(RunDataTest, LoadsARun) {
  ScopedTempDir tmp("report_load");
  FakeRun fake;
  fake.env_id = "minatar/space_invaders(sticky=0)";
  fake.seed = 7;
  fake.tokenizer = "perconv";
  fake.penultimate = "softmoe";
  fake.curve = {{100, 1.5}, {200, 2.5}, {300, 4.0}};
  WriteFakeRun(tmp.path() / "r", fake);
  const RunData run = LoadRun(tmp.path() / "r", "train/episode_return");
  EXPECT_EQ(run.env_id, "minatar/space_invaders(sticky=0)");
  EXPECT_EQ(run.game, "space_invaders");
  EXPECT_EQ(run.variant, "dqn perconv+softmoe x4 experts");
  EXPECT_EQ(run.experiment, "test");
  EXPECT_EQ(run.seed, 7u);
  EXPECT_EQ(run.total_steps, 300);
  EXPECT_EQ(run.curve.steps, (std::vector<int64_t>{100, 200, 300}));
  EXPECT_EQ(run.curve.values, (std::vector<double>{1.5, 2.5, 4.0}));
  EXPECT_EQ(run.final_score, 4.0);
  EXPECT_TRUE(run.complete);
  EXPECT_EQ(run.metrics_seen,
            (std::vector<std::string>{"eval/return_mean",
                                      "train/episode_return", "train/loss"}));

  const RunData eval = LoadRun(tmp.path() / "r", "eval/return_mean");
  EXPECT_EQ(eval.final_score, 5.0);

  fake.variant = "my label";
  fake.complete = false;
  WriteFakeRun(tmp.path() / "s", fake);
  const RunData labelled = LoadRun(tmp.path() / "s", "train/episode_return");
  EXPECT_EQ(labelled.variant, "my label");
  EXPECT_FALSE(labelled.complete);
}

TEST(RunDataTest, ResumedRunsRelogStepsAndNonNumbersAreSkipped) {
  ScopedTempDir tmp("report_resume");
  WriteFakeRun(tmp.path(), {});
  WriteText(tmp.path() / "metrics.jsonl",
            "{\"step\":100,\"train/episode_return\":1}\n"
            "{\"step\":200,\"train/episode_return\":2}\n"
            "{\"step\":300,\"train/episode_return\":3}\n"
            "\n"
            "{\"step\":200,\"train/episode_return\":20}\n"
            "{\"step\":300,\"train/episode_return\":null}\n"
            "{\"step\":400,\"train/episode_return\":40}\n");
  const RunData run = LoadRun(tmp.path(), "train/episode_return");
  EXPECT_EQ(run.curve.steps, (std::vector<int64_t>{100, 200, 400}));
  EXPECT_EQ(run.curve.values, (std::vector<double>{1, 20, 40}));
  EXPECT_EQ(run.final_score, 40);
}

TEST(RunDataTest, LoadErrorsNameTheFileAndLine) {
  ScopedTempDir tmp("report_load_errors");
  const fs::path dir = tmp.path() / "run";
  WriteFakeRun(dir, {});
  WriteText(dir / "config.toml", "[env]\nid = \"minatar/breakout\"\n[train\n");
  std::string e = ErrorOf([&] { LoadRun(dir, "train/episode_return"); });
  EXPECT_TRUE(Contains(e, ("malformed TOML in " +
                           (dir / "config.toml").string() + " at line 3")));

  WriteText(dir / "config.toml", "[train]\nseed = 1\n");
  e = ErrorOf([&] { LoadRun(dir, "train/episode_return"); });
  EXPECT_TRUE(Contains(e, "config.toml: missing env.id"));

  WriteFakeRun(dir, {});
  WriteText(dir / "metrics.jsonl",
            "{\"step\":100,\"train/episode_return\":1}\n{\"step\":200,\n"
            "{\"step\":300}\n");
  e = ErrorOf([&] { LoadRun(dir, "train/episode_return"); });
  EXPECT_TRUE(
      Contains(e, ((dir / "metrics.jsonl").string() + ":2: malformed JSON")));

  WriteText(dir / "metrics.jsonl", "[1, 2]\n");
  EXPECT_TRUE(Contains(ErrorOf([&] { LoadRun(dir, "train/episode_return"); }),
                       "metrics.jsonl:1: expected a JSON object"));
  WriteText(dir / "metrics.jsonl", "{\"train/loss\": 1}\n");
  EXPECT_TRUE(Contains(ErrorOf([&] { LoadRun(dir, "train/episode_return"); }),
                       "metrics.jsonl:1: missing or non-numeric \"step\""));
  // Regression (issue 9.15): steps that do not fit an int64 were cast.
  for (const char* step : {"1e300", "18446744073709551615", "-5", "2.5"}) {
    WriteText(dir / "metrics.jsonl",
              "{\"step\":100,\"train/loss\":1}\n{\"step\":" +
                  std::string(step) + ",\"train/loss\":1}\n");
    EXPECT_TRUE(Contains(ErrorOf([&] { LoadRun(dir, "train/loss"); }),
                         "metrics.jsonl:2: \"step\" "))
        << step;
  }

  fs::remove(dir / "metrics.jsonl");
  EXPECT_TRUE(Contains(ErrorOf([&] { LoadRun(dir, "train/episode_return"); }),
                       "metrics.jsonl"));
}

TEST(RunDataTest, UnterminatedLastLineOfARunningRunIsSkipped) {
  ScopedTempDir tmp("report_partial");
  FakeRun fake;
  fake.complete = false;
  WriteFakeRun(tmp.path() / "run", fake);
  WriteText(tmp.path() / "run" / "metrics.jsonl",
            "{\"step\":100,\"train/episode_return\":1}\n{\"step\":200,\"tr");
  LoadOptions options;
  options.include_incomplete = true;
  const LoadedRuns loaded = LoadRuns({tmp.path()}, options);
  ASSERT_EQ(loaded.runs.size(), 1u);
  EXPECT_EQ(loaded.runs[0].final_score, 1);
  ASSERT_EQ(loaded.warnings.size(), 1u);
  EXPECT_TRUE(Contains(loaded.warnings[0],
                       "metrics.jsonl:2: skipped the "
                       "unterminated last line"));
  // A finished run has no excuse.
  WriteText(tmp.path() / "run" / "summary.json", "{}");
  EXPECT_TRUE(Contains(ErrorOf([&] { LoadRuns({tmp.path()}, options); }),
                       "metrics.jsonl:2: malformed JSON"));
}

TEST(RunDataTest, MetricNeverLoggedNamesTheRunAndItsMetrics) {
  ScopedTempDir tmp("report_metric");
  WriteFakeRun(tmp.path() / "run", {});
  LoadOptions options;
  options.metric = "eval/return_men";
  const std::string e = ErrorOf([&] { LoadRuns({tmp.path()}, options); });
  EXPECT_TRUE(Contains(e, ("run " + (tmp.path() / "run").string() +
                           " never logged metric 'eval/return_men'; it "
                           "logged: eval/return_mean, train/episode_return, "
                           "train/loss")));
}

TEST(RunDataTest, IncompleteRunsAreSkippedUnlessAsked) {
  ScopedTempDir tmp("report_incomplete");
  WriteFakeRun(tmp.path() / "done", MakeRun("minatar/breakout", "v", 0, 1));
  FakeRun running = MakeRun("minatar/breakout", "v", 1, 2);
  running.complete = false;
  WriteFakeRun(tmp.path() / "running", running);
  FakeRun fresh = running;  // nothing logged yet: fine while skipped
  fresh.seed = 2;
  fresh.curve.clear();
  WriteFakeRun(tmp.path() / "fresh", fresh);

  LoadedRuns loaded = LoadRuns({tmp.path()});
  ASSERT_EQ(loaded.runs.size(), 1u);
  EXPECT_EQ(loaded.runs[0].dir, tmp.path() / "done");
  ASSERT_EQ(loaded.warnings.size(), 2u);
  EXPECT_TRUE(Contains(loaded.warnings[0], "skipped unfinished run"));
  EXPECT_TRUE(Contains(loaded.warnings[0], "--include-incomplete"));

  LoadOptions options;
  options.include_incomplete = true;
  EXPECT_TRUE(Contains(ErrorOf([&] { LoadRuns({tmp.path()}, options); }),
                       "never logged metric"));
  fs::remove_all(tmp.path() / "fresh");
  loaded = LoadRuns({tmp.path()}, options);
  EXPECT_EQ(loaded.runs.size(), 2u);

  fs::remove_all(tmp.path() / "done");
  EXPECT_TRUE(Contains(ErrorOf([&] { LoadRuns({tmp.path()}); }),
                       "all 1 runs found are unfinished"));
}

TEST(RunDataTest, GroupsIntoNormalizedMatrices) {
  ScopedTempDir tmp("report_group");
  for (uint64_t seed = 0; seed < 3; ++seed) {
    const auto s = static_cast<double>(seed);
    WriteFakeRun(tmp.path() / ("a" + std::to_string(seed)),
                 MakeRun("minatar/breakout", "b_variant", seed, 10 + s));
    WriteFakeRun(
        tmp.path() / ("b" + std::to_string(seed)),
        MakeRun("minatar/asterix(sticky=0)", "b_variant", seed, 20 + s));
    WriteFakeRun(tmp.path() / ("c" + std::to_string(seed)),
                 MakeRun("minatar/breakout", "a_variant", seed, 30 + s));
    WriteFakeRun(tmp.path() / ("d" + std::to_string(seed)),
                 MakeRun("minatar/asterix", "a_variant", seed, 40 + s));
  }
  const LoadedRuns loaded = LoadRuns({tmp.path()});
  ASSERT_EQ(loaded.runs.size(), 12u);
  const Grouping g = GroupRuns(loaded.runs);
  EXPECT_EQ(g.normalization, stats::Normalization::kMinAtar);
  EXPECT_EQ(g.games, (std::vector<std::string>{"asterix", "breakout"}));
  ASSERT_EQ(g.variants.size(), 2u);
  EXPECT_EQ(g.variants[0].name, "a_variant");
  EXPECT_EQ(g.variants[1].name, "b_variant");
  const auto breakout = *stats::MinAtarScoreRange("breakout");
  const auto asterix = *stats::MinAtarScoreRange("asterix");
  const VariantScores& b = g.variants[1];
  EXPECT_EQ(b.seeds, (std::vector<uint64_t>{0, 1, 2}));
  ASSERT_EQ(b.raw.runs(), 3);
  ASSERT_EQ(b.raw.tasks(), 2);
  EXPECT_EQ(b.raw(1, 0), 21);
  EXPECT_EQ(b.raw(2, 1), 12);
  EXPECT_DOUBLE_EQ(b.normalized(1, 0), stats::Normalize(21, asterix));
  EXPECT_DOUBLE_EQ(b.normalized(2, 1), stats::Normalize(12, breakout));
  EXPECT_EQ(loaded.runs[b.runs[2][1]].dir, tmp.path() / "a2");
  // The two asterix env ids of a_variant/b_variant pool into one game.
  ASSERT_EQ(g.warnings.size(), 1u);
  EXPECT_TRUE(Contains(g.warnings[0],
                       "game asterix is pooled over different "
                       "env ids"));

  const Grouping raw = GroupRuns(loaded.runs, "none");
  EXPECT_EQ(raw.variants[1].normalized(1, 0), 21);
  EXPECT_TRUE(Contains(ErrorOf([&] { GroupRuns(loaded.runs, "minatr"); }),
                       "unknown normalization 'minatr' (choices: auto, "
                       "none, minatar, atari-human)"));
}

TEST(RunDataTest, DropsSeedsMissingFromAGameWithAWarning) {
  ScopedTempDir tmp("report_drop");
  for (uint64_t seed = 0; seed < 3; ++seed) {
    WriteFakeRun(tmp.path() / ("b" + std::to_string(seed)),
                 MakeRun("minatar/breakout", "v", seed, 1));
  }
  WriteFakeRun(tmp.path() / "f0", MakeRun("minatar/freeway", "v", 0, 1));
  WriteFakeRun(tmp.path() / "f2", MakeRun("minatar/freeway", "v", 2, 1));
  WriteFakeRun(tmp.path() / "f5", MakeRun("minatar/freeway", "v", 5, 1));
  const LoadedRuns loaded = LoadRuns({tmp.path()});
  const Grouping g = GroupRuns(loaded.runs);
  ASSERT_EQ(g.variants.size(), 1u);
  EXPECT_EQ(g.variants[0].seeds, (std::vector<uint64_t>{0, 2}));
  EXPECT_EQ(g.variants[0].normalized.runs(), 2);
  ASSERT_EQ(g.warnings.size(), 1u);
  EXPECT_TRUE(Contains(g.warnings[0], "variant 'v': dropped 2 run(s)"));
  EXPECT_TRUE(Contains(g.warnings[0], ("breakout seed 1 (" +
                                       (tmp.path() / "b1").string() + ")")));
  EXPECT_TRUE(Contains(g.warnings[0], "freeway seed 5 ("));
}

TEST(RunDataTest, GroupingErrors) {
  ScopedTempDir tmp("report_group_errors");
  WriteFakeRun(tmp.path() / "x0", MakeRun("minatar/breakout", "x", 0, 1));
  WriteFakeRun(tmp.path() / "x1", MakeRun("minatar/freeway", "x", 1, 1));
  WriteFakeRun(tmp.path() / "y0", MakeRun("minatar/breakout", "y", 0, 1));
  LoadedRuns loaded = LoadRuns({tmp.path()});
  std::string e = ErrorOf([&] { GroupRuns(loaded.runs); });
  EXPECT_TRUE(Contains(e, "variant 'x' has no seed that ran on every game"));

  fs::remove_all(tmp.path() / "x1");
  WriteFakeRun(tmp.path() / "x1", MakeRun("minatar/freeway", "x", 0, 1));
  loaded = LoadRuns({tmp.path()});
  e = ErrorOf([&] { GroupRuns(loaded.runs); });
  EXPECT_TRUE(Contains(e,
                       "variant 'y' has no runs of freeway; every variant "
                       "needs every game (breakout, freeway)"));

  WriteFakeRun(tmp.path() / "y0_again", MakeRun("minatar/breakout", "y", 0, 1));
  loaded = LoadRuns({tmp.path()});
  e = ErrorOf([&] { GroupRuns(loaded.runs); });
  EXPECT_TRUE(Contains(e, "two runs of variant 'y', game breakout, seed 0"));

  ScopedTempDir mixed("report_group_mixed");
  WriteFakeRun(mixed.path() / "m", MakeRun("minatar/breakout", "v", 0, 1));
  WriteFakeRun(mixed.path() / "t", MakeRun("toy/catch", "v", 0, 1));
  loaded = LoadRuns({mixed.path()});
  e = ErrorOf([&] { GroupRuns(loaded.runs); });
  EXPECT_TRUE(Contains(e,
                       "--normalization auto: the runs use different "
                       "score tables: minatar"));
  EXPECT_TRUE(Contains(e, "toy/catch"));
  // Explicitly raw: fine.
  EXPECT_EQ(GroupRuns(loaded.runs, "none").games.size(), 2u);
  // MinAtar table for a toy game: the stats module names the game.
  EXPECT_TRUE(
      Contains(ErrorOf([&] { GroupRuns(loaded.runs, "minatar"); }), "catch"));
}

}  // namespace
}  // namespace tokrl::report
