// FusedAdam: Adam (Kingma & Ba 2015) with the update fused into one pass
// over each parameter on the CPU.
//
// The rule is exactly torch::optim::Adam's (and optax.adam's) without weight
// decay or amsgrad:
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2;   t += 1
//   p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)
// torch::optim::Adam runs this as eight tensor operations with temporaries,
// i.e. eight passes over memory; for DQN-sized networks on the CPU that was a
// third of an update (bench/agent_bench.cc). Here contiguous float CPU
// parameters take one pass; any other parameter (CUDA, double) uses the same
// formula as tensor operations.
//
// Parameters without a gradient are skipped, as in torch. State (m, v, t) is
// saved and loaded with the archive functions. The moments of parameters
// that share dtype and device are views of one buffer each (for MaskedStep
// and GradNormTensor, which then run a fixed number of tensor operations
// whatever the number of parameters).
#ifndef TOKRL_AGENTS_FUSED_ADAM_H_
#define TOKRL_AGENTS_FUSED_ADAM_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace tokrl {

struct FusedAdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class FusedAdam {
 public:
  FusedAdam(std::vector<torch::Tensor> params, const FusedAdamOptions& options);

  /// Clears the gradients (undefined until the next backward).
  void ZeroGrad();
  void Step();
  /// The global L2 norm of the parameters' gradients (undefined ones count
  /// as 0), as torch::nn::utils::clip_grad_norm_ measures it: one pass per
  /// CPU float tensor, no LibTorch ops; otherwise GradNormTensor, read once.
  double GradNorm() const;
  /// The same norm as a 0-dim double tensor on the parameters' device,
  /// without a host synchronization (for graphed_update.h).
  torch::Tensor GradNormTensor() const;
  /// Step() computed on the device, for a captured CUDA graph: `t` (0-dim
  /// double tensor on the device) is this step's count (step_count() + 1),
  /// and the step is applied only where `apply` (0-dim bool tensor) is true:
  /// otherwise parameters and moments keep their values. Leaves
  /// step_count() alone: the caller sets it once it has read `apply`.
  void MaskedStep(const torch::Tensor& apply, const torch::Tensor& t);
  /// Sets the moments of these parameters (any of the optimizer's, matched
  /// by identity) to 0; the shared step count stays. Throws tokrl::Error for
  /// a tensor the optimizer does not hold.
  void ResetState(const std::vector<torch::Tensor>& params);

  int64_t step_count() const { return step_; }
  /// Packed runs copy a member's state in and out (agents/packed_agent.h).
  void set_step_count(int64_t step) { step_ = step; }
  /// Adam's first and second moments of parameter i (writable in place).
  const torch::Tensor& exp_avg(size_t i) const { return m_[i]; }
  const torch::Tensor& exp_avg_sq(size_t i) const { return v_[i]; }
  void Save(torch::serialize::OutputArchive& archive) const;
  // Throws tokrl::Error if the archive's state does not fit the parameters.
  void Load(torch::serialize::InputArchive& archive);

 private:
  // Whether every parameter has a gradient and the moments are flat.
  bool AllGradsFlat() const;
  // The parameters (or their defined gradients) flattened and concatenated,
  // in the order of the flat moments; undefined without any.
  torch::Tensor Flat(bool grads) const;

  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> m_, v_;  // views of m_flat_, v_flat_ if defined
  torch::Tensor m_flat_, v_flat_;
  FusedAdamOptions options_;
  int64_t step_ = 0;
};

}  // namespace tokrl

#endif  // TOKRL_AGENTS_FUSED_ADAM_H_
