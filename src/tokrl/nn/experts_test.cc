#include "tokrl/nn/experts.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tokrl/core/check.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/testing.h"

namespace tokrl::nn {
namespace {

TEST(ExpertsTest, BatchedForwardEqualsOneMlpPerExpert) {
  torch::manual_seed(0);
  Experts experts(ExpertsOptions(3, 5, 7));
  experts->to(torch::kDouble);
  const at::Tensor x = torch::randn({3, 4, 5}, torch::kDouble);
  const at::Tensor y = experts->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{3, 4, 5}));
  for (int64_t e = 0; e < 3; ++e) {
    const at::Tensor h = torch::relu(x[e].mm(experts->w1[e]) + experts->b1[e]);
    const at::Tensor expected = h.mm(experts->w2[e]) + experts->b2[e];
    EXPECT_TRUE(torch::allclose(y[e], expected, 1e-12, 1e-12)) << e;
  }
}

TEST(ExpertsTest, ParameterCountMatchesPaperFormula) {
  // paper.md 2.11: one expert costs 2 d H + H + d.
  EXPECT_EQ(ExpertParameterCount(1, 32, 512), 33312);
  EXPECT_EQ(ExpertParameterCount(4, 32, 512), 133248);
  EXPECT_EQ(ExpertParameterCount(8, 32, 512), 266496);
  EXPECT_EQ(ExpertParameterCount(1, 32, 2048), 133152);
  EXPECT_EQ(ExpertParameterCount(1, 64, 512), 66112);
  Experts experts(ExpertsOptions(4, 32, 512));
  int64_t total = 0;
  for (const auto& p : experts->parameters()) total += p.numel();
  EXPECT_EQ(total, 133248);
}

TEST(ExpertsTest, InitIsXavierPerExpertWithZeroBias) {
  torch::manual_seed(1);
  Experts experts(ExpertsOptions(2, 32, 512));
  const double limit = std::sqrt(6.0 / (32 + 512));
  EXPECT_LE(experts->w1.abs().max().item<double>(), limit);
  EXPECT_LE(experts->w2.abs().max().item<double>(), limit);
  EXPECT_EQ(experts->b1.abs().sum().item<double>(), 0.0);
  EXPECT_EQ(experts->b2.abs().sum().item<double>(), 0.0);
  // Separate parameters: the experts' slices differ.
  EXPECT_FALSE(torch::equal(experts->w1[0], experts->w1[1]));
}

TEST(ExpertsTest, ApplyExpertsWithOneHotRoutingRunsEachTokenThroughItsExpert) {
  torch::manual_seed(2);
  Experts experts(ExpertsOptions(2, 3, 4));
  experts->to(torch::kDouble);
  // B = 1, m = 2 tokens, n = 2 experts, p = 1 slot: token 0 -> expert 1,
  // token 1 -> expert 0, combined with weights 0.5 and 2.
  const at::Tensor x = torch::randn({1, 2, 3}, torch::kDouble);
  at::Tensor dispatch = torch::zeros({1, 2, 2, 1}, torch::kDouble);
  dispatch[0][0][1][0] = 1.0;
  dispatch[0][1][0][0] = 1.0;
  at::Tensor combine = dispatch.clone();
  combine[0][0][1][0] = 0.5;
  combine[0][1][0][0] = 2.0;
  const at::Tensor y = ApplyExperts(x, dispatch, combine, *experts);
  const at::Tensor f = experts->forward(torch::stack({x[0], x[0]}));  // [2,2,3]
  EXPECT_TRUE(torch::allclose(y[0][0], 0.5 * f[1][0], 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(y[0][1], 2.0 * f[0][1], 1e-12, 1e-12));
}

// DispatchTokens' hand-written backward against autograd's through einsum,
// with PerConv-like tokens (a transposed view) and either input alone
// requiring a gradient.
TEST(ExpertsTest, DispatchTokensGradientsEqualEinsums) {
  torch::manual_seed(4);
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  const at::Tensor tokens =
      torch::randn({3, 4, 6}, opts).transpose(1, 2).requires_grad_(true);
  const at::Tensor dispatch =
      torch::softmax(torch::randn({3, 6, 2, 5}, opts), 1).requires_grad_(true);
  const at::Tensor g = torch::randn({3, 2, 5, 4}, opts);
  const at::Tensor want = torch::einsum("bmnp,bmd->bnpd", {dispatch, tokens});
  const at::Tensor got = DispatchTokens(tokens, dispatch);
  EXPECT_TRUE(torch::allclose(got, want, 1e-12, 1e-12));
  const auto dw = torch::autograd::grad({want}, {dispatch, tokens}, {g});
  const auto dg = torch::autograd::grad({got}, {dispatch, tokens}, {g});
  EXPECT_TRUE(torch::allclose(dg[0], dw[0], 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(dg[1], dw[1], 1e-12, 1e-12));
  EXPECT_TRUE(dg[0].is_contiguous());  // in the routing's layout
  const at::Tensor d_only = dispatch.detach().requires_grad_(true);
  const auto g1 = torch::autograd::grad(
      {DispatchTokens(tokens.detach(), d_only)}, {d_only}, {g});
  EXPECT_TRUE(torch::allclose(g1[0], dw[0], 1e-12, 1e-12));
  const at::Tensor t_only = tokens.detach().requires_grad_(true);
  const auto g2 = torch::autograd::grad(
      {DispatchTokens(t_only, dispatch.detach())}, {t_only}, {g});
  EXPECT_TRUE(torch::allclose(g2[0], dw[1], 1e-12, 1e-12));
}

// The small-matrix kernel (float, CPU) against torch::bmm for every pair of
// transposes, with shapes that leave partial register blocks (rows not a
// multiple of 6, columns not a multiple of 8 or 16), operands that are
// strided views, b also stored column-major (op(b) packed from a transposed
// view: whole 4 x 4 tiles and the rest), and the gradients of both inputs.
TEST(ExpertsTest, BatchedMatmulEqualsBmm) {
  torch::manual_seed(5);
  const struct {
    int64_t s, rows, k, cols;
  } shapes[] = {{3, 7, 5, 13}, {2, 100, 100, 16}, {2, 13, 16, 100},
                {1, 1, 1, 1},  {2, 6, 3, 24},     {2, 11, 9, 8}};
  for (const auto& sh : shapes) {
    for (int t = 0; t < 8; ++t) {
      const bool ta = (t & 1) != 0, tb = (t & 2) != 0,
                 b_column_major = (t & 4) != 0;
      SCOPED_TRACE(::testing::Message()
                   << sh.rows << "x" << sh.k << "x" << sh.cols << " ta=" << ta
                   << " tb=" << tb << " b column-major=" << b_column_major);
      // a as stored: [s, rows, k] or [s, k, rows]; made a strided view by
      // slicing a wider tensor.
      const at::Tensor a_wide = ta ? torch::randn({sh.s, sh.k, sh.rows + 2})
                                   : torch::randn({sh.s, sh.rows, sh.k + 2});
      const at::Tensor a = a_wide.narrow(2, 1, ta ? sh.rows : sh.k);
      // b [s, k, cols] (tb: [s, cols, k]), its rows contiguous, or a
      // transposed view of the other layout.
      const bool b_rows_k = tb == b_column_major;  // stored as [s, k, cols]
      const at::Tensor b_stored = b_rows_k
                                      ? torch::randn({sh.s, sh.k, sh.cols})
                                      : torch::randn({sh.s, sh.cols, sh.k});
      const at::Tensor b = b_column_major ? b_stored.transpose(1, 2) : b_stored;
      const at::Tensor ar = a.detach().requires_grad_(true);
      const at::Tensor br = b.detach().requires_grad_(true);
      const at::Tensor want = torch::bmm(ta ? ar.transpose(1, 2) : ar,
                                         tb ? br.transpose(1, 2) : br);
      const at::Tensor ag = a.detach().requires_grad_(true);
      const at::Tensor bg = b.detach().requires_grad_(true);
      const at::Tensor got = BatchedMatmul(ag, ta, bg, tb);
      ASSERT_EQ(got.sizes(), want.sizes());
      EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-5));
      const at::Tensor g = torch::randn(want.sizes());
      const auto dw = torch::autograd::grad({want}, {ar, br}, {g});
      const auto dg = torch::autograd::grad({got}, {ag, bg}, {g});
      EXPECT_TRUE(torch::allclose(dg[0], dw[0], 1e-5, 1e-5));
      EXPECT_TRUE(torch::allclose(dg[1], dw[1], 1e-5, 1e-5));
    }
  }
  EXPECT_THROW(BatchedMatmul(torch::zeros({2, 3, 4}), false,
                             torch::zeros({2, 5, 6}), false),
               std::exception);
}

// Fewer samples than threads: each product's rows split among the threads
// (the flatten baseline's dense layer, SoftMoE's logits). The same bits as
// one thread, and torch::bmm's values, for every pair of transposes.
TEST(ExpertsTest, BatchedMatmulSplitsRowsWithTheSameBits) {
  torch::manual_seed(8);
  const int threads = torch::get_num_threads();
  const struct {
    int64_t s, rows, k, cols;
  } shapes[] = {{1, 130, 700, 40}, {2, 61, 900, 36}};
  for (const auto& sh : shapes) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
      SCOPED_TRACE(::testing::Message()
                   << sh.s << " x " << sh.rows << "x" << sh.k << "x" << sh.cols
                   << " ta=" << ta << " tb=" << tb);
      const at::Tensor a = ta ? torch::randn({sh.s, sh.k, sh.rows})
                              : torch::randn({sh.s, sh.rows, sh.k});
      const at::Tensor b = tb ? torch::randn({sh.s, sh.cols, sh.k})
                              : torch::randn({sh.s, sh.k, sh.cols});
      const at::Tensor g = torch::randn({sh.s, sh.rows, sh.cols});
      std::vector<std::vector<at::Tensor>> runs;
      for (const int n : {1, 3}) {
        torch::set_num_threads(n);
        const at::Tensor ag = a.detach().requires_grad_(true);
        const at::Tensor bg = b.detach().requires_grad_(true);
        const at::Tensor y = BatchedMatmul(ag, ta, bg, tb);
        const auto d = torch::autograd::grad({y}, {ag, bg}, {g});
        runs.push_back({y, d[0], d[1]});
      }
      torch::set_num_threads(threads);
      for (size_t i = 0; i < 3; ++i) {
        EXPECT_TRUE(torch::equal(runs[0][i], runs[1][i])) << "output " << i;
      }
      const at::Tensor want =
          torch::bmm(ta ? a.transpose(1, 2) : a, tb ? b.transpose(1, 2) : b);
      EXPECT_TRUE(torch::allclose(runs[1][0], want, 1e-4, 1e-4));
    }
  }
}

// Where b would be packed and a^T's rows can go to the kernel as they are
// (a transposed, rows a multiple of 8: SoftMoE's router weight gradient
// X^T G), the product is computed turned around: the same bits as with a
// contiguous copy of a^T (which takes the usual path), contiguous, and
// torch::bmm's values.
TEST(ExpertsTest, BatchedMatmulTurnedAroundGivesTheSameBits) {
  torch::manual_seed(9);
  for (const bool tb : {false, true}) {
    SCOPED_TRACE(::testing::Message() << "tb=" << tb);
    const at::Tensor a = torch::randn({2, 300, 16});  // used as a^T
    const at::Tensor b =
        tb ? torch::randn({2, 13, 300}) : torch::randn({2, 300, 13});
    const at::Tensor turned = BatchedMatmul(a, true, b, tb);
    const at::Tensor usual =
        BatchedMatmul(a.transpose(1, 2).contiguous(), false, b, tb);
    EXPECT_TRUE(turned.is_contiguous());
    EXPECT_TRUE(torch::equal(turned, usual));
    EXPECT_TRUE(torch::allclose(
        turned, torch::bmm(a.transpose(1, 2), tb ? b.transpose(1, 2) : b), 1e-4,
        1e-4));
  }
}

TEST(ExpertsTest, BatchedMatmulGivesATransposedViewItsGradientInItsLayout) {
  // SoftMoE's tokens: a transposed view of the encoder output, as b.
  torch::manual_seed(6);
  const at::Tensor a = torch::randn({2, 7, 12}, torch::requires_grad());
  const at::Tensor b =
      torch::randn({2, 8, 7}).transpose(1, 2).requires_grad_(true);
  const at::Tensor g = torch::randn({2, 12, 8});
  const auto grads =
      torch::autograd::grad({BatchedMatmul(a, true, b, false)}, {a, b}, {g});
  EXPECT_EQ(grads[1].strides(), b.strides());
  EXPECT_TRUE(torch::allclose(grads[1], torch::bmm(a.detach(), g), 1e-5, 1e-5));
}

// Bias's gradient adds the output gradient's rows in order, whatever ATen's
// CPU kernels (AVX2, AVX-512) would do with a sum over T: PerFeat's experts
// (d = 100, off the kernel) took ATen's and gave different bits under each.
TEST(ExpertsTest, BatchedAffineBiasGradientAddsTheRowsInOrder) {
  torch::manual_seed(12);
  const at::Tensor x = torch::randn({2, 1000, 20}, torch::requires_grad());
  const at::Tensor w = torch::randn({2, 20, 100}, torch::requires_grad());
  const at::Tensor bias = torch::randn({2, 100}, torch::requires_grad());
  const at::Tensor g = torch::randn({2, 1000, 100});
  const at::Tensor y = BatchedAffine(x, w, bias);
  EXPECT_TRUE(torch::allclose(
      y, torch::baddbmm(bias.unsqueeze(1), x, w).detach(), 1e-4, 1e-4));
  const auto grads = torch::autograd::grad({y}, {x, w, bias}, {g});
  at::Tensor rows = g.select(1, 0).clone();
  for (int64_t r = 1; r < g.size(1); ++r) rows.add_(g.select(1, r));
  EXPECT_TRUE(torch::equal(grads[2], rows));
  EXPECT_TRUE(torch::allclose(
      grads[0], torch::bmm(g, w.detach().transpose(1, 2)), 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(
      grads[1], torch::bmm(x.detach().transpose(1, 2), g), 1e-3, 1e-3));
}

TEST(ExpertsTest, GradientCloneAndShapeChecks) {
  torch::manual_seed(3);
  Experts experts(ExpertsOptions(2, 3, 4));
  experts->forward(torch::randn({2, 5, 3})).pow(2).sum().backward();
  testing::ExpectEveryParameterHasNonzeroGrad(*experts);
  auto copy = std::dynamic_pointer_cast<ExpertsImpl>(experts->clone());
  ASSERT_NE(copy, nullptr);
  testing::ExpectDeepClone(*experts, *copy);
  EXPECT_THROW(experts->forward(torch::randn({3, 5, 3})), tokrl::Error);
  EXPECT_THROW(Experts(ExpertsOptions(0, 3, 4)), tokrl::Error);
}

struct MlpResult {
  at::Tensor y, grad_x, grad_w1, grad_b1, grad_w2, grad_b2;
};

MlpResult RunExpertMlp(const at::Tensor& x, const at::Tensor& w1,
                       const at::Tensor& b1, const at::Tensor& w2,
                       const at::Tensor& b2, const at::Tensor& dy) {
  std::vector<at::Tensor> in;
  for (const at::Tensor& t : {x, w1, b1, w2, b2}) {
    in.push_back(t.clone().requires_grad_(true));
  }
  const at::Tensor y = ExpertMlp(in[0], in[1], in[2], in[3], in[4]);
  (y * dy).sum().backward();
  return {y.detach(),   in[0].grad(), in[1].grad(),
          in[2].grad(), in[3].grad(), in[4].grad()};
}

// The kernel (fast paths) against BatchedAffine, ReLU, BatchedAffine:
// row counts across the kernel's tasks of 256 rows and blocks of 64, one
// expert and several; values and the gradients of all five inputs.
TEST(ExpertMlpTest, KernelEqualsBatchedAffines) {
  torch::manual_seed(10);
  struct Case {
    int64_t n, rows, d, hidden;
  };
  for (const Case& c :
       {Case{1, 130, 8, 24}, Case{4, 300, 16, 128}, Case{2, 513, 16, 40}}) {
    SCOPED_TRACE(::testing::Message() << "n=" << c.n << " T=" << c.rows
                                      << " d=" << c.d << " H=" << c.hidden);
    const at::Tensor x = torch::randn({c.n, c.rows, c.d});
    const at::Tensor w1 = torch::randn({c.n, c.d, c.hidden}) * 0.3;
    const at::Tensor b1 = torch::randn({c.n, c.hidden}) * 0.3;
    const at::Tensor w2 = torch::randn({c.n, c.hidden, c.d}) * 0.3;
    const at::Tensor b2 = torch::randn({c.n, c.d});
    const at::Tensor dy = torch::randn({c.n, c.rows, c.d});
    const MlpResult fast = RunExpertMlp(x, w1, b1, w2, b2, dy);
    SetFastPaths(false);
    const MlpResult plain = RunExpertMlp(x, w1, b1, w2, b2, dy);
    SetFastPaths(true);
    EXPECT_TRUE(torch::allclose(fast.y, plain.y, 1e-4, 1e-4));
    EXPECT_TRUE(torch::allclose(fast.grad_x, plain.grad_x, 1e-4, 1e-4));
    EXPECT_TRUE(torch::allclose(fast.grad_w1, plain.grad_w1, 1e-3, 1e-3));
    EXPECT_TRUE(torch::allclose(fast.grad_b1, plain.grad_b1, 1e-3, 1e-3));
    EXPECT_TRUE(torch::allclose(fast.grad_w2, plain.grad_w2, 1e-3, 1e-3));
    EXPECT_TRUE(torch::allclose(fast.grad_b2, plain.grad_b2, 1e-3, 1e-3));
  }
}

// Slots as DispatchTokens lays them out, [K*B, n, p, d], give bit for bit
// what the same rows grouped by expert, [K*n, B*p, d], give: values and all
// five gradients, in the kernel (blocks of p rows that straddle its chunks of
// 64 and tasks of 256) and in the plain ops; one member and two (packed),
// several experts and one. Malformed slots are an error.
TEST(ExpertMlpTest, SlotsEqualRowsGroupedByExpert) {
  torch::manual_seed(12);
  struct Case {
    int64_t k, b, n, p, d, hidden;
  };
  for (const bool fast : {true, false}) {
    for (const Case& c : {Case{1, 32, 4, 25, 16, 64}, Case{2, 5, 3, 7, 8, 24},
                          Case{1, 6, 1, 50, 8, 16}}) {
      SCOPED_TRACE(::testing::Message()
                   << "fast=" << fast << " K=" << c.k << " B=" << c.b
                   << " n=" << c.n << " p=" << c.p);
      const int64_t g = c.k * c.n;
      const at::Tensor x = torch::randn({c.k * c.b, c.n, c.p, c.d});
      const at::Tensor dy = torch::randn_like(x);
      const at::Tensor w1 = torch::randn({g, c.d, c.hidden}) * 0.3;
      const at::Tensor b1 = torch::randn({g, c.hidden}) * 0.3;
      const at::Tensor w2 = torch::randn({g, c.hidden, c.d}) * 0.3;
      const at::Tensor b2 = torch::randn({g, c.d});
      const auto group = [&](const at::Tensor& t) {
        return t.view({c.k, c.b, c.n, c.p, c.d})
            .permute({0, 2, 1, 3, 4})
            .reshape({g, c.b * c.p, c.d});
      };
      SetFastPaths(fast);
      const MlpResult slots = RunExpertMlp(x, w1, b1, w2, b2, dy);
      const MlpResult grouped =
          RunExpertMlp(group(x), w1, b1, w2, b2, group(dy));
      SetFastPaths(true);
      ASSERT_EQ(slots.y.sizes(), x.sizes());
      EXPECT_TRUE(torch::equal(group(slots.y), grouped.y));
      EXPECT_TRUE(torch::equal(group(slots.grad_x), grouped.grad_x));
      EXPECT_TRUE(torch::equal(slots.grad_w1, grouped.grad_w1));
      EXPECT_TRUE(torch::equal(slots.grad_b1, grouped.grad_b1));
      EXPECT_TRUE(torch::equal(slots.grad_w2, grouped.grad_w2));
      EXPECT_TRUE(torch::equal(slots.grad_b2, grouped.grad_b2));
    }
  }
  const at::Tensor w1 = torch::randn({4, 8, 8}), b1 = torch::zeros({4, 8});
  const at::Tensor w2 = torch::randn({4, 8, 8}), b2 = torch::zeros({4, 8});
  // 3 experts do not divide 4; 2 members do not divide 3 samples.
  EXPECT_THROW(ExpertMlp(torch::randn({2, 3, 5, 8}), w1, b1, w2, b2),
               tokrl::Error);
  EXPECT_THROW(ExpertMlp(torch::randn({3, 2, 5, 8}), w1, b1, w2, b2),
               tokrl::Error);
  Experts experts(ExpertsOptions(4, 8, 8));
  EXPECT_EQ(experts->forward(torch::randn({3, 4, 5, 8})).sizes(),
            (std::vector<int64_t>{3, 4, 5, 8}));
  EXPECT_THROW(experts->forward(torch::randn({3, 2, 5, 8})), tokrl::Error);
}

// The kernel's results do not depend on the number of threads.
TEST(ExpertMlpTest, SameBitsForAnyThreadCount) {
  torch::manual_seed(11);
  const at::Tensor x = torch::randn({2, 700, 16});
  const at::Tensor w1 = torch::randn({2, 16, 64}) * 0.3;
  const at::Tensor b1 = torch::randn({2, 64}) * 0.3;
  const at::Tensor w2 = torch::randn({2, 64, 16}) * 0.3;
  const at::Tensor b2 = torch::randn({2, 16});
  const at::Tensor dy = torch::randn({2, 700, 16});
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const MlpResult one = RunExpertMlp(x, w1, b1, w2, b2, dy);
  torch::set_num_threads(3);
  const MlpResult three = RunExpertMlp(x, w1, b1, w2, b2, dy);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one.y, three.y));
  EXPECT_TRUE(torch::equal(one.grad_x, three.grad_x));
  EXPECT_TRUE(torch::equal(one.grad_w1, three.grad_w1));
  EXPECT_TRUE(torch::equal(one.grad_b1, three.grad_b1));
  EXPECT_TRUE(torch::equal(one.grad_w2, three.grad_w2));
  EXPECT_TRUE(torch::equal(one.grad_b2, three.grad_b2));
}

}  // namespace
}  // namespace tokrl::nn
