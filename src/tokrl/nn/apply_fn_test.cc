#include "tokrl/nn/apply_fn.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace tokrl::nn {
namespace {

int forward_calls = 0;

// y = scale * x^2 (the scale a non-tensor argument), dy/dx = 2 scale x.
struct ScaledSquareFn : torch::autograd::Function<ScaledSquareFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx,
                            const at::Tensor& x, double scale) {
    ++forward_calls;
    EXPECT_FALSE(c10::GradMode::is_enabled());
    ctx->save_for_backward({x});
    ctx->saved_data["scale"] = scale;
    return x * x * scale;
  }
  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const at::Tensor x = ctx->get_saved_variables()[0];
    return {grads[0] * 2.0 * ctx->saved_data["scale"].toDouble() * x,
            at::Tensor()};
  }
};

TEST(ApplyFnTest, RecordsTheNodeWhenAnInputNeedsAGradient) {
  forward_calls = 0;
  const at::Tensor x = torch::tensor({1.0f, -2.0f, 3.0f}).requires_grad_();
  const at::Tensor y = ApplyFn<ScaledSquareFn>(x, 0.5);
  EXPECT_EQ(forward_calls, 1);
  ASSERT_TRUE(y.requires_grad());
  ASSERT_NE(y.grad_fn(), nullptr);
  y.sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), torch::tensor({1.0f, -2.0f, 3.0f})));
}

TEST(ApplyFnTest, RunsTheForwardAloneWhenNoGradientIsRecorded) {
  const at::Tensor x = torch::tensor({1.0f, -2.0f, 3.0f});
  const at::Tensor expected = torch::tensor({0.5f, 2.0f, 4.5f});
  const at::Tensor w = x.clone().requires_grad_();
  forward_calls = 0;
  {  // no input needs a gradient
    const at::Tensor y = ApplyFn<ScaledSquareFn>(x, 0.5);
    EXPECT_EQ(y.grad_fn(), nullptr);
    EXPECT_TRUE(torch::equal(y, expected));
  }
  {  // grad mode off, though the input needs one
    torch::NoGradGuard no_grad;
    const at::Tensor y = ApplyFn<ScaledSquareFn>(w, 0.5);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    EXPECT_TRUE(torch::equal(y, expected));
  }
  {  // inference mode (acting)
    c10::InferenceMode inference;
    const at::Tensor y = ApplyFn<ScaledSquareFn>(w, 0.5);
    EXPECT_TRUE(y.is_inference());
    EXPECT_TRUE(torch::equal(y, expected));
  }
  EXPECT_EQ(forward_calls, 3);
  EXPECT_TRUE(c10::GradMode::is_enabled());  // restored
}

TEST(ApplyFnTest, TakesTheNodePathWhenAnyTensorArgumentNeedsAGradient) {
  // Two tensors: the second one needing a gradient is enough.
  struct SumFn : torch::autograd::Function<SumFn> {
    static at::Tensor forward(torch::autograd::AutogradContext* /*ctx*/,
                              const at::Tensor& a, const at::Tensor& b) {
      return a + b;
    }
    static torch::autograd::variable_list backward(
        torch::autograd::AutogradContext* /*ctx*/,
        torch::autograd::variable_list grads) {
      return {grads[0], grads[0]};
    }
  };
  const at::Tensor a = torch::ones({2});
  const at::Tensor b = torch::ones({2}).requires_grad_();
  const at::Tensor y = ApplyFn<SumFn>(a, b);
  ASSERT_NE(y.grad_fn(), nullptr);
  y.sum().backward();
  EXPECT_TRUE(torch::equal(b.grad(), torch::ones({2})));
  EXPECT_EQ(ApplyFn<SumFn>(a, at::Tensor(torch::ones({2}))).grad_fn(), nullptr);
}

}  // namespace
}  // namespace tokrl::nn
