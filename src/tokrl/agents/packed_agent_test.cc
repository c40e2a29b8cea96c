#include "tokrl/agents/packed_agent.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "tokrl/agents/testing.h"
#include "tokrl/core/gtest_helpers.h"
#include "tokrl/nn/fast_paths.h"

namespace tokrl {
namespace {

constexpr int64_t kMembers = 3;
constexpr int64_t kBatch = 8;

using testing::AgentSetup;
using testing::MakeSetup;

SampledBatch RandomBatch(const AgentSetup& s) {
  return testing::RandomBatch(s.resolved.network, kBatch);
}

struct Case {
  std::string name, agent, network;
  double grad_clip_norm;
  bool double_q;
  int64_t chunk;  // PackedAgent::set_update_chunk (0: its own choice)
};

class PackedAgentTest : public ::testing::TestWithParam<Case> {};

// K member agents stepped one by one and the same K packed: per member the
// same losses, gradient norms, priorities, gradients and parameters.
TEST_P(PackedAgentTest, UpdateEqualsEachMembersUpdate) {
  const Case& c = GetParam();
  AgentSetup s = MakeSetup(c.agent, c.network);
  s.resolved.agent.grad_clip_norm = c.grad_clip_norm;
  s.resolved.agent.double_q = c.double_q;
  std::vector<std::unique_ptr<DqnAgent>> members;
  for (int64_t k = 0; k < kMembers; ++k) {
    torch::manual_seed(10 + k);
    members.push_back(std::make_unique<DqnAgent>(
        s.resolved.agent, s.resolved.network, torch::kCPU));
  }
  PackedAgent packed(s.resolved.agent, s.resolved.network, kMembers,
                     torch::kCPU);
  for (int64_t k = 0; k < kMembers; ++k) packed.Pack(k, *members[k]);
  packed.set_update_chunk(c.chunk);

  torch::manual_seed(1);
  for (int step = 0; step < 3; ++step) {
    std::vector<SampledBatch> batches;
    for (int64_t k = 0; k < kMembers; ++k) {
      batches.push_back(RandomBatch(s));
    }
    const std::vector<UpdateMetrics> pm = packed.Update(batches);
    ASSERT_EQ(pm.size(), static_cast<size_t>(kMembers));
    for (int64_t k = 0; k < kMembers; ++k) {
      const UpdateMetrics m = members[k]->Update(batches[k]);
      const UpdateMetrics& p = pm[static_cast<size_t>(k)];
      ASSERT_FALSE(m.diverged || p.diverged);
      EXPECT_NEAR(p.loss, m.loss, 1e-5 * std::max(1.0, std::abs(m.loss)))
          << "step " << step << " member " << k;
      EXPECT_NEAR(p.grad_norm, m.grad_norm, 1e-5 * std::max(1.0, m.grad_norm));
      EXPECT_NEAR(p.mean_q, m.mean_q, 1e-5);
      EXPECT_TRUE(torch::allclose(p.priorities, m.priorities, 1e-5, 1e-5));
      // The (clipped) gradients this step applied.
      const auto theirs = members[k]->online()->parameters();
      const auto& mine = packed.online()->packed_parameters();
      for (size_t i = 0; i < theirs.size(); ++i) {
        const double diff = (nn::PackedView(mine[i].grad(), kMembers)[k] -
                             theirs[i].grad().reshape({-1}))
                                .abs()
                                .max()
                                .item<double>();
        EXPECT_LT(diff, 1e-5)
            << "step " << step << " member " << k << " parameter " << i;
      }
    }
  }
  // The last step's (clipped) gradients: each member's norm, by the CPU
  // loop (fast paths) and by the tensor form the GPU uses (plain). Both
  // square and add in double, so they agree to double precision.
  const torch::Tensor norms = packed.MemberGradNorms();
  nn::SetFastPaths(false);
  const torch::Tensor plain = packed.MemberGradNorms();
  nn::SetFastPaths(true);
  for (int64_t k = 0; k < kMembers; ++k) {
    const double want = members[k]->optimizer().GradNorm();
    EXPECT_NEAR(norms[k].item<double>(), want, 1e-5 * std::max(1.0, want));
    EXPECT_NEAR(plain[k].item<double>(), norms[k].item<double>(),
                1e-12 * std::max(1.0, want));
  }
  packed.SyncTarget();
  for (int64_t k = 0; k < kMembers; ++k) {
    members[k]->SyncTarget();
    torch::manual_seed(99);
    DqnAgent out(s.resolved.agent, s.resolved.network, torch::kCPU);
    packed.Unpack(k, out);
    EXPECT_EQ(out.optimizer().step_count(), 3);
    const auto want = members[k]->online()->parameters();
    const auto got = out.online()->parameters();
    const auto got_target = out.target()->parameters();
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_TRUE(torch::allclose(got[i], want[i], 1e-4, 1e-5))
          << "member " << k << " parameter " << i;
      EXPECT_TRUE(torch::equal(got[i], got_target[i]));
      // The last step's gradients come along (the statistics read them).
      ASSERT_TRUE(got[i].grad().defined()) << "parameter " << i;
      EXPECT_TRUE(torch::allclose(got[i].grad(), want[i].grad(), 1e-4, 1e-5));
      EXPECT_TRUE(torch::allclose(out.optimizer().exp_avg_sq(i),
                                  members[k]->optimizer().exp_avg_sq(i), 1e-3,
                                  1e-9));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Agents, PackedAgentTest,
    ::testing::Values(
        Case{"dqn_flatten_clipped_double", "dqn", "flatten", 0.05, true, 0},
        Case{"rainbow_softmoe4_whole", "rainbow_lite", "softmoe4", 0.0, false,
             kMembers},
        Case{"rainbow_flatten_double", "rainbow_lite", "flatten", 0.0, true, 0},
        Case{"dqn_softmoe4_clipped_double_chunks_of_2", "dqn", "softmoe4", 0.5,
             true, 2},
        Case{"rainbow_softmoe1_x4_clipped_chunks_of_1", "rainbow_lite",
             "softmoe1_scaled4", 0.5, false, 1}),
    [](const auto& param_info) { return param_info.param.name; });

// Each member explores with its own stream, as DqnAgent::Act would.
TEST(PackedAgent, ActEqualsEachMembersAct) {
  const AgentSetup s = MakeSetup("dqn", "softmoe4");
  std::vector<std::unique_ptr<DqnAgent>> members;
  for (int64_t k = 0; k < kMembers; ++k) {
    torch::manual_seed(20 + k);
    members.push_back(std::make_unique<DqnAgent>(
        s.resolved.agent, s.resolved.network, torch::kCPU));
  }
  PackedAgent packed(s.resolved.agent, s.resolved.network, kMembers,
                     torch::kCPU);
  for (int64_t k = 0; k < kMembers; ++k) packed.Pack(k, *members[k]);
  const int64_t n = 6;
  std::vector<std::vector<uint8_t>> obs;
  std::vector<std::span<const uint8_t>> views;
  for (int64_t k = 0; k < kMembers; ++k) {
    const at::Tensor o =
        torch::randint(0, 2, {n * s.spec.obs_size()}, torch::kUInt8);
    obs.emplace_back(o.data_ptr<uint8_t>(), o.data_ptr<uint8_t>() + o.numel());
  }
  for (const auto& o : obs) views.emplace_back(o);
  for (const double epsilon : {0.0, 0.5, 1.0}) {
    std::vector<Rng> mine, theirs;
    for (int64_t k = 0; k < kMembers; ++k) {
      mine.emplace_back(static_cast<uint64_t>(k));
      theirs.emplace_back(static_cast<uint64_t>(k));
    }
    std::vector<Rng*> rngs;
    for (auto& r : mine) rngs.push_back(&r);
    const auto actions = packed.Act(views, n, epsilon, rngs);
    for (int64_t k = 0; k < kMembers; ++k) {
      EXPECT_EQ(actions[static_cast<size_t>(k)],
                members[k]->Act(obs[static_cast<size_t>(k)], n, epsilon,
                                theirs[static_cast<size_t>(k)]))
          << "epsilon " << epsilon << " member " << k;
      EXPECT_EQ(mine[static_cast<size_t>(k)].Uniform(),
                theirs[static_cast<size_t>(k)].Uniform());
    }
  }
}

TEST(PackedAgent, DivergedMemberStopsEveryStep) {
  const AgentSetup s = MakeSetup("dqn", "flatten");
  torch::manual_seed(3);
  DqnAgent a(s.resolved.agent, s.resolved.network, torch::kCPU);
  DqnAgent b(s.resolved.agent, s.resolved.network, torch::kCPU);
  PackedAgent packed(s.resolved.agent, s.resolved.network, 2, torch::kCPU);
  packed.Pack(0, a);
  packed.Pack(1, b);
  std::vector<SampledBatch> batches = {RandomBatch(s), RandomBatch(s)};
  batches[1].returns[0] = std::nan("");
  const auto before = packed.online()->packed_parameters()[0].clone();
  const auto m = packed.Update(batches);
  EXPECT_FALSE(m[0].diverged);
  EXPECT_TRUE(m[1].diverged);
  EXPECT_TRUE(torch::equal(packed.online()->packed_parameters()[0], before));
}

TEST(PackedAgent, UnpackableNetworksAreRefused) {
  AgentSetup s = MakeSetup("dqn", "top1_moe4");
  EXPECT_NE(ErrorText([&] {
              PackedAgent(s.resolved.agent, s.resolved.network, 2, torch::kCPU);
            }).find("penultimate"),
            std::string::npos);
}

}  // namespace
}  // namespace tokrl
