#include "tokrl/nn/noisy_linear.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/nn/fast_paths.h"
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

// reset_noise's fast path draws FactorisedNoise's numbers, bit for bit.
TEST(NoisyLinearTest, ResetNoiseDrawsFactorisedNoise) {
  NoisyLinear layer(NoisyLinearOptions(1600, 153));
  for (const bool fast : {true, false}) {
    SCOPED_TRACE(fast);
    SetFastPaths(fast);
    torch::manual_seed(11);
    layer->reset_noise();
    torch::manual_seed(11);
    const at::Tensor in = FactorisedNoise(1600, torch::kFloat);
    const at::Tensor out = FactorisedNoise(153, torch::kFloat);
    EXPECT_TRUE(torch::equal(layer->eps_in, in));
    EXPECT_TRUE(torch::equal(layer->eps_out, out));
  }
  SetFastPaths(true);
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

// The fast path forms the noisy weight and bias in one autograd node of two
// loops; they must be the tensor formula's bits in both directions, on any
// thread count (its loops split the rows).
TEST(NoisyLinearTest, FastParamsAreTheTensorOpsBitForBit) {
  const int threads = torch::get_num_threads();
  for (const auto& [in, out] :
       {std::pair<int64_t, int64_t>{8, 4}, {1600, 306}}) {
    SCOPED_TRACE(std::to_string(in) + " -> " + std::to_string(out));
    torch::manual_seed(6);
    NoisyLinear layer(NoisyLinearOptions(in, out));
    {
      torch::NoGradGuard no_grad;  // sigma differs from its constant init
      layer->weight_sigma.uniform_(-0.3, 0.3);
      layer->bias_sigma.uniform_(-0.3, 0.3);
    }
    const at::Tensor x = torch::randn({32, in});
    const at::Tensor probe = torch::randn({32, out});
    for (const int t : {1, 3}) {
      SCOPED_TRACE(t);
      torch::set_num_threads(t);
      // The formula as tensor ops, through the same (fast) layer product on
      // as many threads: without FMA the wide layer is OpenBLAS's, whose
      // sums depend on the thread count (linear.h).
      const at::Tensor want = LinearForward(
          x,
          layer->weight_mu +
              layer->weight_sigma * torch::outer(layer->eps_out, layer->eps_in),
          layer->bias_mu + layer->bias_sigma * layer->eps_out);
      (want * probe).sum().backward();
      std::vector<at::Tensor> want_grads;
      for (const auto& p : layer->parameters()) {
        want_grads.push_back(p.grad().clone());
        p.mutable_grad().reset();
      }
      const at::Tensor got = layer->forward(x);
      EXPECT_TRUE(torch::equal(got, want));
      (got * probe).sum().backward();
      const auto params = layer->parameters();
      for (size_t i = 0; i < params.size(); ++i) {
        EXPECT_TRUE(torch::equal(params[i].grad(), want_grads[i])) << i;
        params[i].mutable_grad().reset();
      }
    }
    torch::set_num_threads(threads);
  }
}

// Inside a NoisyParamsReuse a layer forms its weights once: a second use
// under grad mode is the same tensor, one without grad its detached values;
// the gradient of both uses together is that of forming them twice (up to
// rounding: sigma's is then (g1 + g2) eps, not g1 eps + g2 eps);
// reset_noise drops them, and the scope's end ends the reuse.
TEST(NoisyLinearTest, ReuseFormsTheWeightsOncePerNoise) {
  for (const bool fast : {true, false}) {
    SCOPED_TRACE(fast);
    SetFastPaths(fast);
    torch::manual_seed(6);
    NoisyLinear layer(NoisyLinearOptions(16, 5));
    const at::Tensor x = torch::randn({3, 16});
    const auto loss = [&] {
      return (layer->forward(x) * layer->forward(x + 1)).sum();
    };
    loss().backward();
    std::vector<at::Tensor> want;
    for (auto& p : layer->parameters()) {
      want.push_back(p.grad().clone());
      p.mutable_grad().reset();
    }
    {
      const NoisyParamsReuse reuse(*layer);
      const auto [w1, b1] = layer->params();
      const auto [w2, b2] = layer->params();
      EXPECT_TRUE(w1.is_same(w2) && b1.is_same(b2));
      EXPECT_TRUE(w1.requires_grad());
      {
        torch::NoGradGuard no_grad;
        const auto [w3, b3] = layer->params();
        EXPECT_FALSE(w3.requires_grad());
        EXPECT_EQ(w3.data_ptr(), w1.data_ptr());
      }
      loss().backward();
      const auto params = layer->parameters();
      for (size_t i = 0; i < params.size(); ++i) {
        EXPECT_TRUE(torch::allclose(params[i].grad(), want[i])) << i;
      }
      layer->reset_noise();
      const auto [w4, b4] = layer->params();
      EXPECT_FALSE(torch::equal(w4, w1));
      EXPECT_TRUE(layer->params().first.is_same(w4));
    }
    const at::Tensor w5 = layer->params().first;
    EXPECT_FALSE(w5.is_same(layer->params().first));
  }
  SetFastPaths(true);
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
