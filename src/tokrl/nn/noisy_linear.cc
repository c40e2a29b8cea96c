#include "tokrl/nn/noisy_linear.h"

#include <torch/torch.h>

#include <cmath>

#include "tokrl/core/check.h"
#include "tokrl/nn/apply_fn.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/linear.h"
#include "tokrl/nn/noisy_kernel.h"

namespace tokrl::nn {
namespace {

// Rows per task of the parallel loops (~32k elements of a 1600-wide layer).
constexpr int64_t kNoisyGrain = 16;
// The bias's eps_in: one column of noise 1.
constexpr float kOne = 1.0f;

// The noisy weight and bias, mu + sigma * (eps_out eps_in^T) and
// mu_b + sigma_b * eps_out, as one autograd node of two loops. As tensor ops
// they are an outer product, two muls and two adds, each a pass over the
// whole weight (2 MB for a SoftMoE-4 C51 head's advantage layer), then
// three times per DER update (online, double-Q and target forwards; two
// since NoisyParamsReuse): ~1.9 ms of a ~8.7 ms DER SoftMoE-4 update. The
// same bits (noisy_kernel.h); the bias is the same loop with one column and
// eps_in = 1 (e * 1 is e exactly).
struct NoisyParamsFn : torch::autograd::Function<NoisyParamsFn> {
  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& weight_mu,
      const at::Tensor& weight_sigma, const at::Tensor& bias_mu,
      const at::Tensor& bias_sigma, const at::Tensor& eps_in,
      const at::Tensor& eps_out) {
    const at::Tensor ein = eps_in.contiguous(), eout = eps_out.contiguous();
    ctx->save_for_backward({ein, eout});
    const at::Tensor wm = weight_mu.contiguous(),
                     ws = weight_sigma.contiguous();
    const at::Tensor bm = bias_mu.contiguous(), bs = bias_sigma.contiguous();
    at::Tensor weight = at::empty_like(wm), bias = at::empty_like(bm);
    const int64_t cols = wm.size(1);
    at::parallel_for(0, wm.size(0), kNoisyGrain, [&](int64_t b, int64_t e) {
      internal::NoisyParams(wm.data_ptr<float>(), ws.data_ptr<float>(),
                            eout.data_ptr<float>(), ein.data_ptr<float>(), cols,
                            b, e, weight.data_ptr<float>());
    });
    internal::NoisyParams(bm.data_ptr<float>(), bs.data_ptr<float>(),
                          eout.data_ptr<float>(), &kOne, 1, 0, bm.size(0),
                          bias.data_ptr<float>());
    return {weight, bias};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &ein = saved[0], &eout = saved[1];
    // d/dmu is the incoming gradient itself; d/dsigma the same loop over it.
    const auto sigma_grad = [&](const at::Tensor& grad, const float* in,
                                int64_t cols, int64_t grain) {
      if (!grad.defined()) return at::Tensor();
      const at::Tensor g = grad.contiguous();
      at::Tensor out = at::empty_like(g);
      at::parallel_for(0, eout.size(0), grain, [&](int64_t b, int64_t e) {
        internal::NoisySigmaGrad(g.data_ptr<float>(), eout.data_ptr<float>(),
                                 in, cols, b, e, out.data_ptr<float>());
      });
      return out;
    };
    return {
        grads[0],
        sigma_grad(grads[0], ein.data_ptr<float>(), ein.size(0), kNoisyGrain),
        grads[1],
        sigma_grad(grads[1], &kOne, 1, eout.size(0)),
        at::Tensor(),
        at::Tensor()};
  }
};

}  // namespace

at::Tensor FactorisedNoise(int64_t n, const at::TensorOptions& options) {
  const at::Tensor e = torch::randn({n}, options);
  return e.sign() * e.abs().sqrt();
}

NoisyLinearImpl::NoisyLinearImpl(const NoisyLinearOptions& options_)
    : options(options_) {
  reset();
}

void NoisyLinearImpl::reset() {
  const int64_t in = options.in_features();
  const int64_t out = options.out_features();
  TOKRL_CHECK(in > 0 && out > 0)
      << "bad noisy linear shape " << in << " -> " << out;
  TOKRL_CHECK_GE(options.sigma0(), 0.0);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  const double sigma = options.sigma0() * bound;
  weight_mu = register_parameter("weight_mu", torch::empty({out, in}));
  weight_sigma =
      register_parameter("weight_sigma", torch::full({out, in}, sigma));
  bias_mu = register_parameter("bias_mu", torch::empty({out}));
  bias_sigma = register_parameter("bias_sigma", torch::full({out}, sigma));
  eps_in = register_buffer("eps_in", torch::zeros({in}));
  eps_out = register_buffer("eps_out", torch::zeros({out}));
  {
    torch::NoGradGuard no_grad;
    weight_mu.uniform_(-bound, bound);
    bias_mu.uniform_(-bound, bound);
  }
  reset_noise();
}

void NoisyLinearImpl::reset_noise() {
  torch::NoGradGuard no_grad;
  held_weight_ = held_bias_ = at::Tensor();
  if (FastPathApplies(eps_in) && eps_in.is_contiguous() &&
      eps_out.is_contiguous()) {
    // FactorisedNoise's six ops per vector as one draw and one loop (DER
    // draws 16 vectors per update and 4 per acting step): randn is
    // empty().normal_(), so the draws are the same, and sign(e) sqrt(|e|)
    // is rounded only by the sqrt.
    for (at::Tensor* eps : {&eps_in, &eps_out}) {
      eps->normal_();
      float* e = eps->data_ptr<float>();
      for (int64_t i = 0; i < eps->numel(); ++i) {
        const float sign = static_cast<float>((e[i] > 0.0f) - (e[i] < 0.0f));
        e[i] = sign * std::sqrt(std::abs(e[i]));
      }
    }
    return;
  }
  eps_in.copy_(FactorisedNoise(options.in_features(), eps_in.options()));
  eps_out.copy_(FactorisedNoise(options.out_features(), eps_out.options()));
}

void NoisyLinearImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::NoisyLinear(" << options.in_features() << " -> "
         << options.out_features() << ", sigma0=" << options.sigma0() << ")";
}

std::pair<at::Tensor, at::Tensor> NoisyLinearImpl::params() {
  if (!noise_active()) return {weight_mu, bias_mu};
  if (reuse_ && held_weight_.defined()) {
    if (!at::GradMode::is_enabled()) {
      return {held_weight_.detach(), held_bias_.detach()};
    }
    if (held_weight_.requires_grad()) return {held_weight_, held_bias_};
  }
  at::Tensor weight, bias;
  if (FastPathApplies(weight_mu)) {
    const auto p = ApplyFn<NoisyParamsFn>(weight_mu, weight_sigma, bias_mu,
                                          bias_sigma, eps_in, eps_out);
    weight = p[0];
    bias = p[1];
  } else {
    weight = weight_mu + weight_sigma * torch::outer(eps_out, eps_in);
    bias = bias_mu + bias_sigma * eps_out;
  }
  if (reuse_) {
    held_weight_ = weight;
    held_bias_ = bias;
  }
  return {weight, bias};
}

// Why: a DER update ran NoisyParamsFn three times, the online network's
// twice on the same parameters and noise, each time reading mu and sigma and
// writing the weight (2 MB each for a SoftMoE head's advantage layer):
// reusing the first took 3-5% off a DER SoftMoE update (bench_agent).
NoisyParamsReuse::NoisyParamsReuse(torch::nn::Module& module) {
  for (const auto& m : module.modules()) {
    if (auto* layer = m->as<NoisyLinearImpl>()) {
      layer->reuse_ = true;
      layers_.push_back(layer);
    }
  }
}

NoisyParamsReuse::~NoisyParamsReuse() {
  for (NoisyLinearImpl* layer : layers_) {
    layer->reuse_ = false;
    layer->held_weight_ = layer->held_bias_ = at::Tensor();
  }
}

at::Tensor NoisyLinearImpl::forward(const at::Tensor& x) {
  const auto [weight, bias] = params();
  return LinearForward(x, weight, bias);
}

}  // namespace tokrl::nn
