#include "tokrl/nn/sample_chunks.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace tokrl::nn {
namespace {

// The order the sums must keep: chunk 0, then + chunk 1, + chunk 2, ...
at::Tensor ChunksAddedOneByOne(const at::Tensor& partial) {
  at::Tensor sum = partial.select(1, 0).clone();
  for (int64_t c = 1; c < partial.size(1); ++c) sum.add_(partial.select(1, c));
  return sum;
}

TEST(SampleChunksTest, SumChunksInOrderAddsTheChunksInOrder) {
  torch::manual_seed(0);
  // Values of very different sizes, so that another order of the adds
  // would round differently.
  const at::Tensor partial =
      torch::randn({3, 5, 4, 7}) *
      torch::pow(10.0, torch::randint(-4, 5, {3, 5, 4, 7}));
  const at::Tensor sum = SumChunksInOrder(partial);
  EXPECT_EQ(sum.sizes(), (std::vector<int64_t>{3, 4, 7}));
  EXPECT_TRUE(torch::equal(sum, ChunksAddedOneByOne(partial)));
  // Reversed chunks give other bits: the test can tell the order.
  EXPECT_FALSE(torch::equal(SumChunksInOrder(partial.flip(1)), sum));
  // A view that is not contiguous, and a single chunk.
  const at::Tensor view = partial.transpose(2, 3);
  EXPECT_TRUE(torch::equal(SumChunksInOrder(view), ChunksAddedOneByOne(view)));
  const at::Tensor one = partial.narrow(1, 2, 1);
  EXPECT_TRUE(torch::equal(SumChunksInOrder(one), one.select(1, 0)));
  // No chunks (an empty batch): zeros.
  EXPECT_TRUE(torch::equal(SumChunksInOrder(torch::empty({2, 0, 3})),
                           torch::zeros({2, 3})));
}

TEST(SampleChunksTest, SumChunksInOrderIsTheSameOnAnyThreadCount) {
  torch::manual_seed(1);
  // Members larger than one parallel block, so blocks straddle members.
  const at::Tensor partial = torch::randn({3, 4, 50001});
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const at::Tensor one = SumChunksInOrder(partial);
  torch::set_num_threads(3);
  const at::Tensor three = SumChunksInOrder(partial);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one, three));
  EXPECT_TRUE(torch::equal(one, ChunksAddedOneByOne(partial)));
}

}  // namespace
}  // namespace tokrl::nn
