#include "tokrl/sweep/sweep.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "tokrl/core/gtest_helpers.h"
#include "tokrl/core/testing.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/sweep/launcher.h"

namespace tokrl::sweep {
namespace {

namespace fs = std::filesystem;

class SweepTest : public ::testing::Test {
 protected:
  SweepTest()
      : dir_(::testing::UnitTest::GetInstance()->current_test_info()->name()) {
    Write("base.toml", "[agent]\nlr = 1e-4\n");
    Write("net.toml", "[network]\nscale = 4\n");
  }
  fs::path Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_.path() / name;
    std::ofstream(p) << text;
    return p;
  }
  fs::path WriteSweep(const std::string& text) {
    return Write("sweep.toml", text);
  }
  std::string LoadError(const std::string& text, SweepOptions options = {}) {
    const fs::path p = WriteSweep(text);
    return ErrorOf([&] { LoadSweep(p, options); });
  }

  ScopedTempDir dir_;
};

constexpr char kSweep[] = R"(
[sweep]
name = "demo"
configs = ["base.toml"]
games = ["breakout", "freeway"]
seeds = [3, 1]
set = { "train.eval_every" = 0, agent = { gamma = 0.9 } }

[variants.flat]

[variants.wide]
configs = ["net.toml"]
set = { "network.experts" = 1, "agent.double_q" = true, "train.device" = "cpu" }

[budgets.tiny]
seeds = [0]
set = { "train.total_steps" = 500 }
)";

TEST_F(SweepTest, ExpandsVariantsGamesSeedsInOrder) {
  SweepOptions options;
  options.out_dir = dir_.path() / "out";
  const Sweep s = LoadSweep(WriteSweep(kSweep), options);
  EXPECT_EQ(s.name, "demo");
  EXPECT_EQ(s.budgets, std::vector<std::string>{"tiny"});
  ASSERT_EQ(s.runs.size(), 8u);  // 2 variants x 2 games x 2 seeds
  std::vector<std::string> names;
  for (const auto& r : s.runs) names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "flat/breakout/seed3", "flat/breakout/seed1",
                       "flat/freeway/seed3", "flat/freeway/seed1",
                       "wide/breakout/seed3", "wide/breakout/seed1",
                       "wide/freeway/seed3", "wide/freeway/seed1"}));
  const SweepRun& r = s.runs[5];
  EXPECT_EQ(r.run_dir, dir_.path() / "out" / "wide" / "breakout" / "seed1");
  EXPECT_EQ(r.configs, (std::vector<fs::path>{dir_.path() / "base.toml",
                                              dir_.path() / "net.toml"}));
  // Sweep set, then variant set, then the sweep's own keys.
  EXPECT_EQ(
      r.overrides,
      (std::vector<std::string>{
          "train.eval_every=0", "agent.gamma=0.9", "network.experts=1",
          "agent.double_q=true", "train.device=cpu", "env.id=minatar/breakout",
          "train.seed=1", "experiment.name=demo", "experiment.variant=wide"}));
}

TEST_F(SweepTest, BudgetReplacesSeedsAndAddsOverridesBeforeCommandLine) {
  SweepOptions options;
  options.budget = "tiny";
  options.overrides = {"agent.lr=3e-4"};
  const Sweep s = LoadSweep(WriteSweep(kSweep), options);
  EXPECT_EQ(s.budget, "tiny");
  ASSERT_EQ(s.runs.size(), 4u);
  const auto& o = s.runs[0].overrides;
  const auto pos = [&](const std::string& x) {
    return std::find(o.begin(), o.end(), x) - o.begin();
  };
  EXPECT_LT(pos("train.total_steps=500"), pos("agent.lr=3e-4"));
  EXPECT_LT(pos("agent.lr=3e-4"), pos("train.seed=0"));
  EXPECT_EQ(s.runs[0].seed, 0u);
}

TEST_F(SweepTest, DefaultNameOutDirAndEnvPattern) {
  const Sweep s = LoadSweep(Write("my_exp.toml", R"toml(
[sweep]
env = "toy/{game}(rows=5)"
games = ["catch"]
seeds = [0]
[variants.a]
)toml"));
  EXPECT_EQ(s.name, "my_exp");
  EXPECT_EQ(s.out_dir, fs::absolute("runs/sweeps/my_exp").lexically_normal());
  EXPECT_NE(std::find(s.runs[0].overrides.begin(), s.runs[0].overrides.end(),
                      "env.id=toy/catch(rows=5)"),
            s.runs[0].overrides.end());
}

TEST_F(SweepTest, DoublesKeepFullPrecision) {
  const Sweep s = LoadSweep(WriteSweep(R"(
[sweep]
games = ["breakout"]
seeds = [0]
set = { "agent.lr" = 6.25e-5, "agent.adam_eps" = 0.1 }
[variants.a]
)"));
  EXPECT_EQ(s.runs[0].overrides[0], "agent.lr=6.25e-05");  // shortest exact
  EXPECT_EQ(s.runs[0].overrides[1], "agent.adam_eps=0.1");
}

TEST_F(SweepTest, BadFilesGiveClearErrors) {
  const auto has = [](const std::string& error, const std::string& part) {
    return error.find(part) != std::string::npos;
  };
  EXPECT_TRUE(has(ErrorOf([] { LoadSweep("/nonexistent/sweep.toml"); }),
                  "cannot read sweep file"));
  EXPECT_TRUE(has(LoadError("[sweep\n"), "malformed TOML"));
  EXPECT_TRUE(has(LoadError("x = 1\n"), "unknown key 'x'"));
  EXPECT_TRUE(has(LoadError("[variants.a]\n"), "missing the [sweep] table"));
  EXPECT_TRUE(
      has(LoadError("[sweep]\nseeds=[0]\n[variants.a]\n"), "no 'games'"));
  EXPECT_TRUE(has(LoadError("[sweep]\ngames=[]\nseeds=[0]\n[variants.a]\n"),
                  "'games' must be a non-empty array"));
  EXPECT_TRUE(
      has(LoadError("[sweep]\ngames=['a']\nseeds=[0,0]\n[variants.a]\n"),
          "seed 0 is listed twice"));
  EXPECT_TRUE(has(LoadError("[sweep]\ngames=['a']\nseeds=[-1]\n[variants.a]\n"),
                  "non-negative integers"));
  EXPECT_TRUE(has(LoadError("[sweep]\ngames=['a']\nseed=[0]\n[variants.a]\n"),
                  "unknown key 'seed' in [sweep]"));
  EXPECT_TRUE(
      has(LoadError("[sweep]\ngames=['a']\nseeds=[0]\n"), "no variants"));
  EXPECT_TRUE(has(LoadError("[sweep]\ngames=['a']\nseeds=[0]\n[variants.a]\n"
                            "config=['x']\n"),
                  "unknown key 'config' in [variants.a]"));
  EXPECT_TRUE(has(LoadError("[sweep]\ngames=['a']\nseeds=[0]\n[variants.a]\n"
                            "configs=['missing.toml']\n"),
                  "missing.toml' does not exist"));
  EXPECT_TRUE(has(LoadError("[sweep]\ngames=['a']\nseeds=[0]\n"
                            "set={'train.seed'=1}\n[variants.a]\n"),
                  "'train.seed' is set by the sweep itself"));
  EXPECT_TRUE(has(LoadError("[sweep]\ngames=['a']\nseeds=[0]\n[variants.a]\n"
                            "set={'agent.lr'=[1]}\n"),
                  "must be a bool, number or string"));
  EXPECT_TRUE(
      has(LoadError("[sweep]\ngames=['a b']\nseeds=[0]\n[variants.a]\n"),
          "game 'a b' must use only"));
  SweepOptions tiny;
  tiny.budget = "tiny";
  EXPECT_TRUE(has(LoadError("[sweep]\ngames=['a']\nseeds=[0]\n[variants.a]\n"
                            "[budgets.small]\n",
                            tiny),
                  "no budget 'tiny' (the file defines: small)"));
  SweepOptions reserved;
  reserved.overrides = {"env.id=toy/catch"};
  EXPECT_TRUE(has(
      LoadError("[sweep]\ngames=['a']\nseeds=[0]\n[variants.a]\n", reserved),
      "'env.id' is set by the sweep itself"));
}

// Regression (issue 9.14): wrong types fell back to defaults silently, and
// an env without {game} trained one env under every game's label.
TEST_F(SweepTest, KeysAreTypeCheckedAndEnvNeedsGame) {
  EXPECT_TRUE(Contains(
      LoadError("[sweep]\nenv = 5\ngames=['a']\nseeds=[0]\n[variants.a]\n"),
      "sweep.toml:2: 'env' must be a string, got integer"));
  EXPECT_TRUE(Contains(LoadError("[sweep]\ndescription = ['x']\ngames=['a']\n"
                                 "seeds=[0]\n[variants.a]\n"),
                       "'description' must be a string, got array"));
  EXPECT_TRUE(Contains(
      LoadError("[sweep]\nname = 1\ngames=['a']\nseeds=[0]\n[variants.a]\n"),
      "'name' must be a string"));
  EXPECT_TRUE(Contains(LoadError("[sweep]\nenv = 'toy/catch'\ngames=['a', "
                                 "'b']\nseeds=[0]\n[variants.a]\n"),
                       "env 'toy/catch' has no {game}, so all 2 games"));
  // One game needs no {game}.
  const Sweep one = LoadSweep(
      WriteSweep("[sweep]\nenv = "
                 "'toy/catch'\ngames=['catch']\nseeds=[0]\n[variants.a]\n"));
  EXPECT_EQ(one.runs.size(), 1u);
}

// Regression (issue 9.16): a newline in --time put a shell line into the
// job script.
TEST_F(SweepTest, SlurmValuesCannotInjectScriptLines) {
  SweepOptions options;
  options.out_dir = dir_.path() / "out";
  const Sweep s = LoadSweep(WriteSweep(kSweep), options);
  SlurmOptions slurm;
  slurm.tokrl = "/opt/tokrl";
  slurm.time = "1:00\ntouch x";
  EXPECT_TRUE(Contains(ErrorOf([&] { SlurmScript(s, {0}, slurm); }),
                       "--time '1:00\ntouch x' has a character not allowed "
                       "in a SLURM job script (code 10)"));
  slurm.time = "1-02:00:00";
  slurm.partition = "gpu;rm";
  EXPECT_TRUE(Contains(ErrorOf([&] { SlurmScript(s, {0}, slurm); }),
                       "--partition 'gpu;rm'"));
  slurm.partition = "gpu,cpu";
  slurm.mem = "4G";
  slurm.sbatch_args = {"--account=rl", "--comment=$(id)"};
  EXPECT_TRUE(Contains(ErrorOf([&] { SlurmScript(s, {0}, slurm); }),
                       "--sbatch-arg '--comment=$(id)'"));
  slurm.sbatch_args = {"--account=rl"};
  EXPECT_TRUE(
      Contains(SlurmScript(s, {0}, slurm), "#SBATCH --time=1-02:00:00\n"));
}

TEST_F(SweepTest, RunStateFollowsTheRunFolder) {
  const fs::path run = dir_.path() / "run";
  EXPECT_EQ(GetRunState(run), RunState::kNew);
  fs::create_directories(run);
  EXPECT_EQ(GetRunState(run), RunState::kStale);
  fs::create_directories(run / "checkpoint");
  EXPECT_EQ(GetRunState(run), RunState::kStale);  // no MANIFEST: incomplete
  std::ofstream(run / "checkpoint" / "MANIFEST") << "x";
  EXPECT_EQ(GetRunState(run), RunState::kPartial);
  std::ofstream(run / "summary.json") << "{}";
  EXPECT_EQ(GetRunState(run), RunState::kDone);
  EXPECT_STREQ(RunStateName(RunState::kPartial), "partial");
}

TEST_F(SweepTest, TrainArguments) {
  SweepRun run;
  run.configs = {"/a.toml"};
  run.overrides = {"train.seed=2"};
  run.run_dir = "/runs/x";
  EXPECT_EQ(TrainArguments(run, true),
            (std::vector<std::string>{"train", "-c", "/a.toml", "--set",
                                      "train.seed=2", "--run-dir", "/runs/x",
                                      "--quiet", "--resume"}));
}

TEST_F(SweepTest, SlurmScriptCoversPendingRunsOnly) {
  SweepOptions options;
  options.out_dir = dir_.path() / "out";
  const Sweep s = LoadSweep(WriteSweep(kSweep), options);
  // Run 2 is done.
  fs::create_directories(s.runs[2].run_dir);
  std::ofstream(s.runs[2].run_dir / "summary.json") << "{}";
  const auto pending = PendingRuns(s);
  EXPECT_EQ(pending, (std::vector<size_t>{0, 1, 3, 4, 5, 6, 7}));
  SlurmOptions slurm;
  slurm.tokrl = "/opt/tokrl it's";
  slurm.sweep_args = {"sweep", "/s.toml"};
  slurm.max_parallel = 3;
  slurm.time = "01:00:00";
  slurm.sbatch_args = {"--account=rl"};
  const std::string script = SlurmScript(s, pending, slurm);
  EXPECT_NE(script.find("#SBATCH --array=0,1,3,4,5,6,7%3\n"),
            std::string::npos);
  EXPECT_NE(
      script.find("#SBATCH --time=01:00:00\n#SBATCH --signal=B:TERM@120\n"),
      std::string::npos);
  EXPECT_NE(script.find("#SBATCH --account=rl\n"), std::string::npos);
  EXPECT_EQ(script.find("--partition"), std::string::npos);
  // Shell-quoted, including a quote inside an argument.
  EXPECT_NE(script.find("exec '/opt/tokrl it'\\''s' 'sweep' '/s.toml' --task "
                        "\"$SLURM_ARRAY_TASK_ID\""),
            std::string::npos);
  // Nothing to submit when all are done: no script, no sbatch call.
  const auto sub = SubmitSlurm(s, slurm, /*submit=*/false, /*wait=*/false);
  EXPECT_EQ(sub.tasks, 7u);
  EXPECT_TRUE(fs::exists(sub.script));
}

TEST_F(SweepTest, SlurmPacksGroupSeedsOfOneVariantAndGame) {
  SweepOptions options;
  options.out_dir = dir_.path() / "out";
  const Sweep s = LoadSweep(WriteSweep(kSweep), options);
  using Packs = std::vector<std::vector<size_t>>;
  // Runs 0-7: flat/breakout (seeds 3, 1), flat/freeway, wide/breakout,
  // wide/freeway. A pack never mixes variants or games, even when larger.
  EXPECT_EQ(SweepPacks(s, 2), (Packs{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(SweepPacks(s, 3), SweepPacks(s, 2));
  EXPECT_EQ(SweepPacks(s, 1), (Packs{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}}));
  // A pack is pending while one of its runs is not done.
  for (const size_t i : {2, 4, 5}) {
    fs::create_directories(s.runs[i].run_dir);
    std::ofstream(s.runs[i].run_dir / "summary.json") << "{}";
  }
  EXPECT_EQ(PendingTasks(s, 2), (std::vector<size_t>{0, 1, 3}));
  EXPECT_EQ(PendingTasks(s, 1), (std::vector<size_t>{0, 1, 3, 6, 7}));
  SlurmOptions slurm;
  slurm.tokrl = "/opt/tokrl";
  slurm.sweep_args = {"sweep", "/s.toml"};
  slurm.pack = 2;
  const auto sub = SubmitSlurm(s, slurm, /*submit=*/false, /*wait=*/false);
  EXPECT_EQ(sub.tasks, 3u);
  const std::string script = io::ReadFile(sub.script);
  EXPECT_NE(script.find("#SBATCH --array=0,1,3\n"), std::string::npos);
  EXPECT_NE(script.find("'sweep' '/s.toml' --pack 2 --task "
                        "\"$SLURM_ARRAY_TASK_ID\""),
            std::string::npos);
}

TEST_F(SweepTest, LocalLauncherReportsAFailingRunWithItsLog) {
  SweepOptions options;
  options.out_dir = dir_.path() / "out";
  const Sweep s = LoadSweep(WriteSweep(R"(
[sweep]
games = ["g"]
seeds = [0, 1]
[variants.a]
)"),
                            options);
  // A stand-in for tokrl: succeeds for seed0, fails for seed1.
  const fs::path fake = Write("fake_tokrl.sh", R"(#!/bin/sh
for a in "$@"; do last_dir="$a"; case "$a" in *seed1) fail=1;; esac; done
if [ -n "$fail" ]; then echo "boom: no such thing"; exit 7; fi
)");
  fs::permissions(fake, fs::perms::owner_all);
  LocalOptions local;
  local.jobs = 2;
  local.tokrl = fake;
  const LaunchSummary summary = RunLocal(s, local);
  EXPECT_EQ(summary.total, 2);
  EXPECT_EQ(summary.finished, 1);
  EXPECT_EQ(summary.failed, 1);
  ASSERT_EQ(summary.failures.size(), 1u);
  EXPECT_NE(summary.failures[0].find("a/g/seed1: exit code 7"),
            std::string::npos);
  EXPECT_NE(summary.failures[0].find("boom: no such thing"), std::string::npos);
}

}  // namespace
}  // namespace tokrl::sweep
