#include "tokrl/agents/fused_adam.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>

namespace tokrl {
namespace {

// Same trajectory as torch::optim::Adam on a small regression problem.
TEST(FusedAdam, MatchesTorchAdam) {
  torch::manual_seed(0);
  auto make = [] {
    torch::manual_seed(1);
    return torch::nn::Sequential(torch::nn::Linear(7, 13), torch::nn::ReLU(),
                                 torch::nn::Linear(13, 3));
  };
  auto a = make();
  auto b = make();
  torch::optim::Adam reference(a->parameters(),
                               torch::optim::AdamOptions(3e-3).eps(1.5e-4));
  FusedAdam fused(b->parameters(),
                  {.lr = 3e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1.5e-4});
  const auto x = torch::randn({32, 7});
  const auto y = torch::randn({32, 3});
  for (int step = 0; step < 25; ++step) {
    reference.zero_grad();
    torch::mse_loss(a->forward(x), y).backward();
    reference.step();
    fused.ZeroGrad();
    torch::mse_loss(b->forward(x), y).backward();
    fused.Step();
  }
  const auto pa = a->parameters(), pb = b->parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::allclose(pa[i], pb[i], 1e-5, 1e-6)) << "parameter " << i;
  }
  EXPECT_EQ(fused.step_count(), 25);
}

TEST(FusedAdam, GradNormIsClipGradNormsMeasure) {
  torch::manual_seed(3);
  // 1000 elements: the kernel's 64-wide blocks and a tail.
  torch::nn::Sequential net(torch::nn::Linear(40, 25), torch::nn::ReLU(),
                            torch::nn::Linear(25, 3));
  FusedAdam adam(net->parameters(), {});
  EXPECT_EQ(adam.GradNorm(), 0.0);  // no gradients yet
  torch::mse_loss(net->forward(torch::randn({8, 40})), torch::randn({8, 3}))
      .backward();
  const double expected = torch::nn::utils::clip_grad_norm_(
      net->parameters(), std::numeric_limits<double>::infinity());
  EXPECT_GT(expected, 0.0);
  EXPECT_NEAR(adam.GradNorm(), expected, 1e-6 * expected);
}

TEST(FusedAdam, StateRoundTrips) {
  auto net = torch::nn::Linear(4, 2);
  FusedAdam adam(net->parameters(),
                 {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8});
  net->forward(torch::ones({3, 4})).sum().backward();
  adam.Step();
  torch::serialize::OutputArchive out;
  adam.Save(out);
  const auto path =
      std::filesystem::temp_directory_path() / "tokrl_fused_adam.pt";
  out.save_to(path.string());
  auto copy = torch::nn::Linear(4, 2);
  copy->weight.data().copy_(net->weight);
  copy->bias.data().copy_(net->bias);
  FusedAdam restored(copy->parameters(),
                     {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8});
  torch::serialize::InputArchive in;
  in.load_from(path.string());
  restored.Load(in);
  EXPECT_EQ(restored.step_count(), 1);
  adam.ZeroGrad();
  net->forward(torch::ones({3, 4})).sum().backward();
  copy->forward(torch::ones({3, 4})).sum().backward();
  adam.Step();
  restored.Step();
  EXPECT_TRUE(torch::equal(net->weight, copy->weight));
  auto other = torch::nn::Linear(5, 2);
  FusedAdam wrong(other->parameters(), {});
  torch::serialize::InputArchive again;
  again.load_from(path.string());
  EXPECT_ANY_THROW(wrong.Load(again));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace tokrl
