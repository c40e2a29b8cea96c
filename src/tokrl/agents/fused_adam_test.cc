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

// Float CPU gradients (the one-pass kernel) and others (double here, as
// CUDA ones: tensor operations, read once).
TEST(FusedAdam, GradNormIsClipGradNormsMeasure) {
  for (const auto dtype : {torch::kFloat, torch::kDouble}) {
    torch::manual_seed(3);
    // 1000 elements: the kernel's 64-wide blocks and a tail.
    torch::nn::Sequential net(torch::nn::Linear(40, 25), torch::nn::ReLU(),
                              torch::nn::Linear(25, 3));
    net->to(dtype);
    FusedAdam adam(net->parameters(), {});
    EXPECT_EQ(adam.GradNorm(), 0.0);  // no gradients yet
    torch::mse_loss(net->forward(torch::randn({8, 40}, dtype)),
                    torch::randn({8, 3}, dtype))
        .backward();
    const double expected = torch::nn::utils::clip_grad_norm_(
        net->parameters(), std::numeric_limits<double>::infinity());
    EXPECT_GT(expected, 0.0);
    EXPECT_NEAR(adam.GradNorm(), expected, 1e-6 * expected);
    EXPECT_NEAR(adam.GradNormTensor().item<double>(), expected,
                1e-6 * expected);
    // Both square and add in double: equal to double precision.
    EXPECT_NEAR(adam.GradNorm(), adam.GradNormTensor().item<double>(),
                1e-12 * expected);
  }
}

// The device form (for CUDA graphs) equals Step() where `apply` is true and
// changes nothing where it is false; GradNormTensor equals GradNorm. Both
// with every parameter's gradient (the moments as one buffer) and with one
// parameter without a gradient (skipped, as Step skips it).
TEST(FusedAdam, MaskedStepIsStepWhereApplied) {
  for (const bool all_grads : {true, false}) {
    SCOPED_TRACE(all_grads ? "every gradient" : "one missing");
    const auto make = [] {
      torch::manual_seed(5);
      return torch::nn::Sequential(torch::nn::Linear(6, 9), torch::nn::ReLU(),
                                   torch::nn::Linear(9, 2));
    };
    auto a = make(), b = make();
    const FusedAdamOptions o{
        .lr = 1e-2, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-6};
    FusedAdam eager(a->parameters(), o), masked(b->parameters(), o);
    const auto pa = a->parameters(), pb = b->parameters();
    const auto x = torch::randn({16, 6});
    for (int step = 1; step <= 6; ++step) {
      const bool apply = step != 4;  // step 4: a diverged update
      eager.ZeroGrad();
      masked.ZeroGrad();
      a->forward(x).square().mean().backward();
      b->forward(x).square().mean().backward();
      if (!all_grads) {
        pa[1].mutable_grad() = torch::Tensor();
        pb[1].mutable_grad() = torch::Tensor();
      }
      EXPECT_NEAR(masked.GradNormTensor().item<double>(), eager.GradNorm(),
                  1e-6 * eager.GradNorm());
      const auto before = b->parameters()[0].clone();
      const auto m_before = masked.exp_avg(0).clone();
      if (apply) eager.Step();
      masked.MaskedStep(torch::tensor(apply),
                        torch::tensor(static_cast<double>(eager.step_count() +
                                                          (apply ? 0 : 1))));
      if (apply) {
        masked.set_step_count(masked.step_count() + 1);
      } else {
        EXPECT_TRUE(torch::equal(pb[0], before));
        EXPECT_TRUE(torch::equal(masked.exp_avg(0), m_before));
      }
      for (size_t i = 0; i < pa.size(); ++i) {
        EXPECT_TRUE(torch::allclose(pa[i], pb[i], 1e-5, 1e-7))
            << "step " << step << ", parameter " << i;
        EXPECT_TRUE(torch::allclose(eager.exp_avg_sq(i), masked.exp_avg_sq(i),
                                    1e-5, 1e-9))
            << "step " << step << ", parameter " << i;
      }
    }
    if (!all_grads) {  // never stepped: zero moments
      EXPECT_EQ(masked.exp_avg(1).abs().sum().item<double>(), 0.0);
    }
  }
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
