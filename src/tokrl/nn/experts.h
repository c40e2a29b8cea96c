// Experts: n independent MLPs d -> H -> d run as ONE batched matmul, and the
// slot machinery shared by SoftMoE and the top-k / expert-choice MoE.
//
//   slot inputs  [n, T, d]
//        |  baddbmm with W1 [n, d, H] (+ b1 [n, H])
//        v
//   ReLU [n, T, H]
//        |  baddbmm with W2 [n, H, d] (+ b2 [n, d])
//        v
//   slot outputs [n, T, d]           f_e(u) = W2_e ReLU(W1_e u + b1_e) + b2_e
//
// A router describes each sample's routing as two dense tensors over
// (token i, expert e, slot j):
//   dispatch D [B, m, n, p]: input of slot (e, j) = sum_i D[b,i,e,j] x[b,i]
//   combine  C [B, m, n, p]: output of token i    = sum_{e,j} C[b,i,e,j] y_ej
//   where y_ej = f_e(input of slot (e, j)).
// SoftMoE fills them with softmaxes; the sparse MoEs with one-hot masks and
// gate values (GShard-style dense dispatch). ApplyExperts() runs both.
//
// Invariants
//   * Experts have separate parameters (one slice of each weight tensor per
//     expert) and each slice is initialised as its own Flax Dense:
//     xavier_uniform with fan_in d, fan_out H (resp. H, d); zero biases.
//   * W2 maps back to the token size d (Dopamine `maintain_token_size=True`,
//     paper.md 2.6), so the MoE output has the input's shape.
//   * Parameters: n * (2 d H + H + d) (paper.md 2.11).
//   * Batch is explicit: slots of all B samples of one expert form one
//     [B*p, d] matrix; no vmap, no per-sample loop.
//
// References: paper.md 2.6, 2.8, 2.11; google/dopamine labs/moes
// `networks.py` (ExpertModel); Lepikhin et al. 2020 (GShard dispatch).
#ifndef TOKRL_NN_EXPERTS_H_
#define TOKRL_NN_EXPERTS_H_

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <ostream>

namespace tokrl::nn {

/// Example: Experts(ExpertsOptions(/*num_experts=*/4, /*token_dim=*/32, 512))
struct ExpertsOptions {
  ExpertsOptions(int64_t num_experts, int64_t token_dim, int64_t hidden)
      : num_experts_(num_experts), token_dim_(token_dim), hidden_(hidden) {}
  /// n.
  TORCH_ARG(int64_t, num_experts);
  /// d, the input and output size of every expert.
  TORCH_ARG(int64_t, token_dim);
  /// H, the hidden width of every expert.
  TORCH_ARG(int64_t, hidden);
};

class ExpertsImpl : public torch::nn::Cloneable<ExpertsImpl> {
 public:
  explicit ExpertsImpl(const ExpertsOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// x [n, T, d] -> [n, T, d]: row t of expert e goes through f_e only;
  /// or slots [B, n, p, d] -> [B, n, p, d]: slot (e, j) of every sample
  /// goes through f_e (ExpertMlp's layouts).
  at::Tensor forward(const at::Tensor& x);
  /// The first layer alone: relu(x W1 + b1), [n, T, H].
  at::Tensor hidden(const at::Tensor& x);

  ExpertsOptions options;
  at::Tensor w1;  ///< [n, d, H]
  at::Tensor b1;  ///< [n, H]
  at::Tensor w2;  ///< [n, H, d]
  at::Tensor b2;  ///< [n, d]
};
TORCH_MODULE(Experts);

/// Parameter count of n experts d -> H -> d: n (2 d H + H + d).
int64_t ExpertParameterCount(int64_t num_experts, int64_t token_dim,
                             int64_t hidden);

/// op(a) @ op(b) for each sample of a [S, ., .] and b [S, ., .], where op
/// transposes the last two dimensions when asked (no copy); differentiable,
/// each gradient in its input's layout. Float CPU tensors with the fast
/// paths on (fast_paths.h) use a kernel for small matrices
/// (small_gemm_kernel.h), the rest torch::bmm.
at::Tensor BatchedMatmul(const at::Tensor& a, bool transpose_a,
                         const at::Tensor& b, bool transpose_b);

/// x [n, T, i] -> [n, T, o]: x[e] weight[e] + bias[e] for weight [n, i, o]
/// and bias [n, o] (baddbmm; under the fast paths BatchedMatmul, and bias's
/// gradient adds the rows of the output's in order, on every CPU).
at::Tensor BatchedAffine(const at::Tensor& x, const at::Tensor& weight,
                         const at::Tensor& bias);

/// The experts' MLP, x [n, T, d] -> [n, T, d]: relu(x[e] W1[e] + b1[e])
/// W2[e] + b2[e] for w1 [n, d, H], b1 [n, H], w2 [n, H, d], b2 [n, d] (n
/// experts, or a packed network's K*n). Or x laid out as DispatchTokens
/// returns it, slots [K*B, n, p, d] (K members of B samples; K = 1 unless
/// packed) -> the same shape, for weights of K*n experts: slot
/// [k*B + b, e, j] goes through expert k*n + e; the kernel reads and
/// writes this layout in place (grouping by expert cost two copies per
/// forward and two per backward). Differentiable in all five. On CPU
/// floats under the fast paths with d and H multiples of 8: one kernel per
/// direction (expert_mlp_kernel.h) that never stores the [n, T, H] hidden
/// activations and whose results do not depend on the number of threads;
/// elsewhere BatchedAffine, ReLU, BatchedAffine. The two agree within float
/// rounding.
at::Tensor ExpertMlp(const at::Tensor& x, const at::Tensor& w1,
                     const at::Tensor& b1, const at::Tensor& w2,
                     const at::Tensor& b2);

/// Slot inputs: [B, n, p, d] = einsum("bmnp,bmd->bnpd", dispatch, tokens).
at::Tensor DispatchTokens(const at::Tensor& tokens, const at::Tensor& dispatch);

/// Outputs: [B, m, d] = einsum("bmnp,bnpd->bmd", combine, slot_outputs).
at::Tensor CombineSlots(const at::Tensor& combine,
                        const at::Tensor& slot_outputs);

/// tokens [B, m, d] -> [B, m, d]: dispatch, run every expert on its slots
/// (one batched matmul over experts), combine.
at::Tensor ApplyExperts(const at::Tensor& tokens, const at::Tensor& dispatch,
                        const at::Tensor& combine, ExpertsImpl& experts);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_EXPERTS_H_
