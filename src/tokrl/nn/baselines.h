// Expert-free penultimate layers: the flatten baseline and DFT's tokenized
// aggregation baselines (paper.md 2.3, 2.5).
//
//   DenseBaseline       x [B, ...] -> flatten [B, F] -> Dense(W) -> ReLU
//                       -> [B, W]
//   TokenizedAggregate  tokens [B, m, t] -> Dense(W) on every token (shared)
//                       -> ReLU [B, m, W] -> mean or sum over m -> [B, W]
//   with W = width * scale (Dopamine `scale_hidden_layer`; DFT uses x4).
//
// Invariants
//   * Parameters: DenseBaseline F*W + W (Impala flatten 3872, W = 512:
//     1,982,976; W = 2048: 7,931,904); TokenizedAggregate t*W + W (Impala
//     PerConv t = 32, W = 2048: 67,584) (paper.md 2.11).
//   * TokenizedAggregate over a single token (Flatten/PerSamp) is exactly
//     DenseBaseline on the flattened features; TokenizedSum = m *
//     TokenizedAvg for the same weights.
//   * Init as Dopamine's dense layers: xavier_uniform kernel, zero bias.
//
// Choices where the spec is open: the aggregation comes after the per-token
// projection and ReLU (paper.md 2.5, [INF]); that is what separates it from
// global average pooling. No noisy variant (the noisy flag only affects the
// Q head).
//
// References: paper.md 2.3, 2.5, 2.11; Sokar et al. 2024 (DFT) section 5.
#ifndef TOKRL_NN_BASELINES_H_
#define TOKRL_NN_BASELINES_H_

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <ostream>
#include <string_view>

namespace tokrl::nn {

/// A torch Linear initialised as a Flax/Dopamine Dense: xavier_uniform
/// kernel, zero bias.
torch::nn::Linear MakeDense(int64_t in_features, int64_t out_features);

/// Example (baseline x4 on Impala): DenseBaseline(DenseBaselineOptions(3872)
///                                                     .scale(4));
struct DenseBaselineOptions {
  explicit DenseBaselineOptions(int64_t in_features)
      : in_features_(in_features) {}
  /// F, the flattened input size h*w*d.
  TORCH_ARG(int64_t, in_features);
  /// Base width (Dopamine 512).
  TORCH_ARG(int64_t, hidden) = 512;
  /// Width multiplier: W = hidden * scale.
  TORCH_ARG(int64_t, scale) = 1;
};

class DenseBaselineImpl : public torch::nn::Cloneable<DenseBaselineImpl> {
 public:
  explicit DenseBaselineImpl(const DenseBaselineOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// x [B, ...] with F elements per sample -> [B, W].
  at::Tensor forward(const at::Tensor& x);
  int64_t out_features() const { return options.hidden() * options.scale(); }

  DenseBaselineOptions options;
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(DenseBaseline);

enum class Aggregation { kMean, kSum };
/// "mean" (alias "avg"), "sum".
Aggregation ParseAggregation(std::string_view name);
std::string_view ToString(Aggregation aggregation);

/// Example (TokenizedAvg x4 on Impala PerConv tokens):
///   TokenizedAggregate agg(TokenizedAggregateOptions(32).scale(4));
struct TokenizedAggregateOptions {
  explicit TokenizedAggregateOptions(int64_t token_dim)
      : token_dim_(token_dim) {}
  /// t.
  TORCH_ARG(int64_t, token_dim);
  /// Base width (512, as the flatten baseline).
  TORCH_ARG(int64_t, width) = 512;
  /// Width multiplier: W = width * scale.
  TORCH_ARG(int64_t, scale) = 1;
  /// Mean (TokenizedAvg) or sum (TokenizedSum) over tokens.
  TORCH_ARG(Aggregation, aggregation) = Aggregation::kMean;
};

/// The tokenized baselines' layer for K members side by side (K = 1 for a
/// TokenizedAggregate; K for a packed network, packed_q_network.h):
/// tokens [K, B, m, t], weight [K, W, t], bias [K, W] -> z [K, B, W] with
///   z[k, b] = mean (or sum) over i of relu(weight[k] tokens[k, b, i]
///                                          + bias[k]);
/// differentiable in all three. On CPU floats under the fast paths
/// (fast_paths.h): one kernel per direction (token_aggregate_kernel.h) that
/// never stores the [K, B, m, W] activations, whose results do not depend on
/// the number of threads; elsewhere ATen's ops. The two agree within float
/// rounding.
at::Tensor DenseReluAggregate(const at::Tensor& tokens,
                              const at::Tensor& weight, const at::Tensor& bias,
                              Aggregation aggregation);

class TokenizedAggregateImpl
    : public torch::nn::Cloneable<TokenizedAggregateImpl> {
 public:
  explicit TokenizedAggregateImpl(const TokenizedAggregateOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// tokens [B, m, t] -> [B, W].
  at::Tensor forward(const at::Tensor& tokens);
  int64_t out_features() const { return options.width() * options.scale(); }

  TokenizedAggregateOptions options;
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(TokenizedAggregate);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_BASELINES_H_
