// SoftMoE (Puigcerver et al. 2023) as the penultimate layer of a Q-network
// (Obando-Ceron et al. 2024; Sokar et al. 2024; paper.md 2.6).
//
//   tokens X [B, m, d]                 Phi [d, n, p] (learned)
//      |  (optional row-wise L2 norm)    |  (optional column L2 norm, * s)
//      +---------------+-----------------+
//                      v
//        logits L[b,i,e,j] = <X_hat[b,i,:], Phi_hat[:,e,j]>      [B, m, n, p]
//           |                                    |
//    softmax over tokens i               softmax over all (e, j)
//           v                                    v
//     dispatch D [B, m, n, p]             combine C [B, m, n, p]
//           |                                    |
//   slots X~[b,e,j] = sum_i D X[b,i]            |
//      [B, n, p, d]  (un-normalised X)           |
//           |                                    |
//   experts f_e: d -> H -> d, one batched matmul |
//      [B, n, p, d] -----------------------------+
//                      v
//        Y[b,i] = sum_{e,j} C[b,i,e,j] f_e(X~[b,e,j])             [B, m, d]
//
// The caller flattens Y to [B, m*d] for the Q head; there is no ReLU between
// Y and the head (Dopamine).
//
// Invariants
//   * Each dispatch column D[b, :, e, j] sums to 1 over tokens; each combine
//     row C[b, i, :, :] sums to 1 over all n*p slots.
//   * Slots per expert p = ceil(m * capacity_factor / n) unless given
//     (121 tokens: p = 121, 61, 31, 16 for n = 1, 2, 4, 8). Phi's shape does
//     not depend on m, so any token count is accepted at run time.
//   * Phi: Flax lecun_normal with fan_in = n * d (Flax takes axis -2 as
//     "in" for a rank-3 kernel; paper.md 2.6).
//   * Parameters: d*n*p (Phi) + n (2 d H + H + d) (experts) + 1 if normalize
//     (the scale s). H = expert_hidden * expert_hidden_scale.
//   * Forward is batched (no vmap): slots of all samples of an expert go
//     through one matmul.
//
// Choices where the spec is open (documented, each an option or noted):
//   * The scale s is registered only when normalize() is on. Dopamine creates
//     it always (so its count is "Phi + 1"); an unused parameter would have no
//     gradient and would only confuse optimizers and tests.
//   * No NaN masking of the slot inputs. Dopamine replaces NaNs by 0; torch's
//     softmax subtracts the max, so a NaN here can only come from NaN inputs
//     and masking it would hide the bug.
//   * Random Phi (MoE-RL's "RandPhi" ablation) is not implemented.
//   * "SoftMoE-1 scaled x4" (DFT) = num_experts 1, expert_hidden_scale 4.
//
// References: Puigcerver et al. 2023 "From Sparse to Soft Mixtures of
// Experts"; paper.md 2.6, 2.7, 2.11; google/dopamine labs/moes `softmoe.py`.
#ifndef TOKRL_NN_SOFTMOE_H_
#define TOKRL_NN_SOFTMOE_H_

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <ostream>

#include "tokrl/nn/experts.h"

namespace tokrl::nn {

/// ceil(num_tokens * capacity_factor / num_experts), at least 1.
int64_t DefaultSlotsPerExpert(int64_t num_tokens, int64_t num_experts,
                              double capacity_factor = 1.0);

/// X_hat = X / (||X||_2 + 1e-6) over the last dim of tokens [B, m, d]
/// (differentiable; first-order gradients only). On CPU float tokens one
/// fused kernel (nn/routing_kernel.h) computes it, equal to the ATen ops
/// within float rounding and contiguous; elsewhere (or with
/// nn::SetFastPaths(false)) the ATen ops.
at::Tensor NormalizeTokens(const at::Tensor& tokens);

/// L = X_hat . Phi_hat: tokens [B, m, d], phi [d, n, p] -> [B, m, n, p].
/// With `normalize`, X rows and Phi columns are L2-normalised over d
/// (eps 1e-6) and Phi is multiplied by `scale` (a 1-element tensor).
/// Packed (nn/packed_q_network.h): phi [K, d, n, p], scale [K] and tokens
/// [K*B, m, d], member-major; rows of member k use member k's Phi. The
/// product is BatchedMatmul's (its small-matrix kernel on CPU floats).
at::Tensor SoftMoELogits(const at::Tensor& tokens, const at::Tensor& phi,
                         bool normalize = false, const at::Tensor& scale = {});
/// Softmax over tokens (dim 1) of logits [B, m, n, p].
at::Tensor SoftMoEDispatchWeights(const at::Tensor& logits);
/// Softmax jointly over experts and slots (dims 2, 3) of logits [B, m, n, p].
at::Tensor SoftMoECombineWeights(const at::Tensor& logits);

/// Dispatch and combine weights of one forward pass, both [B, m, n, p].
struct SoftMoERouting {
  at::Tensor dispatch;
  at::Tensor combine;
};

/// Both weights at once, differentiable (first-order gradients only). On CPU
/// float logits one fused kernel (nn/routing_kernel.h) computes them, equal
/// to SoftMoEDispatchWeights / SoftMoECombineWeights within float rounding;
/// elsewhere (or with nn::SetFastPaths(false)) it calls those two.
SoftMoERouting SoftMoERoutingWeights(const at::Tensor& logits);

/// Example (SoftMoE-4 on Impala PerConv tokens):
///   SoftMoE moe(SoftMoEOptions(/*token_dim=*/32, /*num_experts=*/4)
///                   .num_tokens(121));                    // p = 31
/// Example (SoftMoE-1 scaled x4): SoftMoEOptions(32, 1).num_tokens(121)
///                                    .expert_hidden_scale(4);  // H = 2048
struct SoftMoEOptions {
  SoftMoEOptions(int64_t token_dim, int64_t num_experts)
      : token_dim_(token_dim), num_experts_(num_experts) {}
  /// d.
  TORCH_ARG(int64_t, token_dim);
  /// n.
  TORCH_ARG(int64_t, num_experts);
  /// m, used only for the default slot count.
  TORCH_ARG(int64_t, num_tokens) = 0;
  /// c in p = ceil(m c / n).
  TORCH_ARG(double, capacity_factor) = 1.0;
  /// p; 0 means ceil(m c / n) (then num_tokens must be set).
  TORCH_ARG(int64_t, slots_per_expert) = 0;
  /// Expert hidden width before scaling (Dopamine 512).
  TORCH_ARG(int64_t, expert_hidden) = 512;
  /// H = expert_hidden * expert_hidden_scale.
  TORCH_ARG(int64_t, expert_hidden_scale) = 1;
  /// Puigcerver's L2 normalisation of X and Phi with learned scale s
  /// (off in Dopamine's Regular setting).
  TORCH_ARG(bool, normalize) = false;
  /// Initial value s0 of the learned scale s (with normalize; Dopamine 1).
  TORCH_ARG(double, scale_init) = 1.0;
  /// Multiplies Phi after its lecun-normal init (Dopamine 1). Flat routing
  /// at init (small logits) freezes Phi on sparse, low-dimensional tokens
  /// such as MinAtar's: see docs/softmoe_routing.md.
  TORCH_ARG(double, phi_init_scale) = 1.0;
};

class SoftMoEImpl : public torch::nn::Cloneable<SoftMoEImpl> {
 public:
  explicit SoftMoEImpl(const SoftMoEOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// tokens [B, m, d] -> [B, m, d].
  at::Tensor forward(const at::Tensor& tokens);
  /// The routing weights forward() would use (for tests and statistics).
  SoftMoERouting route(const at::Tensor& tokens);
  int64_t slots_per_expert() const { return slots_; }
  int64_t expert_hidden() const {
    return options.expert_hidden() * options.expert_hidden_scale();
  }

  SoftMoEOptions options;
  at::Tensor phi;    ///< [d, n, p]
  at::Tensor scale;  ///< [1], only when normalize() is on.
  Experts experts{nullptr};

 private:
  int64_t slots_ = 0;
};
TORCH_MODULE(SoftMoE);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_SOFTMOE_H_
