#include "tokrl/nn/heads.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/noisy_linear.h"
#include "tokrl/nn/testing.h"

namespace tokrl::nn {
namespace {

int64_t CountParams(const torch::nn::Module& m) {
  int64_t total = 0;
  for (const auto& p : m.parameters()) total += p.numel();
  return total;
}

TEST(HeadsTest, LinearHead) {
  torch::manual_seed(0);
  QHead head(QHeadOptions(16, 6));
  const HeadOutput out = head->forward(torch::randn({3, 16}));
  EXPECT_EQ(out.q.sizes(), (std::vector<int64_t>{3, 6}));
  EXPECT_FALSE(out.logits.defined());
  EXPECT_EQ(CountParams(*head), 16 * 6 + 6);
}

TEST(HeadsTest, C51HeadQIsExpectationOverSupport) {
  torch::manual_seed(1);
  QHead head(QHeadOptions(16, 4)
                 .type(HeadType::kC51)
                 .num_atoms(11)
                 .v_min(-2)
                 .v_max(3));
  EXPECT_EQ(CountParams(*head), 16 * 4 * 11 + 4 * 11);
  const HeadOutput out = head->forward(torch::randn({2, 16}) * 5);
  ASSERT_EQ(out.logits.sizes(), (std::vector<int64_t>{2, 4, 11}));
  ASSERT_EQ(out.q.sizes(), (std::vector<int64_t>{2, 4}));
  const at::Tensor support = torch::linspace(-2, 3, 11);
  EXPECT_TRUE(torch::allclose(head->support, support));
  const at::Tensor probs = torch::softmax(out.logits, -1);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t a = 0; a < 4; ++a)
      EXPECT_NEAR(out.q[b][a].item<double>(),
                  (probs[b][a] * support).sum().item<double>(), 1e-5);
  EXPECT_GE(out.q.min().item<double>(), -2.0);
  EXPECT_LE(out.q.max().item<double>(), 3.0);
}

TEST(HeadsTest, C51QValuesAreExpectations) {
  // Logits log(p) give exactly p after softmax.
  const at::Tensor probs =
      torch::tensor({{{0.2f, 0.3f, 0.5f}, {1.0f, 0.0f, 0.0f}}});
  const at::Tensor q =
      C51QValues(probs.log(), torch::tensor({-1.0f, 0.0f, 1.0f}));
  const at::Tensor want = torch::tensor({{0.3f, -1.0f}});
  ASSERT_EQ(q.sizes(), want.sizes());
  EXPECT_TRUE(torch::allclose(q, want, /*rtol=*/0, /*atol=*/1e-6)) << q;
}

// The atom kernels (fast path) against the ATen ops in double: Q values
// with their gradient, and the probabilities, on rows of 51 atoms with a
// wide spread (exps that underflow) and a row of equal logits.
TEST(HeadsTest, AtomKernelsEqualTheAtenOpsInDouble) {
  torch::manual_seed(7);
  at::Tensor base = torch::randn({32, 6, 51}) * 5.0;
  base[0][0] = torch::linspace(-90.0, 90.0, 51);
  base[1][2].fill_(3.0f);
  const at::Tensor support = torch::linspace(-10.0, 10.0, 51);
  const at::Tensor logits = base.clone().requires_grad_(true);
  const at::Tensor exact = base.to(torch::kDouble).requires_grad_(true);
  const at::Tensor q = C51QValues(logits, support);
  const at::Tensor want =
      (torch::softmax(exact, -1) * support.to(torch::kDouble)).sum(-1);
  ASSERT_EQ(q.sizes(), want.sizes());
  EXPECT_LT((q.to(torch::kDouble) - want).abs().max().item<double>(), 1e-5);
  const at::Tensor g = torch::randn(q.sizes());
  const at::Tensor gx = torch::autograd::grad({(q * g).sum()}, {logits})[0];
  const at::Tensor ge =
      torch::autograd::grad({(want * g.to(torch::kDouble)).sum()}, {exact})[0];
  EXPECT_LT((gx.to(torch::kDouble) - ge).abs().max().item<double>(), 1e-5);
  {
    torch::NoGradGuard no_grad;
    const at::Tensor p = C51Probabilities(base);
    EXPECT_LT((p.to(torch::kDouble) - torch::softmax(exact.detach(), -1))
                  .abs()
                  .max()
                  .item<double>(),
              1e-6);
  }
  // With a gradient wanted, the probabilities are ATen's (differentiable).
  EXPECT_TRUE(C51Probabilities(logits).requires_grad());
}

// Each atom is the double v_min + i dz rounded once (float linspace gave
// the middle atom of [-10, 10] as 1.5e-7 or 2.4e-7 by ATen's kernels).
TEST(HeadsTest, C51SupportAtomsAreRoundedOnce) {
  const at::Tensor z = C51Support(51, -10.0, 10.0);
  ASSERT_EQ(z.scalar_type(), torch::kFloat);
  ASSERT_EQ(z.numel(), 51);
  for (int64_t i = 0; i < 51; ++i) {
    EXPECT_EQ(z[i].item<float>(),
              static_cast<float>(-10.0 + static_cast<double>(i) * 0.4))
        << i;
  }
  EXPECT_EQ(z[25].item<float>(), 0.0f);
  EXPECT_EQ(z[50].item<float>(), 10.0f);
  EXPECT_TRUE(torch::equal(C51Support(51, -100.0, 100.0),
                           torch::arange(-100, 101, 4).to(torch::kFloat)));
  const at::Tensor d = C51Support(3, 0.0, 1.0, torch::kDouble);
  EXPECT_EQ(d.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::equal(d, torch::tensor({0.0, 0.5, 1.0}, torch::kDouble)));
  EXPECT_THROW(C51Support(1, 0.0, 1.0), tokrl::Error);
  EXPECT_THROW(C51Support(5, 1.0, 1.0), tokrl::Error);
}

TEST(HeadsTest, DuelingCombineHasZeroMeanAdvantage) {
  torch::manual_seed(2);
  const at::Tensor v = torch::randn({2, 1, 5});
  const at::Tensor a = torch::randn({2, 3, 5});
  const at::Tensor q = DuelingCombine(v, a);
  EXPECT_TRUE(torch::allclose(q.mean(1, true), v, 1e-5, 1e-6));
  EXPECT_TRUE(
      torch::allclose(q - q.mean(1, true), a - a.mean(1, true), 1e-5, 1e-6));
}

// DuelingParams' loops against DuelingCombine's tensor ops (values and both
// gradients to float rounding), the same bits on 1 and 3 threads (several
// members and a width that splits), and its shape check. DuelingCombine of
// the outputs: the same loops, the mean a sum in action order over A.
TEST(HeadsTest, DuelingParamsAreDuelingCombineOfTheParameters) {
  const int threads = torch::get_num_threads();
  torch::manual_seed(7);
  for (const auto& [k, a, x] :
       {std::array<int64_t, 3>{1, 6, 81600}, std::array<int64_t, 3>{3, 4, 9000},
        std::array<int64_t, 3>{2, 1, 5}}) {
    SCOPED_TRACE(::testing::Message() << k << " x " << a << " x " << x);
    const at::Tensor v = torch::randn({k, x}).requires_grad_(true);
    const at::Tensor adv = torch::randn({k, a, x}).requires_grad_(true);
    const at::Tensor g = torch::randn({k, a, x});
    const auto run = [&](int n) {
      torch::set_num_threads(n);
      const at::Tensor out = DuelingParams(v, adv);
      auto grads = torch::autograd::grad({(out * g).sum()}, {v, adv});
      return std::vector<at::Tensor>{out, grads[0], grads[1]};
    };
    const auto one = run(1);
    const auto three = run(3);
    torch::set_num_threads(threads);
    const at::Tensor ref = v.unsqueeze(1) + adv - adv.mean(1, true);
    const auto ref_grads = torch::autograd::grad({(ref * g).sum()}, {v, adv});
    const std::vector<at::Tensor> want = {ref, ref_grads[0], ref_grads[1]};
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_TRUE(torch::allclose(one[i], want[i], 1e-5, 1e-5)) << i;
      EXPECT_TRUE(torch::equal(one[i], three[i])) << i;
    }
  }
  // Outputs [B, A, atoms]: bit for bit the loops' sum in action order.
  const at::Tensor v3 = torch::randn({4, 1, 51}), a3 = torch::randn({4, 6, 51});
  at::Tensor sum = a3.select(1, 0).clone();
  for (int64_t r = 1; r < 6; ++r) sum.add_(a3.select(1, r));
  EXPECT_TRUE(torch::equal(DuelingCombine(v3, a3),
                           (v3 + a3) - (sum / 6.0f).unsqueeze(1)));
  EXPECT_THROW(DuelingParams(torch::zeros({1, 5}), torch::zeros({1, 3, 4})),
               tokrl::Error);
  EXPECT_THROW(DuelingParams(torch::zeros({5}), torch::zeros({1, 3, 5})),
               tokrl::Error);

  // DuelingLayer: both layers' parameters, 2 members of 4 actions x 3 atoms.
  const at::Tensor vw = torch::randn({2, 3, 8}), vb = torch::randn({2, 3});
  const at::Tensor aw = torch::randn({2, 12, 8}), ab = torch::randn({2, 12});
  const auto [w, b] = DuelingLayer(vw, vb, aw, ab);
  EXPECT_TRUE(torch::allclose(
      w, DuelingCombine(vw.unsqueeze(1), aw.view({2, 4, 3, 8})).view_as(aw),
      1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(
      b, DuelingCombine(vb.unsqueeze(1), ab.view({2, 4, 3})).view_as(ab), 1e-5,
      1e-6));
  EXPECT_THROW(DuelingLayer(vw, vb, aw, ab.narrow(1, 0, 10)), tokrl::Error);
  EXPECT_THROW(DuelingLayer(vw, vb, aw.narrow(2, 0, 7), ab), tokrl::Error);
}

TEST(HeadsTest, DuelingLinearHeadMeanOverActionsIsTheValue) {
  torch::manual_seed(3);
  QHead head(QHeadOptions(16, 6).dueling(true));
  EXPECT_EQ(CountParams(*head), (16 * 6 + 6) + (16 + 1));
  const at::Tensor z = torch::randn({3, 16});
  const HeadOutput out = head->forward(z);
  const at::Tensor v = head->value.forward<at::Tensor>(z);  // [3, 1]
  EXPECT_TRUE(torch::allclose(out.q.mean(1, true), v, 1e-5, 1e-6));
}

TEST(HeadsTest, DuelingC51AppliesToLogits) {
  torch::manual_seed(4);
  QHead head(
      QHeadOptions(16, 3).type(HeadType::kC51).num_atoms(7).dueling(true));
  EXPECT_EQ(CountParams(*head), (16 * 21 + 21) + (16 * 7 + 7));
  const at::Tensor z = torch::randn({2, 16});
  const HeadOutput out = head->forward(z);
  const at::Tensor v = head->value.forward<at::Tensor>(z).view({2, 1, 7});
  EXPECT_TRUE(torch::allclose(out.logits.mean(1, true), v, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(out.q, C51QValues(out.logits, head->support)));
}

TEST(HeadsTest, NoisyHeadUsesNoisyLayers) {
  torch::manual_seed(5);
  QHead head(QHeadOptions(16, 4)
                 .type(HeadType::kC51)
                 .num_atoms(5)
                 .dueling(true)
                 .noisy(true));
  int noisy_layers = 0;
  for (const auto& m : head->modules(false)) {
    if (m->as<NoisyLinearImpl>()) ++noisy_layers;
  }
  EXPECT_EQ(noisy_layers, 2);
  const at::Tensor z = torch::randn({2, 16});
  const at::Tensor train_q = head->forward(z).q;
  head->eval();
  const at::Tensor eval_q = head->forward(z).q;
  EXPECT_FALSE(torch::allclose(train_q, eval_q));
  EXPECT_TRUE(torch::equal(eval_q, head->forward(z).q));
}

TEST(HeadsTest, GradientsCloneAndSaveLoad) {
  torch::manual_seed(6);
  QHead head(QHeadOptions(16, 4)
                 .type(HeadType::kC51)
                 .num_atoms(5)
                 .dueling(true)
                 .noisy(true));
  const at::Tensor z = torch::randn({2, 16});
  const HeadOutput out = head->forward(z);
  (out.logits * torch::randn({2, 4, 5})).sum().backward();
  testing::ExpectEveryParameterHasNonzeroGrad(*head);

  head->eval();
  const at::Tensor before = head->forward(z).q;
  testing::TempFile file("head");
  torch::save(head, file.path());
  QHead loaded(QHeadOptions(16, 4)
                   .type(HeadType::kC51)
                   .num_atoms(5)
                   .dueling(true)
                   .noisy(true));
  torch::load(loaded, file.path());
  loaded->eval();
  EXPECT_TRUE(torch::equal(loaded->forward(z).q, before));
  auto copy = std::dynamic_pointer_cast<QHeadImpl>(head->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_TRUE(torch::equal(copy->forward(z).q, before));
  testing::ExpectDeepClone(*head, *copy);
  EXPECT_TRUE(torch::equal(copy->forward(z).q, before));
}

// forward_taken against forward + gather, outputs and every gradient
// (head and input), with fast paths on and off: for C51 heads, plain,
// dueling, noisy or both (the grouped fast path; a batch where some actions
// are absent, and a batch of one) and for a linear head (the fallback).
TEST(HeadsTest, ForwardTakenEqualsForwardAtTheTakenActions) {
  struct Case {
    const char* name;
    QHeadOptions options;
    bool noise = false;  // noisy: training mode, so the sigmas count too
  };
  const auto c51 = [](int64_t in = 40) {
    return QHeadOptions(in, 5).type(HeadType::kC51).num_atoms(7);
  };
  const std::vector<Case> cases = {
      {"c51", c51()},
      {"c51, inputs not a multiple of 8 (no small-matrix kernel)", c51(41)},
      {"linear", QHeadOptions(40, 5)},
      {"c51 dueling", c51().dueling(true)},
      {"c51 noisy", c51().noisy(true)},
      {"c51 dueling noisy, noise on", c51().dueling(true).noisy(true), true},
      {"c51 dueling noisy, 41 inputs", c51(41).dueling(true).noisy(true), true},
  };
  for (const bool fast : {true, false}) {
    SetFastPaths(fast);
    for (const Case& c : cases) {
      for (const std::vector<int64_t>& acts :
           {std::vector<int64_t>{3, 0, 3, 4, 0, 0, 3, 1},
            std::vector<int64_t>{2}}) {
        SCOPED_TRACE(::testing::Message()
                     << c.name << " fast " << fast << " batch " << acts.size());
        torch::manual_seed(4);
        QHead head(c.options);
        // The same weights both ways: the noise is drawn on reset_noise.
        if (c.options.noisy() && !c.noise) head->eval();
        const auto n = static_cast<int64_t>(acts.size());
        const at::Tensor actions = torch::tensor(acts, torch::kLong);
        const at::Tensor z =
            torch::randn({n, c.options.in_features()}).requires_grad_(true);
        const at::Tensor w = torch::randn({n, head->atoms()});
        // Of every parameter (undefined where unused: a noisy head's sigmas
        // in eval mode) and of z.
        const auto grads_of = [&](const at::Tensor& l) {
          std::vector<at::Tensor> inputs = head->parameters();
          inputs.push_back(z);
          return torch::autograd::grad({l}, inputs, {}, /*retain_graph=*/{},
                                       /*create_graph=*/false,
                                       /*allow_unused=*/true);
        };

        const TakenOutput taken = head->forward_taken(z, actions);
        ASSERT_EQ(taken.q.sizes(), (std::vector<int64_t>{n}));
        const at::Tensor out =
            taken.logits.defined() ? taken.logits : taken.q.unsqueeze(1);
        const at::Tensor loss = (out * w).sum() + taken.q.sum();
        const auto grads = grads_of(loss);

        const HeadOutput full = head->forward(z);
        const at::Tensor rows = torch::arange(n);
        const at::Tensor q = full.q.index({rows, actions});
        const at::Tensor ref = full.logits.defined()
                                   ? full.logits.index({rows, actions})
                                   : q.unsqueeze(1);
        const at::Tensor ref_loss = (ref * w).sum() + q.sum();
        const auto ref_grads = grads_of(ref_loss);
        EXPECT_TRUE(torch::allclose(taken.q, q, 1e-5, 1e-5));
        EXPECT_TRUE(torch::allclose(out, ref, 1e-5, 1e-5));
        ASSERT_EQ(grads.size(), ref_grads.size());
        for (size_t i = 0; i < grads.size(); ++i) {
          ASSERT_EQ(grads[i].defined(), ref_grads[i].defined()) << i;
          if (!grads[i].defined()) continue;
          EXPECT_TRUE(torch::allclose(grads[i], ref_grads[i], 1e-5, 1e-5))
              << "gradient " << i << " of " << grads.size();
        }
      }
    }
  }
  SetFastPaths(true);
  QHead head(c51());
  EXPECT_THROW(head->forward_taken(torch::zeros({2, 40}),
                                   torch::tensor({0, 5}, torch::kLong)),
               tokrl::Error);
  EXPECT_THROW(head->forward_taken(torch::zeros({2, 40}),
                                   torch::tensor({0}, torch::kLong)),
               tokrl::Error);
}

TEST(HeadsTest, BadOptionsThrow) {
  EXPECT_THROW(QHead(QHeadOptions(16, 0)), tokrl::Error);
  EXPECT_THROW(QHead(QHeadOptions(16, 4).type(HeadType::kC51).num_atoms(1)),
               tokrl::Error);
  EXPECT_THROW(
      QHead(QHeadOptions(16, 4).type(HeadType::kC51).v_min(1).v_max(1)),
      tokrl::Error);
  EXPECT_THROW(QHead(QHeadOptions(16, 4))->forward(torch::zeros({2, 15})),
               tokrl::Error);
  EXPECT_EQ(ParseHeadType("C51"), HeadType::kC51);
  EXPECT_EQ(ParseHeadType("distributional"), HeadType::kC51);
  try {
    ParseHeadType("iqn");
    FAIL() << "expected tokrl::Error";
  } catch (const tokrl::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("head 'iqn'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("linear, c51"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace tokrl::nn
