#include "tokrl/nn/linear.h"

#include <torch/torch.h>

#include "tokrl/core/check.h"
#include "tokrl/nn/experts.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/small_gemm_kernel.h"

namespace tokrl::nn {

namespace {

// x [K, R, in], weight [K, out, in], bias [K, out] in the kernel's
// dot-product form (SmallGemmRowsByRows): the fast paths apply to all
// three, the shapes agree, and in is a multiple of its lanes.
bool RowsByRowsApplies(const at::Tensor& x, const at::Tensor& weight,
                       const at::Tensor& bias) {
  return FastPathApplies(x) && FastPathApplies(weight) &&
         FastPathApplies(bias) && x.dim() == 3 && weight.dim() == 3 &&
         bias.dim() == 2 && x.size(0) == weight.size(0) &&
         bias.size(0) == weight.size(0) && bias.size(1) == weight.size(1) &&
         x.size(2) == weight.size(2) && x.size(1) >= 1 &&
         x.size(2) % internal::kSmallGemmLanes == 0;
}

// x [K, R, in] W[k]^T + bias[k] per member in SmallGemmRowsByRows, for any R.
at::Tensor RowsByRowsLinear(const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias) {
  const at::Tensor a = x.contiguous();
  const at::Tensor w = weight.contiguous();
  const int64_t members = a.size(0), rows = a.size(1), in = a.size(2),
                out_features = w.size(1);
  at::Tensor out = at::empty({members, rows, out_features}, a.options());
  for (int64_t k = 0; k < members; ++k) {
    internal::SmallGemmRowsByRows(
        a.data_ptr<float>() + k * rows * in, in, rows,
        w.data_ptr<float>() + k * out_features * in, in, out_features, in,
        out.data_ptr<float>() + k * rows * out_features, out_features);
  }
  return out.add_(bias.unsqueeze(1));
}

}  // namespace

// Why: a 1-row product against a 128 x 1600 weight (the flatten baseline's
// dense layer, run at every greedy acting step) costs OpenBLAS's sgemm 47 us
// on a Zen 5 core, most of it packing the weight; the kernel reads the
// weight once: 7.8 us (BM_SmallLinear in bench_nn). There the kernel still
// led at 32 rows (107 against 128 us) and drew level at 64, but it runs
// without FMA (core/cpu_clones.h), which on other cores halves its rate
// against OpenBLAS's FMA loop; 8 rows (34 against 56 us) keep a margin.
bool SmallLinearApplies(const at::Tensor& x, const at::Tensor& weight,
                        const at::Tensor& bias) {
  if (at::GradMode::is_enabled() &&
      (x.requires_grad() || weight.requires_grad() || bias.requires_grad())) {
    return false;
  }
  return RowsByRowsApplies(x, weight, bias) && x.size(1) <= kSmallLinearRows;
}

at::Tensor SmallLinear(const at::Tensor& x, const at::Tensor& weight,
                       const at::Tensor& bias) {
  TOKRL_CHECK(SmallLinearApplies(x, weight, bias))
      << "SmallLinear of x " << x.sizes() << ", weight " << weight.sizes()
      << ", bias " << bias.sizes();
  return RowsByRowsLinear(x, weight, bias);
}

namespace {

// x [.., R, in], weight [.., out, in], bias [.., out] (2-d or packed 3-d).
bool KernelLinearApplies(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias) {
  return internal::SmallGemmHasAvx512() && FastPathApplies(x) &&
         FastPathApplies(weight) && FastPathApplies(bias) &&
         x.dim() == weight.dim() && bias.dim() == weight.dim() - 1 &&
         x.size(-2) > kSmallLinearRows && x.size(-1) == weight.size(-1) &&
         weight.size(-2) >= kKernelLinearMinOut &&
         bias.size(-1) == weight.size(-2);
}

// Narrow layers (fewer than kKernelLinearMinOut outputs: a DQN head's
// actions, PerPatch's embedding) of any rows, on any CPU the fast paths
// take.
bool NarrowLinearApplies(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias) {
  return RowsByRowsApplies(x, weight, bias) &&
         weight.size(1) < kKernelLinearMinOut;
}

// Why: OpenBLAS splits a product among its threads at boundaries that
// depend on the thread count, and sums its edge blocks in another order:
// a DQN head's weight gradient (6 x 32 by 32 x 1600) and the forward and
// input gradient of an 18-action head came out with other bits at 2-4
// threads than at one (torch.mm, Debian's OpenBLAS 0.3.21), so SoftMoE DQN
// runs depended on train.torch_threads. Here the forward is one dot product
// per output (serial) and the gradients BatchedMatmul's products with both
// operands' rows contiguous (no packing), whose sums do not depend on the
// threads.
struct NarrowLinearFn : torch::autograd::Function<NarrowLinearFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx,
                            const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias) {
    // Contiguous once, for both directions.
    const at::Tensor a = x.contiguous(), w = weight.contiguous();
    ctx->save_for_backward({a, w});
    return RowsByRowsLinear(a, w, bias);
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor g = grads[0].contiguous();  // [K, R, out]
    at::Tensor grad_x, grad_weight, grad_bias;
    if (ctx->needs_input_grad(0)) {
      grad_x = BatchedMatmul(g, false, saved[1], false);
    }
    if (ctx->needs_input_grad(1)) {
      grad_weight = BatchedMatmul(g, true, saved[0], false);
    }
    if (ctx->needs_input_grad(2)) {
      // Row after row (ATen's sum splits long reductions by thread).
      const int64_t members = g.size(0), rows = g.size(1), out = g.size(2);
      grad_bias = at::zeros({members, out}, g.options());
      const float* gp = g.data_ptr<float>();
      float* bp = grad_bias.data_ptr<float>();
      for (int64_t k = 0; k < members; ++k) {
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t o = 0; o < out; ++o) {
            bp[k * out + o] += gp[(k * rows + r) * out + o];
          }
        }
      }
    }
    return {grad_x, grad_weight, grad_bias};
  }
};

}  // namespace

at::Tensor LinearForward(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias) {
  if (x.dim() == 2 && weight.dim() == 2 && bias.dim() == 1) {
    // As a packed layer of one member, where one of the kernel's paths
    // takes it.
    const at::Tensor x1 = x.unsqueeze(0), w1 = weight.unsqueeze(0),
                     b1 = bias.unsqueeze(0);
    if (SmallLinearApplies(x1, w1, b1) || KernelLinearApplies(x1, w1, b1) ||
        NarrowLinearApplies(x1, w1, b1)) {
      return PackedLinearForward(x1, w1, b1)[0].contiguous();
    }
  }
  return torch::linear(x, weight, bias);
}

at::Tensor PackedLinearForward(const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias) {
  if (SmallLinearApplies(x, weight, bias)) return SmallLinear(x, weight, bias);
  // (W x^T)^T: backward then yields the weight's gradient in the weight's
  // own layout, where x W^T would yield it transposed and cost a strided
  // copy of every weight gradient.
  const int64_t k = weight.size(0);
  const int64_t out = weight.size(1);
  if (KernelLinearApplies(x, weight, bias)) {
    // Why the kernel: OpenBLAS 0.3.21 runs its AVX2 (Haswell) sgemm on
    // AVX-512 cores it does not know (Zen 5), at ~100-120 GFLOP/s for the
    // flatten baseline's 32 x 1600 by 1600 x 128 products; the kernel's
    // AVX-512 loop runs them at ~230 (bench_nn BM_SmallGemm). Its backward
    // (BatchedMatmul) computes G^T x and G W, right operands contiguous;
    // the forward packs x^T per call (200 KB for the flatten baseline), so
    // narrow outputs (a DQN head's 6 actions) take NarrowLinearFn instead.
    return BatchedMatmul(weight, false, x, true)
        .add_(bias.view({k, out, 1}))
        .transpose(1, 2);
  }
  if (NarrowLinearApplies(x, weight, bias)) {
    return NarrowLinearFn::apply(x, weight, bias);
  }
  return torch::baddbmm(bias.view({k, out, 1}), weight, x.transpose(1, 2))
      .transpose(1, 2);
}

}  // namespace tokrl::nn
