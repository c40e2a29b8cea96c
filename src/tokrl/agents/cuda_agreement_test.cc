// CPU and CUDA give the same learning (issue 14 part 5): the same seed gives
// the same first-update loss on both, unpacked and packed. Skipped where
// LibTorch sees no CUDA device (CI); scripts/gpu_check.sh runs it on a GPU.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tokrl/agents/dqn_agent.h"
#include "tokrl/agents/packed_agent.h"
#include "tokrl/agents/testing.h"

namespace tokrl {
namespace {

class CudaAgreementTest
    : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(CudaAgreementTest, FirstUpdateLossesMatchTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const ResolvedConfig r =
      testing::MakeSetup(GetParam().first, GetParam().second).resolved;
  torch::manual_seed(0);
  DqnAgent cpu(r.agent, r.network, torch::kCPU);
  torch::manual_seed(0);  // the same init, drawn on the CPU, then moved
  DqnAgent cuda(r.agent, r.network, torch::Device(torch::kCUDA, 0));
  torch::manual_seed(1);
  const SampledBatch batch = testing::RandomBatch(r.network, 32);
  const UpdateMetrics a = cpu.Update(batch);
  const UpdateMetrics b = cuda.Update(batch);
  EXPECT_NEAR(a.loss, b.loss, 1e-4 * std::max(1.0, std::abs(a.loss)));
  EXPECT_NEAR(a.grad_norm, b.grad_norm, 1e-3 * std::max(1.0, a.grad_norm));

  // Packed: two members on CUDA against the same two on the CPU.
  PackedAgent packed_cpu(r.agent, r.network, 2, torch::kCPU);
  PackedAgent packed_cuda(r.agent, r.network, 2,
                          torch::Device(torch::kCUDA, 0));
  for (int k = 0; k < 2; ++k) {
    torch::manual_seed(10 + k);
    DqnAgent member(r.agent, r.network, torch::kCPU);
    packed_cpu.Pack(k, member);
    packed_cuda.Pack(k, member);
  }
  const std::vector<SampledBatch> batches = {
      testing::RandomBatch(r.network, 32), testing::RandomBatch(r.network, 32)};
  const auto pa = packed_cpu.Update(batches);
  const auto pb = packed_cuda.Update(batches);
  for (int k = 0; k < 2; ++k) {
    EXPECT_NEAR(pa[k].loss, pb[k].loss,
                1e-4 * std::max(1.0, std::abs(pa[k].loss)))
        << "member " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Agents, CudaAgreementTest,
    ::testing::Values(std::make_pair("dqn", "flatten"),
                      std::make_pair("rainbow_lite", "softmoe4"),
                      std::make_pair("rainbow_lite", "softmoe1_scaled4")));

}  // namespace
}  // namespace tokrl
