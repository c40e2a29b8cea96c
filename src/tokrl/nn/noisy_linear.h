// NoisyLinear: a linear layer with factorised Gaussian parameter noise
// (NoisyNet, Fortunato et al. 2018, section 3.2), used by the Rainbow heads.
//
//   y = (mu_W + sigma_W * (f(eps_out) f(eps_in)^T)) x
//       + mu_b + sigma_b * f(eps_out)
//   f(e) = sign(e) sqrt(|e|),  eps_in ~ N(0, I_in),  eps_out ~ N(0, I_out)
//
// Invariants
//   * Init: mu ~ U(-1/sqrt(in), 1/sqrt(in)); sigma = sigma0 / sqrt(in).
//   * The noise is held in buffers (eps_in [in], eps_out [out]) and changes
//     only on reset_noise() (also called by reset()), so one forward pass and
//     its backward pass see the same noise. Agents call reset_noise() once per
//     update / acting step. The noise buffers are saved and cloned with the
//     module; a target network gets its own draw on its own reset_noise().
//   * Training mode uses the noise. Eval mode uses mu only when
//     deterministic_eval() is on (the default), otherwise the noise too.
//   * Noise is drawn from LibTorch's global generator (torch::manual_seed).
//
// Choices where the spec is open: sigma0 defaults to 0.5 (Fortunato's
// factorised setting); Dopamine's full Rainbow uses 0.1 (paper.md 3.3), set
// sigma0(0.1) for that.
#ifndef TOKRL_NN_NOISY_LINEAR_H_
#define TOKRL_NN_NOISY_LINEAR_H_

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <ostream>
#include <utility>
#include <vector>

namespace tokrl::nn {

/// f(eps) = sign(eps) sqrt(|eps|) of n standard normal draws.
at::Tensor FactorisedNoise(int64_t n, const at::TensorOptions& options);

/// Example: NoisyLinear(NoisyLinearOptions(512, 18).sigma0(0.1))
struct NoisyLinearOptions {
  NoisyLinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  /// Input size.
  TORCH_ARG(int64_t, in_features);
  /// Output size.
  TORCH_ARG(int64_t, out_features);
  /// sigma init is sigma0 / sqrt(in_features).
  TORCH_ARG(double, sigma0) = 0.5;
  /// In eval mode, use the mean weights only.
  TORCH_ARG(bool, deterministic_eval) = true;
};

class NoisyLinearImpl : public torch::nn::Cloneable<NoisyLinearImpl> {
 public:
  explicit NoisyLinearImpl(const NoisyLinearOptions& options);
  NoisyLinearImpl(int64_t in_features, int64_t out_features)
      : NoisyLinearImpl(NoisyLinearOptions(in_features, out_features)) {}
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// x [..., in] -> [..., out]: LinearForward with params().
  at::Tensor forward(const at::Tensor& x);
  /// The weight [out, in] and bias [out] that forward() applies now (mu
  /// alone when the noise is off), differentiable in mu and sigma; for
  /// callers that apply the layer otherwise (a head at the taken actions).
  std::pair<at::Tensor, at::Tensor> params();
  /// Draws new eps_in, eps_out.
  void reset_noise();
  /// Whether forward() currently applies the noise.
  bool noise_active() const {
    return is_training() || !options.deterministic_eval();
  }

  NoisyLinearOptions options;
  at::Tensor weight_mu, weight_sigma;  ///< [out, in]
  at::Tensor bias_mu, bias_sigma;      ///< [out]
  at::Tensor eps_in;                   ///< buffer [in]
  at::Tensor eps_out;                  ///< buffer [out]

 private:
  friend class NoisyParamsReuse;
  bool reuse_ = false;                  // inside a NoisyParamsReuse
  at::Tensor held_weight_, held_bias_;  // params() formed there, if any
};
TORCH_MODULE(NoisyLinear);

/// While it lives, each NoisyLinear in `module` (or `module` itself) forms
/// its noisy weight and bias once and params() returns them again:
/// as formed, or detached where grad mode is off. A call under grad mode
/// after one without forms them anew (the graph needs its node). For a step
/// that runs one network several times with the same parameters and noise
/// (DQN's loss under double Q: online(s), then online(s') for the greedy
/// actions); the caller must not change the parameters meanwhile.
/// reset_noise() drops a layer's held values. Not copyable.
class NoisyParamsReuse {
 public:
  explicit NoisyParamsReuse(torch::nn::Module& module);
  ~NoisyParamsReuse();
  NoisyParamsReuse(const NoisyParamsReuse&) = delete;
  NoisyParamsReuse& operator=(const NoisyParamsReuse&) = delete;

 private:
  std::vector<NoisyLinearImpl*> layers_;
};

}  // namespace tokrl::nn

#endif  // TOKRL_NN_NOISY_LINEAR_H_
