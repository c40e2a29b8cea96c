#include "tokrl/nn/init.h"

#include <torch/torch.h>

#include <cmath>

#include "tokrl/core/check.h"

namespace tokrl::nn {

at::Tensor TruncatedNormal_(at::Tensor t, double std) {
  torch::NoGradGuard no_grad;
  // Phi(-2) and Phi(2) of the standard normal; map U(lo, hi) through the
  // inverse CDF: x = sqrt(2) * erfinv(2u - 1).
  const double lo = 0.5 * (1.0 + std::erf(-2.0 / std::sqrt(2.0)));
  const double hi = 0.5 * (1.0 + std::erf(2.0 / std::sqrt(2.0)));
  t.uniform_(2.0 * lo - 1.0, 2.0 * hi - 1.0);
  t.erfinv_();
  t.mul_(std * std::sqrt(2.0));
  t.clamp_(-2.0 * std, 2.0 * std);
  return t;
}

at::Tensor LecunNormal_(at::Tensor t, int64_t fan_in) {
  TOKRL_CHECK_GT(fan_in, 0);
  // Standard deviation of N(0, 1) truncated to [-2, 2].
  constexpr double kTruncatedStd = 0.87962566103423978;
  return TruncatedNormal_(
      t, std::sqrt(1.0 / static_cast<double>(fan_in)) / kTruncatedStd);
}

at::Tensor XavierUniform_(at::Tensor t, int64_t fan_in, int64_t fan_out) {
  TOKRL_CHECK_GT(fan_in + fan_out, 0);
  torch::NoGradGuard no_grad;
  const double limit = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return t.uniform_(-limit, limit);
}

}  // namespace tokrl::nn
