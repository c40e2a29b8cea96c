#include "tokrl/agents/interventions.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tokrl/agents/dqn_agent.h"
#include "tokrl/core/check.h"

namespace tokrl {
namespace {

nn::QNetworkOptions SoftMoEOptions() {
  nn::QNetworkOptions o;
  o.obs_shape = {4, 10, 10};
  o.num_actions = 3;
  o.tokenizer = nn::Tokenization::kPerConv;
  o.penultimate = nn::Penultimate::kSoftMoE;
  o.hidden = 8;
  o.experts = 2;
  o.normalize = true;
  return o;
}

TEST(Interventions, ParseParamGroups) {
  EXPECT_EQ(
      ParseParamGroups("experts, router", "k"),
      (std::vector<ParamGroup>{ParamGroup::kExperts, ParamGroup::kRouter}));
  EXPECT_EQ(ToString(ParseParamGroups("head,penultimate", "k")),
            "head,penultimate");
  for (const char* bad : {"expert", "", "head,head", "head,,router"}) {
    EXPECT_THROW(ParseParamGroups(bad, "interventions.reset_groups"), Error)
        << bad;
  }
  try {
    ParseParamGroups("experts,phi", "interventions.reset_groups");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'interventions.reset_groups': "
                                         "unknown parameter group 'phi'"),
              std::string::npos)
        << e.what();
  }
}

TEST(Interventions, GroupsNameTheirParameters) {
  nn::QNetwork softmoe(SoftMoEOptions());
  EXPECT_EQ(GroupParameterNames(*softmoe, {ParamGroup::kExperts}),
            (std::vector<std::string>{
                "penultimate.experts.w1", "penultimate.experts.b1",
                "penultimate.experts.w2", "penultimate.experts.b2"}));
  EXPECT_EQ(GroupParameterNames(*softmoe, {ParamGroup::kRouter}),
            (std::vector<std::string>{"penultimate.phi", "penultimate.scale"}));
  EXPECT_EQ(GroupParameterNames(*softmoe, {ParamGroup::kPenultimate}).size(),
            6u);
  nn::QNetworkOptions dense = SoftMoEOptions();
  dense.penultimate = nn::Penultimate::kDense;
  nn::QNetwork net(dense);
  EXPECT_EQ(GroupParameterNames(*net, {ParamGroup::kHead}).size(), 2u);
  try {
    GroupParameterNames(*net, {ParamGroup::kHead, ParamGroup::kExperts});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'experts' matches no parameter"),
              std::string::npos)
        << e.what();
  }
}

TEST(Interventions, FreshNetworkIsSeededAndLeavesTheGlobalStream) {
  torch::manual_seed(3);
  const at::Tensor expected = torch::rand({4});
  torch::manual_seed(3);
  nn::QNetwork a = FreshNetwork(SoftMoEOptions(), 11);
  nn::QNetwork b = FreshNetwork(SoftMoEOptions(), 11);
  nn::QNetwork c = FreshNetwork(SoftMoEOptions(), 12);
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected));
  EXPECT_TRUE(torch::equal(a->softmoe->phi, b->softmoe->phi));
  EXPECT_FALSE(torch::equal(a->softmoe->phi, c->softmoe->phi));
}

// A few real updates, so that parameters moved and Adam holds moments.
DqnAgent TrainedAgent() {
  torch::manual_seed(0);
  AgentOptions a;
  a.batch_size = 4;
  DqnAgent agent(a, SoftMoEOptions(), torch::kCPU);
  SampledBatch batch;
  batch.obs = torch::randint(0, 2, {4, 4, 10, 10}, torch::kUInt8);
  batch.next_obs = torch::randint(0, 2, {4, 4, 10, 10}, torch::kUInt8);
  batch.actions = torch::tensor({0, 1, 2, 1}, torch::kInt64);
  batch.returns = torch::ones({4});
  batch.discounts = torch::full({4}, 0.9);
  batch.weights = torch::ones({4});
  for (int i = 0; i < 3; ++i) agent.Update(batch);
  return agent;
}

TEST(Interventions, ResetRestoresTheInitAndClearsExactlyThoseMoments) {
  DqnAgent agent = TrainedAgent();
  const auto names =
      GroupParameterNames(*agent.online(), {ParamGroup::kExperts});
  std::map<std::string, at::Tensor> old;
  for (const auto& p : agent.online()->named_parameters()) {
    old[p.key()] = p.value().detach().clone();
  }
  agent.Reset(names, 42);
  nn::QNetwork fresh = FreshNetwork(SoftMoEOptions(), 42);
  const std::vector<std::string> keys =
      agent.online()->named_parameters().keys();
  const auto params = agent.online()->parameters();
  ASSERT_EQ(keys.size(), params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& name = keys[i];
    const bool reset =
        std::find(names.begin(), names.end(), name) != names.end();
    SCOPED_TRACE(name);
    if (reset) {
      EXPECT_TRUE(torch::equal(params[i], fresh->named_parameters()[name]));
      EXPECT_EQ(agent.optimizer().exp_avg(i).abs().sum().item<double>(), 0.0);
      EXPECT_EQ(agent.optimizer().exp_avg_sq(i).abs().sum().item<double>(),
                0.0);
    } else {
      EXPECT_TRUE(torch::equal(params[i], old[name]));
      EXPECT_GT(agent.optimizer().exp_avg_sq(i).abs().sum().item<double>(),
                0.0);
    }
  }
}

TEST(Interventions, ShrinkPerturbMixesWithAFreshInit) {
  DqnAgent agent = TrainedAgent();
  const auto names =
      GroupParameterNames(*agent.online(), {ParamGroup::kRouter});
  const at::Tensor phi = agent.online()->softmoe->phi.detach().clone();
  const at::Tensor w1 = agent.online()->softmoe->experts->w1.detach().clone();
  agent.ShrinkPerturb(names, 0.7, 0.3, 5);
  nn::QNetwork fresh = FreshNetwork(SoftMoEOptions(), 5);
  EXPECT_TRUE(torch::allclose(agent.online()->softmoe->phi,
                              0.7 * phi + 0.3 * fresh->softmoe->phi, 1e-6,
                              1e-7));
  EXPECT_TRUE(torch::equal(agent.online()->softmoe->experts->w1, w1));
}

}  // namespace
}  // namespace tokrl
