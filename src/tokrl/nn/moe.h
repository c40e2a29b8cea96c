// Sparse mixture of experts with two real routers: token choice (top-k with
// capacity; Shazeer et al. 2017, Fedus et al. 2021, Dopamine `moe.py`) and
// expert choice (Zhou et al. 2022). paper.md 2.8, 2.9.
//
//   tokens X [B, m, d]
//      |  router logits R = X W_g  (W_g [d, n], no bias)
//      |  (+ N(0, (noise_std / n)^2) in training, optional)
//      v
//   probs P = softmax over experts                              [B, m, n]
//      |
//      +-- token choice: each token takes its top-k experts; expert e keeps
//      |   the first p assignments in priority order, the rest overflow.
//      |   gate = P[i, e] of the chosen expert.
//      +-- expert choice: each expert takes its top-p tokens by P[:, e];
//      |   gate = P[i, e].
//      v
//   dispatch D (one-hot) / combine C = D * gate                  [B, m, n, p]
//      |
//   experts f_e: d -> H -> d on their slots (one batched matmul, experts.h)
//      v
//   Y[b, i] = sum over (e, j) holding token i of gate * f_e(X[b, i])  [B, m, d]
//
// The caller flattens Y to [B, m*d] for the Q head (as for SoftMoE).
//
// Invariants
//   * Token choice: every expert holds at most p tokens; each token sits in at
//     most k slots, at most one per expert. A token that overflows all its
//     experts (or, for k > 1, a token's overflowing assignment) contributes
//     nothing: a fully dropped token's output row is exactly 0 (Dopamine
//     "passes it through as zeros"; there is no residual connection here).
//   * Expert choice: every expert holds exactly p distinct tokens; a token
//     picked by no expert outputs 0. No aux loss is needed (balanced by
//     construction), but one can still be requested.
//   * Capacity p: token choice ceil(k m c / n) (Dopamine's ceil(m c / n) for
//     k = 1, GShard's k-scaled capacity for k > 1); expert choice
//     ceil(m c / n), at most m. `capacity` overrides both.
//   * The MoE output row is never renormalised: y_i = sum gate * f_e(x_i) with
//     the softmax probabilities (Dopamine, k = 1).
//
// Choices where the spec is open (options unless noted):
//   * k > 1 works (Dopamine supports k = 1 only, paper.md 5.4.7). Overflow
//     priority: all first choices before any second choice (GShard); within a
//     rank, by token index (Dopamine, default) or by gate value, highest first
//     (batch-prioritised routing, Riquelme et al. 2021).
//   * Routing and the aux losses are per sample (Dopamine vmaps the network
//     over the batch); the aux-loss statistics pool all B*m tokens.
//   * k must be 1 for expert choice (there, capacity_factor is the average
//     number of experts per token); any other k throws.
//   * Aux losses (Riquelme et al. 2021 App. A.2, Dopamine `losses.py`):
//       importance: imp_e = sum_i P[i, e]; L = w_imp * CV(imp)^2
//       load: noisy logits with sigma = load_noise_std / n; T_i = k-th largest
//             noisy logit of token i; P_load[i, e] = 1 - Phi_N((T_i - R[i,e])
//             / sigma); load_e = mean_i P_load; L = w_load * CV(load)^2
//     CV uses the population standard deviation (jnp.std).
//
// References: paper.md 2.8, 2.9; Zhou et al. 2022 "Mixture-of-Experts with
// Expert Choice Routing"; Lepikhin et al. 2020 (GShard); google/dopamine
// labs/moes `moe.py`, `routers.py`, `agents/losses.py`.
#ifndef TOKRL_NN_MOE_H_
#define TOKRL_NN_MOE_H_

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <ostream>
#include <string_view>

#include "tokrl/nn/experts.h"

namespace tokrl::nn {

enum class MoERouting { kTokenChoice, kExpertChoice };
enum class CapacityPriority { kTokenIndex, kGateValue };
enum class MoEAuxLoss { kNone, kImportance, kLoad, kImportanceLoad };

/// "token_choice" (alias "topk"), "expert_choice".
MoERouting ParseMoERouting(std::string_view name);
std::string_view ToString(MoERouting routing);
/// "token_index", "gate_value".
CapacityPriority ParseCapacityPriority(std::string_view name);
std::string_view ToString(CapacityPriority priority);
/// "none", "importance", "load", "importance_load".
MoEAuxLoss ParseMoEAuxLoss(std::string_view name);
std::string_view ToString(MoEAuxLoss loss);

/// One-hot dispatch and gate-weighted combine, both [B, m, n, p].
struct MoERoutingWeights {
  at::Tensor dispatch;
  at::Tensor combine;
};

/// Token choice from router probabilities [B, m, n]: top-k experts per token,
/// at most `capacity` tokens per expert.
MoERoutingWeights TokenChoiceRouting(
    const at::Tensor& probs, int64_t k, int64_t capacity,
    CapacityPriority priority = CapacityPriority::kTokenIndex);
/// Expert choice from router probabilities [B, m, n]: each expert takes its
/// top-`capacity` tokens (capacity <= m).
MoERoutingWeights ExpertChoiceRouting(const at::Tensor& probs,
                                      int64_t capacity);
/// (std / mean)^2 of the per-expert importance sum_i probs[..., i, e].
at::Tensor ImportanceLoss(const at::Tensor& probs);
/// CV(load)^2 with Gaussian noise of std `noise_std` on logits [B, m, n].
at::Tensor LoadLoss(const at::Tensor& logits, int64_t k, double noise_std);

/// Example (Top1-MoE with 8 experts on 121 tokens of d = 32):
///   MoE moe(MoEOptions(32, 8).num_tokens(121));
/// Example (ExpertChoice-4): MoEOptions(32, 4).num_tokens(121)
///                               .routing(MoERouting::kExpertChoice);
struct MoEOptions {
  MoEOptions(int64_t token_dim, int64_t num_experts)
      : token_dim_(token_dim), num_experts_(num_experts) {}
  /// d.
  TORCH_ARG(int64_t, token_dim);
  /// n.
  TORCH_ARG(int64_t, num_experts);
  /// m, used only for the default capacity.
  TORCH_ARG(int64_t, num_tokens) = 0;
  /// Token choice (top-k) or expert choice.
  TORCH_ARG(MoERouting, routing) = MoERouting::kTokenChoice;
  /// Experts per token (token choice only).
  TORCH_ARG(int64_t, k) = 1;
  /// c in the default capacity.
  TORCH_ARG(double, capacity_factor) = 1.0;
  /// Slots per expert p; 0 means the default from c (see header).
  TORCH_ARG(int64_t, capacity) = 0;
  /// Which token-choice assignments win when an expert overflows.
  TORCH_ARG(CapacityPriority, priority) = CapacityPriority::kTokenIndex;
  /// Expert hidden width before scaling (Dopamine 512).
  TORCH_ARG(int64_t, expert_hidden) = 512;
  /// H = expert_hidden * expert_hidden_scale.
  TORCH_ARG(int64_t, expert_hidden_scale) = 1;
  /// Noisy routing: std of the logit noise is router_noise_std / n, training
  /// mode only; 0 (default) is off.
  TORCH_ARG(double, router_noise_std) = 0.0;
  /// Multiplies W_g after its lecun-normal init (Dopamine 1): larger values
  /// start the routing sharper.
  TORCH_ARG(double, router_init_scale) = 1.0;
  /// Auxiliary load-balancing loss returned with the output.
  TORCH_ARG(MoEAuxLoss, aux_loss) = MoEAuxLoss::kNone;
  /// w_imp.
  TORCH_ARG(double, importance_weight) = 1.0;
  /// w_load.
  TORCH_ARG(double, load_weight) = 1.0;
  /// std_scale of the load loss noise (sigma = load_noise_std / n).
  TORCH_ARG(double, load_noise_std) = 1.0;
};

struct MoEOutput {
  at::Tensor tokens;    ///< [B, m, d]
  at::Tensor aux_loss;  ///< scalar, or undefined when aux_loss() is kNone
  at::Tensor probs;     ///< router probabilities [B, m, n] (statistics)
};

class MoEImpl : public torch::nn::Cloneable<MoEImpl> {
 public:
  explicit MoEImpl(const MoEOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// tokens [B, m, d] -> MoEOutput.
  MoEOutput forward(const at::Tensor& tokens);
  /// Router logits [B, m, n] (noise included in training if enabled).
  at::Tensor router_logits(const at::Tensor& tokens);
  /// The routing forward() would use for these router probabilities.
  MoERoutingWeights route(const at::Tensor& probs) const;
  int64_t capacity() const { return capacity_; }
  int64_t expert_hidden() const {
    return options.expert_hidden() * options.expert_hidden_scale();
  }

  MoEOptions options;
  at::Tensor router;  ///< W_g [d, n]
  Experts experts{nullptr};

 private:
  int64_t capacity_ = 0;
};
TORCH_MODULE(MoE);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_MOE_H_
