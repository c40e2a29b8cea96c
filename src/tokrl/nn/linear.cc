#include "tokrl/nn/linear.h"

#include <torch/torch.h>

#include <limits>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/nn/apply_fn.h"
#include "tokrl/nn/experts.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/sample_chunks.h"
#include "tokrl/nn/small_gemm_kernel.h"

namespace tokrl::nn {

namespace {

// x [R, in], weight [out, in], bias [out] (a dense layer) or x [K, R, in],
// weight [K, out, in], bias [K, out] (a packed network's K layers) whose
// shapes agree, on the fast paths.
bool LayerApplies(const at::Tensor& x, const at::Tensor& weight,
                  const at::Tensor& bias) {
  if (!FastPathApplies(x) || !FastPathApplies(weight) ||
      !FastPathApplies(bias)) {
    return false;
  }
  if (weight.dim() == 3) {
    if (x.dim() != 3 || bias.dim() != 2 || x.size(0) != weight.size(0) ||
        bias.size(0) != weight.size(0)) {
      return false;
    }
  } else if (weight.dim() != 2 || x.dim() != 2 || bias.dim() != 1) {
    return false;
  }
  return x.size(-1) == weight.size(-1) && bias.size(-1) == weight.size(-2) &&
         x.size(-2) >= 1;
}

// In the kernel's dot-product form (SmallGemmRowsByRows): in is a multiple
// of its lanes.
bool RowsByRowsApplies(const at::Tensor& x, const at::Tensor& weight,
                       const at::Tensor& bias) {
  return LayerApplies(x, weight, bias) &&
         x.size(-1) % internal::kSmallGemmLanes == 0;
}

// A 2-d operand as a packed one of one member (a view).
at::Tensor Packed(const at::Tensor& t, bool packed) {
  return packed ? t : t.unsqueeze(0);
}

// x W^T + bias, then max(0, .) where relu (NaN stays NaN, as ATen's relu),
// for contiguous x [.., R, in] and weight [.., out, in] (per member when
// packed) in SmallGemmRowsByRows, for any R: [.., R, out]. The bias and ReLU
// in one pass over the output: as add_ and relu they were three more ops
// (~1 us each) on every greedy acting step.
at::Tensor RowsByRowsLinear(const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias, bool relu) {
  const bool packed = weight.dim() == 3;
  const int64_t members = packed ? x.size(0) : 1, rows = x.size(-2),
                in = x.size(-1), out_features = weight.size(-2);
  at::Tensor out =
      at::empty(packed ? std::vector<int64_t>{members, rows, out_features}
                       : std::vector<int64_t>{rows, out_features},
                x.options());
  const at::Tensor b = bias.contiguous();
  const float floor = relu ? 0.0f : -std::numeric_limits<float>::infinity();
  for (int64_t k = 0; k < members; ++k) {
    float* o = out.data_ptr<float>() + k * rows * out_features;
    internal::SmallGemmRowsByRows(
        x.data_ptr<float>() + k * rows * in, in, rows,
        weight.data_ptr<float>() + k * out_features * in, in, out_features, in,
        o, out_features);
    const float* bk = b.data_ptr<float>() + k * out_features;
    for (int64_t r = 0; r < rows; ++r, o += out_features) {
      for (int64_t j = 0; j < out_features; ++j) {
        const float v = o[j] + bk[j];
        o[j] = v < floor ? floor : v;
      }
    }
  }
  return out;
}

}  // namespace

// Why: a 1-row product against a 128 x 1600 weight (the flatten baseline's
// dense layer, run at every greedy acting step) costs OpenBLAS's sgemm 47 us
// on a Zen 5 core, most of it packing the weight; the kernel reads the
// weight once: 7.8 us (BM_SmallLinear in bench_nn). The dot-product form
// still led at 32 rows (107 against 128 us) and drew level at 64; past 8
// rows (34 against 56 us) layers go to the kernel's blocked form
// (KernelLinearFn) where it fuses multiply-adds, else to OpenBLAS.
bool SmallLinearApplies(const at::Tensor& x, const at::Tensor& weight,
                        const at::Tensor& bias) {
  if (at::GradMode::is_enabled() &&
      (x.requires_grad() || weight.requires_grad() || bias.requires_grad())) {
    return false;
  }
  return RowsByRowsApplies(x, weight, bias) && x.size(-2) <= kSmallLinearRows;
}

at::Tensor SmallLinear(const at::Tensor& x, const at::Tensor& weight,
                       const at::Tensor& bias) {
  TOKRL_CHECK(SmallLinearApplies(x, weight, bias))
      << "SmallLinear of x " << x.sizes() << ", weight " << weight.sizes()
      << ", bias " << bias.sizes();
  return RowsByRowsLinear(x.contiguous(), weight.contiguous(), bias, false);
}

namespace {

// Layers (of either rank) the kernel computes with gradients: where its
// loops fuse multiply-adds (AVX2 + FMA or AVX-512), batches past
// kSmallLinearRows rows of layers of at least kKernelLinearMinOut outputs
// (why: see KernelLinearFn); on any CPU, narrow layers (fewer outputs: a
// DQN head's actions, PerPatch's embedding) of any rows in the dot-product
// form.
bool KernelLinearApplies(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias) {
  if (!LayerApplies(x, weight, bias)) return false;
  if (weight.size(-2) < kKernelLinearMinOut) {
    return x.size(-1) % internal::kSmallGemmLanes == 0;
  }
  return internal::SmallGemmFuses() && x.size(-2) > kSmallLinearRows;
}

// A dense layer as one autograd node, x [.., R, in] -> [.., R, out]
// contiguous (2-d or packed 3-d operands): as separate ops (unsqueeze,
// BatchedMatmul, bias, transpose, select, contiguous) the flatten
// baseline's layer cost a dozen ops forward and as many autograd nodes
// backward, one of which zero-filled and copied the whole gradient.
//
// Why the kernel for wide layers: OpenBLAS 0.3.21 runs its AVX2 (Haswell)
// sgemm on AVX-512 cores it does not know (Zen 5), at ~100-120 GFLOP/s for
// the flatten baseline's 32 x 1600 by 1600 x 128 products; the kernel's
// AVX-512 loop runs them at ~230 (bench_nn BM_SmallGemm). Its AVX2 loop,
// once it fused its multiply-adds, took 6-11% off a flatten update against
// OpenBLAS's products on the same Zen 5 core (bench_agent BM_Update with
// TOKRL_BENCH_AVX512=0, paired; without FMA it had only tied them), and
// its sums, unlike OpenBLAS's, do not depend on the thread count. The forward
// is (W x^T)^T, packing x^T per call (200 KB for the flatten baseline) rather
// than W^T (800 KB); narrow layers (a DQN head's 6 actions) take the
// dot-product form, which packs nothing.
//
// Why narrow layers in the kernel on every CPU: OpenBLAS splits a product
// among its threads at boundaries that depend on the thread count, and
// sums its edge blocks in another order: a DQN head's weight gradient (6 x
// 32 by 32 x 1600) and the forward and input gradient of an 18-action head
// came out with other bits at 2-4 threads than at one (torch.mm, Debian's
// OpenBLAS 0.3.21), so SoftMoE DQN runs depended on train.torch_threads.
// Here the gradients are BatchedMatmul's products with both operands' rows
// contiguous (no packing), whose sums do not depend on the threads.
//
// With relu (LinearReluForward, wide layers only), out = max(0, out) in the
// same pass (NaN stays NaN, as ATen's relu) and backward passes the gradient
// where out > 0 (ATen's threshold_backward): a flatten baseline's ReLU was
// two ops forward and a node backward, online and target.
struct KernelLinearFn : torch::autograd::Function<KernelLinearFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx,
                            const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias, bool relu) {
    const bool packed = weight.dim() == 3;
    // Contiguous once, for both directions.
    const at::Tensor a = x.contiguous(), w = weight.contiguous();
    ctx->saved_data["relu"] = relu;
    if (w.size(-2) < kKernelLinearMinOut) {
      TOKRL_CHECK(!relu) << "KernelLinearFn: relu on a narrow layer";
      ctx->save_for_backward({a, w});
      return RowsByRowsLinear(a, w, bias, false);
    }
    const at::Tensor product =
        BatchedMatmul(Packed(w, packed), false, Packed(a, packed), true)
            .contiguous();
    // out = product^T + bias in one pass (the additions of add_ and copy_
    // of the transpose, as one loop rather than five ops).
    const int64_t members = packed ? w.size(0) : 1, rows = a.size(-2),
                  outs = w.size(-2);
    std::vector<int64_t> sizes = x.sizes().vec();
    sizes.back() = outs;
    at::Tensor out = at::empty(sizes, a.options());
    const at::Tensor b = bias.contiguous();
    const float* pp = product.data_ptr<float>();
    const float* bp = b.data_ptr<float>();
    float* op = out.data_ptr<float>();
    const float floor = relu ? 0.0f : -std::numeric_limits<float>::infinity();
    for (int64_t k = 0; k < members; ++k) {
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t o = 0; o < outs; ++o) {
          const float v = pp[(k * outs + o) * rows + r] + bp[k * outs + o];
          op[(k * rows + r) * outs + o] = v < floor ? floor : v;
        }
      }
    }
    ctx->save_for_backward(relu ? std::vector<at::Tensor>{a, w, out}
                                : std::vector<at::Tensor>{a, w});
    return out;
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const bool packed = saved[1].dim() == 3;
    at::Tensor g = Packed(grads[0].contiguous(), packed);  // [K, R, out]
    if (ctx->saved_data["relu"].toBool()) {
      const at::Tensor y = saved[2];
      at::Tensor masked = at::empty_like(g);
      const float* __restrict gp = g.data_ptr<float>();
      const float* __restrict yp = y.data_ptr<float>();
      float* __restrict mp = masked.data_ptr<float>();
      // A select on values read unconditionally, so that it vectorizes:
      // as a branch (taken for about half of a ReLU's outputs, at random)
      // it was ~2% of a DQN flatten update in perf.
      const int64_t n = g.numel();
      for (int64_t i = 0; i < n; ++i) {
        const float gi = gp[i];
        mp[i] = yp[i] <= 0.0f ? 0.0f : gi;
      }
      g = masked;
    }
    const at::Tensor a = Packed(saved[0], packed), w = Packed(saved[1], packed);
    at::Tensor grad_x, grad_weight, grad_bias;
    if (ctx->needs_input_grad(0)) grad_x = BatchedMatmul(g, false, w, false);
    if (ctx->needs_input_grad(1)) {
      grad_weight = BatchedMatmul(g, true, a, false);
    }
    if (ctx->needs_input_grad(2)) {
      // Row after row (ATen's sum splits long reductions by thread).
      grad_bias = SumChunksInOrder(g);
    }
    if (!packed) {
      for (at::Tensor* t : {&grad_x, &grad_weight, &grad_bias}) {
        if (t->defined()) *t = (*t)[0];
      }
    }
    return {grad_x, grad_weight, grad_bias, at::Tensor()};
  }
};

// x W^T + bias, with relu then max(0, .), in the kernel where one of its
// paths takes the operands (either rank), else undefined. The ReLU runs in
// the kernel's output pass without gradients (SmallLinear's rows) and inside
// KernelLinearFn's node for its blocked form (wide layers), else after it.
at::Tensor KernelLinear(const at::Tensor& x, const at::Tensor& weight,
                        const at::Tensor& bias, bool relu) {
  if (SmallLinearApplies(x, weight, bias)) {
    return RowsByRowsLinear(x.contiguous(), weight.contiguous(), bias, relu);
  }
  if (!KernelLinearApplies(x, weight, bias)) return at::Tensor();
  const bool inside = relu && weight.size(-2) >= kKernelLinearMinOut;
  const at::Tensor y = ApplyFn<KernelLinearFn>(x, weight, bias, inside);
  return relu && !inside ? torch::relu(y) : y;
}

// K packed layers in ATen, as (W x^T)^T: backward then yields the weight's
// gradient in the weight's own layout, where x W^T would yield it
// transposed and cost a strided copy of every weight gradient.
at::Tensor PackedTorchLinear(const at::Tensor& x, const at::Tensor& weight,
                             const at::Tensor& bias) {
  const int64_t k = weight.size(0);
  const int64_t out = weight.size(1);
  return torch::baddbmm(bias.view({k, out, 1}), weight, x.transpose(1, 2))
      .transpose(1, 2);
}

}  // namespace

at::Tensor LinearForward(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias) {
  if (weight.dim() == 2) {
    if (at::Tensor y = KernelLinear(x, weight, bias, false); y.defined()) {
      return y;
    }
  }
  return torch::linear(x, weight, bias);
}

at::Tensor PackedLinearForward(const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias) {
  if (weight.dim() == 3) {
    if (at::Tensor y = KernelLinear(x, weight, bias, false); y.defined()) {
      return y;
    }
  }
  return PackedTorchLinear(x, weight, bias);
}

at::Tensor LinearReluForward(const at::Tensor& x, const at::Tensor& weight,
                             const at::Tensor& bias) {
  if (at::Tensor y = KernelLinear(x, weight, bias, true); y.defined()) return y;
  return torch::relu(weight.dim() == 3 ? PackedTorchLinear(x, weight, bias)
                                       : torch::linear(x, weight, bias));
}

}  // namespace tokrl::nn
