#include "tokrl/nn/baselines.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tokrl/core/check.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/testing.h"

namespace tokrl::nn {
namespace {

int64_t CountParams(const torch::nn::Module& m) {
  int64_t total = 0;
  for (const auto& p : m.parameters()) total += p.numel();
  return total;
}

TEST(DenseBaselineTest, ParameterCountsMatchPaper) {
  // paper.md 2.11: Impala flatten 3872; CNN flatten 7744.
  EXPECT_EQ(CountParams(*DenseBaseline(DenseBaselineOptions(3872))), 1982976);
  EXPECT_EQ(CountParams(*DenseBaseline(DenseBaselineOptions(3872).scale(4))),
            7931904);
  EXPECT_EQ(CountParams(*DenseBaseline(DenseBaselineOptions(7744))), 3965440);
}

TEST(DenseBaselineTest, FlattensDenseRelu) {
  torch::manual_seed(0);
  DenseBaseline dense(DenseBaselineOptions(12).hidden(5).scale(2));
  EXPECT_EQ(dense->out_features(), 10);
  const at::Tensor x = torch::randn({3, 1, 12});
  const at::Tensor y = dense->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{3, 10}));
  EXPECT_TRUE(
      torch::allclose(y, torch::relu(x.flatten(1).mm(dense->dense->weight.t()) +
                                     dense->dense->bias)));
  EXPECT_EQ(dense->dense->bias.abs().sum().item<double>(), 0.0);
}

TEST(TokenizedAggregateTest, ParameterCountMatchesPaper) {
  // paper.md 2.11: TokenizedAvg/Sum x4 on Impala PerConv tokens (d = 32).
  EXPECT_EQ(
      CountParams(*TokenizedAggregate(TokenizedAggregateOptions(32).scale(4))),
      67584);
}

TEST(TokenizedAggregateTest, MeanAndSumOfPerTokenProjections) {
  torch::manual_seed(1);
  TokenizedAggregate avg(TokenizedAggregateOptions(6).width(4));
  TokenizedAggregate sum(
      TokenizedAggregateOptions(6).width(4).aggregation(Aggregation::kSum));
  {
    torch::NoGradGuard no_grad;
    sum->dense->weight.copy_(avg->dense->weight);
    sum->dense->bias.uniform_(-1, 1);
    avg->dense->bias.copy_(sum->dense->bias);
  }
  const at::Tensor x = torch::randn({2, 7, 6});
  const at::Tensor a = avg->forward(x);
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{2, 4}));
  // Aggregation after the ReLU, not before.
  at::Tensor expected = torch::zeros({2, 4});
  for (int64_t i = 0; i < 7; ++i) {
    expected += torch::relu(x.select(1, i).mm(avg->dense->weight.t()) +
                            avg->dense->bias);
  }
  EXPECT_TRUE(torch::allclose(a, expected / 7.0, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(sum->forward(x), expected, 1e-5, 1e-5));
}

TEST(TokenizedAggregateTest, SingleTokenEqualsDenseBaseline) {
  torch::manual_seed(2);
  TokenizedAggregate agg(TokenizedAggregateOptions(20).width(8));
  DenseBaseline dense(DenseBaselineOptions(20).hidden(8));
  {
    torch::NoGradGuard no_grad;
    dense->dense->weight.copy_(agg->dense->weight);
  }
  const at::Tensor x = torch::randn({3, 1, 20});
  EXPECT_TRUE(torch::allclose(agg->forward(x), dense->forward(x)));
}

struct AggregateResult {
  at::Tensor z, grad_tokens, grad_weight, grad_bias;
};

// DenseReluAggregate's output and the gradients of sum(z * dz).
AggregateResult RunAggregate(const at::Tensor& tokens, const at::Tensor& weight,
                             const at::Tensor& bias, Aggregation aggregation,
                             const at::Tensor& dz) {
  const at::Tensor t = tokens.detach().requires_grad_(true);
  const at::Tensor w = weight.detach().clone().requires_grad_(true);
  const at::Tensor b = bias.detach().clone().requires_grad_(true);
  const at::Tensor z = DenseReluAggregate(t, w, b, aggregation);
  (z * dz).sum().backward();
  return {z.detach(), t.grad(), w.grad(), b.grad()};
}

// The fused kernel (fast paths) against ATen's linear, ReLU and mean / sum:
// members, batches across the kernel's chunks of 8 samples, token counts
// and widths off its 8-lane vectors, tokens contiguous, as a transposed view
// (PerConv's layout) and not dense (a slice); values and all gradients.
TEST(DenseReluAggregateTest, FusedKernelEqualsAtenOps) {
  torch::manual_seed(4);
  struct Case {
    int64_t k, b, m, t, width;
  };
  for (const Case c : {Case{1, 3, 7, 5, 12}, Case{2, 10, 100, 16, 64},
                       Case{3, 17, 9, 8, 33}}) {
    for (int layout = 0; layout < 3; ++layout) {
      for (const Aggregation aggregation :
           {Aggregation::kMean, Aggregation::kSum}) {
        SCOPED_TRACE(::testing::Message()
                     << "K=" << c.k << " B=" << c.b << " m=" << c.m
                     << " t=" << c.t << " W=" << c.width << " layout " << layout
                     << " " << ToString(aggregation));
        at::Tensor tokens;
        if (layout == 0) {
          tokens = torch::randn({c.k, c.b, c.m, c.t});
        } else if (layout == 1) {
          tokens = torch::randn({c.k, c.b, c.t, c.m}).transpose(2, 3);
        } else {
          tokens = torch::randn({c.k, c.b, c.m, c.t + 3}).narrow(3, 1, c.t);
        }
        const at::Tensor weight = torch::randn({c.k, c.width, c.t}) * 0.3;
        const at::Tensor bias = torch::randn({c.k, c.width}) * 0.3;
        const at::Tensor dz = torch::randn({c.k, c.b, c.width});
        const AggregateResult fast =
            RunAggregate(tokens, weight, bias, aggregation, dz);
        SetFastPaths(false);
        const AggregateResult plain =
            RunAggregate(tokens, weight, bias, aggregation, dz);
        SetFastPaths(true);
        ASSERT_EQ(fast.z.sizes(), (std::vector<int64_t>{c.k, c.b, c.width}));
        EXPECT_TRUE(torch::allclose(fast.z, plain.z, 1e-5, 1e-5));
        EXPECT_TRUE(
            torch::allclose(fast.grad_tokens, plain.grad_tokens, 1e-5, 1e-5));
        EXPECT_TRUE(
            torch::allclose(fast.grad_weight, plain.grad_weight, 1e-4, 1e-4));
        EXPECT_TRUE(
            torch::allclose(fast.grad_bias, plain.grad_bias, 1e-4, 1e-4));
        // The tokens' gradient in the tokens' own layout when dense.
        if (layout != 2) {
          EXPECT_EQ(fast.grad_tokens.strides(), tokens.strides());
        }
      }
    }
  }
}

// The kernel's results do not depend on the number of threads.
TEST(DenseReluAggregateTest, SameBitsForAnyThreadCount) {
  torch::manual_seed(5);
  const at::Tensor tokens = torch::randn({2, 33, 16, 10}).transpose(2, 3);
  const at::Tensor weight = torch::randn({2, 40, 16}) * 0.3;
  const at::Tensor bias = torch::randn({2, 40}) * 0.3;
  const at::Tensor dz = torch::randn({2, 33, 40});
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const AggregateResult one =
      RunAggregate(tokens, weight, bias, Aggregation::kMean, dz);
  torch::set_num_threads(3);
  const AggregateResult three =
      RunAggregate(tokens, weight, bias, Aggregation::kMean, dz);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one.z, three.z));
  EXPECT_TRUE(torch::equal(one.grad_tokens, three.grad_tokens));
  EXPECT_TRUE(torch::equal(one.grad_weight, three.grad_weight));
  EXPECT_TRUE(torch::equal(one.grad_bias, three.grad_bias));
}

TEST(BaselinesTest, GradientsCloneAndSaveLoad) {
  torch::manual_seed(3);
  TokenizedAggregate agg(TokenizedAggregateOptions(6).width(4));
  const at::Tensor x = torch::randn({2, 5, 6});
  (agg->forward(x) * torch::randn({2, 4})).sum().backward();
  testing::ExpectEveryParameterHasNonzeroGrad(*agg);
  DenseBaseline dense(DenseBaselineOptions(30).hidden(4));
  (dense->forward(x) * torch::randn({2, 4})).sum().backward();
  testing::ExpectEveryParameterHasNonzeroGrad(*dense);

  const at::Tensor before = dense->forward(x);
  testing::TempFile file("dense");
  torch::save(dense, file.path());
  DenseBaseline loaded(DenseBaselineOptions(30).hidden(4));
  torch::load(loaded, file.path());
  EXPECT_TRUE(torch::equal(loaded->forward(x), before));
  auto copy = std::dynamic_pointer_cast<DenseBaselineImpl>(dense->clone());
  ASSERT_NE(copy, nullptr);
  testing::ExpectDeepClone(*dense, *copy);
  EXPECT_TRUE(torch::equal(copy->forward(x), before));
}

TEST(BaselinesTest, ParseAggregation) {
  EXPECT_EQ(ParseAggregation("avg"), Aggregation::kMean);
  EXPECT_EQ(ParseAggregation("SUM"), Aggregation::kSum);
  EXPECT_THROW(ParseAggregation("max"), tokrl::Error);
  EXPECT_THROW(TokenizedAggregate(TokenizedAggregateOptions(6))
                   ->forward(torch::zeros({2, 5, 7})),
               tokrl::Error);
}

}  // namespace
}  // namespace tokrl::nn
