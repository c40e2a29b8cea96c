#include "tokrl/nn/linear.h"

#include <torch/torch.h>

#include "tokrl/core/check.h"
#include "tokrl/nn/experts.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/small_gemm_kernel.h"

namespace tokrl::nn {

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
  return FastPathApplies(x) && FastPathApplies(weight) &&
         FastPathApplies(bias) && x.dim() == 3 && weight.dim() == 3 &&
         bias.dim() == 2 && x.size(0) == weight.size(0) &&
         bias.size(0) == weight.size(0) && bias.size(1) == weight.size(1) &&
         x.size(2) == weight.size(2) && x.size(1) >= 1 &&
         x.size(1) <= kSmallLinearRows &&
         x.size(2) % internal::kSmallGemmLanes == 0;
}

at::Tensor SmallLinear(const at::Tensor& x, const at::Tensor& weight,
                       const at::Tensor& bias) {
  TOKRL_CHECK(SmallLinearApplies(x, weight, bias))
      << "SmallLinear of x " << x.sizes() << ", weight " << weight.sizes()
      << ", bias " << bias.sizes();
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

namespace {

// Why: OpenBLAS 0.3.21 runs its AVX2 (Haswell) sgemm on AVX-512 cores it
// does not know (Zen 5), at ~100-120 GFLOP/s for the flatten baseline's
// 32 x 1600 by 1600 x 128 products; the kernel's AVX-512 loop runs the same
// products at ~230 (bench_nn BM_SmallGemm). y = x W^T + b is computed as
// y^T = W x^T (x^T packed per call: 200 KB for the flatten baseline), the
// gradients as G W and G^T x: every right operand but x^T contiguous, as
// the kernel reads it best. Narrow outputs (a DQN head's 6 actions) stay
// with OpenBLAS: there packing x^T costs more than the product.
struct KernelLinearFn : torch::autograd::Function<KernelLinearFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx,
                            const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    const at::Tensor yt = BatchedMatmul(weight.unsqueeze(0), false,
                                        x.unsqueeze(0), true)[0];  // [out, B]
    return yt.t().contiguous().add_(bias);
  }
  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor g = grads[0].contiguous().unsqueeze(0);  // [1, B, out]
    at::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) {
      gx = BatchedMatmul(g, false, weight.unsqueeze(0), false)[0];
    }
    if (ctx->needs_input_grad(1)) {
      gw = BatchedMatmul(g, true, x.unsqueeze(0), false)[0];
    }
    if (ctx->needs_input_grad(2)) gb = g[0].sum(0);
    return {gx, gw, gb};
  }
};

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

}  // namespace

at::Tensor LinearForward(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias) {
  if (x.dim() == 2 && weight.dim() == 2 && bias.dim() == 1) {
    const at::Tensor x1 = x.unsqueeze(0), w1 = weight.unsqueeze(0),
                     b1 = bias.unsqueeze(0);
    if (SmallLinearApplies(x1, w1, b1)) return SmallLinear(x1, w1, b1)[0];
  }
  if (KernelLinearApplies(x, weight, bias)) {
    return KernelLinearFn::apply(x, weight, bias);
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
    return BatchedMatmul(weight, false, x, true)
        .add_(bias.view({k, out, 1}))
        .transpose(1, 2);
  }
  return torch::baddbmm(bias.view({k, out, 1}), weight, x.transpose(1, 2))
      .transpose(1, 2);
}

}  // namespace tokrl::nn
