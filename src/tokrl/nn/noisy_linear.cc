#include "tokrl/nn/noisy_linear.h"

#include <torch/torch.h>

#include <cmath>

#include "tokrl/core/check.h"
#include "tokrl/nn/linear.h"

namespace tokrl::nn {

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
  eps_in.copy_(FactorisedNoise(options.in_features(), eps_in.options()));
  eps_out.copy_(FactorisedNoise(options.out_features(), eps_out.options()));
}

void NoisyLinearImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::NoisyLinear(" << options.in_features() << " -> "
         << options.out_features() << ", sigma0=" << options.sigma0() << ")";
}

at::Tensor NoisyLinearImpl::forward(const at::Tensor& x) {
  if (!noise_active()) return LinearForward(x, weight_mu, bias_mu);
  const at::Tensor weight =
      weight_mu + weight_sigma * torch::outer(eps_out, eps_in);
  const at::Tensor bias = bias_mu + bias_sigma * eps_out;
  return LinearForward(x, weight, bias);
}

}  // namespace tokrl::nn
