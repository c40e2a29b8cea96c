// GraphedStep equals DqnAgent's eager Update: on the CPU with capture
// off (the whole device-side computation: masked Adam, norm, clipping), and
// on CUDA with a captured graph (skipped without a CUDA device; run by
// scripts/gpu_check.sh).
#include "tokrl/agents/graphed_update.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tokrl/agents/dqn_agent.h"
#include "tokrl/agents/losses.h"
#include "tokrl/agents/packed_agent.h"
#include "tokrl/agents/testing.h"

namespace tokrl {
namespace {

void ExpectSameState(DqnAgent& a, DqnAgent& b, double tol) {
  const auto pa = a.online()->parameters();
  const auto pb = b.online()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::allclose(pa[i].cpu(), pb[i].cpu(), tol, tol))
        << "parameter " << i << " differs by "
        << (pa[i].cpu() - pb[i].cpu()).abs().max().item<double>();
    EXPECT_TRUE(torch::allclose(a.optimizer().exp_avg_sq(i).cpu(),
                                b.optimizer().exp_avg_sq(i).cpu(), tol, tol))
        << "Adam's v of parameter " << i;
  }
  EXPECT_EQ(a.optimizer().step_count(), b.optimizer().step_count());
}

void ExpectSameMetrics(const UpdateMetrics& a, const UpdateMetrics& b,
                       double tol, int step) {
  const auto near = [&](double x, double y) {
    return std::abs(x - y) <= tol * std::max(1.0, std::abs(x));
  };
  EXPECT_TRUE(near(a.loss, b.loss)) << step << ": " << a.loss << " " << b.loss;
  EXPECT_TRUE(near(a.grad_norm, b.grad_norm))
      << step << ": " << a.grad_norm << " " << b.grad_norm;
  EXPECT_TRUE(near(a.mean_q, b.mean_q)) << step;
  EXPECT_EQ(a.diverged, b.diverged) << step;
  EXPECT_TRUE(torch::allclose(a.priorities, b.priorities, tol, tol)) << step;
}

struct Case {
  std::string agent, network;
  double grad_clip;
};

class GraphedUpdateTest : public ::testing::TestWithParam<Case> {
 protected:
  ResolvedConfig Resolved() const {
    ResolvedConfig r =
        testing::MakeSetup(GetParam().agent, GetParam().network).resolved;
    r.agent.grad_clip_norm = GetParam().grad_clip;
    if (!r.agent.distributional) r.agent.double_q = true;
    return r;
  }
  // The same agent twice on `device`: eager, and with CUDA graphs.
  static std::pair<DqnAgent, DqnAgent> CudaPair(ResolvedConfig r,
                                                torch::Device device) {
    r.agent.cuda_graphs = false;
    torch::manual_seed(0);
    DqnAgent eager(r.agent, r.network, device);
    r.agent.cuda_graphs = true;
    torch::manual_seed(0);
    DqnAgent graphed(r.agent, r.network, device);
    return {std::move(eager), std::move(graphed)};
  }
};

TEST_P(GraphedUpdateTest, EqualsEagerUpdatesOnTheCpu) {
  const ResolvedConfig r = Resolved();
  torch::manual_seed(0);
  DqnAgent eager(r.agent, r.network, torch::kCPU);
  torch::manual_seed(0);
  DqnAgent graphed(r.agent, r.network, torch::kCPU);
  GraphedStep update(torch::kCPU, /*capture=*/false);
  for (int step = 0; step < 6; ++step) {
    torch::manual_seed(100 + step);
    const SampledBatch batch = testing::RandomBatch(r.network, 32);
    const UpdateMetrics a = eager.Update(batch);
    const UpdateMetrics b = GraphedDqnUpdate(graphed, update, batch);
    ExpectSameMetrics(a, b, 1e-5, step);
    if (step == 2) {
      eager.SyncTarget();
      graphed.SyncTarget();
    }
  }
  ExpectSameState(eager, graphed, 1e-5);
}

TEST_P(GraphedUpdateTest, ADivergedUpdateChangesNothing) {
  const ResolvedConfig r = Resolved();
  torch::manual_seed(0);
  DqnAgent agent(r.agent, r.network, torch::kCPU);
  GraphedStep update(torch::kCPU, /*capture=*/false);
  torch::manual_seed(1);
  GraphedDqnUpdate(agent, update, testing::RandomBatch(r.network, 32));
  std::vector<torch::Tensor> before;
  for (const auto& p : agent.online()->parameters())
    before.push_back(p.clone());
  const torch::Tensor m0 = agent.optimizer().exp_avg(0).clone();
  SampledBatch bad = testing::RandomBatch(r.network, 32);
  bad.returns[3] = std::numeric_limits<float>::quiet_NaN();
  const UpdateMetrics m = GraphedDqnUpdate(agent, update, bad);
  EXPECT_TRUE(m.diverged);
  EXPECT_EQ(agent.optimizer().step_count(), 1);
  const auto after = agent.online()->parameters();
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(torch::equal(before[i], after[i])) << "parameter " << i;
  }
  EXPECT_TRUE(torch::equal(m0, agent.optimizer().exp_avg(0)));
  // The next finite batch updates again.
  EXPECT_FALSE(
      GraphedDqnUpdate(agent, update, testing::RandomBatch(r.network, 32))
          .diverged);
  EXPECT_EQ(agent.optimizer().step_count(), 2);
}

TEST_P(GraphedUpdateTest, CapturedGraphEqualsEagerUpdatesOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA, 0);
  const ResolvedConfig r = Resolved();
  auto [eager, graphed] = CudaPair(r, cuda);
  ASSERT_FALSE(eager.graphed());
  ASSERT_TRUE(graphed.graphed());
  // Warm-up, capture, then replays; a target sync in between.
  const int steps = GraphedStep::kWarmup + 6;
  for (int step = 0; step < steps; ++step) {
    torch::manual_seed(100 + step);
    const SampledBatch batch = testing::RandomBatch(r.network, 32);
    ExpectSameMetrics(eager.Update(batch), graphed.Update(batch), 1e-4, step);
    if (step == GraphedStep::kWarmup + 2) {
      eager.SyncTarget();
      graphed.SyncTarget();
    }
  }
  ExpectSameState(eager, graphed, 1e-4);
  // A diverged batch, replayed, is not applied.
  SampledBatch bad = testing::RandomBatch(r.network, 32);
  bad.returns[0] = std::numeric_limits<float>::quiet_NaN();
  const int64_t steps_before = graphed.optimizer().step_count();
  const torch::Tensor p0 = graphed.online()->parameters()[0].clone();
  EXPECT_TRUE(graphed.Update(bad).diverged);
  EXPECT_EQ(graphed.optimizer().step_count(), steps_before);
  EXPECT_TRUE(torch::equal(p0, graphed.online()->parameters()[0]));
  // After a Load (new storage) the agent captures again, and still agrees.
  torch::serialize::OutputArchive out;
  eager.Save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  const std::string data = bytes.str();
  in.load_from(data.data(), data.size(), cuda);
  graphed.Load(in);
  for (int step = 0; step < GraphedStep::kWarmup + 3; ++step) {
    torch::manual_seed(200 + step);
    const SampledBatch batch = testing::RandomBatch(r.network, 32);
    ExpectSameMetrics(eager.Update(batch), graphed.Update(batch), 1e-4, step);
  }
  ExpectSameState(eager, graphed, 1e-4);
}

// K = 3 members: the packed update against PackedAgent's eager one, and
// (on CUDA) captured against eager.
void ExpectPackedGraphMatches(const ResolvedConfig& r, torch::Device device,
                              bool capture) {
  constexpr int64_t kMembers = 3;
  AgentOptions eager_options = r.agent;
  eager_options.cuda_graphs = false;
  PackedAgent eager(eager_options, r.network, kMembers, device);
  PackedAgent graphed(r.agent, r.network, kMembers, device);
  for (int64_t k = 0; k < kMembers; ++k) {
    torch::manual_seed(10 + k);
    DqnAgent member(r.agent, r.network, torch::kCPU);
    eager.Pack(k, member);
    graphed.Pack(k, member);
  }
  GraphedStep update(device, capture);
  const double tol = device.is_cpu() ? 1e-5 : 1e-4;
  for (int step = 0; step < GraphedStep::kWarmup + 4; ++step) {
    torch::manual_seed(300 + step);
    std::vector<SampledBatch> batches;
    for (int64_t k = 0; k < kMembers; ++k) {
      batches.push_back(testing::RandomBatch(r.network, 32));
    }
    if (step == GraphedStep::kWarmup + 2) {
      batches[1].returns[5] = std::numeric_limits<float>::quiet_NaN();
    }
    const auto a = eager.Update(batches);
    const auto b = GraphedPackedUpdate(graphed, update, batches);
    for (int64_t k = 0; k < kMembers; ++k) {
      SCOPED_TRACE("member " + std::to_string(k));
      const UpdateMetrics& x = a[static_cast<size_t>(k)];
      const UpdateMetrics& y = b[static_cast<size_t>(k)];
      EXPECT_EQ(x.diverged, y.diverged) << step;
      if (std::isfinite(x.loss)) {
        EXPECT_NEAR(x.loss, y.loss, tol) << step;
      }
      if (x.priorities.defined()) {
        ExpectSameMetrics(x, y, tol, step);
      }
    }
  }
  EXPECT_EQ(eager.optimizer().step_count(), graphed.optimizer().step_count());
  const auto pa = eager.online()->packed_parameters();
  const auto pb = graphed.online()->packed_parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::allclose(pa[i].cpu(), pb[i].cpu(), tol, tol))
        << "parameter " << i;
  }
}

TEST_P(GraphedUpdateTest, PackedEqualsEagerPackedUpdatesOnTheCpu) {
  ExpectPackedGraphMatches(Resolved(), torch::kCPU, /*capture=*/false);
}

TEST_P(GraphedUpdateTest, PackedCapturedGraphEqualsEagerOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ExpectPackedGraphMatches(Resolved(), torch::Device(torch::kCUDA, 0),
                           /*capture=*/true);
}

TEST_P(GraphedUpdateTest, GreedyActionsOfEveryRow) {
  const ResolvedConfig r = Resolved();
  torch::manual_seed(0);
  DqnAgent agent(r.agent, r.network, torch::kCPU);
  GraphedStep step(torch::kCPU, /*capture=*/false);
  const auto q = [&](const torch::Tensor& x) {
    return agent.online()->forward(x).q;
  };
  for (int call = 0; call < 3; ++call) {
    const torch::Tensor obs = testing::RandomBatch(r.network, 16).obs;
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(GraphedGreedyActions(step, obs, q),
                             GreedyActions(q(obs))));
  }
  // A batch of another shape is not taken (the agents act eagerly then).
  EXPECT_FALSE(step.Accepts({testing::RandomBatch(r.network, 8).obs}));
}

TEST_P(GraphedUpdateTest, CapturedActingEqualsEagerOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device cuda(torch::kCUDA, 0);
  const ResolvedConfig r = Resolved();
  auto [eager, graphed] = CudaPair(r, cuda);
  const int64_t n = 8;
  for (int call = 0; call < GraphedStep::kWarmup + 4; ++call) {
    const torch::Tensor obs = testing::RandomBatch(r.network, n).obs;
    const std::span<const uint8_t> bytes(obs.data_ptr<uint8_t>(),
                                         static_cast<size_t>(obs.numel()));
    for (const bool eval : {false, true}) {
      Rng a(call), b(call);
      EXPECT_EQ(eager.Act(bytes, n, 0.3, a, eval),
                graphed.Act(bytes, n, 0.3, b, eval))
          << call;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Agents, GraphedUpdateTest,
    ::testing::Values(Case{"dqn", "flatten", 0.0},
                      Case{"dqn", "softmoe4", 0.05},
                      Case{"rainbow_lite", "softmoe4", 0.0},
                      Case{"rainbow_lite", "softmoe1_scaled4", 10.0}),
    [](const auto& test) {
      return test.param.agent + "_" + test.param.network +
             (test.param.grad_clip > 0 ? "_clip" : "");
    });

}  // namespace
}  // namespace tokrl
