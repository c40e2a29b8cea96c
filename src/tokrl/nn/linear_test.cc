#include "tokrl/nn/linear.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "tokrl/core/check.h"

namespace tokrl::nn {
namespace {

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

TEST(LinearTest, ShapeMismatchIsAnError) {
  torch::NoGradGuard no_grad;
  EXPECT_THROW(LinearForward(torch::randn({1, 16}), torch::randn({4, 8}),
                             torch::randn({4})),
               std::exception);
}

}  // namespace
}  // namespace tokrl::nn
