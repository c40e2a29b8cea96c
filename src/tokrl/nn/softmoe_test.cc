#include "tokrl/nn/softmoe.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/nn/testing.h"

namespace tokrl::nn {
namespace {

// Straight loops over samples, tokens, experts, slots and features, in double,
// following paper.md 2.6 line by line.
at::Tensor ReferenceSoftMoE(const at::Tensor& x_in, SoftMoEImpl& moe) {
  const at::Tensor x = x_in.contiguous();
  const int64_t b_n = x.size(0), m = x.size(1), d = x.size(2);
  const int64_t n = moe.options.num_experts();
  const int64_t p = moe.slots_per_expert();
  const int64_t hid = moe.expert_hidden();
  const bool norm = moe.options.normalize();
  auto X = x.accessor<double, 3>();
  const at::Tensor phi_t = moe.phi.detach().contiguous();
  auto Phi = phi_t.accessor<double, 3>();
  const double s = norm ? moe.scale.item<double>() : 1.0;
  const at::Tensor w1_t = moe.experts->w1.detach().contiguous();
  const at::Tensor b1_t = moe.experts->b1.detach().contiguous();
  const at::Tensor w2_t = moe.experts->w2.detach().contiguous();
  const at::Tensor b2_t = moe.experts->b2.detach().contiguous();
  auto W1 = w1_t.accessor<double, 3>();
  auto B1 = b1_t.accessor<double, 2>();
  auto W2 = w2_t.accessor<double, 3>();
  auto B2 = b2_t.accessor<double, 2>();

  at::Tensor out = torch::zeros({b_n, m, d}, torch::kDouble);
  auto Y = out.accessor<double, 3>();
  // Column norms of Phi.
  std::vector<double> phi_norm(static_cast<size_t>(n * p), 0.0);
  for (int64_t e = 0; e < n; ++e)
    for (int64_t j = 0; j < p; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < d; ++k) acc += Phi[k][e][j] * Phi[k][e][j];
      phi_norm[static_cast<size_t>(e * p + j)] = std::sqrt(acc);
    }
  for (int64_t b = 0; b < b_n; ++b) {
    // Logits L[i][e][j].
    std::vector<double> L(static_cast<size_t>(m * n * p));
    auto logit = [&](int64_t i, int64_t e, int64_t j) -> double& {
      return L[static_cast<size_t>((i * n + e) * p + j)];
    };
    for (int64_t i = 0; i < m; ++i) {
      double xn = 0;
      for (int64_t k = 0; k < d; ++k) xn += X[b][i][k] * X[b][i][k];
      xn = std::sqrt(xn);
      for (int64_t e = 0; e < n; ++e)
        for (int64_t j = 0; j < p; ++j) {
          double acc = 0;
          for (int64_t k = 0; k < d; ++k) {
            double xv = X[b][i][k], pv = Phi[k][e][j];
            if (norm) {
              xv /= xn + 1e-6;
              pv = s * pv / (phi_norm[static_cast<size_t>(e * p + j)] + 1e-6);
            }
            acc += xv * pv;
          }
          logit(i, e, j) = acc;
        }
    }
    // Dispatch: softmax over tokens for each slot.
    std::vector<double> D(L.size()), C(L.size());
    for (int64_t e = 0; e < n; ++e)
      for (int64_t j = 0; j < p; ++j) {
        double z = 0;
        for (int64_t i = 0; i < m; ++i) z += std::exp(logit(i, e, j));
        for (int64_t i = 0; i < m; ++i)
          D[static_cast<size_t>((i * n + e) * p + j)] =
              std::exp(logit(i, e, j)) / z;
      }
    // Combine: softmax over all slots for each token.
    for (int64_t i = 0; i < m; ++i) {
      double z = 0;
      for (int64_t e = 0; e < n; ++e)
        for (int64_t j = 0; j < p; ++j) z += std::exp(logit(i, e, j));
      for (int64_t e = 0; e < n; ++e)
        for (int64_t j = 0; j < p; ++j)
          C[static_cast<size_t>((i * n + e) * p + j)] =
              std::exp(logit(i, e, j)) / z;
    }
    // Slots, expert MLPs, combine.
    for (int64_t e = 0; e < n; ++e)
      for (int64_t j = 0; j < p; ++j) {
        std::vector<double> slot(static_cast<size_t>(d), 0.0);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t k = 0; k < d; ++k)
            slot[static_cast<size_t>(k)] +=
                D[static_cast<size_t>((i * n + e) * p + j)] * X[b][i][k];
        std::vector<double> h(static_cast<size_t>(hid));
        for (int64_t u = 0; u < hid; ++u) {
          double acc = B1[e][u];
          for (int64_t k = 0; k < d; ++k)
            acc += slot[static_cast<size_t>(k)] * W1[e][k][u];
          h[static_cast<size_t>(u)] = std::max(acc, 0.0);
        }
        for (int64_t k = 0; k < d; ++k) {
          double f = B2[e][k];
          for (int64_t u = 0; u < hid; ++u)
            f += h[static_cast<size_t>(u)] * W2[e][u][k];
          for (int64_t i = 0; i < m; ++i)
            Y[b][i][k] += C[static_cast<size_t>((i * n + e) * p + j)] * f;
        }
      }
  }
  return out;
}

TEST(SoftMoETest, DefaultSlotsAreCeilTokensOverExperts) {
  EXPECT_EQ(DefaultSlotsPerExpert(121, 1), 121);
  EXPECT_EQ(DefaultSlotsPerExpert(121, 2), 61);
  EXPECT_EQ(DefaultSlotsPerExpert(121, 4), 31);
  EXPECT_EQ(DefaultSlotsPerExpert(121, 8), 16);
  EXPECT_EQ(DefaultSlotsPerExpert(1, 4), 1);           // PerSamp.
  EXPECT_EQ(DefaultSlotsPerExpert(64, 4), 16);         // MinAtar VALID.
  EXPECT_EQ(DefaultSlotsPerExpert(121, 1, 0.1), 13);   // DFT "10% of slots".
  EXPECT_EQ(DefaultSlotsPerExpert(121, 4, 4.0), 121);  // p = m.
}

class SoftMoEReferenceTest : public ::testing::TestWithParam<bool> {};

TEST_P(SoftMoEReferenceTest, EqualsLoopReference) {
  torch::manual_seed(0);
  const bool normalize = GetParam();
  SoftMoE moe(SoftMoEOptions(/*token_dim=*/5, /*num_experts=*/3)
                  .num_tokens(7)
                  .expert_hidden(4)
                  .expert_hidden_scale(2)
                  .normalize(normalize));
  moe->to(torch::kDouble);
  ASSERT_EQ(moe->slots_per_expert(), 3);
  {
    torch::NoGradGuard no_grad;
    // Spread the logits so the softmaxes are far from uniform, and give the
    // biases non-zero values.
    moe->phi.mul_(3.0);
    moe->experts->b1.uniform_(-0.5, 0.5);
    moe->experts->b2.uniform_(-0.5, 0.5);
    if (normalize) moe->scale.fill_(1.7);
  }
  const at::Tensor x = torch::randn({3, 7, 5}, torch::kDouble) * 2.0;
  const at::Tensor y = moe->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{3, 7, 5}));
  const at::Tensor expected = ReferenceSoftMoE(x, *moe);
  EXPECT_TRUE(torch::allclose(y, expected, 1e-10, 1e-12))
      << (y - expected).abs().max().item<double>();
}

INSTANTIATE_TEST_SUITE_P(Normalize, SoftMoEReferenceTest, ::testing::Bool());

TEST(SoftMoETest, DispatchColumnsAndCombineRowsSumToOne) {
  torch::manual_seed(1);
  SoftMoE moe(SoftMoEOptions(16, 4).num_tokens(100));
  moe->to(torch::kDouble);
  const SoftMoERouting r =
      moe->route(torch::randn({2, 100, 16}, torch::kDouble));
  ASSERT_EQ(r.dispatch.sizes(), (std::vector<int64_t>{2, 100, 4, 25}));
  // Over tokens, for every (b, e, j).
  EXPECT_TRUE(torch::allclose(r.dispatch.sum(1),
                              torch::ones({2, 4, 25}, torch::kDouble)));
  // Over all (e, j), for every (b, i).
  EXPECT_TRUE(torch::allclose(r.combine.sum({2, 3}),
                              torch::ones({2, 100}, torch::kDouble)));
  // The two share the logits: D and C are not identical.
  EXPECT_FALSE(torch::allclose(r.dispatch, r.combine));
}

// The fused CPU kernel against the two ATen softmaxes in double, on shapes
// whose slot count is and is not a multiple of the kernel's 8 lanes, and on
// logits spread so far (scale 100) that the kernel's shared exp gives way to
// one exp per softmax.
TEST(SoftMoETest, FusedRoutingEqualsTheTwoSoftmaxes) {
  torch::manual_seed(2);
  for (const auto& shape : std::vector<std::vector<int64_t>>{
           {3, 7, 3, 3}, {4, 100, 4, 25}, {2, 100, 1, 100}, {5, 1, 2, 1}}) {
    for (const double spread : {0.1, 3.0, 100.0}) {
      SCOPED_TRACE(::testing::Message() << shape << " spread " << spread);
      const at::Tensor logits =
          (torch::randn(shape) * spread).requires_grad_(true);
      const at::Tensor exact =
          logits.detach().to(torch::kDouble).requires_grad_(true);
      const SoftMoERouting fused = SoftMoERoutingWeights(logits);
      const at::Tensor d = SoftMoEDispatchWeights(exact);
      const at::Tensor c = SoftMoECombineWeights(exact);
      EXPECT_LT(
          (fused.dispatch.to(torch::kDouble) - d).abs().max().item<double>(),
          1e-6);
      EXPECT_LT(
          (fused.combine.to(torch::kDouble) - c).abs().max().item<double>(),
          1e-6);
      const at::Tensor gd = torch::randn(shape);
      const at::Tensor gc = torch::randn(shape);
      // Both outputs used, then each alone (the other's gradient undefined).
      for (int used = 0; used < 3; ++used) {
        at::Tensor loss = logits.new_zeros({});
        at::Tensor exact_loss = exact.new_zeros({});
        if (used != 2) {
          loss = loss + (fused.dispatch * gd).sum();
          exact_loss = exact_loss + (d * gd.to(torch::kDouble)).sum();
        }
        if (used != 1) {
          loss = loss + (fused.combine * gc).sum();
          exact_loss = exact_loss + (c * gc.to(torch::kDouble)).sum();
        }
        const at::Tensor g = torch::autograd::grad({loss}, {logits}, {},
                                                   /*retain_graph=*/true)[0];
        const at::Tensor ge = torch::autograd::grad({exact_loss}, {exact}, {},
                                                    /*retain_graph=*/true)[0];
        EXPECT_LT((g.to(torch::kDouble) - ge).abs().max().item<double>(), 2e-6)
            << "outputs used: " << used;
      }
    }
  }
}

// The fused token normalization against the ATen ops in double: on a
// transposed view (PerConv tokens), contiguous tokens and a permuted layout,
// with a token of zeros (whose gradient is g / eps there, as ATen's). The
// gradient keeps the tokens' layout.
TEST(SoftMoETest, FusedTokenNormEqualsTheAtenOps) {
  torch::manual_seed(3);
  const auto transposed = [] {
    return torch::randn({5, 16, 100}).transpose(1, 2);  // [5, 100, 16]
  };
  const auto contiguous = [] { return torch::randn({3, 7, 9}); };
  const auto permuted = [] {
    return torch::randn({7, 9, 3}).permute({2, 0, 1});  // [3, 7, 9]
  };
  for (const auto& make : {+transposed, +contiguous, +permuted}) {
    at::Tensor base = make();
    {
      torch::NoGradGuard no_grad;
      base.select(1, 2).zero_();  // one token of every sample is 0
    }
    const at::Tensor x = base.detach().requires_grad_(true);
    SCOPED_TRACE(::testing::Message() << x.sizes() << " " << x.strides());
    const at::Tensor exact = x.detach().to(torch::kDouble).requires_grad_(true);
    const at::Tensor fused = NormalizeTokens(x);
    const at::Tensor want =
        exact / (exact.norm(2, {-1}, /*keepdim=*/true) + 1e-6);
    EXPECT_TRUE(fused.is_contiguous());
    EXPECT_LT((fused.to(torch::kDouble) - want).abs().max().item<double>(),
              1e-6);
    const at::Tensor g = torch::randn(x.sizes());
    const at::Tensor gx = torch::autograd::grad({(fused * g).sum()}, {x})[0];
    const at::Tensor ge = torch::autograd::grad(
        {(want * g.to(torch::kDouble)).sum()}, {exact})[0];
    EXPECT_EQ(gx.strides(), x.strides());
    // Relative to the largest entry: the zero token's gradient is g / 1e-6.
    EXPECT_LT((gx.to(torch::kDouble) - ge).abs().max().item<double>(),
              1e-6 * ge.abs().max().item<double>());
    // The other tokens' gradients, absolutely.
    const at::Tensor live = torch::ones({x.size(1)}, torch::kBool);
    live[2] = false;
    EXPECT_LT((gx.to(torch::kDouble) - ge)
                  .index({torch::indexing::Slice(), live})
                  .abs()
                  .max()
                  .item<double>(),
              1e-6);
  }
}

// The normalized logits with Phi's normalization and scale in one kernel
// against the ATen ops in double: unpacked (Phi [d, n, p], scale [1]) and
// packed (Phi [k, d, n, p], scale [k]), with a column of zeros in Phi
// (whose gradient is s g / eps there, as ATen's). Values and the gradients
// of the tokens, Phi and the scale.
TEST(SoftMoETest, FusedPhiNormEqualsTheAtenOps) {
  torch::manual_seed(4);
  for (const int64_t k : {int64_t{0}, int64_t{3}}) {  // 0: unpacked
    SCOPED_TRACE(k);
    const int64_t members = std::max<int64_t>(k, 1);
    const at::Tensor tokens = torch::randn({2 * members, 10, 16});
    at::Tensor phi =
        k == 0 ? torch::randn({16, 4, 5}) : torch::randn({k, 16, 4, 5});
    phi.select(-1, 1).select(-1, 2).zero_();
    const at::Tensor scale = torch::rand({members}) + 1.0;
    std::vector<at::Tensor> leaves = {tokens, phi, scale};
    std::vector<at::Tensor> exact;
    for (at::Tensor& t : leaves) {
      exact.push_back(t.to(torch::kDouble).requires_grad_(true));
      t.requires_grad_(true);
    }
    const at::Tensor got = SoftMoELogits(leaves[0], leaves[1], true, leaves[2]);
    // The reference: the tensor ops of softmoe.h's contract, in double.
    const at::Tensor xe =
        exact[0] / (exact[0].norm(2, {-1}, /*keepdim=*/true) + 1e-6);
    const int64_t d_dim = k == 0 ? 0 : 1;
    at::Tensor pe =
        exact[1] / (exact[1].norm(2, {d_dim}, /*keepdim=*/true) + 1e-6);
    pe = k == 0 ? pe * exact[2] : pe * exact[2].view({k, 1, 1, 1});
    const at::Tensor want =
        k == 0
            ? torch::einsum("bmd,dnp->bmnp", {xe, pe})
            : torch::einsum("kbmd,kdnp->kbmnp", {xe.view({k, 2, 10, 16}), pe})
                  .reshape({2 * k, 10, 4, 5});
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LT((got.to(torch::kDouble) - want).abs().max().item<double>(), 1e-5);
    const at::Tensor g = torch::randn(got.sizes());
    const auto grads = torch::autograd::grad({(got * g).sum()}, leaves);
    const auto want_grads =
        torch::autograd::grad({(want * g.to(torch::kDouble)).sum()}, exact);
    // Relative to each entry: the zero column's are s g / 1e-6.
    for (size_t i = 0; i < grads.size(); ++i) {
      SCOPED_TRACE(i);
      const at::Tensor err =
          (grads[i].to(torch::kDouble) - want_grads[i]).abs() /
          (1.0 + want_grads[i].abs());
      EXPECT_LT(err.max().item<double>(), 1e-5);
    }
    EXPECT_GT(want_grads[1].abs().max().item<double>(),
              1e4);  // the zero column
  }
}

TEST(SoftMoETest, ParameterCountsMatchPaper) {
  // paper.md 2.11, Impala PerConv: m = 121, d = 32.
  struct Case {
    int64_t experts, scale, phi, expert_params;
  };
  for (const Case& c : {Case{1, 1, 3872, 33312}, Case{4, 1, 3968, 133248},
                        Case{8, 1, 4096, 266496}, Case{1, 4, 3872, 133152}}) {
    SoftMoE moe(SoftMoEOptions(32, c.experts)
                    .num_tokens(121)
                    .expert_hidden_scale(c.scale));
    EXPECT_EQ(moe->phi.numel(), c.phi) << c.experts;
    int64_t total = 0;
    for (const auto& p : moe->parameters()) total += p.numel();
    EXPECT_EQ(total, c.phi + c.expert_params) << c.experts;
  }
  SoftMoE normalized(SoftMoEOptions(32, 1).num_tokens(121).normalize(true));
  int64_t total = 0;
  for (const auto& p : normalized->parameters()) total += p.numel();
  EXPECT_EQ(total, 3872 + 33312 + 1);  // "Phi 3,872 (+1)".
}

TEST(SoftMoETest, PhiIsLecunNormalWithFanInExpertsTimesD) {
  torch::manual_seed(2);
  SoftMoE moe(SoftMoEOptions(64, 8).slots_per_expert(200));
  const double var = moe->phi.var().item<double>();
  EXPECT_NEAR(var, 1.0 / (8 * 64), 0.05 / (8 * 64));
}

TEST(SoftMoETest, IsPermutationEquivariantInTokens) {
  torch::manual_seed(3);
  SoftMoE moe(SoftMoEOptions(6, 2).num_tokens(9));
  moe->to(torch::kDouble);
  const at::Tensor x = torch::randn({2, 9, 6}, torch::kDouble);
  const at::Tensor perm = torch::randperm(9);
  const at::Tensor y = moe->forward(x);
  EXPECT_TRUE(torch::allclose(moe->forward(x.index_select(1, perm)),
                              y.index_select(1, perm), 1e-10, 1e-12));
}

TEST(SoftMoETest, AcceptsAnyTokenCountAtRunTime) {
  SoftMoE moe(SoftMoEOptions(8, 2).slots_per_expert(3));
  EXPECT_EQ(moe->forward(torch::randn({2, 5, 8})).sizes(),
            (std::vector<int64_t>{2, 5, 8}));
  EXPECT_EQ(moe->forward(torch::randn({1, 1, 8})).sizes(),
            (std::vector<int64_t>{1, 1, 8}));
}

TEST(SoftMoETest, EveryParameterGetsGradient) {
  torch::manual_seed(4);
  for (bool normalize : {false, true}) {
    SoftMoE moe(SoftMoEOptions(8, 3).num_tokens(10).expert_hidden(16).normalize(
        normalize));
    const at::Tensor w = torch::randn({2, 10, 8});
    (moe->forward(torch::randn({2, 10, 8})) * w).sum().backward();
    testing::ExpectEveryParameterHasNonzeroGrad(*moe);
  }
}

TEST(SoftMoETest, CloneIsDeepAndSaveLoadRoundTrips) {
  torch::manual_seed(5);
  SoftMoE moe(
      SoftMoEOptions(8, 2).num_tokens(10).expert_hidden(16).normalize(true));
  const at::Tensor x = torch::randn({2, 10, 8});
  const at::Tensor before = moe->forward(x);

  testing::TempFile file("softmoe");
  torch::save(moe, file.path());
  SoftMoE loaded(
      SoftMoEOptions(8, 2).num_tokens(10).expert_hidden(16).normalize(true));
  torch::load(loaded, file.path());
  EXPECT_TRUE(torch::equal(loaded->forward(x), before));

  auto copy = std::dynamic_pointer_cast<SoftMoEImpl>(moe->clone());
  ASSERT_NE(copy, nullptr);
  testing::ExpectDeepClone(*moe, *copy);
  EXPECT_TRUE(torch::equal(copy->forward(x), before));
  EXPECT_FALSE(torch::equal(moe->forward(x), before));
}

TEST(SoftMoETest, NeedsTokensOrSlots) {
  EXPECT_THROW(SoftMoE(SoftMoEOptions(8, 2)), tokrl::Error);
  EXPECT_THROW(SoftMoE(SoftMoEOptions(8, 0).num_tokens(4)), tokrl::Error);
}

TEST(SoftMoETest, PrettyPrint) {
  SoftMoE moe(SoftMoEOptions(32, 4).num_tokens(121));
  std::ostringstream s;
  moe->pretty_print(s);
  EXPECT_EQ(s.str(),
            "tokrl::nn::SoftMoE(d=32, experts=4, slots=31, hidden=512, "
            "normalize=false)");
}

}  // namespace
}  // namespace tokrl::nn
