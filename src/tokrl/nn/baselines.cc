#include "tokrl/nn/baselines.h"

#include <torch/torch.h>

#include <array>

#include "tokrl/core/check.h"
#include "tokrl/nn/enum_names.h"
#include "tokrl/nn/init.h"
#include "tokrl/nn/linear.h"

namespace tokrl::nn {
namespace {

constexpr std::array<EnumName<Aggregation>, 3> kAggregationNames = {{
    {"mean", Aggregation::kMean},
    {"sum", Aggregation::kSum},
    {"avg", Aggregation::kMean},
}};

}  // namespace

torch::nn::Linear MakeDense(int64_t in_features, int64_t out_features) {
  TOKRL_CHECK(in_features > 0 && out_features > 0)
      << "bad dense shape " << in_features << " -> " << out_features;
  torch::nn::Linear dense(torch::nn::LinearOptions(in_features, out_features));
  XavierUniform_(dense->weight, in_features, out_features);
  torch::NoGradGuard no_grad;
  dense->bias.zero_();
  return dense;
}

Aggregation ParseAggregation(std::string_view name) {
  return ParseEnum<Aggregation>("aggregation", name, kAggregationNames);
}
std::string_view ToString(Aggregation aggregation) {
  return EnumToName<Aggregation>(aggregation, kAggregationNames);
}

// ---- DenseBaseline ----------------------------------------------------------

DenseBaselineImpl::DenseBaselineImpl(const DenseBaselineOptions& options_)
    : options(options_) {
  reset();
}

void DenseBaselineImpl::reset() {
  TOKRL_CHECK_GT(options.scale(), 0);
  dense = register_module("dense",
                          MakeDense(options.in_features(), out_features()));
}

void DenseBaselineImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::DenseBaseline(" << options.in_features() << " -> "
         << out_features() << ")";
}

at::Tensor DenseBaselineImpl::forward(const at::Tensor& x) {
  return torch::relu(LinearForward(x.flatten(1), dense->weight, dense->bias));
}

// ---- TokenizedAggregate -----------------------------------------------------

TokenizedAggregateImpl::TokenizedAggregateImpl(
    const TokenizedAggregateOptions& options_)
    : options(options_) {
  reset();
}

void TokenizedAggregateImpl::reset() {
  TOKRL_CHECK_GT(options.scale(), 0);
  dense =
      register_module("dense", MakeDense(options.token_dim(), out_features()));
}

void TokenizedAggregateImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::TokenizedAggregate(" << options.token_dim() << " -> "
         << out_features() << ", " << ToString(options.aggregation()) << ")";
}

at::Tensor TokenizedAggregateImpl::forward(const at::Tensor& tokens) {
  TOKRL_CHECK(tokens.dim() == 3 && tokens.size(2) == options.token_dim())
      << "expected tokens [B, m, " << options.token_dim() << "], got "
      << tokens.sizes();
  const at::Tensor h = torch::relu(dense->forward(tokens));  // [B, m, W]
  return options.aggregation() == Aggregation::kMean ? h.mean(1) : h.sum(1);
}

}  // namespace tokrl::nn
