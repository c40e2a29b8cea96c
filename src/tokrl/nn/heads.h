// Q heads: the output layer(s) after the penultimate representation z.
//
//   L = Dense, or NoisyLinear when noisy; A actions, N atoms.
//
//   linear            q = L_A(z)                                 q [B, A]
//   linear + dueling  q = V(z) + A(z) - mean_a A(z),             q [B, A]
//                     V: L_1, A: L_A
//   c51               logits = L_{A*N}(z).view(B, A, N)          logits [B,A,N]
//   c51 + dueling     logits = V(z) + A(z) - mean_a A(z),        and q [B, A]
//                     V: L_N -> [B, 1, N], A: L_{A*N} -> [B, A, N]
//   C51: q[b, a] = sum_k softmax(logits[b, a, :])_k * support_k,
//        support = linspace(v_min, v_max, N) (a buffer).
//
// Invariants
//   * The dueling combination is applied to logits (C51) or to q (linear),
//     as Dopamine's full Rainbow; mean_a of the advantage stream is 0.
//   * Dense layers use xavier_uniform kernels and zero biases (Dopamine);
//     NoisyLinear uses its own init (noisy_linear.h).
//   * The head's input z is used as is: no activation is added (after SoftMoE
//     the flattened tokens go straight into the head, paper.md 2.6).
//
// References: Wang et al. 2016 (dueling); Bellemare et al. 2017 (C51);
// Fortunato et al. 2018 (NoisyNet); Hessel et al. 2018 (Rainbow);
// google/dopamine `jax/networks.py` (FullRainbowNetwork); paper.md 3.3.
#ifndef TOKRL_NN_HEADS_H_
#define TOKRL_NN_HEADS_H_

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace tokrl::nn {

enum class HeadType { kLinear, kC51 };
/// "linear", "c51" (alias "distributional").
HeadType ParseHeadType(std::string_view name);
std::string_view ToString(HeadType type);

/// num_atoms atoms from v_min to v_max, evenly spaced: v_min + i (v_max -
/// v_min) / (num_atoms - 1) in double, the last exactly v_max, rounded once
/// to the options' dtype (float by default; the same bits on every CPU).
at::Tensor C51Support(int64_t num_atoms, double v_min, double v_max,
                      const at::TensorOptions& options = {});
/// q [B, A] = sum_k softmax(logits [B, A, N])_k * support [N]_k. On the
/// CPU's fast path (nn/fast_paths.h) one kernel with its own exp: the same
/// bits on every x86-64 CPU, whichever of ATen's kernels the build picks,
/// and within 1e-6 of ATen's ops.
at::Tensor C51QValues(const at::Tensor& logits, const at::Tensor& support);
/// softmax(logits, -1), the atoms' probabilities; on the CPU's fast path and
/// without a gradient the kernel of C51QValues (the same bits everywhere).
at::Tensor C51Probabilities(const at::Tensor& logits);
/// value [B, 1, ...] + advantage [B, A, ...] - mean over A of advantage.
/// On the CPU's fast path one pass each way, the mean a sum in action order
/// divided by A: the same bits whichever of ATen's kernels the build picks.
at::Tensor DuelingCombine(const at::Tensor& value, const at::Tensor& advantage);
/// DuelingCombine on the streams' parameters instead of their outputs:
/// value [K, X] and advantage [K, A, X] -> [K, A, X], value + advantage_a -
/// mean over a of advantage_a, for K members and X = n F (weights [n, F])
/// or n (biases). Block a of the result is one layer whose outputs equal
/// DuelingCombine(V(z), A(z))[:, a] to float rounding, so a dueling head at
/// the taken actions is LinearAtGroups of it. Differentiable in both;
/// DuelingCombine's loops on the CPU's fast path, else tensor ops.
at::Tensor DuelingParams(const at::Tensor& value, const at::Tensor& advantage);
/// A dueling head's two layers as one, by DuelingParams of the weights and
/// of the biases: value weight [..., n, F] and bias [..., n], advantage
/// weight [..., A n, F] and bias [..., A n] (leading dims: K members, or
/// none) -> {weight, bias} shaped as the advantage's, whose block a of n
/// rows gives the head's logits at action a. Inconsistent sizes:
/// tokrl::Error.
std::pair<at::Tensor, at::Tensor> DuelingLayer(
    const at::Tensor& value_weight, const at::Tensor& value_bias,
    const at::Tensor& advantage_weight, const at::Tensor& advantage_bias);
/// A linear layer at one block of n outputs per row: y [R, n] with
/// y[r] = W_g z[r] + bias_g for g = groups[r], where W_g and bias_g are rows
/// [g n, (g + 1) n) of weight [G n, F] and bias [G n]; z [R, F] (CPU);
/// groups [R] int64 (any device), each in [0, G), else tokrl::Error. Equal
/// to block g of the full layer to float rounding and differentiable in z,
/// weight and bias (W's rows of groups that no row has get a zero
/// gradient), at 1/G of the layer's FLOPs: one GEMM per group. Uses: a C51
/// head at the taken actions (G = A), or K packed members' C51 heads as one
/// layer (G = K A).
at::Tensor LinearAtGroups(const at::Tensor& z, const at::Tensor& weight,
                          const at::Tensor& bias, const at::Tensor& groups,
                          int64_t n);

/// Example (Dopamine full Rainbow head):
///   QHead head(QHeadOptions(512, 18).type(HeadType::kC51).dueling(true)
///                  .noisy(true).noisy_sigma0(0.1));
struct QHeadOptions {
  QHeadOptions(int64_t in_features, int64_t num_actions)
      : in_features_(in_features), num_actions_(num_actions) {}
  /// Size of z.
  TORCH_ARG(int64_t, in_features);
  /// A.
  TORCH_ARG(int64_t, num_actions);
  /// Expected-value (linear) or distributional (C51) head.
  TORCH_ARG(HeadType, type) = HeadType::kLinear;
  /// C51: atoms N.
  TORCH_ARG(int64_t, num_atoms) = 51;
  /// C51: support minimum.
  TORCH_ARG(double, v_min) = -10.0;
  /// C51: support maximum.
  TORCH_ARG(double, v_max) = 10.0;
  /// Separate value and advantage streams.
  TORCH_ARG(bool, dueling) = false;
  /// NoisyLinear instead of Dense for the head layers.
  TORCH_ARG(bool, noisy) = false;
  /// NoisyLinear sigma0.
  TORCH_ARG(double, noisy_sigma0) = 0.5;
  /// NoisyLinear: mean weights only in eval mode.
  TORCH_ARG(bool, noisy_deterministic_eval) = true;
};

struct HeadOutput {
  at::Tensor q;       ///< [B, A]
  at::Tensor logits;  ///< [B, A, N] for C51, undefined otherwise
};

/// The outputs at one action per row (the taken actions of a batch).
struct TakenOutput {
  at::Tensor q;       ///< [B]
  at::Tensor logits;  ///< [B, N] for C51, undefined otherwise
};
/// q [B, A] and logits [B, A, N] at actions [B] (int64, any device): q[b] =
/// q[b, actions[b]], logits likewise; either may be undefined (and is then
/// in the result).
TakenOutput AtActions(const at::Tensor& q, const at::Tensor& logits,
                      const at::Tensor& actions);

class QHeadImpl : public torch::nn::Cloneable<QHeadImpl> {
 public:
  explicit QHeadImpl(const QHeadOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// z [B, in_features] -> HeadOutput.
  HeadOutput forward(const at::Tensor& z);
  /// forward(z) at actions [B] (int64, any device) only: q[b] =
  /// forward(z).q[b, actions[b]], logits likewise (differentiable in z and
  /// the layers). A C51 head on CPU float with nn fast paths on computes
  /// only the taken actions' rows of one layer (dueling: of the streams
  /// combined in their parameters, DuelingParams; noisy: at the current
  /// noise), 1/A of the advantage layer's FLOPs (dueling: 1/(A+1) of both
  /// streams'), forward and backward, equal within float rounding;
  /// otherwise the layers on every action, then a gather (C51: softmaxes of
  /// the taken actions' logits only).
  TakenOutput forward_taken(const at::Tensor& z, const at::Tensor& actions);
  /// Atoms per action (1 for a linear head).
  int64_t atoms() const {
    return options.type() == HeadType::kC51 ? options.num_atoms() : 1;
  }

  QHeadOptions options;
  /// The advantage stream (or the only stream without dueling): A * atoms.
  torch::nn::AnyModule advantage;
  /// The value stream (dueling only): atoms.
  torch::nn::AnyModule value;
  /// C51 only: [N] buffer.
  at::Tensor support;

 private:
  torch::nn::AnyModule MakeLayer(const std::string& name, int64_t out);
  /// The layers' outputs, dueling combined: [B, A, atoms()].
  at::Tensor Outputs(const at::Tensor& z);
};
TORCH_MODULE(QHead);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_HEADS_H_
