// Fuzz-style tests of every parser that reads user or disk input: a few
// thousand seeded mutations of a valid input each, and every one must give
// either a valid load or a tokrl::Error, never a crash, a hang or another
// exception (run under ASan+UBSan in CI: no undefined behaviour either).
// Iteration counts are fixed; TOKRL_FUZZ_ITERATIONS multiplies them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "tokrl/core/check.h"
#include "tokrl/core/config.h"
#include "tokrl/core/fuzz.h"
#include "tokrl/core/testing.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/io/checkpoint_dir.h"
#include "tokrl/report/run_data.h"
#include "tokrl/report/testing.h"
#include "tokrl/sweep/sweep.h"

namespace tokrl {
namespace {
namespace fs = std::filesystem;
using report::WriteText;

int Iterations(int base) {
  const char* scale = std::getenv("TOKRL_FUZZ_ITERATIONS");
  return base * (scale != nullptr ? std::max(1, std::atoi(scale)) : 1);
}

// Runs `parse` on `iterations` mutations of `seed_input`; counts the loads
// that succeeded. Any exception but tokrl::Error fails the test, naming the
// iteration (the mutation is reproducible from it).
int FuzzParser(const std::string& seed_input, int iterations, uint64_t seed,
               const std::function<void(const std::string&)>& parse) {
  Rng rng(seed);
  int valid = 0;
  for (int i = 0; i < iterations; ++i) {
    const std::string input = Mutate(seed_input, rng);
    try {
      parse(input);
      ++valid;
    } catch (const Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "iteration " << i << ": not a tokrl::Error: " << e.what()
                    << "\ninput:\n"
                    << input;
      return valid;
    }
  }
  return valid;
}

Config FuzzSchema() {
  return Config({{"experiment.variant", std::string(""), "label"},
                 {"env.id", std::string("minatar/breakout"), "env"},
                 {"env.num_envs", int64_t{1}, "envs"},
                 {"agent.lr", 2.5e-4, "lr"},
                 {"agent.double_q", false, "double"},
                 {"train.total_steps", int64_t{1000}, "steps"}});
}

TEST(ParsersFuzz, ConfigToml) {
  const std::string valid = R"toml(# preset
[env]
id = "minatar/asterix(sticky=0)"
num_envs = 4
[agent]
lr = 1e-4
double_q = true
[train]
total_steps = 500000
[experiment]
variant = "softmoe x4"
)toml";
  const int loaded =
      FuzzParser(valid, Iterations(3000), 1, [](const std::string& text) {
        Config c = FuzzSchema();
        c.LoadTomlString(text, "fuzz.toml");
        // What loads must print and load back to the same values.
        Config back = FuzzSchema();
        back.LoadTomlString(c.ToToml(), "printed");
        ASSERT_EQ(back.ToToml(), c.ToToml());
      });
  EXPECT_GT(loaded, 0);
}

TEST(ParsersFuzz, SweepFile) {
  ScopedTempDir tmp("fuzz_sweep");
  WriteText(tmp.path() / "base.toml", "[agent]\nlr = 1e-4\n");
  const std::string valid = R"([sweep]
name = "fuzz"
configs = ["base.toml"]
env = "minatar/{game}"
games = ["breakout", "asterix"]
seeds = [0, 1]
set = { "train.eval_every" = 0, agent = { gamma = 0.9 } }
[variants.flat]
[variants.wide]
configs = ["base.toml"]
set = { "network.scale" = 4 }
[budgets.tiny]
seeds = [0]
set = { "train.total_steps" = 500 }
)";
  const fs::path file = tmp.path() / "sweep.toml";
  sweep::SweepOptions options;
  options.out_dir = tmp.path() / "out";
  const int loaded =
      FuzzParser(valid, Iterations(1500), 2, [&](const std::string& text) {
        WriteText(file, text);
        options.budget = text.size() % 2 == 0 ? "tiny" : "";
        const sweep::Sweep s = sweep::LoadSweep(file, options);
        for (const auto& run : s.runs) sweep::TrainArguments(run, true);
      });
  EXPECT_GT(loaded, 0);
}

TEST(ParsersFuzz, MetricsJsonlAndRunConfig) {
  ScopedTempDir tmp("fuzz_metrics");
  const fs::path run = tmp.path() / "run";
  fs::create_directories(run);
  const std::string config =
      "[env]\nid = \"minatar/breakout\"\n[experiment]\nname = \"x\"\n"
      "variant = \"v\"\n[train]\nseed = 3\ntotal_steps = 300\n";
  const std::string metrics =
      "{\"step\":100,\"train/episode_return\":1.5,\"train/loss\":0.5}\n"
      "{\"step\":200,\"eval/return_mean\":2,\"train/episode_return\":null}\n"
      "{\"step\":300,\"train/episode_return\":3e0}\n";
  WriteText(run / "summary.json", "{\"env_steps\": 300}\n");
  WriteText(run / "config.toml", config);
  int loaded =
      FuzzParser(metrics, Iterations(2000), 3, [&](const std::string& text) {
        WriteText(run / "metrics.jsonl", text);
        report::LoadRun(run, "train/episode_return");
      });
  EXPECT_GT(loaded, 0);
  WriteText(run / "metrics.jsonl", metrics);
  loaded =
      FuzzParser(config, Iterations(1000), 4, [&](const std::string& text) {
        WriteText(run / "config.toml", text);
        report::LoadRun(run, "train/episode_return");
      });
  EXPECT_GT(loaded, 0);
}

TEST(ParsersFuzz, CheckpointManifest) {
  ScopedTempDir tmp("fuzz_manifest");
  const fs::path run = tmp.path() / "run";
  fs::create_directories(run);
  io::WriteCheckpoint(run, {"a.bin", "b.bin"}, [](const fs::path& dir) {
    io::WriteFileAtomic(dir / "a.bin", "alpha");
    io::WriteFileAtomic(dir / "b.bin", std::string(300, 'b'));
  });
  const std::string manifest = io::ReadFile(run / "checkpoint" / "MANIFEST");
  int loaded =
      FuzzParser(manifest, Iterations(3000), 5, [&](const std::string& text) {
        io::WriteFileAtomic(run / "checkpoint" / "MANIFEST", text);
        const auto files = io::ReadCheckpoint(run, {"a.bin"});
        ASSERT_EQ(files.at("a.bin"), "alpha");  // a valid load is the real data
      });
  EXPECT_GT(loaded, 0);
  // The data files themselves: any change is caught by size or CRC.
  io::WriteFileAtomic(run / "checkpoint" / "MANIFEST", manifest);
  loaded =
      FuzzParser("alpha", Iterations(500), 6, [&](const std::string& text) {
        io::WriteFileAtomic(run / "checkpoint" / "a.bin", text);
        io::ReadCheckpoint(run, {"a.bin"});
        ASSERT_EQ(text, "alpha");
      });
  EXPECT_LE(loaded, Iterations(500));
}

}  // namespace
}  // namespace tokrl
