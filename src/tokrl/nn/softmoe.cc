#include "tokrl/nn/softmoe.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

#include "tokrl/core/check.h"
#include "tokrl/nn/apply_fn.h"
#include "tokrl/nn/experts.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/init.h"
#include "tokrl/nn/routing_kernel.h"

namespace tokrl::nn {
namespace {
constexpr double kNormEps = 1e-6;
}  // namespace

int64_t DefaultSlotsPerExpert(int64_t num_tokens, int64_t num_experts,
                              double capacity_factor) {
  TOKRL_CHECK_GT(num_tokens, 0);
  TOKRL_CHECK_GT(num_experts, 0);
  TOKRL_CHECK_GT(capacity_factor, 0.0);
  const double slots =
      std::ceil(static_cast<double>(num_tokens) * capacity_factor /
                static_cast<double>(num_experts));
  return std::max<int64_t>(1, static_cast<int64_t>(slots));
}

namespace {

// Samples per parallel task of the normalization: a sample is m * d
// (~10^3) elements.
constexpr int64_t kNormGrain = 8;

// x / (||x|| + eps) over the last dim of tokens [B, m, d] as one kernel
// (routing_kernel.h says why). Returns x_hat contiguous.
struct FusedTokenNorm : torch::autograd::Function<FusedTokenNorm> {
  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& tokens) {
    const at::Tensor x =
        tokens.is_non_overlapping_and_dense() ? tokens : tokens.contiguous();
    const int64_t b = x.size(0), m = x.size(1), d = x.size(2);
    at::Tensor x_hat = at::empty({b, m, d}, x.options());
    at::Tensor norms = at::empty({b, m}, x.options());
    const float* in = x.data_ptr<float>();
    float* out = x_hat.data_ptr<float>();
    float* n = norms.data_ptr<float>();
    at::parallel_for(0, b, kNormGrain, [&](int64_t begin, int64_t end) {
      internal::NormalizeTokensForward(in, x.stride(0), x.stride(1),
                                       x.stride(2), begin, end, m, d,
                                       static_cast<float>(kNormEps), out, n);
    });
    ctx->save_for_backward({x, norms});
    return {x_hat};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& norms = saved[1];
    const at::Tensor g = grads[0].contiguous();
    const int64_t b = x.size(0), m = x.size(1), d = x.size(2);
    // The gradient in x's layout, so the tokens' views pass it on as is.
    at::Tensor grad = at::empty_strided(x.sizes(), x.strides(), x.options());
    const float* in = x.data_ptr<float>();
    const float* n = norms.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    float* out = grad.data_ptr<float>();
    at::parallel_for(0, b, kNormGrain, [&](int64_t begin, int64_t end) {
      internal::NormalizeTokensBackward(in, x.stride(0), x.stride(1),
                                        x.stride(2), n, gp, begin, end, m, d,
                                        static_cast<float>(kNormEps), out);
    });
    return {grad};
  }
};

// s * phi / (||phi|| + eps) over Phi's d axis, phi [k, d, cols] and scale
// [k], as one autograd node: the ATen ops (norm, add, div, mul and their
// backward) were ~4 LibTorch ops per forward and ~10 per backward, and an
// update routes 2-3 forwards.
struct FusedPhiNorm : torch::autograd::Function<FusedPhiNorm> {
  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& phi,
      const at::Tensor& scale) {
    const at::Tensor p = phi.contiguous();
    const at::Tensor s = scale.contiguous();
    const int64_t k = p.size(0), d = p.size(1), cols = p.size(2);
    at::Tensor out = at::empty_like(p);
    at::Tensor norms = at::empty({k, cols}, p.options());
    internal::NormalizePhiForward(p.data_ptr<float>(), s.data_ptr<float>(), k,
                                  d, cols, static_cast<float>(kNormEps),
                                  out.data_ptr<float>(),
                                  norms.data_ptr<float>());
    ctx->save_for_backward({p, s, norms});
    return {out};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& p = saved[0];
    const at::Tensor& s = saved[1];
    const at::Tensor g = grads[0].contiguous();
    const int64_t k = p.size(0), d = p.size(1), cols = p.size(2);
    at::Tensor grad_phi = at::empty_like(p);
    at::Tensor grad_scale = at::empty_like(s);
    internal::NormalizePhiBackward(
        p.data_ptr<float>(), s.data_ptr<float>(), saved[2].data_ptr<float>(),
        g.data_ptr<float>(), k, d, cols, static_cast<float>(kNormEps),
        grad_phi.data_ptr<float>(), grad_scale.data_ptr<float>());
    return {grad_phi, grad_scale};
  }
};

}  // namespace

at::Tensor NormalizeTokens(const at::Tensor& tokens) {
  TOKRL_CHECK(tokens.dim() == 3)
      << "tokens must be [B, m, d], got " << tokens.sizes();
  if (!FastPathApplies(tokens) || tokens.numel() == 0) {
    return tokens / (tokens.norm(2, {-1}, /*keepdim=*/true) + kNormEps);
  }
  return ApplyFn<FusedTokenNorm>(tokens)[0];
}

at::Tensor SoftMoELogits(const at::Tensor& tokens, const at::Tensor& phi,
                         bool normalize, const at::Tensor& scale) {
  const bool packed = phi.dim() == 4;
  const int64_t k = packed ? phi.size(0) : 1;
  const int64_t d_dim = packed ? 1 : 0;  // Phi's d axis
  TOKRL_CHECK(tokens.dim() == 3 && (phi.dim() == 3 || packed) &&
              tokens.size(2) == phi.size(d_dim) && tokens.size(0) % k == 0)
      << "tokens " << tokens.sizes() << " vs phi " << phi.sizes();
  at::Tensor x = tokens;
  at::Tensor p = phi;
  if (normalize) {
    x = NormalizeTokens(x);
    if (scale.defined() && FastPathApplies(p)) {
      p = ApplyFn<FusedPhiNorm>(p.reshape({k, p.size(d_dim), -1}),
                                scale.reshape({k}))[0]
              .view(phi.sizes());
    } else {
      p = p / (p.norm(2, {d_dim}, /*keepdim=*/true) + kNormEps);
      if (scale.defined()) {
        p = packed ? p * scale.view({k, 1, 1, 1}) : p * scale;
      }
    }
  }
  const int64_t b = x.size(0);
  const int64_t m = x.size(1);
  const int64_t d = x.size(2);
  const int64_t n = p.size(d_dim + 1);
  const int64_t s = p.size(d_dim + 2);
  // Per member: [B*m, d] @ [d, n*p]. Why BatchedMatmul: OpenBLAS ran these
  // products (d = 16 on MinAtar) and their gradients at ~80 GFLOP/s, ~0.5
  // ms of a Rainbow-lite SoftMoE-4 update (op trace, four mm calls); in the
  // small-matrix kernel DQN SoftMoE-4 updates took 3.01 against 3.39 ms
  // (docs/speed.md).
  return BatchedMatmul(x.reshape({k, b / k * m, d}), false,
                       p.reshape({k, d, n * s}), false)
      .view({b, m, n, s});
}

at::Tensor SoftMoEDispatchWeights(const at::Tensor& logits) {
  return torch::softmax(logits, 1);
}

at::Tensor SoftMoECombineWeights(const at::Tensor& logits) {
  const auto sizes = logits.sizes();
  return torch::softmax(logits.reshape({sizes[0], sizes[1], -1}), -1)
      .view(sizes);
}

namespace {

// Samples per parallel task: a sample is m * n * p (~10^4) elements.
constexpr int64_t kRoutingGrain = 4;

// The fused routing kernel as an autograd function. Why: torch::softmax over
// a non-last dim and over the last one cost ~0.5 ms each for a batch of 32
// MinAtar samples (100 x 100 logits) on one core, about a fifth of a
// SoftMoE-4 DQN update; one pass that shares the exp costs ~0.1 ms.
struct FusedRouting : torch::autograd::Function<FusedRouting> {
  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& logits) {
    const at::Tensor x = logits.contiguous();
    const int64_t b = x.size(0), m = x.size(1), k = x.size(2) * x.size(3);
    at::Tensor dispatch = at::empty_like(x);
    at::Tensor combine = at::empty_like(x);
    const float* in = x.data_ptr<float>();
    float* d = dispatch.data_ptr<float>();
    float* c = combine.data_ptr<float>();
    at::parallel_for(0, b, kRoutingGrain, [&](int64_t begin, int64_t end) {
      internal::RoutingSoftmaxForward(in, begin, end, m, k, d, c);
    });
    ctx->save_for_backward({dispatch, combine});
    return {dispatch, combine};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& dispatch = saved[0];
    const at::Tensor& combine = saved[1];
    const int64_t b = dispatch.size(0), m = dispatch.size(1),
                  k = dispatch.size(2) * dispatch.size(3);
    const at::Tensor gd =
        grads[0].defined() ? grads[0].contiguous() : at::Tensor();
    const at::Tensor gc =
        grads[1].defined() ? grads[1].contiguous() : at::Tensor();
    at::Tensor grad = at::empty_like(dispatch);
    const float* d = dispatch.data_ptr<float>();
    const float* c = combine.data_ptr<float>();
    const float* gdp = gd.defined() ? gd.data_ptr<float>() : nullptr;
    const float* gcp = gc.defined() ? gc.data_ptr<float>() : nullptr;
    float* out = grad.data_ptr<float>();
    at::parallel_for(0, b, kRoutingGrain, [&](int64_t begin, int64_t end) {
      internal::RoutingSoftmaxBackward(d, c, gdp, gcp, begin, end, m, k, out);
    });
    return {grad};
  }
};

}  // namespace

SoftMoERouting SoftMoERoutingWeights(const at::Tensor& logits) {
  TOKRL_CHECK(logits.dim() == 4)
      << "logits must be [B, m, n, p], got " << logits.sizes();
  if (!FastPathApplies(logits) || logits.numel() == 0) {
    return {SoftMoEDispatchWeights(logits), SoftMoECombineWeights(logits)};
  }
  const torch::autograd::variable_list out = ApplyFn<FusedRouting>(logits);
  return {out[0], out[1]};
}

SoftMoEImpl::SoftMoEImpl(const SoftMoEOptions& options_) : options(options_) {
  reset();
}

void SoftMoEImpl::reset() {
  const int64_t d = options.token_dim();
  const int64_t n = options.num_experts();
  TOKRL_CHECK_GT(d, 0);
  TOKRL_CHECK_GT(n, 0);
  TOKRL_CHECK_GT(options.expert_hidden(), 0);
  TOKRL_CHECK_GT(options.expert_hidden_scale(), 0);
  if (options.slots_per_expert() > 0) {
    slots_ = options.slots_per_expert();
  } else {
    TOKRL_CHECK_GT(options.num_tokens(), 0)
        << "SoftMoE needs num_tokens or slots_per_expert";
    slots_ = DefaultSlotsPerExpert(options.num_tokens(), n,
                                   options.capacity_factor());
  }
  phi = register_parameter("phi", torch::empty({d, n, slots_}));
  LecunNormal_(phi, n * d);
  {
    torch::NoGradGuard no_grad;
    phi.mul_(options.phi_init_scale());
  }
  scale = at::Tensor();
  if (options.normalize()) {
    scale = register_parameter("scale", torch::full({1}, options.scale_init()));
  }
  experts = register_module("experts",
                            Experts(ExpertsOptions(n, d, expert_hidden())));
}

void SoftMoEImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::SoftMoE(d=" << options.token_dim()
         << ", experts=" << options.num_experts() << ", slots=" << slots_
         << ", hidden=" << expert_hidden()
         << ", normalize=" << (options.normalize() ? "true" : "false") << ")";
}

SoftMoERouting SoftMoEImpl::route(const at::Tensor& tokens) {
  const at::Tensor logits =
      SoftMoELogits(tokens, phi, options.normalize(), scale);
  return SoftMoERoutingWeights(logits);
}

at::Tensor SoftMoEImpl::forward(const at::Tensor& tokens) {
  const SoftMoERouting r = route(tokens);
  return ApplyExperts(tokens, r.dispatch, r.combine, *experts);
}

}  // namespace tokrl::nn
