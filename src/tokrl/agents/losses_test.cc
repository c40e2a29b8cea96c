#include "tokrl/agents/losses.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"
#include "tokrl/nn/fast_paths.h"

namespace tokrl {
namespace {

torch::Tensor F(std::vector<float> values) { return torch::tensor(values); }

void ExpectClose(const torch::Tensor& actual, const torch::Tensor& expected,
                 double tol = 1e-6) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(actual, expected, /*rtol=*/0, /*atol=*/tol))
      << "actual\n"
      << actual << "\nexpected\n"
      << expected;
}

// ---- TD targets and losses --------------------------------------------------

TEST(Losses, TdTargetsWithoutDoubleQTakeTheTargetMax) {
  const auto next_q_target =
      torch::tensor({{1.0f, 5.0f, 3.0f}, {2.0f, 0.0f, 9.0f}});
  const auto targets = TdTargets(F({1, 2}), F({0.9f, 0.5f}), next_q_target);
  ExpectClose(targets, F({1 + 0.9f * 5, 2 + 0.5f * 9}));
}

TEST(Losses, DoubleQPicksTheOnlineArgmaxButUsesTheTargetValue) {
  const auto next_q_target =
      torch::tensor({{1.0f, 5.0f, 3.0f}, {2.0f, 0.0f, 9.0f}});
  const auto next_q_online =
      torch::tensor({{10.0f, 0.0f, 0.0f}, {0.0f, 7.0f, 1.0f}});
  const auto actions = DoubleQActions(next_q_target, next_q_online);
  EXPECT_TRUE(torch::equal(actions, torch::tensor({0, 1}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(DoubleQActions(next_q_target, torch::Tensor()),
                           torch::tensor({1, 2}, torch::kInt64)));
  const auto targets =
      TdTargets(F({1, 2}), F({0.9f, 0.5f}), next_q_target, next_q_online);
  // Online argmax = actions 0 and 1; target values there = 1 and 0.
  ExpectClose(targets, F({1 + 0.9f * 1, 2 + 0.5f * 0}));
}

TEST(Losses, ZeroDiscountIgnoresNextValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto next_q = torch::tensor({{nan, 1.0f}, {inf, inf}, {3.0f, 4.0f}});
  const auto targets = TdTargets(F({1.5f, -2.0f, 0.25f}), F({0, 0, 0}), next_q);
  ExpectClose(targets, F({1.5f, -2.0f, 0.25f}));
}

TEST(Losses, TdTargetsCarryNoGradient) {
  const auto next_q = torch::rand({4, 3}).requires_grad_(true);
  const auto targets = TdTargets(torch::rand({4}), torch::rand({4}), next_q,
                                 torch::rand({4, 3}).requires_grad_(true));
  EXPECT_FALSE(targets.requires_grad());
}

TEST(Losses, HuberVersusMse) {
  const auto q = torch::zeros({5}).requires_grad_(true);
  const auto targets = F({0.5f, -2.0f, 3.0f, 1.0f, 0.0f});
  ExpectClose(TdLoss(q, targets, LossType::kMse), F({0.25f, 4, 9, 1, 0}));
  // delta 1: 0.5 x^2 inside, 0.5 + (|x| - 1) outside; x = 1 is the seam.
  ExpectClose(TdLoss(q, targets, LossType::kHuber),
              F({0.125f, 1.5f, 2.5f, 0.5f, 0}));
  // delta 2: 0.5 * 4 = 2 at the seam, 2 + 2 * (3 - 2) = 4 beyond it.
  ExpectClose(TdLoss(q, targets, LossType::kHuber, 2.0),
              F({0.125f, 2.0f, 4.0f, 0.5f, 0}));

  // Gradients: d/dq MSE = -2 (t - q); Huber clips to [-delta, delta].
  TdLoss(q, targets, LossType::kMse).sum().backward();
  ExpectClose(q.grad(), F({-1, 4, -6, -2, 0}));
  q.grad().zero_();
  TdLoss(q, targets, LossType::kHuber).sum().backward();
  ExpectClose(q.grad(), F({-0.5f, 1, -1, -1, 0}));

  // Targets are treated as constants.
  const auto t = targets.clone().requires_grad_(true);
  TdLoss(q, t, LossType::kMse).sum().backward();
  EXPECT_FALSE(t.grad().defined());
}

// On CPU floats under the fast paths TdTargets is a loop and TdLoss's kMse
// one autograd node: the same bits as the tensor ops, for targets (plain
// max and double Q, ties, a NaN Q value, a terminal row whose next values
// are inf), the loss and its gradient.
TEST(Losses, HostTdTermsGiveTheTensorOpsBits) {
  torch::manual_seed(3);
  const int64_t b = 32, a = 6;
  torch::Tensor next_target = torch::randn({b, a});
  torch::Tensor next_online = torch::randn({b, a});
  next_online[0] = torch::tensor({1.0f, 3.0f, 3.0f, 0.0f, 3.0f, -1.0f});
  next_target[1][2] = std::numeric_limits<float>::quiet_NaN();
  next_online[2][4] = std::numeric_limits<float>::quiet_NaN();
  next_target[3].fill_(std::numeric_limits<float>::infinity());
  const torch::Tensor returns = torch::randn({b});
  torch::Tensor discounts = torch::full({b}, 0.99f);
  discounts[3] = 0.0f;
  const torch::Tensor q_all = torch::randn({b, a});
  const torch::Tensor actions = torch::randint(a, {b}, torch::kInt64);
  const torch::Tensor weights = torch::rand({b});
  struct Run {
    torch::Tensor plain_targets, double_targets, loss, grad;
  };
  std::vector<Run> runs;
  for (const bool fast : {true, false}) {
    nn::SetFastPaths(fast);
    Run run;
    run.plain_targets = TdTargets(returns, discounts, next_target);
    run.double_targets =
        TdTargets(returns, discounts, next_target, next_online);
    const torch::Tensor q = q_all.clone().requires_grad_(true);
    run.loss =
        TdLoss(SelectActions(q, actions), run.double_targets, LossType::kMse);
    (weights * run.loss).mean().backward();
    run.grad = q.grad();
    runs.push_back(run);
  }
  nn::SetFastPaths(true);
  const Run &host = runs[0], &ops = runs[1];
  // allclose with no tolerance and NaN equal to NaN: the same bits.
  EXPECT_TRUE(torch::allclose(host.plain_targets, ops.plain_targets, 0.0, 0.0,
                              /*equal_nan=*/true));
  EXPECT_TRUE(torch::allclose(host.double_targets, ops.double_targets, 0.0, 0.0,
                              /*equal_nan=*/true));
  // A NaN Q value is the maximum: row 1's target bootstraps from it, row
  // 2's online NaN at action 4 picks that action.
  EXPECT_TRUE(std::isnan(host.plain_targets[1].item<float>()));
  EXPECT_EQ(host.double_targets[2].item<float>(),
            (returns[2] + 0.99f * next_target[2][4]).item<float>());
  EXPECT_EQ(host.plain_targets[3].item<float>(), returns[3].item<float>());
  // Row 0's online ties: the first of them, action 1.
  EXPECT_EQ(host.double_targets[0].item<float>(),
            (returns[0] + 0.99f * next_target[0][1]).item<float>());
  EXPECT_TRUE(torch::allclose(host.loss, ops.loss, 0.0, 0.0, true));
  EXPECT_TRUE(torch::allclose(host.grad, ops.grad, 0.0, 0.0, true));
}

// HostGreedyActions against GreedyActions (argmax): ties to the first, a NaN
// as the maximum (the first of two), -inf rows, a strided q (the ATen path).
TEST(Losses, HostGreedyActionsAreArgmax) {
  torch::manual_seed(4);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  torch::Tensor q = torch::randn({16, 6});
  q[0] = F({1, 3, 3, 0, 3, -1});
  q[1] = F({1, nan, 5, nan, 0, 0});
  q[2] = F({nan, 9, 0, 0, 0, 0});
  q[3] = F({-inf, -inf, -inf, -inf, -inf, -inf});
  q[4] = F({0, 0, 0, 0, 0, inf});
  const auto expected = [](const torch::Tensor& t) {
    const torch::Tensor g = GreedyActions(t).contiguous();
    return std::vector<int64_t>(g.data_ptr<int64_t>(),
                                g.data_ptr<int64_t>() + g.numel());
  };
  const std::vector<int64_t> host = HostGreedyActions(q);
  EXPECT_EQ(host, expected(q));
  EXPECT_EQ((std::vector<int64_t>(host.begin(), host.begin() + 5)),
            (std::vector<int64_t>{1, 1, 0, 0, 5}));
  const torch::Tensor strided = q.t().contiguous().t();
  EXPECT_EQ(HostGreedyActions(strided), host);
  EXPECT_THROW(HostGreedyActions(q[0]), Error);
}

// WeightedMean's node against (weights * per_sample).mean(-1): the gradient
// bit for bit under a random upstream gradient (B = 3 and 5: g / B rounds, so
// g * w / B would differ in some bits), the value to float rounding (its sum
// runs in another order), one batch [B] and packed members [K, B].
TEST(Losses, WeightedMeanGivesTheTensorFormsGradientBits) {
  torch::manual_seed(4);
  for (const auto& shape :
       std::vector<std::vector<int64_t>>{{32}, {3}, {4, 3}, {2, 5}}) {
    SCOPED_TRACE(::testing::Message() << torch::IntArrayRef(shape));
    const torch::Tensor weights = torch::rand(shape);
    const torch::Tensor per_sample = torch::randn(shape).square();
    const std::vector<int64_t> out(shape.begin(), shape.end() - 1);
    const torch::Tensor g = torch::randn(out);
    const torch::Tensor ps_node = per_sample.clone().requires_grad_(true);
    const torch::Tensor got = WeightedMean(weights, ps_node);
    ASSERT_NE(got.grad_fn(), nullptr);
    EXPECT_NE(got.grad_fn()->name().find("WeightedMeanFn"), std::string::npos)
        << got.grad_fn()->name();
    got.backward(g);
    const torch::Tensor ps_ops = per_sample.clone().requires_grad_(true);
    const torch::Tensor want = (weights * ps_ops).mean(-1);
    want.backward(g);
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_TRUE(torch::allclose(got, want, 1e-6, 0.0));
    EXPECT_TRUE(torch::equal(ps_node.grad(), ps_ops.grad()));
    // Without the fast paths: the tensor form itself.
    nn::SetFastPaths(false);
    const torch::Tensor ps_plain = per_sample.clone().requires_grad_(true);
    const torch::Tensor plain = WeightedMean(weights, ps_plain);
    nn::SetFastPaths(true);
    plain.backward(g);
    EXPECT_TRUE(torch::equal(plain, want));
    EXPECT_TRUE(torch::equal(ps_plain.grad(), ps_ops.grad()));
  }
  EXPECT_THROW(WeightedMean(torch::ones({3}), torch::ones({4})), Error);
  EXPECT_THROW(WeightedMean(torch::ones({0}), torch::ones({0})), Error);
}

TEST(Losses, SelectActionsGathersPerRow) {
  const auto q = torch::arange(6, torch::kFloat32).view({2, 3});
  ExpectClose(SelectActions(q, torch::tensor({2, 0})), F({2, 3}));
  const auto logits = torch::arange(12, torch::kFloat32).view({2, 3, 2});
  ExpectClose(SelectActions(logits, torch::tensor({1, 2})),
              torch::tensor({{2.0f, 3.0f}, {10.0f, 11.0f}}));
  EXPECT_THROW(SelectActions(q, torch::tensor({1, 2, 0})), Error);
}

// ---- C51 projection ---------------------------------------------------------

TEST(Losses, ProjectionOnThreeAtomsByHand) {
  // Both forms: the host loop (fast paths) and the tensor ops.
  for (const bool fast : {true, false}) {
    SCOPED_TRACE(fast ? "fast paths" : "tensor ops");
    nn::SetFastPaths(fast);
    // Support {-1, 0, 1}, dz = 1, next distribution p = {0.2, 0.3, 0.5}.
    const auto support = F({-1, 0, 1});
    const auto p = F({0.2f, 0.3f, 0.5f}).view({1, 3});
    auto project = [&](float r, float d) {
      return ProjectDistribution(p, F({r}), F({d}), support).view({3});
    };
    // r = 0.5, d = 1: Tz = {-0.5, 0.5, 1.5 -> clipped to 1}.
    //   -0.5 splits 0.2 evenly onto -1 and 0; 0.5 splits 0.3 onto 0 and 1;
    //   1 takes 0.5 whole.
    ExpectClose(project(0.5f, 1.0f), F({0.1f, 0.25f, 0.65f}));
    // r = 1, d = 1: Tz = {0, 1, 2 -> 1} land exactly on atoms (b = l = u).
    ExpectClose(project(1.0f, 1.0f), F({0.0f, 0.2f, 0.8f}));
    // r = 0, d = 1: the identity (every b is an integer).
    ExpectClose(project(0.0f, 1.0f), F({0.2f, 0.3f, 0.5f}));
    // r = 0, d = 0.5: Tz = {-0.5, 0, 0.5}.
    ExpectClose(project(0.0f, 0.5f), F({0.1f, 0.65f, 0.25f}));
    // r = 0.25, d = 0: all mass at 0.25 -> 0.75 on 0, 0.25 on 1.
    ExpectClose(project(0.25f, 0.0f), F({0.0f, 0.75f, 0.25f}));
    // Beyond the support on either side: clipped onto v_min / v_max.
    ExpectClose(project(-3.0f, 0.0f), F({1, 0, 0}));
    ExpectClose(project(-3.0f, 1.0f), F({1, 0, 0}));
    ExpectClose(project(7.0f, 0.9f), F({0, 0, 1}));
    // r = -0.4, d = 0.5: Tz = {-0.9, -0.4, 0.1}:
    //   0.2 -> 0.18 on -1, 0.02 on 0; 0.3 -> 0.12 on -1, 0.18 on 0;
    //   0.5 -> 0.45 on 0, 0.05 on 1.
    ExpectClose(project(-0.4f, 0.5f), F({0.30f, 0.65f, 0.05f}));
    // A NaN return or discount gives a NaN row (the update then diverges).
    EXPECT_TRUE(project(std::nanf(""), 1.0f).isnan().all().item<bool>());
    EXPECT_TRUE(project(0.0f, std::nanf("")).isnan().all().item<bool>());
  }
  nn::SetFastPaths(true);
}

// Bellemare et al. 2017 Algorithm 1 with explicit floor/ceil, as a loop.
torch::Tensor ReferenceProjection(const torch::Tensor& p,
                                  const torch::Tensor& r,
                                  const torch::Tensor& d, double v_min,
                                  double v_max) {
  const int64_t b = p.size(0), k = p.size(1);
  const double dz = (v_max - v_min) / static_cast<double>(k - 1);
  auto m = torch::zeros({b, k}, torch::kFloat64);
  const torch::Tensor p64 = p.to(torch::kFloat64);
  auto pa = p64.accessor<double, 2>();
  auto ma = m.accessor<double, 2>();
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      const double z = v_min + dz * static_cast<double>(j);
      const double tz = std::clamp(
          r[i].item<double>() + d[i].item<double>() * z, v_min, v_max);
      const double pos = (tz - v_min) / dz;
      const auto l = static_cast<int64_t>(std::floor(pos));
      const auto u = static_cast<int64_t>(std::ceil(pos));
      if (l == u) {
        ma[i][l] += pa[i][j];
      } else {
        ma[i][l] += pa[i][j] * (static_cast<double>(u) - pos);
        ma[i][u] += pa[i][j] * (pos - static_cast<double>(l));
      }
    }
  }
  return m;
}

TEST(Losses, ProjectionMatchesAlgorithmOneAndSumsToOne) {
  torch::manual_seed(0);
  const int64_t b = 64, k = 51;
  const auto support = torch::linspace(-10, 10, k, torch::kFloat64);
  const auto p = torch::softmax(torch::randn({b, k}, torch::kFloat64) * 3, 1);
  auto returns = torch::randn({b}, torch::kFloat64) * 8;
  returns.index_put_(
      {torch::indexing::Slice(0, 8)},
      torch::tensor({0.0, 0.4, 1.0, -2.0, 25.0, -25.0, 10.0, 3.0},
                    torch::kFloat64));
  const auto discounts =
      torch::tensor(std::vector<double>(b, 0.99), torch::kFloat64)
          .index_put_({torch::indexing::Slice(0, 4)}, 0.0);
  const auto reference = ReferenceProjection(p, returns, discounts, -10, 10);
  // Both forms: the host loop (fast paths) and the clipped-weight tensor ops.
  for (const bool fast : {true, false}) {
    SCOPED_TRACE(fast ? "fast paths" : "tensor ops");
    nn::SetFastPaths(fast);
    const auto projected = ProjectDistribution(p, returns, discounts, support);
    ExpectClose(projected, reference, 1e-9);
    ExpectClose(projected.sum(1), torch::ones({b}, torch::kFloat64), 1e-9);
    EXPECT_GE(projected.min().item<double>(), 0.0);

    // float32 with the usual support: the same within float rounding, and
    // sums to 1 (up to rounding).
    const auto p32 = p.to(torch::kFloat32);
    const auto proj32 = ProjectDistribution(p32, returns.to(torch::kFloat32),
                                            discounts.to(torch::kFloat32),
                                            support.to(torch::kFloat32));
    EXPECT_EQ(proj32.scalar_type(), torch::kFloat32);
    ExpectClose(proj32, reference.to(torch::kFloat32), 1e-5);
    ExpectClose(proj32.sum(1), torch::ones({b}), 1e-5);
  }
  nn::SetFastPaths(true);
}

TEST(Losses, ProjectionRejectsBadSupport) {
  const auto p = torch::full({1, 3}, 1.0f / 3);
  EXPECT_THROW(ProjectDistribution(p, F({0}), F({1}), F({-1, 0.2f, 1})), Error);
  EXPECT_THROW(ProjectDistribution(p, F({0}), F({1}), F({1, 0, -1})), Error);
  EXPECT_THROW(ProjectDistribution(p, F({0}), F({1}), F({-1, 1})), Error);
}

// ---- C51 loss ---------------------------------------------------------------

TEST(Losses, C51LossIsCrossEntropyWithSoftmaxGradient) {
  const auto logits = torch::zeros({1, 3}).requires_grad_(true);
  const auto target = F({0.1f, 0.25f, 0.65f}).view({1, 3});
  const auto loss = C51Loss(logits, target);
  ExpectClose(loss, F({std::log(3.0f)}));
  loss.sum().backward();
  // d/dlogits = softmax(logits) - target.
  ExpectClose(logits.grad(), (torch::full({1, 3}, 1.0f / 3) - target));

  torch::manual_seed(1);
  const auto l2 = torch::randn({4, 5});
  const auto t2 = torch::softmax(torch::randn({4, 5}), 1);
  ExpectClose(C51Loss(l2, t2), -(t2 * torch::log_softmax(l2, 1)).sum(1), 1e-6);
  const auto tg = t2.clone().requires_grad_(true);
  C51Loss(l2.clone().requires_grad_(true), tg).sum().backward();
  EXPECT_FALSE(tg.grad().defined());
}

// The fast path's kernel against the ATen ops in double, value and
// gradient, on 51 atoms with a wide spread and a target row whose mass is
// not 1 (the gradient scales the softmax by it).
TEST(Losses, C51LossKernelEqualsTheAtenOpsInDouble) {
  torch::manual_seed(8);
  at::Tensor base = torch::randn({32, 51}) * 5.0;
  base[0] = torch::linspace(-90.0, 90.0, 51);
  at::Tensor target = torch::softmax(torch::randn({32, 51}), 1);
  target[3] *= 0.5;
  const at::Tensor logits = base.clone().requires_grad_(true);
  const at::Tensor exact = base.to(torch::kDouble).requires_grad_(true);
  const at::Tensor loss = C51Loss(logits, target);
  const at::Tensor want =
      -(target.to(torch::kDouble) * torch::log_softmax(exact, 1)).sum(1);
  EXPECT_LT(((loss.to(torch::kDouble) - want).abs() / (1.0 + want.abs()))
                .max()
                .item<double>(),
            1e-6);
  const at::Tensor g = torch::randn({32});
  const at::Tensor gx = torch::autograd::grad({(loss * g).sum()}, {logits})[0];
  const at::Tensor ge =
      torch::autograd::grad({(want * g.to(torch::kDouble)).sum()}, {exact})[0];
  EXPECT_LT((gx.to(torch::kDouble) - ge).abs().max().item<double>(), 1e-6);
}

// ---- epsilon-greedy and schedules -------------------------------------------

TEST(Losses, EpsilonGreedyIsGreedyAtZeroAndUniformAtOne) {
  const auto q = torch::tensor({{0.0f, 2.0f, 1.0f}, {5.0f, 5.0f, 1.0f}});
  Rng rng(3);
  EXPECT_TRUE(torch::equal(EpsilonGreedy(q, 0.0, rng),
                           torch::tensor({1, 0}, torch::kInt64)));
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 3000; ++i) {
    const auto a = EpsilonGreedy(q, 1.0, rng);
    ++counts[static_cast<size_t>(a[0].item<int64_t>())];
  }
  for (int c : counts) EXPECT_NEAR(c, 1000, 150);
  Rng a(9), b(9);
  EXPECT_TRUE(torch::equal(EpsilonGreedy(q.repeat({50, 1}), 0.3, a),
                           EpsilonGreedy(q.repeat({50, 1}), 0.3, b)));
}

TEST(Losses, LinearScheduleFollowsDopamineWithWarmup) {
  // Dopamine DQN: epsilon 1 -> 0.01 over 250k steps after 20k warmup.
  auto eps = [](int64_t step) {
    return LinearSchedule(1.0, 0.01, 250'000, step, 20'000);
  };
  EXPECT_DOUBLE_EQ(eps(0), 1.0);
  EXPECT_DOUBLE_EQ(eps(20'000), 1.0);
  EXPECT_NEAR(eps(145'000), 0.01 + 0.99 * 0.5, 1e-12);
  EXPECT_NEAR(eps(270'000), 0.01, 1e-12);
  EXPECT_DOUBLE_EQ(eps(10'000'000), 0.01);
  // Same formula as Dopamine's linearly_decaying_epsilon.
  for (int64_t step : {0, 25'000, 100'000, 269'999, 300'000}) {
    const double steps_left = 250'000.0 + 20'000.0 - static_cast<double>(step);
    const double bonus =
        std::clamp((1.0 - 0.01) * steps_left / 250'000.0, 0.0, 0.99);
    EXPECT_NEAR(eps(step), 0.01 + bonus, 1e-12) << step;
  }
  // Increasing schedules (PER beta 0.4 -> 1) work the same way.
  EXPECT_DOUBLE_EQ(LinearSchedule(0.4, 1.0, 100, 0), 0.4);
  EXPECT_NEAR(LinearSchedule(0.4, 1.0, 100, 50), 0.7, 1e-12);
  EXPECT_DOUBLE_EQ(LinearSchedule(0.4, 1.0, 100, 1000), 1.0);
  // Zero duration: a step at the end of warmup.
  EXPECT_DOUBLE_EQ(LinearSchedule(1.0, 0.1, 0, 4, 5), 1.0);
  EXPECT_DOUBLE_EQ(LinearSchedule(1.0, 0.1, 0, 5, 5), 0.1);
}

}  // namespace
}  // namespace tokrl
