#include "tokrl/nn/heads.h"

#include <torch/torch.h>

#include <array>
#include <string>

#include "tokrl/core/check.h"
#include "tokrl/nn/baselines.h"
#include "tokrl/nn/enum_names.h"
#include "tokrl/nn/noisy_linear.h"

namespace tokrl::nn {
namespace {

constexpr std::array<EnumName<HeadType>, 3> kHeadNames = {{
    {"linear", HeadType::kLinear},
    {"c51", HeadType::kC51},
    {"distributional", HeadType::kC51},
}};

}  // namespace

HeadType ParseHeadType(std::string_view name) {
  return ParseEnum<HeadType>("head", name, kHeadNames);
}
std::string_view ToString(HeadType type) {
  return EnumToName<HeadType>(type, kHeadNames);
}

at::Tensor C51Support(int64_t num_atoms, double v_min, double v_max,
                      const at::TensorOptions& options) {
  TOKRL_CHECK_GE(num_atoms, 2) << "C51 needs at least 2 atoms";
  TOKRL_CHECK_LT(v_min, v_max);
  return torch::linspace(v_min, v_max, num_atoms, options);
}

at::Tensor C51QValues(const at::Tensor& logits, const at::Tensor& support) {
  TOKRL_CHECK(logits.dim() == 3 && logits.size(2) == support.numel())
      << "logits " << logits.sizes() << " vs support " << support.sizes();
  return (torch::softmax(logits, -1) * support).sum(-1);
}

at::Tensor DuelingCombine(const at::Tensor& value,
                          const at::Tensor& advantage) {
  return value + advantage - advantage.mean(1, /*keepdim=*/true);
}

QHeadImpl::QHeadImpl(const QHeadOptions& options_) : options(options_) {
  reset();
}

torch::nn::AnyModule QHeadImpl::MakeLayer(const std::string& name,
                                          int64_t out) {
  const int64_t in = options.in_features();
  if (options.noisy()) {
    auto layer = register_module(
        name, NoisyLinear(
                  NoisyLinearOptions(in, out)
                      .sigma0(options.noisy_sigma0())
                      .deterministic_eval(options.noisy_deterministic_eval())));
    return torch::nn::AnyModule(layer);
  }
  return torch::nn::AnyModule(register_module(name, MakeDense(in, out)));
}

void QHeadImpl::reset() {
  TOKRL_CHECK_GT(options.in_features(), 0);
  TOKRL_CHECK_GT(options.num_actions(), 0) << "num_actions must be set";
  support = at::Tensor();
  value = torch::nn::AnyModule();
  if (options.type() == HeadType::kC51) {
    support = register_buffer(
        "support",
        C51Support(options.num_atoms(), options.v_min(), options.v_max()));
  }
  advantage = MakeLayer("advantage", options.num_actions() * atoms());
  if (options.dueling()) value = MakeLayer("value", atoms());
}

void QHeadImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::QHead(" << options.in_features() << " -> "
         << options.num_actions() << ", " << ToString(options.type());
  if (options.type() == HeadType::kC51) {
    stream << "(" << options.num_atoms() << " atoms in [" << options.v_min()
           << ", " << options.v_max() << "])";
  }
  if (options.dueling()) stream << ", dueling";
  if (options.noisy()) stream << ", noisy";
  stream << ")";
}

HeadOutput QHeadImpl::forward(const at::Tensor& z) {
  TOKRL_CHECK(z.dim() == 2 && z.size(1) == options.in_features())
      << "expected head input [B, " << options.in_features() << "], got "
      << z.sizes();
  const int64_t b = z.size(0);
  const int64_t n = atoms();
  at::Tensor out =
      advantage.forward<at::Tensor>(z).view({b, options.num_actions(), n});
  if (options.dueling()) {
    out = DuelingCombine(value.forward<at::Tensor>(z).view({b, 1, n}), out);
  }
  HeadOutput result;
  if (options.type() == HeadType::kC51) {
    result.logits = out;
    result.q = C51QValues(out, support);
  } else {
    result.q = out.squeeze(-1);
  }
  return result;
}

}  // namespace tokrl::nn
