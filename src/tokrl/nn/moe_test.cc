#include "tokrl/nn/moe.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/testing.h"

namespace tokrl::nn {
namespace {

at::Tensor RandomProbs(int64_t b, int64_t m, int64_t n) {
  return torch::softmax(torch::randn({b, m, n}, torch::kDouble) * 2.0, -1);
}

TEST(TokenChoiceTest, RespectsCapacityAndKeepsFirstTokensByIndex) {
  torch::manual_seed(0);
  const int64_t b_n = 3, m = 20, n = 4, cap = 3;
  const at::Tensor probs = RandomProbs(b_n, m, n);
  const MoERoutingWeights r = TokenChoiceRouting(probs, 1, cap);
  ASSERT_EQ(r.dispatch.sizes(), (std::vector<int64_t>{b_n, m, n, cap}));
  // Tokens per expert <= capacity; one token per slot; one slot per token.
  EXPECT_LE(r.dispatch.sum({1, 3}).max().item<double>(), cap);
  EXPECT_LE(r.dispatch.sum(1).max().item<double>(), 1.0);
  EXPECT_LE(r.dispatch.sum({2, 3}).max().item<double>(), 1.0);
  const at::Tensor top = probs.argmax(-1);
  for (int64_t b = 0; b < b_n; ++b) {
    for (int64_t e = 0; e < n; ++e) {
      int64_t seen = 0;
      for (int64_t i = 0; i < m; ++i) {
        if (top[b][i].item<int64_t>() != e) {
          EXPECT_EQ(r.dispatch[b][i][e].sum().item<double>(), 0.0);
          continue;
        }
        // The first `cap` tokens that chose e, in index order, get slots
        // 0, 1, 2; later ones are dropped.
        if (seen < cap) {
          EXPECT_EQ(r.dispatch[b][i][e][seen].item<double>(), 1.0);
          EXPECT_DOUBLE_EQ(r.combine[b][i][e][seen].item<double>(),
                           probs[b][i][e].item<double>());
        } else {
          EXPECT_EQ(r.dispatch[b][i][e].sum().item<double>(), 0.0);
        }
        ++seen;
      }
    }
  }
}

TEST(TokenChoiceTest, GateValuePriorityKeepsTheHighestGates) {
  // One sample, 4 tokens all choosing expert 0, capacity 2.
  at::Tensor probs =
      torch::tensor({0.6, 0.4, 0.9, 0.1, 0.7, 0.3, 0.8, 0.2}, torch::kDouble)
          .view({1, 4, 2});
  const MoERoutingWeights by_index = TokenChoiceRouting(probs, 1, 2);
  EXPECT_TRUE(
      torch::equal(by_index.dispatch.sum({2, 3})[0],
                   torch::tensor({1.0, 1.0, 0.0, 0.0}, torch::kDouble)));
  const MoERoutingWeights by_gate =
      TokenChoiceRouting(probs, 1, 2, CapacityPriority::kGateValue);
  EXPECT_TRUE(
      torch::equal(by_gate.dispatch.sum({2, 3})[0],
                   torch::tensor({0.0, 1.0, 0.0, 1.0}, torch::kDouble)));
  // Slot 0 goes to the highest gate (token 1, 0.9), slot 1 to token 3 (0.8).
  EXPECT_EQ(by_gate.dispatch[0][1][0][0].item<double>(), 1.0);
  EXPECT_EQ(by_gate.dispatch[0][3][0][1].item<double>(), 1.0);
}

TEST(TokenChoiceTest, TopTwoGivesEveryTokenUpToTwoExpertsFirstChoicesFirst) {
  torch::manual_seed(1);
  const int64_t m = 12, n = 3, cap = 5;
  const at::Tensor probs = RandomProbs(2, m, n);
  const MoERoutingWeights r = TokenChoiceRouting(probs, 2, cap);
  EXPECT_LE(r.dispatch.sum({1, 3}).max().item<double>(), cap);
  EXPECT_LE(r.dispatch.sum({2, 3}).max().item<double>(), 2.0);
  EXPECT_LE(r.dispatch.sum(3).max().item<double>(), 1.0);  // <= 1 slot/expert.
  // Second choices never take a slot while a first choice of that expert is
  // dropped.
  const auto [g, idx] = probs.topk(2, -1);
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t e = 0; e < n; ++e) {
      bool first_dropped = false, second_kept = false;
      for (int64_t i = 0; i < m; ++i) {
        const double kept = r.dispatch[b][i][e].sum().item<double>();
        if (idx[b][i][0].item<int64_t>() == e && kept == 0.0)
          first_dropped = true;
        if (idx[b][i][1].item<int64_t>() == e && kept == 1.0)
          second_kept = true;
      }
      EXPECT_FALSE(first_dropped && second_kept) << b << " " << e;
    }
  }
}

// route(probs) with the fast paths off and on: each time the routing
// weights, and the probabilities' gradient of sum(combine * weights); then
// expects the two to be equal.
template <typename Route>
void ExpectFastPathEqualsOneHotForm(const at::Tensor& probs,
                                    const at::Tensor& weights, Route route) {
  MoERoutingWeights r[2];
  at::Tensor grad[2];
  for (const bool fast : {false, true}) {
    SetFastPaths(fast);
    const at::Tensor p = probs.clone().requires_grad_(true);
    r[fast] = route(p);
    (r[fast].combine * weights).sum().backward();
    grad[fast] = p.grad();
  }
  SetFastPaths(true);
  EXPECT_TRUE(torch::equal(r[1].dispatch, r[0].dispatch));
  EXPECT_TRUE(torch::equal(r[1].combine.detach(), r[0].combine.detach()));
  EXPECT_TRUE(torch::equal(grad[1], grad[0]));
}

// The CPU fast path (float probabilities: queues in one pass, scatter_add)
// gives the one-hot form's dispatch and combine exactly, and the same
// gradient of the probabilities, for both priorities, k = 1 and 2, with
// and without dropped tokens.
TEST(TokenChoiceTest, FastPathEqualsOneHotForm) {
  torch::manual_seed(3);
  for (const CapacityPriority priority :
       {CapacityPriority::kTokenIndex, CapacityPriority::kGateValue}) {
    for (const int64_t k : {1, 2}) {
      for (const int64_t cap : {2, 9}) {
        SCOPED_TRACE(::testing::Message() << ToString(priority) << " k=" << k
                                          << " capacity " << cap);
        const at::Tensor probs = RandomProbs(3, 17, 4).to(torch::kFloat);
        ExpectFastPathEqualsOneHotForm(
            probs, torch::randn({3, 17, 4, cap}), [&](const at::Tensor& p) {
              return TokenChoiceRouting(p, k, cap, priority);
            });
        if (cap == 2) {  // some tokens are dropped
          EXPECT_LT(TokenChoiceRouting(probs, k, cap, priority)
                        .dispatch.sum()
                        .item<double>(),
                    3 * 17 * k);
        }
      }
    }
  }
}

TEST(ExpertChoiceTest, EveryExpertPicksExactlyItsTopCTokens) {
  torch::manual_seed(2);
  const int64_t b_n = 2, m = 10, n = 3, c = 4;
  const at::Tensor probs = RandomProbs(b_n, m, n);
  const MoERoutingWeights r = ExpertChoiceRouting(probs, c);
  ASSERT_EQ(r.dispatch.sizes(), (std::vector<int64_t>{b_n, m, n, c}));
  // Every slot holds exactly one token; every expert exactly c distinct ones.
  EXPECT_TRUE(torch::equal(r.dispatch.sum(1),
                           torch::ones({b_n, n, c}, torch::kDouble)));
  EXPECT_TRUE(torch::equal(
      r.dispatch.sum({1, 3}),
      torch::full({b_n, n}, static_cast<double>(c), torch::kDouble)));
  EXPECT_LE(r.dispatch.sum(3).max().item<double>(), 1.0);
  for (int64_t b = 0; b < b_n; ++b) {
    for (int64_t e = 0; e < n; ++e) {
      const at::Tensor col = probs[b].select(1, e);
      const at::Tensor picked = r.dispatch[b].select(1, e).sum(1);  // [m]
      const double threshold = std::get<0>(col.topk(c)).min().item<double>();
      for (int64_t i = 0; i < m; ++i) {
        EXPECT_EQ(picked[i].item<double>() == 1.0,
                  col[i].item<double>() >= threshold);
      }
      // combine = dispatch * P[i, e].
      EXPECT_TRUE(
          torch::allclose(r.combine[b].select(1, e).sum(1), picked * col));
    }
  }
  EXPECT_THROW(ExpertChoiceRouting(probs, m + 1), tokrl::Error);
}

// The CPU fast path (float probabilities: scatters) gives the one-hot
// form's dispatch and combine exactly, and the same gradient.
TEST(ExpertChoiceTest, FastPathEqualsOneHotForm) {
  torch::manual_seed(4);
  for (const int64_t c : {1, 5, 17}) {
    SCOPED_TRACE(::testing::Message() << "capacity " << c);
    ExpectFastPathEqualsOneHotForm(
        RandomProbs(3, 17, 4).to(torch::kFloat), torch::randn({3, 17, 4, c}),
        [&](const at::Tensor& p) { return ExpertChoiceRouting(p, c); });
  }
}

// y_i = sum over the (e, j) holding token i of combine * f_e(x_i).
at::Tensor ReferenceMoE(const at::Tensor& x, const MoERoutingWeights& r,
                        ExpertsImpl& experts) {
  torch::NoGradGuard no_grad;
  const int64_t b_n = x.size(0), m = x.size(1), n = r.dispatch.size(2);
  at::Tensor y = torch::zeros_like(x);
  for (int64_t b = 0; b < b_n; ++b) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t e = 0; e < n; ++e) {
        const double g = r.combine[b][i][e].sum().item<double>();
        if (r.dispatch[b][i][e].sum().item<double>() == 0.0) continue;
        const at::Tensor u = x[b][i].view({1, 1, -1}).expand({n, 1, -1});
        y[b][i] += g * experts.forward(u.contiguous())[e][0];
      }
    }
  }
  return y;
}

TEST(MoEModuleTest,
     TokenChoiceDroppedTokensYieldZeroAndKeptOnesAreGatedExperts) {
  torch::manual_seed(3);
  MoE moe(
      MoEOptions(6, 4).num_tokens(16).capacity_factor(0.5).expert_hidden(8));
  moe->to(torch::kDouble);
  ASSERT_EQ(moe->capacity(), 2);
  const at::Tensor x = torch::randn({2, 16, 6}, torch::kDouble);
  const MoEOutput out = moe->forward(x);
  ASSERT_EQ(out.tokens.sizes(), x.sizes());
  EXPECT_FALSE(out.aux_loss.defined());
  const MoERoutingWeights r = moe->route(out.probs);
  const at::Tensor kept = r.dispatch.sum({2, 3});   // [B, m]
  EXPECT_GT((kept == 0).sum().item<int64_t>(), 0);  // Some tokens dropped.
  const at::Tensor dropped_rows = out.tokens.index({kept == 0});
  EXPECT_EQ(dropped_rows.abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(torch::allclose(out.tokens, ReferenceMoE(x, r, *moe->experts),
                              1e-10, 1e-12));
}

TEST(MoEModuleTest, ExpertChoiceMatchesReference) {
  torch::manual_seed(4);
  MoE moe(MoEOptions(6, 3)
              .num_tokens(9)
              .routing(MoERouting::kExpertChoice)
              .expert_hidden(8));
  moe->to(torch::kDouble);
  EXPECT_EQ(moe->capacity(), 3);
  const at::Tensor x = torch::randn({2, 9, 6}, torch::kDouble);
  const MoEOutput out = moe->forward(x);
  const MoERoutingWeights r = moe->route(out.probs);
  EXPECT_TRUE(torch::equal(r.dispatch.sum({1, 3}),
                           torch::full({2, 3}, 3.0, torch::kDouble)));
  EXPECT_TRUE(torch::allclose(out.tokens, ReferenceMoE(x, r, *moe->experts),
                              1e-10, 1e-12));
}

TEST(MoEModuleTest, ExpertChoiceRejectsK) {
  EXPECT_THROW(MoE(MoEOptions(6, 3).num_tokens(9).k(2).routing(
                   MoERouting::kExpertChoice)),
               tokrl::Error);
  EXPECT_THROW(MoE(MoEOptions(6, 3).num_tokens(9).k(4)), tokrl::Error);
  EXPECT_THROW(MoE(MoEOptions(6, 3)), tokrl::Error);  // No m, no capacity.
}

TEST(MoEModuleTest, CapacityDefaults) {
  EXPECT_EQ(MoE(MoEOptions(32, 8).num_tokens(121))->capacity(), 16);
  EXPECT_EQ(MoE(MoEOptions(32, 8).num_tokens(121).k(2))->capacity(), 31);
  EXPECT_EQ(
      MoE(MoEOptions(32, 4).num_tokens(121).routing(MoERouting::kExpertChoice))
          ->capacity(),
      31);
  // Expert specialisation test (paper.md 2.6): capacity factor n gives p = m.
  EXPECT_EQ(MoE(MoEOptions(32, 4).num_tokens(121).capacity_factor(4).routing(
                    MoERouting::kExpertChoice))
                ->capacity(),
            121);
  EXPECT_EQ(MoE(MoEOptions(32, 4).num_tokens(121).capacity(7))->capacity(), 7);
}

TEST(MoEModuleTest, AuxLosses) {
  // Uniform router probabilities: importance is perfectly balanced.
  EXPECT_NEAR(ImportanceLoss(torch::full({2, 5, 4}, 0.25)).item<double>(), 0.0,
              1e-12);
  // All mass on one expert: CV^2 = n - 1 (population std).
  at::Tensor skewed = torch::zeros({1, 6, 4});
  skewed.select(2, 0).fill_(1.0);
  EXPECT_NEAR(ImportanceLoss(skewed).item<double>(), 3.0, 1e-6);

  torch::manual_seed(5);
  for (MoEAuxLoss kind : {MoEAuxLoss::kImportance, MoEAuxLoss::kLoad,
                          MoEAuxLoss::kImportanceLoad}) {
    MoE moe(MoEOptions(6, 4).num_tokens(16).expert_hidden(8).aux_loss(kind));
    const MoEOutput out = moe->forward(torch::randn({2, 16, 6}));
    ASSERT_TRUE(out.aux_loss.defined()) << ToString(kind);
    EXPECT_EQ(out.aux_loss.dim(), 0);
    EXPECT_TRUE(std::isfinite(out.aux_loss.item<double>()));
    out.aux_loss.backward();
    EXPECT_GT(moe->router.grad().abs().sum().item<double>(), 0.0)
        << ToString(kind);
  }
}

TEST(MoEModuleTest, EveryParameterGetsGradient) {
  torch::manual_seed(6);
  for (MoERouting routing :
       {MoERouting::kTokenChoice, MoERouting::kExpertChoice}) {
    MoE moe(MoEOptions(8, 4)
                .num_tokens(32)
                .expert_hidden(16)
                .routing(routing)
                .aux_loss(MoEAuxLoss::kImportance));
    const MoEOutput out = moe->forward(torch::randn({2, 32, 8}));
    ((out.tokens * torch::randn({2, 32, 8})).sum() + out.aux_loss).backward();
    testing::ExpectEveryParameterHasNonzeroGrad(*moe);
  }
}

TEST(MoEModuleTest, RouterNoiseOnlyInTraining) {
  torch::manual_seed(7);
  MoE moe(
      MoEOptions(8, 4).num_tokens(16).expert_hidden(16).router_noise_std(1.0));
  const at::Tensor x = torch::randn({1, 16, 8});
  EXPECT_FALSE(torch::equal(moe->router_logits(x), moe->router_logits(x)));
  moe->eval();
  EXPECT_TRUE(torch::equal(moe->router_logits(x), moe->router_logits(x)));
}

TEST(MoEModuleTest, ParameterCountCloneAndSaveLoad) {
  torch::manual_seed(8);
  MoE moe(MoEOptions(32, 8).num_tokens(121));
  int64_t total = 0;
  for (const auto& p : moe->parameters()) total += p.numel();
  EXPECT_EQ(total, 32 * 8 + 266496);  // W_g + 8 experts (paper.md 2.11).

  MoE small(MoEOptions(6, 3).num_tokens(9).expert_hidden(8));
  const at::Tensor x = torch::randn({2, 9, 6});
  const at::Tensor before = small->forward(x).tokens;
  testing::TempFile file("moe");
  torch::save(small, file.path());
  MoE loaded(MoEOptions(6, 3).num_tokens(9).expert_hidden(8));
  torch::load(loaded, file.path());
  EXPECT_TRUE(torch::equal(loaded->forward(x).tokens, before));
  auto copy = std::dynamic_pointer_cast<MoEImpl>(small->clone());
  ASSERT_NE(copy, nullptr);
  testing::ExpectDeepClone(*small, *copy);
  EXPECT_TRUE(torch::equal(copy->forward(x).tokens, before));
}

TEST(MoEModuleTest, ParseNames) {
  EXPECT_EQ(ParseMoERouting("expert_choice"), MoERouting::kExpertChoice);
  EXPECT_EQ(ParseMoERouting("TopK"), MoERouting::kTokenChoice);
  EXPECT_EQ(ParseCapacityPriority("gate_value"), CapacityPriority::kGateValue);
  EXPECT_EQ(ParseMoEAuxLoss("importance_load"), MoEAuxLoss::kImportanceLoad);
  try {
    ParseMoERouting("soft");
    FAIL() << "expected tokrl::Error";
  } catch (const tokrl::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("routing 'soft'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("token_choice, expert_choice"), std::string::npos)
        << msg;
  }
}

}  // namespace
}  // namespace tokrl::nn
