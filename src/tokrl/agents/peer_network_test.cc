// The peer benchmark (bench/peer/peer.py) runs tokrl's networks: for every
// agent x network that bench/peer/compare.py measures (MinAtar, and DQN's
// Nature CNN on Atari frames), a tokrl online network's outputs on a batch
// of observations against the peer's network loaded with the same
// parameters (`peer.py --check-network`). Skipped without Debian's
// python3-torch unless TOKRL_REQUIRE_PEER=1.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tokrl/agents/testing.h"
#include "tokrl/core/subprocess.h"
#include "tokrl/core/testing.h"
#include "tokrl/nn/q_network.h"

namespace tokrl {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

// Options sending the child's output to `file`.
ProcessOptions OutputTo(const std::filesystem::path& file) {
  ProcessOptions options;
  options.output = file;
  return options;
}

bool PeerAvailable() {
  return RunProcess({kPython, "-c", "import torch, numpy"},
                    OutputTo("/dev/null")) == 0;
}

TEST(PeerNetwork, PeerComputesTokrlsOutputs) {
  if (!PeerAvailable()) {
    const char* require = std::getenv("TOKRL_REQUIRE_PEER");
    ASSERT_FALSE(require != nullptr && std::string(require) == "1")
        << "python3-torch is required (TOKRL_REQUIRE_PEER=1)";
    GTEST_SKIP() << "python3-torch not installed";
  }
  struct Case {
    std::string name;
    Config config;
    ResolvedConfig resolved;
    int64_t obs_values;  // observations drawn from [0, obs_values)
  };
  std::vector<Case> cases;
  for (const std::string agent : {"dqn", "rainbow_lite", "der"}) {
    for (const std::string network :
         {"flatten", "softmoe4", "softmoe1_scaled4", "tokenized_avg_x4"}) {
      cases.push_back({agent + "/" + network,
                       testing::MakePresetConfig(agent, network),
                       testing::MakeSetup(agent, network).resolved, 2});
    }
  }
  Config atari = MakeTrainConfig();
  atari.LoadTomlFile(SourceDir() / "configs" / "dqn_atari.toml");
  cases.push_back({"dqn/nature", atari,
                   Resolve(atari, testing::SyntheticAtariSpec()), 256});

  const ScopedTempDir dir("peer_network");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const ResolvedConfig& r = c.resolved;
    const std::filesystem::path toml = dir.path() / "config.toml";
    std::ofstream(toml) << c.config.ToToml();

    torch::manual_seed(7);
    nn::QNetwork net(r.network);
    std::vector<int64_t> shape = {8};
    shape.insert(shape.end(), r.network.obs_shape.begin(),
                 r.network.obs_shape.end());
    const torch::Tensor obs =
        torch::randint(0, c.obs_values, shape, torch::kUInt8);
    torch::NoGradGuard no_grad;
    const nn::QOutput out = net->forward(obs);
    torch::serialize::OutputArchive archive, online;
    net->save(online);
    archive.write("online", online);
    archive.write("obs", obs);
    archive.write("q", out.q);
    if (out.logits.defined()) archive.write("logits", out.logits);
    const std::filesystem::path file = dir.path() / "network.pt";
    archive.save_to(file.string());

    const std::filesystem::path log = dir.path() / "peer.log";
    std::filesystem::remove(log);
    const int status = RunProcess(
        {kPython, (SourceDir() / "bench/peer/peer.py").string(), "--config",
         toml.string(), "--check-network", file.string()},
        OutputTo(log));
    std::ifstream in(log);
    const std::string said((std::istreambuf_iterator<char>(in)),
                           std::istreambuf_iterator<char>());
    EXPECT_EQ(status, 0) << DescribeExitStatus(status) << "\n" << said;
    EXPECT_NE(said.find("max_abs_diff"), std::string::npos) << said;
  }
}

}  // namespace
}  // namespace tokrl
