#include "tokrl/nn/linear.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/nn/small_gemm_kernel.h"

namespace tokrl::nn {
namespace {

// dims, with a leading dimension of two members when packed.
std::vector<int64_t> Shape(bool packed, std::vector<int64_t> dims) {
  if (packed) dims.insert(dims.begin(), 2);
  return dims;
}

TEST(LinearTest, EqualsTorchLinearForEveryRowCountAndWidth) {
  torch::manual_seed(0);
  // in: multiples of 8 (the kernel, for up to kSmallLinearRows rows) and
  // not (torch::linear); out: partial blocks of the kernel's 4 columns.
  for (const int64_t in : {8, 16, 1600, 12}) {
    for (const int64_t out : {1, 3, 6, 128, 306}) {
      for (int64_t rows = 1; rows <= kSmallLinearRows + 2; ++rows) {
        SCOPED_TRACE(::testing::Message()
                     << rows << " x " << in << " -> " << out);
        const at::Tensor w = torch::randn({out, in}) / std::sqrt(in);
        const at::Tensor b = torch::randn({out});
        // A strided view, as a flatten of transposed tokens can be.
        const at::Tensor x = torch::randn({in, rows}).t();
        torch::NoGradGuard no_grad;
        const at::Tensor want = torch::linear(x, w, b);
        const at::Tensor got = LinearForward(x, w, b);
        ASSERT_EQ(got.sizes(), want.sizes());
        EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-5))
            << (got - want).abs().max();
      }
    }
  }
}

TEST(LinearTest, RecordsGradientsWhenAnOperandNeedsThem) {
  torch::manual_seed(1);
  const at::Tensor w = torch::randn({5, 16}).requires_grad_(true);
  const at::Tensor b = torch::randn({5}).requires_grad_(true);
  const at::Tensor x = torch::randn({1, 16});
  const at::Tensor y = LinearForward(x, w, b);
  ASSERT_TRUE(y.requires_grad());
  y.sum().backward();
  EXPECT_TRUE(torch::allclose(w.grad(), x.expand({5, 16})));
  EXPECT_TRUE(torch::allclose(b.grad(), torch::ones({5})));
}

// Batches past kSmallLinearRows with gradients (the kernel where its loops
// fuse multiply-adds, torch::linear elsewhere): values and the gradients of x,
// weight and bias equal torch::linear's, for layers below and above
// kKernelLinearMinOut outputs and widths not a multiple of 8.
TEST(LinearTest, GradientsOfBatchesEqualTorchLinear) {
  torch::manual_seed(2);
  for (const int64_t rows : {kSmallLinearRows + 1, int64_t{32}, int64_t{45}}) {
    for (const int64_t in : {16, 1600, 13}) {
      for (const int64_t out :
           {int64_t{6}, kKernelLinearMinOut, int64_t{128}, int64_t{306}}) {
        SCOPED_TRACE(::testing::Message()
                     << rows << " x " << in << " -> " << out);
        const at::Tensor x0 = torch::randn({rows, in});
        const at::Tensor w0 = torch::randn({out, in}) / std::sqrt(in);
        const at::Tensor b0 = torch::randn({out});
        const at::Tensor g = torch::randn({rows, out});
        const auto run = [&](bool ours) {
          const at::Tensor x = x0.clone().requires_grad_(true);
          const at::Tensor w = w0.clone().requires_grad_(true);
          const at::Tensor b = b0.clone().requires_grad_(true);
          const at::Tensor y =
              ours ? LinearForward(x, w, b) : torch::linear(x, w, b);
          y.backward(g);
          return std::vector<at::Tensor>{y.detach(), x.grad(), w.grad(),
                                         b.grad()};
        };
        const auto want = run(false);
        const auto got = run(true);
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_EQ(got[i].sizes(), want[i].sizes()) << i;
          EXPECT_TRUE(torch::allclose(got[i], want[i], 1e-4, 1e-4))
              << i << ": " << (got[i] - want[i]).abs().max();
        }
      }
    }
  }
}

TEST(LinearTest, SmallLinearIsEachMembersLinear) {
  torch::manual_seed(3);
  const at::Tensor x = torch::randn({3, 2, 24});
  const at::Tensor w = torch::randn({3, 10, 24}), b = torch::randn({3, 10});
  torch::NoGradGuard no_grad;
  ASSERT_TRUE(SmallLinearApplies(x, w, b));
  const at::Tensor y = SmallLinear(x, w, b);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{3, 2, 10}));
  for (int64_t k = 0; k < 3; ++k) {
    EXPECT_TRUE(
        torch::allclose(y[k], torch::linear(x[k], w[k], b[k]), 1e-5, 1e-5))
        << k;
  }
  // Too many rows, or a width the kernel does not take: not applicable.
  EXPECT_FALSE(
      SmallLinearApplies(torch::randn({3, kSmallLinearRows + 1, 24}), w, b));
  EXPECT_FALSE(SmallLinearApplies(torch::randn({3, 2, 12}),
                                  torch::randn({3, 10, 12}), b));
  EXPECT_THROW(SmallLinear(x, torch::randn({2, 10, 24}), b), tokrl::Error);
}

// A packed network's K layers, with gradients, for row counts that take
// SmallLinear (no gradient), the kernel (with FMA) and baddbmm: each member
// equals its torch::linear.
TEST(LinearTest, PackedLinearForwardIsEachMembersLinear) {
  torch::manual_seed(4);
  constexpr int64_t kMembers = 3;
  for (const int64_t rows : {int64_t{2}, kSmallLinearRows + 1, int64_t{32}}) {
    for (const int64_t out : {int64_t{6}, kKernelLinearMinOut, int64_t{128}}) {
      for (const bool grad : {false, true}) {
        SCOPED_TRACE(::testing::Message() << rows << " rows -> " << out
                                          << (grad ? " with grad" : ""));
        const int64_t in = 40;
        const at::Tensor x = torch::randn({kMembers, rows, in});
        const at::Tensor w =
            (torch::randn({kMembers, out, in}) / 8).requires_grad_(grad);
        const at::Tensor b = torch::randn({kMembers, out}).requires_grad_(grad);
        const at::Tensor y = PackedLinearForward(x, w, b);
        ASSERT_EQ(y.sizes(), (std::vector<int64_t>{kMembers, rows, out}));
        const at::Tensor g = torch::randn(y.sizes());
        if (grad) y.backward(g);
        for (int64_t k = 0; k < kMembers; ++k) {
          const at::Tensor wk = w[k].detach().requires_grad_(true);
          const at::Tensor bk = b[k].detach().requires_grad_(true);
          const at::Tensor want = torch::linear(x[k], wk, bk);
          EXPECT_TRUE(torch::allclose(y[k], want, 1e-4, 1e-4)) << k;
          if (!grad) continue;
          want.backward(g[k]);
          EXPECT_TRUE(torch::allclose(w.grad()[k], wk.grad(), 1e-4, 1e-4));
          EXPECT_TRUE(torch::allclose(b.grad()[k], bk.grad(), 1e-4, 1e-4));
        }
      }
    }
  }
}

// Narrow layers with gradients: the same bits on one and three threads, for
// shapes where OpenBLAS's did not (a DQN head's 6 x 1600 weight gradient,
// every product of an 18-action head, PerPatch's embedding).
TEST(LinearTest, NarrowLayersGiveTheSameBitsOnAnyThreadCount) {
  const int threads = torch::get_num_threads();
  torch::manual_seed(6);
  for (const auto& [rows, in, out] : std::vector<std::array<int64_t, 3>>{
           {32, 1600, 6}, {32, 512, 18}, {8, 3136, 18}, {288, 144, 16}}) {
    SCOPED_TRACE(::testing::Message() << rows << " x " << in << " -> " << out);
    const at::Tensor x0 = torch::randn({rows, in});
    const at::Tensor w0 = torch::randn({out, in}) / std::sqrt(in);
    const at::Tensor b0 = torch::randn({out});
    const at::Tensor g = torch::randn({rows, out});
    std::vector<std::vector<at::Tensor>> results;
    for (const int n : {1, 3}) {
      torch::set_num_threads(n);
      const at::Tensor x = x0.clone().requires_grad_(true);
      const at::Tensor w = w0.clone().requires_grad_(true);
      const at::Tensor b = b0.clone().requires_grad_(true);
      const at::Tensor y = LinearForward(x, w, b);
      y.backward(g);
      results.push_back({y.detach(), x.grad(), w.grad(), b.grad()});
    }
    for (size_t i = 0; i < results[0].size(); ++i) {
      EXPECT_TRUE(torch::equal(results[0][i], results[1][i])) << i;
    }
  }
  torch::set_num_threads(threads);
}

// Layers the kernel computes with gradients (narrow ones on any CPU, wide
// ones with FMA), dense and packed: the output is a contiguous tensor
// of its own whose autograd node leads straight to the parameters' and
// input's gradient accumulators (no view or copy nodes between).
TEST(LinearTest, KernelLayersAreOneAutogradNode) {
  torch::manual_seed(7);
  std::vector<int64_t> widths = {6};
  if (internal::SmallGemmFuses()) widths.push_back(128);
  for (const int64_t out : widths) {
    for (const bool packed : {false, true}) {
      SCOPED_TRACE(::testing::Message()
                   << out << " outputs" << (packed ? ", packed" : ""));
      const at::Tensor x =
          torch::randn(Shape(packed, {32, 64})).requires_grad_(true);
      const at::Tensor w =
          torch::randn(Shape(packed, {out, 64})).requires_grad_(true);
      const at::Tensor b =
          torch::randn(Shape(packed, {out})).requires_grad_(true);
      const at::Tensor y =
          packed ? PackedLinearForward(x, w, b) : LinearForward(x, w, b);
      EXPECT_EQ(y.sizes(), at::IntArrayRef(Shape(packed, {32, out})));
      EXPECT_TRUE(y.is_contiguous());
      EXPECT_FALSE(y.is_view());
      ASSERT_NE(y.grad_fn(), nullptr);
      EXPECT_NE(y.grad_fn()->name().find("KernelLinearFn"), std::string::npos)
          << y.grad_fn()->name();
      for (const auto& edge : y.grad_fn()->next_edges()) {
        ASSERT_TRUE(edge.is_valid());
        EXPECT_EQ(edge.function->name(), "torch::autograd::AccumulateGrad");
      }
    }
  }
}

// LinearReluForward against relu(LinearForward) and relu(PackedLinearForward):
// output and the gradients of x, weight and bias bit for bit, on layers the
// kernel's blocked form takes (where the CPU fuses multiply-adds: one node,
// the ReLU inside) and on those it does not (narrow, few rows, no FMA:
// torch::relu after), with outputs at and below 0 (a zero bias row) so that
// the mask matters.
TEST(LinearTest, LinearReluForwardIsReluOfTheLayer) {
  torch::manual_seed(9);
  const bool fuses = internal::SmallGemmFuses();
  for (const bool packed : {false, true}) {
    for (const int64_t out : {6, 48, 128}) {
      for (const int64_t rows : {4, 33}) {
        SCOPED_TRACE(::testing::Message() << rows << " x 64 -> " << out
                                          << (packed ? ", packed" : ""));
        const at::Tensor x0 = torch::randn(Shape(packed, {rows, 64}));
        const at::Tensor w0 = torch::randn(Shape(packed, {out, 64})) / 8;
        const at::Tensor b0 = torch::randn(Shape(packed, {out}));
        // Row 0's outputs are the bias, and output 0's bias is 0: exactly 0.
        b0.select(-1, 0).zero_();
        x0.select(-2, 0).zero_();
        const at::Tensor g = torch::randn(Shape(packed, {rows, out}));
        std::vector<at::Tensor> grads[2], ys;
        for (const bool fused : {true, false}) {
          const at::Tensor x = x0.clone().requires_grad_(true);
          const at::Tensor w = w0.clone().requires_grad_(true);
          const at::Tensor b = b0.clone().requires_grad_(true);
          const at::Tensor y =
              fused ? LinearReluForward(x, w, b)
                    : torch::relu(packed ? PackedLinearForward(x, w, b)
                                         : LinearForward(x, w, b));
          if (fused) {
            const bool in_kernel =
                fuses && out >= kKernelLinearMinOut && rows > kSmallLinearRows;
            EXPECT_EQ(
                y.grad_fn()->name().find("KernelLinearFn") != std::string::npos,
                in_kernel)
                << y.grad_fn()->name();
          }
          y.backward(g);
          ys.push_back(y.detach());
          grads[fused ? 0 : 1] = {x.grad(), w.grad(), b.grad()};
        }
        EXPECT_TRUE(torch::equal(ys[0], ys[1]));
        EXPECT_GT((ys[0] == 0).sum().item<int64_t>(), 0);
        EXPECT_GT((ys[0] > 0).sum().item<int64_t>(), 0);
        for (size_t i = 0; i < 3; ++i) {
          EXPECT_TRUE(torch::equal(grads[0][i], grads[1][i]))
              << "gradient " << i;
        }
      }
    }
  }
}

// Without gradients (acting), a few rows' ReLU runs in the kernel's output
// pass: bit for bit relu(LinearForward), NaN kept as NaN.
TEST(LinearTest, LinearReluForwardOfFewRowsWithoutGradients) {
  torch::manual_seed(10);
  torch::NoGradGuard no_grad;
  for (const bool packed : {false, true}) {
    for (const int64_t out : {6, 128}) {
      for (const int64_t rows : {1, 4}) {
        SCOPED_TRACE(::testing::Message() << rows << " x 64 -> " << out
                                          << (packed ? ", packed" : ""));
        const at::Tensor x = torch::randn(Shape(packed, {rows, 64}));
        const at::Tensor w = torch::randn(Shape(packed, {out, 64})) / 8;
        const at::Tensor b = torch::randn(Shape(packed, {out}));
        x.select(-2, rows - 1).select(-1, 3).fill_(NAN);
        const at::Tensor y = LinearReluForward(x, w, b);
        const at::Tensor ref = torch::relu(packed ? PackedLinearForward(x, w, b)
                                                  : LinearForward(x, w, b));
        EXPECT_TRUE(torch::equal(y.isnan(), ref.isnan()));
        EXPECT_TRUE(y.select(-2, rows - 1).isnan().all().item<bool>());
        EXPECT_TRUE(torch::equal(y.nan_to_num(7), ref.nan_to_num(7)));
        if (rows > 1) {
          EXPECT_GT((y == 0).sum().item<int64_t>(), 0);
        }
      }
    }
  }
}

TEST(LinearTest, ShapeMismatchIsAnError) {
  torch::NoGradGuard no_grad;
  EXPECT_THROW(LinearForward(torch::randn({1, 16}), torch::randn({4, 8}),
                             torch::randn({4})),
               std::exception);
}

}  // namespace
}  // namespace tokrl::nn
