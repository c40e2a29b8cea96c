#include "tokrl/nn/noisy_linear.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "tokrl/core/check.h"
#include "tokrl/nn/linear.h"
#include "tokrl/nn/testing.h"

namespace tokrl::nn {
namespace {

TEST(NoisyLinearTest, InitFollowsFortunato) {
  torch::manual_seed(0);
  NoisyLinear layer(NoisyLinearOptions(64, 10));
  const double bound = 1.0 / 8.0;
  EXPECT_LE(layer->weight_mu.abs().max().item<double>(), bound);
  EXPECT_LE(layer->bias_mu.abs().max().item<double>(), bound);
  EXPECT_TRUE(
      torch::allclose(layer->weight_sigma, torch::full({10, 64}, 0.5 * bound)));
  EXPECT_TRUE(
      torch::allclose(layer->bias_sigma, torch::full({10}, 0.5 * bound)));
  NoisyLinear dopamine(NoisyLinearOptions(64, 10).sigma0(0.1));
  EXPECT_NEAR(dopamine->bias_sigma[0].item<double>(), 0.1 / 8.0, 1e-7);
}

TEST(NoisyLinearTest, FactorisedNoiseIsSignedSquareRoot) {
  torch::manual_seed(1);
  const at::Tensor f = FactorisedNoise(1000, torch::kDouble);
  torch::manual_seed(1);
  const at::Tensor e = torch::randn({1000}, torch::kDouble);
  EXPECT_TRUE(torch::allclose(f, e.sign() * e.abs().sqrt()));
}

TEST(NoisyLinearTest, NoiseInTrainingResetChangesItEvalIsDeterministic) {
  torch::manual_seed(2);
  NoisyLinear layer(NoisyLinearOptions(8, 4));
  const at::Tensor x = torch::randn({3, 8});
  // The layer's products are LinearForward's (the same values as
  // torch::linear within float rounding).
  const at::Tensor mean = LinearForward(x, layer->weight_mu, layer->bias_mu);

  // Train mode: noisy, but fixed until reset_noise().
  const at::Tensor a = layer->forward(x);
  EXPECT_FALSE(torch::allclose(a, mean));
  EXPECT_TRUE(torch::equal(a, layer->forward(x)));
  layer->reset_noise();
  const at::Tensor b = layer->forward(x);
  EXPECT_FALSE(torch::allclose(a, b));
  // Exactly the factorised formula.
  const at::Tensor w =
      layer->weight_mu +
      layer->weight_sigma * torch::outer(layer->eps_out, layer->eps_in);
  EXPECT_TRUE(torch::allclose(
      b, torch::linear(x, w,
                       layer->bias_mu + layer->bias_sigma * layer->eps_out)));

  // Eval mode: the mean weights, unaffected by reset_noise().
  layer->eval();
  EXPECT_TRUE(torch::equal(layer->forward(x), mean));
  layer->reset_noise();
  EXPECT_TRUE(torch::equal(layer->forward(x), mean));
}

TEST(NoisyLinearTest, NoisyEvalOption) {
  torch::manual_seed(3);
  NoisyLinear layer(NoisyLinearOptions(8, 4).deterministic_eval(false));
  layer->eval();
  const at::Tensor x = torch::randn({3, 8});
  EXPECT_FALSE(torch::allclose(
      layer->forward(x), torch::linear(x, layer->weight_mu, layer->bias_mu)));
}

TEST(NoisyLinearTest, GradientsReachMuAndSigma) {
  torch::manual_seed(4);
  NoisyLinear layer(NoisyLinearOptions(8, 4));
  (layer->forward(torch::randn({5, 8})) * torch::randn({5, 4}))
      .sum()
      .backward();
  testing::ExpectEveryParameterHasNonzeroGrad(*layer);
  EXPECT_EQ(layer->parameters().size(), 4u);
  EXPECT_EQ(layer->buffers().size(), 2u);
}

TEST(NoisyLinearTest, CloneKeepsNoiseAndIsDeepSaveLoadRoundTrips) {
  torch::manual_seed(5);
  NoisyLinear layer(NoisyLinearOptions(8, 4));
  const at::Tensor x = torch::randn({3, 8});
  const at::Tensor before = layer->forward(x);
  testing::TempFile file("noisy");
  torch::save(layer, file.path());
  NoisyLinear loaded(NoisyLinearOptions(8, 4));
  torch::load(loaded, file.path());
  EXPECT_TRUE(torch::equal(loaded->forward(x), before));

  auto copy = std::dynamic_pointer_cast<NoisyLinearImpl>(layer->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_TRUE(torch::equal(copy->forward(x), before));
  testing::ExpectDeepClone(*layer, *copy);
  copy->reset_noise();
  EXPECT_FALSE(torch::equal(copy->eps_in, layer->eps_in));
}

}  // namespace
}  // namespace tokrl::nn
