#include "tokrl/nn/routing_stats.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tokrl/nn/testing.h"

namespace tokrl::nn {
namespace {

QNetworkOptions MinAtarSoftMoE(int64_t experts) {
  QNetworkOptions o;
  o.obs_shape = {4, 10, 10};
  o.num_actions = 3;
  o.tokenizer = Tokenization::kPerConv;
  o.penultimate = Penultimate::kSoftMoE;
  o.experts = experts;
  o.hidden = 16;
  return o;
}

at::Tensor RandomObs() {
  torch::manual_seed(3);
  return (torch::rand({8, 4, 10, 10}) < 0.1).to(torch::kUInt8);
}

TEST(RoutingStats, NamesOnlyForMixtures) {
  QNetworkOptions dense = MinAtarSoftMoE(4);
  dense.penultimate = Penultimate::kDense;
  EXPECT_TRUE(RoutingStatNames(*QNetwork(dense)).empty());
  EXPECT_TRUE(RoutingStats(*QNetwork(dense), RandomObs()).empty());
  const auto names = RoutingStatNames(*QNetwork(MinAtarSoftMoE(4)));
  EXPECT_EQ(names.size(), 8u + 4 + 4);
}

// Phi = 0: every logit is 0, so the routing is uniform: dispatch max 1/m,
// entropies 1, equal expert mass, and every token gets the same output.
TEST(RoutingStats, ZeroPhiIsUniformRouting) {
  QNetwork net(MinAtarSoftMoE(4));
  {
    torch::NoGradGuard no_grad;
    net->softmoe->phi.zero_();
  }
  const auto s = RoutingStats(*net, RandomObs());
  EXPECT_NEAR(s.at("routing/dispatch_max"), 1.0 / 100, 1e-6);
  EXPECT_NEAR(s.at("routing/dispatch_entropy"), 1.0, 1e-5);
  EXPECT_NEAR(s.at("routing/combine_entropy"), 1.0, 1e-5);
  EXPECT_NEAR(s.at("routing/combine_max"), 1.0 / (4 * 25), 1e-6);
  for (int e = 0; e < 4; ++e) {
    EXPECT_NEAR(s.at("routing/mass/e" + std::to_string(e)), 0.25, 1e-6);
  }
  EXPECT_NEAR(s.at("routing/spatial_ratio"), 0.0, 1e-5);
  EXPECT_EQ(s.count("routing/grad_rms"), 0u);  // no backward yet
  EXPECT_EQ(s.at("routing/param_norm"), 0.0);
}

// A large Phi routes sharply; the gradient keys appear after a backward.
TEST(RoutingStats, SharpRoutingAndGradients) {
  QNetworkOptions o = MinAtarSoftMoE(2);
  o.phi_init_scale = 1000;
  QNetwork net(o);
  const at::Tensor obs = RandomObs();
  net->forward(obs).q.sum().backward();
  const auto s = RoutingStats(*net, obs);
  EXPECT_GT(s.at("routing/dispatch_max"), 0.5);
  EXPECT_LT(s.at("routing/dispatch_entropy"), 0.5);
  EXPECT_GT(s.at("routing/spatial_ratio"), 0.01);
  EXPECT_GT(s.at("routing/grad_rms"), 0.0);
  EXPECT_NEAR(s.at("routing/mass/e0") + s.at("routing/mass/e1"), 1.0, 1e-5);
  const double per_expert_mean =
      (s.at("routing/grad_abs_mean/e0") + s.at("routing/grad_abs_mean/e1")) / 2;
  EXPECT_NEAR(per_expert_mean, s.at("routing/grad_abs_mean"), 1e-9);
}

TEST(RoutingStats, MoERouterProbabilities) {
  QNetworkOptions o = MinAtarSoftMoE(4);
  o.penultimate = Penultimate::kMoE;
  o.router_noise_std = 1.0;  // left out of the statistics: no randomness
  QNetwork net(o);
  {
    torch::NoGradGuard no_grad;
    net->moe->router.zero_();
  }
  const at::Tensor obs = RandomObs();
  torch::manual_seed(9);
  const auto s = RoutingStats(*net, obs);
  const double after = torch::rand({1}).item<double>();
  torch::manual_seed(9);
  EXPECT_EQ(torch::rand({1}).item<double>(), after);  // no draws
  EXPECT_NEAR(s.at("routing/prob_max"), 0.25, 1e-6);
  EXPECT_NEAR(s.at("routing/prob_entropy"), 1.0, 1e-5);
  EXPECT_NEAR(s.at("routing/mass/e3"), 0.25, 1e-6);
}

TEST(RoutingStats, InitKnobsScalePhiAndRouter) {
  QNetworkOptions o = MinAtarSoftMoE(4);
  torch::manual_seed(0);
  const double base = QNetwork(o)->softmoe->phi.norm().item<double>();
  o.phi_init_scale = 30;
  torch::manual_seed(0);
  EXPECT_NEAR(QNetwork(o)->softmoe->phi.norm().item<double>(), 30 * base,
              1e-3 * base);
  o.normalize = true;
  o.softmoe_scale_init = 10;
  EXPECT_EQ(QNetwork(o)->softmoe->scale.item<double>(), 10.0);
  o.penultimate = Penultimate::kMoE;
  torch::manual_seed(0);
  const double router = QNetwork(o)->moe->router.norm().item<double>();
  o.router_init_scale = 5;
  torch::manual_seed(0);
  EXPECT_NEAR(QNetwork(o)->moe->router.norm().item<double>(), 5 * router,
              1e-3 * router);
}

}  // namespace
}  // namespace tokrl::nn
