#include "tokrl/nn/network_stats.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

namespace tokrl::nn {
namespace {

TEST(NetworkStatsTest, DormantFractionOnHandBuiltScores) {
  // Unit scores (mean |a|): 0, 0.01, 0.05, 1, 3.94; sum 5, mean 1.
  const at::Tensor a = torch::tensor(
      {{0.0, 0.02, -0.05, 1.0, 3.94}, {0.0, 0.00, 0.05, -1.0, 3.94}});
  EXPECT_DOUBLE_EQ(DormantFraction(a, 0.0, DormantScore::kSumNormalised), 0.2);
  EXPECT_DOUBLE_EQ(DormantFraction(a, 0.025, DormantScore::kMeanNormalised),
                   0.4);
  EXPECT_DOUBLE_EQ(DormantFraction(a, 0.1, DormantScore::kMeanNormalised), 0.6);
  // Sum normalisation divides by 5: 0.05 / 5 = 0.01 <= 0.025.
  EXPECT_DOUBLE_EQ(DormantFraction(a, 0.025, DormantScore::kSumNormalised),
                   0.6);
  EXPECT_DOUBLE_EQ(
      DormantFraction(torch::zeros({3, 4}), 0.0, DormantScore::kMeanNormalised),
      1.0);
}

TEST(NetworkStatsTest, SrankCountsTheDominantDirections) {
  EXPECT_EQ(Srank(torch::eye(5)), 5);
  // Two equal directions and a third at 0.1% of the spectrum's mass.
  at::Tensor f = torch::zeros({10, 4});
  f[0][0] = 10.0;
  f[1][1] = 10.0;
  f[2][2] = 0.02;
  EXPECT_EQ(Srank(f), 2);
  EXPECT_EQ(Srank(f, 0.0), 3);
  // Rank 1 however it is rotated.
  const at::Tensor u = torch::randn({16, 1});
  EXPECT_EQ(Srank(u.mm(torch::randn({1, 8}))), 1);
  EXPECT_EQ(Srank(torch::zeros({4, 4})), 0);
}

TEST(NetworkStatsTest, ExpertRedundancyIsTheMeanPairwiseCosine) {
  const at::Tensor x = torch::randn({1, 6, 3});
  EXPECT_NEAR(ExpertRedundancy(x.expand({4, 6, 3})), 1.0, 1e-12);
  EXPECT_NEAR(ExpertRedundancy(torch::cat({x, -x})), -1.0, 1e-12);
  // Orthogonal outputs on every input.
  const at::Tensor e0 = torch::tensor({{{1.0, 0.0}, {0.0, 2.0}}});
  const at::Tensor e1 = torch::tensor({{{0.0, 3.0}, {-1.0, 0.0}}});
  EXPECT_NEAR(ExpertRedundancy(torch::cat({e0, e1})), 0.0, 1e-12);
  EXPECT_EQ(ExpertRedundancy(x), 1.0);
}

TEST(NetworkStatsTest, TopExpertShareCountsEachTokensLargestExpert) {
  // B 1, m 4 tokens, n 2 experts, p 2 slots: summed per expert, tokens 0-2
  // favour expert 1 and token 3 expert 0.
  const at::Tensor c = torch::tensor({{{{0.1, 0.2}, {0.3, 0.4}},
                                       {{0.4, 0.0}, {0.3, 0.3}},
                                       {{0.0, 0.1}, {0.0, 0.9}},
                                       {{0.5, 0.4}, {0.1, 0.0}}}});
  const std::vector<double> share = TopExpertShare(c);
  ASSERT_EQ(share.size(), 2u);
  EXPECT_DOUBLE_EQ(share[0], 0.25);
  EXPECT_DOUBLE_EQ(share[1], 0.75);
}

QNetworkOptions MinAtarOptions(Penultimate penultimate) {
  QNetworkOptions o;
  o.obs_shape = {4, 10, 10};
  o.num_actions = 3;
  o.tokenizer = penultimate == Penultimate::kDense ? Tokenization::kFlatten
                                                   : Tokenization::kPerConv;
  o.penultimate = penultimate;
  o.hidden = 8;
  o.experts = 3;
  return o;
}

// A dense unit with zero weights and a negative bias never fires.
TEST(NetworkStatsTest, DeadDenseUnitsAreDormant) {
  torch::manual_seed(0);
  QNetwork net(MinAtarOptions(Penultimate::kDense));
  {
    torch::NoGradGuard no_grad;
    auto& dense = net->dense->dense;
    dense->weight.slice(0, 0, 2).zero_();
    dense->bias.slice(0, 0, 2).fill_(-1.0);
    dense->bias.slice(0, 2).fill_(5.0);  // the other six always fire
  }
  const at::Tensor obs = torch::randint(0, 2, {32, 4, 10, 10}, torch::kUInt8);
  const auto stats = NetworkStats(*net, obs);
  EXPECT_DOUBLE_EQ(stats.at("stats/dormant/tau0"), 2.0 / 8.0);
  EXPECT_DOUBLE_EQ(stats.at("stats/dormant/redo_0.1"), 2.0 / 8.0);
  EXPECT_GT(stats.at("stats/feature_norm"), 0.0);
  EXPECT_GE(stats.at("stats/srank"), 1.0);
  EXPECT_LE(stats.at("stats/srank"), 8.0);
}

TEST(NetworkStatsTest, IdenticalExpertsAreFullyRedundant) {
  torch::manual_seed(1);
  QNetwork net(MinAtarOptions(Penultimate::kSoftMoE));
  const at::Tensor obs = torch::randint(0, 2, {8, 4, 10, 10}, torch::kUInt8);
  EXPECT_LT(NetworkStats(*net, obs).at("stats/expert_redundancy"), 0.9);
  {
    torch::NoGradGuard no_grad;
    auto& experts = *net->softmoe->experts;
    for (at::Tensor* p : {&experts.w1, &experts.b1, &experts.w2, &experts.b2}) {
      p->copy_((*p)[0].unsqueeze(0).expand_as(*p));
    }
  }
  EXPECT_NEAR(NetworkStats(*net, obs).at("stats/expert_redundancy"), 1.0, 1e-6);
}

// NetworkStatNames lists exactly the keys, once gradients exist; computing
// them leaves the network's outputs unchanged.
TEST(NetworkStatsTest, NamesMatchKeysForEveryPenultimate) {
  for (Penultimate p :
       {Penultimate::kDense, Penultimate::kSoftMoE, Penultimate::kMoE,
        Penultimate::kTokenizedAvg, Penultimate::kGap}) {
    SCOPED_TRACE(std::string(ToString(p)));
    torch::manual_seed(2);
    QNetwork net(MinAtarOptions(p));
    const at::Tensor obs = torch::randint(0, 2, {4, 4, 10, 10}, torch::kUInt8);
    const at::Tensor before = net->forward(obs).q;
    before.sum().backward();
    const auto stats = NetworkStats(*net, obs);
    std::set<std::string> keys;
    for (const auto& [k, v] : stats) {
      keys.insert(k);
      EXPECT_TRUE(std::isfinite(v)) << k;
    }
    const std::vector<std::string> names = NetworkStatNames(*net);
    EXPECT_EQ(keys, std::set<std::string>(names.begin(), names.end()));
    EXPECT_TRUE(torch::equal(net->forward(obs).q, before));
  }
}

}  // namespace
}  // namespace tokrl::nn
