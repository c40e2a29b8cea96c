#include "tokrl/nn/baselines.h"

#include <torch/torch.h>

#include <array>

#include "tokrl/core/check.h"
#include "tokrl/nn/apply_fn.h"
#include "tokrl/nn/enum_names.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/init.h"
#include "tokrl/nn/linear.h"
#include "tokrl/nn/sample_chunks.h"
#include "tokrl/nn/token_aggregate_kernel.h"

namespace tokrl::nn {
namespace {

constexpr std::array<EnumName<Aggregation>, 3> kAggregationNames = {{
    {"mean", Aggregation::kMean},
    {"sum", Aggregation::kSum},
    {"avg", Aggregation::kMean},
}};

namespace kernel = ::tokrl::internal;

// x [K, B, m, t].
kernel::TokenStrides StridesOf(const at::Tensor& x) {
  return {.sample = x.stride(1), .token = x.stride(2), .feature = x.stride(3)};
}

// x [K, B, m, t] (non-overlapping and dense), weight [K, W, t] and bias
// [K, W] contiguous; `scale` 1/m for the mean, 1 for the sum.
struct DenseReluAggregateFn : torch::autograd::Function<DenseReluAggregateFn> {
  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& x,
      const at::Tensor& weight, const at::Tensor& bias, double scale) {
    ctx->save_for_backward({x, weight, bias});
    ctx->saved_data["scale"] = scale;
    const int64_t k = x.size(0), b = x.size(1), m = x.size(2), t = x.size(3),
                  width = weight.size(1);
    at::Tensor z = at::empty({k, b, width}, x.options());
    ForEachSampleChunk(
        k, b, [&](int64_t, int64_t member, int64_t first, int64_t end) {
          kernel::DenseReluAggregateForward(
              x.data_ptr<float>() + member * x.stride(0), StridesOf(x), first,
              end, m, t, weight.data_ptr<float>() + member * width * t,
              bias.data_ptr<float>() + member * width, width,
              static_cast<float>(scale),
              z.data_ptr<float>() + member * b * width);
        });
    return {z};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& bias = saved[2];
    const auto scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    const at::Tensor g = grads[0].contiguous();
    const int64_t k = x.size(0), b = x.size(1), m = x.size(2), t = x.size(3),
                  width = weight.size(1);
    const int64_t chunks = NumSampleChunks(b);
    // Same strides as x (empty_like keeps a dense layout).
    at::Tensor grad_x =
        ctx->needs_input_grad(0) ? at::empty_like(x) : at::Tensor();
    // Each chunk's sums, then added in chunk order.
    at::Tensor partial_w = at::empty({k, chunks, width, t}, x.options());
    at::Tensor partial_b = at::empty({k, chunks, width}, x.options());
    ForEachSampleChunk(
        k, b, [&](int64_t task, int64_t member, int64_t first, int64_t end) {
          kernel::DenseReluAggregateBackward(
              x.data_ptr<float>() + member * x.stride(0), StridesOf(x), first,
              end, m, t, weight.data_ptr<float>() + member * width * t,
              bias.data_ptr<float>() + member * width, width, scale,
              g.data_ptr<float>() + member * b * width,
              grad_x.defined() ? grad_x.data_ptr<float>() + member * x.stride(0)
                               : nullptr,
              partial_w.data_ptr<float>() + task * width * t,
              partial_b.data_ptr<float>() + task * width);
        });
    return {grad_x, SumChunksInOrder(partial_w), SumChunksInOrder(partial_b),
            at::Tensor()};
  }
};

}  // namespace

at::Tensor DenseReluAggregate(const at::Tensor& tokens,
                              const at::Tensor& weight, const at::Tensor& bias,
                              Aggregation aggregation) {
  TOKRL_CHECK(tokens.dim() == 4 && weight.dim() == 3 && bias.dim() == 2 &&
              weight.size(0) == tokens.size(0) &&
              weight.size(2) == tokens.size(3) &&
              bias.size(0) == weight.size(0) && bias.size(1) == weight.size(1))
      << "DenseReluAggregate of tokens " << tokens.sizes() << ", weight "
      << weight.sizes() << ", bias " << bias.sizes();
  const int64_t k = tokens.size(0), b = tokens.size(1), m = tokens.size(2);
  if (FastPathApplies(tokens) && FastPathApplies(weight) &&
      FastPathApplies(bias) && tokens.numel() > 0) {
    const at::Tensor x =
        tokens.is_non_overlapping_and_dense() ? tokens : tokens.contiguous();
    const double scale =
        aggregation == Aggregation::kMean ? 1.0 / static_cast<double>(m) : 1.0;
    return ApplyFn<DenseReluAggregateFn>(x, weight.contiguous(),
                                         bias.contiguous(), scale)[0];
  }
  // One member as torch::linear (a batched GEMM of one member ran ~2x
  // slower in LibTorch 1.13 on CPU).
  const at::Tensor h =
      k == 1 ? torch::relu(torch::linear(tokens[0], weight[0], bias[0]))
                   .unsqueeze(0)
             : torch::relu(PackedLinearForward(tokens.reshape({k, b * m, -1}),
                                               weight, bias))
                   .reshape({k, b, m, -1});
  return aggregation == Aggregation::kMean ? h.mean(2) : h.sum(2);
}

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
  return LinearReluForward(x.flatten(1), dense->weight, dense->bias);
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
  return DenseReluAggregate(tokens.unsqueeze(0), dense->weight.unsqueeze(0),
                            dense->bias.unsqueeze(0), options.aggregation())[0];
}

}  // namespace tokrl::nn
