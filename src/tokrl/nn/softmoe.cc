#include "tokrl/nn/softmoe.h"

#include <torch/torch.h>

#include <cmath>

#include "tokrl/core/check.h"
#include "tokrl/nn/init.h"

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

at::Tensor SoftMoELogits(const at::Tensor& tokens, const at::Tensor& phi,
                         bool normalize, const at::Tensor& scale) {
  TOKRL_CHECK(tokens.dim() == 3 && phi.dim() == 3 &&
              tokens.size(2) == phi.size(0))
      << "tokens " << tokens.sizes() << " vs phi " << phi.sizes();
  at::Tensor x = tokens;
  at::Tensor p = phi;
  if (normalize) {
    x = x / (x.norm(2, {-1}, /*keepdim=*/true) + kNormEps);
    p = p / (p.norm(2, {0}, /*keepdim=*/true) + kNormEps);
    if (scale.defined()) p = p * scale;
  }
  const int64_t b = x.size(0);
  const int64_t m = x.size(1);
  const int64_t d = x.size(2);
  const int64_t n = p.size(1);
  const int64_t s = p.size(2);
  // [B*m, d] @ [d, n*p].
  return x.reshape({b * m, d}).mm(p.reshape({d, n * s})).view({b, m, n, s});
}

at::Tensor SoftMoEDispatchWeights(const at::Tensor& logits) {
  return torch::softmax(logits, 1);
}

at::Tensor SoftMoECombineWeights(const at::Tensor& logits) {
  const auto sizes = logits.sizes();
  return torch::softmax(logits.reshape({sizes[0], sizes[1], -1}), -1)
      .view(sizes);
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
  return {SoftMoEDispatchWeights(logits), SoftMoECombineWeights(logits)};
}

at::Tensor SoftMoEImpl::forward(const at::Tensor& tokens) {
  const SoftMoERouting r = route(tokens);
  return ApplyExperts(tokens, r.dispatch, r.combine, *experts);
}

}  // namespace tokrl::nn
