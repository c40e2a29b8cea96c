#include "tokrl/nn/fast_paths.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace tokrl::nn {
namespace {

// tokrl's kernels follow LibTorch's thread count: a build whose parallel
// loops run serially (no OpenMP in tokrl's own objects) fails here.
TEST(FastPathsTest, KernelsRunOnLibTorchsThreads) {
  const int threads = torch::get_num_threads();
  torch::set_num_threads(3);
  EXPECT_EQ(KernelThreads(), 3);
  torch::set_num_threads(1);
  EXPECT_EQ(KernelThreads(), 1);
  torch::set_num_threads(threads);
}

TEST(FastPathsTest, ApplyToCpuFloatsWhileEnabled) {
  EXPECT_TRUE(FastPathApplies(torch::zeros({2})));
  EXPECT_FALSE(FastPathApplies(torch::zeros({2}, torch::kDouble)));
  SetFastPaths(false);
  EXPECT_FALSE(FastPathApplies(torch::zeros({2})));
  SetFastPaths(true);
  EXPECT_TRUE(FastPathsEnabled());
}

}  // namespace
}  // namespace tokrl::nn
