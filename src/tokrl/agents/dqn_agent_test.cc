#include "tokrl/agents/dqn_agent.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tokrl/agents/losses.h"
#include "tokrl/agents/packed_agent.h"
#include "tokrl/agents/testing.h"
#include "tokrl/agents/train_config.h"
#include "tokrl/core/testing.h"
#include "tokrl/env/registry.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/small_gemm_kernel.h"

namespace tokrl {
namespace {

using testing::AgentSetup;
using testing::MakeSetup;

std::vector<uint8_t> RandomObs(const EnvSpec& spec, int64_t n) {
  const at::Tensor obs =
      torch::randint(0, 2, {n * spec.obs_size()}, torch::kUInt8);
  return {obs.data_ptr<uint8_t>(), obs.data_ptr<uint8_t>() + obs.numel()};
}

// Act skips the network for exploring rows, but its actions and its use of
// the Rng must stay exactly EpsilonGreedy's on the full batch.
TEST(DqnAgent, ActEqualsEpsilonGreedyOnTheOnlineNetwork) {
  torch::manual_seed(0);
  const AgentSetup s = MakeSetup("dqn", "flatten");
  DqnAgent agent(s.resolved.agent, s.resolved.network, torch::kCPU);
  const int64_t n = 16;
  const std::vector<uint8_t> obs = RandomObs(s.spec, n);
  std::vector<int64_t> shape = {n};
  shape.insert(shape.end(), s.spec.obs_shape.begin(), s.spec.obs_shape.end());
  at::Tensor q;
  {
    torch::NoGradGuard no_grad;
    q = agent.online()
            ->forward(torch::from_blob(const_cast<uint8_t*>(obs.data()), shape,
                                       torch::kUInt8))
            .q;
  }
  for (const double epsilon : {0.0, 0.3, 1.0}) {
    Rng a(11), b(11);
    const std::vector<int32_t> actions = agent.Act(obs, n, epsilon, a);
    const at::Tensor expected = EpsilonGreedy(q, epsilon, b);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(actions[static_cast<size_t>(i)], expected[i].item<int64_t>())
          << "epsilon " << epsilon << " row " << i;
    }
    EXPECT_EQ(a.Uniform(), b.Uniform()) << "epsilon " << epsilon;
  }
}

// The C51 rule bootstraps from the head's own Q values, so a network whose
// head does not match the agent (scalar against C51, other atoms or value
// range) is refused when the agent is built, naming both sides.
TEST(DqnAgent, HeadThatDoesNotMatchTheAgentIsAnError) {
  const AgentSetup dqn = MakeSetup("dqn", "flatten");
  const AgentSetup rainbow = MakeSetup("rainbow_lite", "flatten");
  EXPECT_NO_THROW(
      DqnAgent(rainbow.resolved.agent, rainbow.resolved.network, torch::kCPU));
  EXPECT_NO_THROW(PackedAgent(rainbow.resolved.agent, rainbow.resolved.network,
                              2, torch::kCPU));
  const auto expect_refused = [](const AgentOptions& agent,
                                 const nn::QNetworkOptions& network,
                                 const std::string& words) {
    EXPECT_NE(
        ErrorOf([&] { DqnAgent(agent, network, torch::kCPU); }).find(words),
        std::string::npos)
        << words;
    EXPECT_NE(ErrorOf([&] {
                PackedAgent(agent, network, 2, torch::kCPU);
              }).find(words),
              std::string::npos)
        << words;
  };
  expect_refused(dqn.resolved.agent, rainbow.resolved.network,
                 "agent.distributional is false");
  expect_refused(rainbow.resolved.agent, dqn.resolved.network,
                 "agent.distributional is true");
  nn::QNetworkOptions other = rainbow.resolved.network;
  other.v_max = rainbow.resolved.agent.v_max + 1.0;
  expect_refused(rainbow.resolved.agent, other, "C51 head has");
  other = rainbow.resolved.network;
  other.num_atoms = rainbow.resolved.agent.num_atoms + 2;
  expect_refused(rainbow.resolved.agent, other, "C51 head has");
}

// The fast paths (fused routing kernel, one-pass gradient norm, C51 heads
// at the taken actions: DER's dueling noisy head in one layer and its
// double-Q target at the online network's actions) and the plain LibTorch
// ops give the same update to float rounding.
TEST(DqnAgent, FastPathsGiveThePlainUpdate) {
  for (const char* agent : {"rainbow_lite", "der"}) {
    SCOPED_TRACE(agent);
    const AgentSetup s = MakeSetup(agent, "softmoe4");
    torch::manual_seed(4);
    DqnAgent fast(s.resolved.agent, s.resolved.network, torch::kCPU);
    torch::manual_seed(4);
    DqnAgent plain(s.resolved.agent, s.resolved.network, torch::kCPU);
    const SampledBatch batch = testing::RandomBatch(s.resolved.network, 8);
    UpdateMetrics mf, mp;
    for (int step = 0; step < 3; ++step) {
      torch::manual_seed(10 + step);  // the same noise for both (DER)
      mf = fast.Update(batch);
      nn::SetFastPaths(false);
      torch::manual_seed(10 + step);
      mp = plain.Update(batch);
      nn::SetFastPaths(true);
      ASSERT_FALSE(mf.diverged || mp.diverged);
      EXPECT_NEAR(mf.loss, mp.loss, 1e-5 * std::abs(mp.loss)) << step;
      EXPECT_NEAR(mf.grad_norm, mp.grad_norm, 1e-4 * mp.grad_norm) << step;
    }
    const auto pf = fast.online()->parameters();
    const auto pp = plain.online()->parameters();
    for (size_t i = 0; i < pf.size(); ++i) {
      EXPECT_TRUE(torch::allclose(pf[i], pp[i], 1e-4, 1e-6))
          << "parameter " << i;
    }
  }
}

// DER's loss (C51 under double Q) is the rule written out with full
// forwards: the online network's greedy actions at s' pick the target
// network's distribution (the target network, perturbed, would pick others),
// with fast paths on (both heads at those actions only) and off.
TEST(DqnAgent, DoubleQC51LossTakesTheTargetAtTheOnlineActions) {
  const AgentSetup s = MakeSetup("der", "flatten");
  torch::manual_seed(5);
  DqnAgent agent(s.resolved.agent, s.resolved.network, torch::kCPU);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : agent.target()->parameters()) {
      p.add_(torch::randn_like(p) * 0.5);
    }
  }
  const SampledBatch batch = testing::RandomBatch(s.resolved.network, 16);
  torch::Tensor want;
  {
    torch::NoGradGuard no_grad;
    const at::Tensor rows = torch::arange(16);
    const nn::QOutput online = agent.online()->forward(batch.obs);
    const at::Tensor picked =
        GreedyActions(agent.online()->forward(batch.next_obs).q);
    ASSERT_FALSE(torch::equal(
        picked, GreedyActions(agent.target()->forward(batch.next_obs).q)));
    const at::Tensor next_logits =
        agent.target()->forward(batch.next_obs).logits.index({rows, picked});
    const at::Tensor targets =
        ProjectDistribution(torch::softmax(next_logits, -1), batch.returns,
                            batch.discounts, agent.support());
    want = C51Loss(online.logits.index({rows, batch.actions}), targets);
  }
  for (const bool fast : {true, false}) {
    nn::SetFastPaths(fast);
    const UpdateLoss l = agent.ComputeLoss(batch);
    nn::SetFastPaths(true);
    EXPECT_TRUE(torch::allclose(l.terms.per_sample.detach(), want, 1e-5, 1e-6))
        << "fast " << fast;
  }
}

// train.torch_threads > 1 runs the parallel kernels (tokrl's and ATen's) on
// several threads. Where the small-matrix kernel fuses multiply-adds (AVX2 +
// FMA, AVX-512), every MinAtar layer is in tokrl's kernels, whose sums split
// the same way for any thread count: every head's update is then the same
// bits as on one thread (the narrow head layers and PerPatch's embedding are
// in them since OpenBLAS's and ATen's conv's sums were not). Elsewhere wide
// dense layers are OpenBLAS's: the same update to float rounding.
TEST(DqnAgent, UpdateIsTheSameForAnyThreadCount) {
  const int threads = torch::get_num_threads();
  const bool bitwise = internal::SmallGemmFuses();
  for (const char* agent : {"dqn", "rainbow_lite", "der"}) {
    for (const std::string network :
         {"flatten", "tokenized_avg_x4", "softmoe4", "softmoe1_scaled4",
          "softmoe1_scaled4_perfeat", "softmoe1_scaled4_perpatch", "top1_moe4",
          "expert_choice4"}) {
      const AgentSetup s = MakeSetup(agent, network);
      std::vector<UpdateMetrics> first;
      std::vector<torch::OrderedDict<std::string, at::Tensor>> params;
      for (const int n : {1, 3}) {
        torch::set_num_threads(n);
        torch::manual_seed(5);
        DqnAgent a(s.resolved.agent, s.resolved.network, torch::kCPU);
        const SampledBatch batch = testing::RandomBatch(s.resolved.network, 32);
        first.push_back(a.Update(batch));
        a.Update(batch);
        params.push_back(a.online()->named_parameters());
      }
      const std::string row = std::string(agent) + " " + network;
      EXPECT_NEAR(first[0].loss, first[1].loss, 1e-6 * first[0].loss) << row;
      EXPECT_NEAR(first[0].grad_norm, first[1].grad_norm,
                  1e-5 * first[0].grad_norm)
          << row;
      if (!bitwise) continue;
      EXPECT_EQ(first[0].loss, first[1].loss) << row;
      EXPECT_EQ(first[0].grad_norm, first[1].grad_norm) << row;
      for (const auto& item : params[0]) {
        EXPECT_TRUE(torch::equal(item.value(), params[1][item.key()]))
            << row << " " << item.key();
      }
    }
  }
  torch::set_num_threads(threads);
}

}  // namespace
}  // namespace tokrl
