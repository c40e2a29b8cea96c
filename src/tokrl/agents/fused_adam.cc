#include "tokrl/agents/fused_adam.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <string>

#include "tokrl/agents/fused_adam_kernel.h"
#include "tokrl/core/check.h"

namespace tokrl {
namespace {

// Elements per parallel task of the Adam pass: the flatten baseline's
// 1600 x 128 layer in a few tasks, a bias in one. Two threads: DQN flatten
// updates 0.59 -> 0.54 ms (docs/speed.md).
constexpr int64_t kAdamGrain = 1 << 15;

// "m3", "v3": archive keys of parameter 3's moments. (Built with append:
// GCC 12 misreports "literal" + std::string, bug 105329.)
std::string StateKey(char moment, size_t index) {
  std::string key(1, moment);
  key.append(std::to_string(index));
  return key;
}

}  // namespace

FusedAdam::FusedAdam(std::vector<torch::Tensor> params,
                     const FusedAdamOptions& options)
    : params_(std::move(params)), options_(options) {
  // The moments of all parameters live in one buffer each (when they share
  // dtype and device), so that MaskedStep runs a fixed number of operations
  // instead of ~16 per parameter: on a GPU each is a kernel of its own.
  bool uniform = !params_.empty();
  int64_t total = 0;
  for (const auto& p : params_) {
    uniform = uniform && p.options().dtype() == params_[0].options().dtype() &&
              p.device() == params_[0].device();
    total += p.numel();
  }
  if (uniform) {
    m_flat_ = torch::zeros({total}, params_[0].options());
    v_flat_ = torch::zeros({total}, params_[0].options());
  }
  int64_t offset = 0;
  for (const auto& p : params_) {
    if (uniform) {
      m_.push_back(m_flat_.narrow(0, offset, p.numel()).view(p.sizes()));
      v_.push_back(v_flat_.narrow(0, offset, p.numel()).view(p.sizes()));
      offset += p.numel();
    } else {
      m_.push_back(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
      v_.push_back(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
    }
  }
}

bool FusedAdam::AllGradsFlat() const {
  if (!m_flat_.defined()) return false;
  for (const auto& p : params_) {
    if (!p.grad().defined()) return false;
  }
  return true;
}

torch::Tensor FusedAdam::Flat(bool grads) const {
  std::vector<torch::Tensor> parts;
  parts.reserve(params_.size());
  for (const auto& p : params_) {
    const torch::Tensor& t = grads ? p.grad() : p;
    if (t.defined()) parts.push_back(t.reshape({-1}));
  }
  return parts.empty() ? torch::Tensor() : torch::cat(parts);
}

void FusedAdam::ZeroGrad() {
  // Dropped rather than zeroed: backward then hands its gradient buffer over
  // instead of adding it to zeros, a pass over every gradient saved (the
  // values are the same).
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
}

void FusedAdam::Step() {
  torch::NoGradGuard no_grad;
  ++step_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double bias1 = 1.0 - std::pow(b1, static_cast<double>(step_));
  const double bias2 = 1.0 - std::pow(b2, static_cast<double>(step_));
  const double step_size = options_.lr / bias1;
  const double inv_sqrt_bias2 = 1.0 / std::sqrt(bias2);
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i];
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    const bool fast = p.device().is_cpu() && p.scalar_type() == torch::kFloat &&
                      p.is_contiguous() && g.is_contiguous() &&
                      g.scalar_type() == torch::kFloat;
    if (fast) {
      float* pp = p.data_ptr<float>();
      const float* gp = g.data_ptr<float>();
      float* mp = m_[i].data_ptr<float>();
      float* vp = v_[i].data_ptr<float>();
      // Element-wise: the same bits however the threads split it.
      at::parallel_for(
          0, p.numel(), kAdamGrain, [&](int64_t begin, int64_t end) {
            internal::AdamKernel(pp + begin, gp + begin, mp + begin, vp + begin,
                                 end - begin, static_cast<float>(b1),
                                 static_cast<float>(b2),
                                 static_cast<float>(step_size),
                                 static_cast<float>(inv_sqrt_bias2),
                                 static_cast<float>(options_.eps));
          });
    } else {
      m_[i].mul_(b1).add_(g, 1.0 - b1);
      v_[i].mul_(b2).addcmul_(g, g, 1.0 - b2);
      const torch::Tensor denom =
          (v_[i].sqrt() * inv_sqrt_bias2).add_(options_.eps);
      p.addcdiv_(m_[i], denom, -step_size);
    }
  }
}

double FusedAdam::GradNorm() const {
  torch::NoGradGuard no_grad;
  double total = 0.0;
  for (const auto& p : params_) {
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (!g.device().is_cpu() || g.scalar_type() != torch::kFloat ||
        !g.is_contiguous()) {
      // CUDA (or double) gradients: tensor operations, one device read.
      return GradNormTensor().item<double>();
    }
    total += internal::SumOfSquares(g.data_ptr<float>(), g.numel());
  }
  return std::sqrt(total);
}

torch::Tensor FusedAdam::GradNormTensor() const {
  torch::NoGradGuard no_grad;
  const torch::Tensor g = Flat(/*grads=*/true);
  return g.defined() ? g.to(torch::kDouble).norm()
                     : torch::zeros(
                           {}, params_.front().options().dtype(torch::kDouble));
}

void FusedAdam::MaskedStep(const torch::Tensor& apply, const torch::Tensor& t) {
  torch::NoGradGuard no_grad;
  const double b1 = options_.beta1, b2 = options_.beta2;
  // Step()'s scalars, as device tensors of this step's count t.
  const torch::Tensor step_size =
      (options_.lr / (1.0 - torch::pow(b1, t))).to(torch::kFloat);
  const torch::Tensor inv_sqrt_bias2 =
      torch::rsqrt(1.0 - torch::pow(b2, t)).to(torch::kFloat);
  if (AllGradsFlat()) {
    // The same formula over every parameter at once (the buffers' views are
    // the per-parameter moments), then one copy back per parameter.
    const torch::Tensor g = Flat(/*grads=*/true), p = Flat(/*grads=*/false);
    const torch::Tensor m = m_flat_.mul(b1).add_(g, 1.0 - b1);
    const torch::Tensor v = v_flat_.mul(b2).addcmul_(g, g, 1.0 - b2);
    const torch::Tensor denom = (v.sqrt() * inv_sqrt_bias2).add_(options_.eps);
    const torch::Tensor stepped =
        torch::where(apply, p - m / denom * step_size, p);
    m_flat_.copy_(torch::where(apply, m, m_flat_));
    v_flat_.copy_(torch::where(apply, v, v_flat_));
    int64_t offset = 0;
    for (auto& param : params_) {
      param.copy_(stepped.narrow(0, offset, param.numel()).view_as(param));
      offset += param.numel();
    }
    return;
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i];
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    const torch::Tensor m = m_[i].mul(b1).add_(g, 1.0 - b1);
    const torch::Tensor v = v_[i].mul(b2).addcmul_(g, g, 1.0 - b2);
    const torch::Tensor denom = (v.sqrt() * inv_sqrt_bias2).add_(options_.eps);
    const torch::Tensor stepped = p - m / denom * step_size;
    m_[i].copy_(torch::where(apply, m, m_[i]));
    v_[i].copy_(torch::where(apply, v, v_[i]));
    p.copy_(torch::where(apply, stepped, p));
  }
}

void FusedAdam::ResetState(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  for (const auto& p : params) {
    size_t i = 0;
    while (i < params_.size() && !params_[i].is_same(p)) ++i;
    TOKRL_CHECK(i < params_.size())
        << "ResetState: a tensor this optimizer does not hold";
    m_[i].zero_();
    v_[i].zero_();
  }
}

void FusedAdam::Save(torch::serialize::OutputArchive& archive) const {
  archive.write("step", torch::tensor(step_));
  for (size_t i = 0; i < params_.size(); ++i) {
    archive.write(StateKey('m', i), m_[i], /*is_buffer=*/true);
    archive.write(StateKey('v', i), v_[i], /*is_buffer=*/true);
  }
}

void FusedAdam::Load(torch::serialize::InputArchive& archive) {
  torch::Tensor step;
  archive.read("step", step);
  std::vector<torch::Tensor> m(params_.size()), v(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    archive.read(StateKey('m', i), m[i], /*is_buffer=*/true);
    archive.read(StateKey('v', i), v[i], /*is_buffer=*/true);
    TOKRL_CHECK(m[i].sizes() == params_[i].sizes() &&
                v[i].sizes() == params_[i].sizes())
        << "saved optimizer state does not fit parameter " << i;
  }
  step_ = step.item<int64_t>();
  for (size_t i = 0; i < params_.size(); ++i) {  // in place: m_ may be views
    m_[i].copy_(m[i]);
    v_[i].copy_(v[i]);
  }
}

}  // namespace tokrl
