#include "tokrl/nn/init.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace tokrl::nn {
namespace {

TEST(InitTest, LecunNormalHasVarianceOneOverFanInAndIsTruncated) {
  torch::manual_seed(0);
  const int64_t fan_in = 64;
  at::Tensor t = torch::empty({200000});
  LecunNormal_(t, fan_in);
  const double std = std::sqrt(1.0 / fan_in) / 0.87962566103423978;
  EXPECT_NEAR(t.var().item<double>(), 1.0 / fan_in, 0.02 / fan_in);
  EXPECT_LE(t.abs().max().item<double>(), 2.0 * std + 1e-6);
  EXPECT_NEAR(t.mean().item<double>(), 0.0, 1e-3);
}

TEST(InitTest, TruncatedNormalStaysInsideTwoStd) {
  torch::manual_seed(1);
  at::Tensor t = torch::empty({10000});
  TruncatedNormal_(t, 3.0);
  EXPECT_LE(t.max().item<double>(), 6.0);
  EXPECT_GE(t.min().item<double>(), -6.0);
  // Truncation at 2 std keeps about 95.4% of the mass: the std shrinks to
  // 0.8796 of the untruncated one.
  EXPECT_NEAR(t.std().item<double>(), 3.0 * 0.8796, 0.06);
}

TEST(InitTest, XavierUniformBoundsUseGivenFans) {
  torch::manual_seed(2);
  at::Tensor t = torch::empty({4, 32, 512});
  XavierUniform_(t, 32, 512);
  const double limit = std::sqrt(6.0 / (32 + 512));
  EXPECT_LE(t.abs().max().item<double>(), limit);
  EXPECT_GT(t.abs().max().item<double>(), 0.99 * limit);
}

TEST(InitTest, InitializersDoNotRecordGradients) {
  at::Tensor t = torch::empty({3, 3}, torch::requires_grad());
  LecunNormal_(t, 3);
  XavierUniform_(t, 3, 3);
  EXPECT_FALSE(t.grad_fn());
}

}  // namespace
}  // namespace tokrl::nn
