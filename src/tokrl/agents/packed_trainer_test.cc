#include "tokrl/agents/packed_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokrl/core/gtest_helpers.h"
#include "tokrl/io/atomic_file.h"

namespace tokrl {
namespace {
namespace fs = std::filesystem;

// Catch with a SoftMoE-2 C51 network: learning starts at step 64, an update
// every 2 env steps, statistics and an intervention on the way.
Config MemberConfig(uint64_t seed) {
  Config c = MakeTrainConfig();
  c.LoadTomlString(R"toml(
[env]
id = "toy/catch(rows=6,columns=4)"
num_envs = 2
[agent]
type = "rainbow"
num_atoms = 11
v_min = -2.0
v_max = 2.0
n_step = 2
min_replay = 64
update_period = 2
target_update_period = 50
epsilon_decay_steps = 200
batch_size = 8
[network]
tokenizer = "perconv"
penultimate = "softmoe"
experts = 2
hidden = 8
minatar_channels = 4
[replay]
capacity = 500
prioritized = true
[train]
total_steps = 300
eval_every = 150
eval_episodes = 3
log_every = 100
stats_every = 100
stats_batch = 16
tensorboard = false
[interventions]
shrink_perturb_every = 100
shrink_perturb_groups = "experts"
)toml",
                   "packed member");
  c.Set("train.seed", std::to_string(seed));
  return c;
}

struct Dirs {
  explicit Dirs(const std::string& name, int k) {
    for (int i = 0; i < k; ++i) {
      paths.push_back(fs::temp_directory_path() /
                      ("tokrl_packed_" + name + "_" + std::to_string(i)));
      fs::remove_all(paths.back());
    }
  }
  ~Dirs() {
    for (const auto& p : paths) fs::remove_all(p);
  }
  std::vector<fs::path> paths;
};

std::vector<Config> Members(int k) {
  std::vector<Config> configs;
  for (int i = 0; i < k; ++i) configs.push_back(MemberConfig(7 + i));
  return configs;
}

// Up to the first update (at step 64) a packed member's envs, exploration and
// replay are the unpacked run's, byte for byte; after it its networks track
// the unpacked run's to float rounding.
TEST(PackedTrainer, MembersFollowTheirUnpackedRuns) {
  Dirs packed_dirs("follow", 2), single_dirs("follow_single", 2);
  {
    PackedTrainer packed(Members(2), packed_dirs.paths, false, {}, nullptr);
    packed.Run(/*stop_after=*/62);
  }
  for (int k = 0; k < 2; ++k) {
    Trainer single(MemberConfig(7 + k), single_dirs.paths[k], false, {},
                   nullptr);
    single.Run(/*stop_after=*/62);
  }
  for (int k = 0; k < 2; ++k) {
    EXPECT_EQ(io::ReadFile(packed_dirs.paths[k] / "checkpoint" / "replay.bin"),
              io::ReadFile(single_dirs.paths[k] / "checkpoint" / "replay.bin"))
        << "member " << k;
  }
  // Both continue (the packed members resume from their checkpoints).
  std::vector<std::vector<torch::Tensor>> packed_params;
  {
    PackedTrainer packed(Members(2), packed_dirs.paths, true, {}, nullptr);
    packed.Run();
    for (int k = 0; k < 2; ++k) {
      packed_params.push_back(packed.member(k).agent().online()->parameters());
    }
  }
  for (int k = 0; k < 2; ++k) {
    Trainer single(MemberConfig(7 + k), single_dirs.paths[k], true, {},
                   nullptr);
    single.Run();
    const auto params = single.agent().online()->parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_LT((params[i] - packed_params[k][i]).abs().max().item<double>(),
                1e-5)  // measured: below 3e-8
          << "member " << k << " parameter " << i;
    }
    EXPECT_TRUE(fs::exists(packed_dirs.paths[k] / "summary.json"));
    // The same metric rows with the same keys (gradient statistics too),
    // values equal to float rounding.
    std::ifstream mine(packed_dirs.paths[k] / "metrics.jsonl");
    std::ifstream theirs(single_dirs.paths[k] / "metrics.jsonl");
    int rows = 0;
    for (std::string a, b; std::getline(theirs, b);) {
      ASSERT_TRUE(std::getline(mine, a)) << "member " << k << " row " << rows;
      const auto ja = nlohmann::json::parse(a), jb = nlohmann::json::parse(b);
      ASSERT_EQ(ja.size(), jb.size()) << a << "\n" << b;
      for (const auto& [key, value] : jb.items()) {
        ASSERT_TRUE(ja.contains(key)) << key;
        if (key == "train/sps" || !value.is_number()) continue;
        const double want = value.get<double>();
        EXPECT_NEAR(ja[key].get<double>(), want,
                    1e-4 * std::max(1.0, std::abs(want)))
            << "member " << k << " " << key;
      }
      ++rows;
    }
    EXPECT_GT(rows, 5);
  }
}

// Stopped and resumed, a packed run equals the uninterrupted packed run.
TEST(PackedTrainer, ResumeIsExact) {
  Dirs straight("straight", 3), resumed("resumed", 3);
  std::vector<std::vector<torch::Tensor>> want;
  {
    PackedTrainer t(Members(3), straight.paths, false, {}, nullptr);
    t.Run();
    for (int k = 0; k < 3; ++k) {
      want.push_back(t.member(k).agent().online()->parameters());
    }
  }
  {
    PackedTrainer t(Members(3), resumed.paths, false, {}, nullptr);
    t.Run(/*stop_after=*/170);
  }
  PackedTrainer t(Members(3), resumed.paths, true, {}, nullptr);
  EXPECT_EQ(t.member(0).env_steps(), 170);
  t.Run();
  for (int k = 0; k < 3; ++k) {
    const auto got = t.member(k).agent().online()->parameters();
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_TRUE(torch::equal(got[i], want[k][i]))
          << "member " << k << " parameter " << i;
    }
    EXPECT_EQ(io::ReadFile(resumed.paths[k] / "summary.json").empty(), false);
  }
}

TEST(PackedTrainer, BadPacksAreRefusedBeforeAnythingIsWritten) {
  Dirs dirs("bad", 2);
  std::vector<Config> configs = Members(2);
  configs[1].Set("agent.lr", "1e-3");
  EXPECT_NE(ErrorText([&] {
              PackedTrainer(configs, dirs.paths, false, {}, nullptr);
            }).find("'agent.lr' differs"),
            std::string::npos);
  configs = Members(2);
  for (auto& c : configs) c.Set("network.penultimate", "moe");
  EXPECT_NE(ErrorText([&] {
              PackedTrainer(configs, dirs.paths, false, {}, nullptr);
            }).find("network.penultimate"),
            std::string::npos);
  EXPECT_NE(ErrorText([&] {
              PackedTrainer(Members(2), {dirs.paths[0], dirs.paths[0]}, false,
                            {}, nullptr);
            }).find("share the run directory"),
            std::string::npos);
  for (const auto& p : dirs.paths) EXPECT_FALSE(fs::exists(p)) << p;
}

TEST(PackedTrainer, MembersAtDifferentStepsAreRefused) {
  Dirs dirs("steps", 2);
  {
    Trainer t(MemberConfig(7), dirs.paths[0], false, {}, nullptr);
    t.Run(/*stop_after=*/100);
  }
  {
    Trainer t(MemberConfig(8), dirs.paths[1], false, {}, nullptr);
    t.Run(/*stop_after=*/120);
  }
  const auto snapshot = [&] {
    std::vector<std::string> files;
    for (const auto& d : dirs.paths) {
      for (const auto& e : fs::recursive_directory_iterator(d)) {
        files.push_back(
            e.path().string() + " " +
            std::to_string(
                fs::last_write_time(e.path()).time_since_epoch().count()));
      }
    }
    std::sort(files.begin(), files.end());
    return files;
  };
  const auto files = snapshot();
  EXPECT_NE(ErrorText([&] {
              PackedTrainer(Members(2), dirs.paths, true, {}, nullptr);
            }).find("same step: 100 steps in member 0"),
            std::string::npos);
  // Refused before either member was opened: no file written or touched.
  EXPECT_EQ(snapshot(), files);
  // A member without a checkpoint is refused too, not restarted.
  fs::remove_all(dirs.paths[1] / "checkpoint");
  EXPECT_NE(ErrorText([&] {
              PackedTrainer(Members(2), dirs.paths, true, {}, nullptr);
            }).find("no checkpoint in member 1"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(dirs.paths[1] / "config.toml"));
}

}  // namespace
}  // namespace tokrl
