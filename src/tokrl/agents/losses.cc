#include "tokrl/agents/losses.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "tokrl/core/check.h"
#include "tokrl/nn/apply_fn.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/routing_kernel.h"

namespace tokrl {

namespace {

std::string Shape(const torch::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

void CheckBatchVector(const torch::Tensor& t, int64_t batch, const char* name) {
  TOKRL_CHECK(t.defined() && t.dim() == 1 && t.size(0) == batch)
      << name << " must have shape [" << batch << "], got " << Shape(t);
}

// ProjectDistribution's floor/ceil form as a loop over (row, source atom),
// in double, for a support zp[0..K) spaced dz. Why: the clipped-weight form
// builds a [B, K, K] tensor in about ten ATen ops, ~0.1 ms for a batch of 32
// with 51 atoms (5% of a flatten Rainbow-lite update); this is a few us.
torch::Tensor ProjectOnTheHost(const torch::Tensor& next_probs,
                               const torch::Tensor& returns,
                               const torch::Tensor& discounts, const double* zp,
                               double dz) {
  const int64_t b = next_probs.size(0), k = next_probs.size(1);
  const auto host = [](const torch::Tensor& t) {
    return t.to(torch::kCPU, torch::kDouble).contiguous();
  };
  const torch::Tensor p = host(next_probs), r = host(returns),
                      d = host(discounts);
  torch::Tensor out = torch::zeros({b, k}, p.options());
  const double *pp = p.data_ptr<double>(), *rp = r.data_ptr<double>(),
               *dp = d.data_ptr<double>();
  double* mp = out.data_ptr<double>();
  const double v_min = zp[0], v_max = zp[k - 1];
  for (int64_t row = 0; row < b; ++row) {
    double* m = mp + row * k;
    for (int64_t i = 0; i < k; ++i) {
      const double tz = std::clamp(rp[row] + dp[row] * zp[i], v_min, v_max);
      if (std::isnan(tz)) {  // a NaN return or discount: a NaN row, as ATen's
        std::fill(m, m + k, std::numeric_limits<double>::quiet_NaN());
        break;
      }
      const double pos = (tz - v_min) / dz;
      const auto l =
          std::clamp<int64_t>(static_cast<int64_t>(std::floor(pos)), 0, k - 1);
      const auto u =
          std::clamp<int64_t>(static_cast<int64_t>(std::ceil(pos)), 0, k - 1);
      const double prob = pp[row * k + i];
      if (l == u) {
        m[l] += prob;  // on an atom (or beyond the ends): all of it
      } else {
        m[l] += prob * (static_cast<double>(u) - pos);
        m[u] += prob * (pos - static_cast<double>(l));
      }
    }
  }
  return out;
}

void CheckDoubleQ(const torch::Tensor& next_q_target,
                  const torch::Tensor& next_q_online) {
  TOKRL_CHECK(!next_q_online.defined() ||
              next_q_target.sizes() == next_q_online.sizes())
      << "DoubleQActions: next_q_target " << Shape(next_q_target)
      << " and next_q_online " << Shape(next_q_online) << " differ";
}

// Whether the loops below take t: a float CPU tensor (or undefined, for an
// optional one) under the fast paths.
bool HostFloat(const torch::Tensor& t) {
  return !t.defined() || (nn::FastPathApplies(t) && t.is_contiguous());
}

// The index of row [0, a)'s first maximum, a NaN counting as the maximum:
// ATen's argmax.
int64_t ArgmaxOfRow(const float* row, int64_t a) {
  int64_t best = 0;
  for (int64_t j = 1; j < a && !std::isnan(row[best]); ++j) {
    if (row[j] > row[best] || std::isnan(row[j])) best = j;
  }
  return best;
}

// TdTargets as one loop: ~10 ATen ops (argmax, gather, where, ...) on a
// batch of 32, which with MseTdLossFn's three saved ~14 us of a ~0.8 ms DQN
// update. The same float operations in the same order as the tensor form,
// so the same bits; argmax as ATen's (first maximum, a NaN counting as the
// maximum).
torch::Tensor TdTargetsOnTheHost(const torch::Tensor& returns,
                                 const torch::Tensor& discounts,
                                 const torch::Tensor& next_q_target,
                                 const torch::Tensor& next_q_online) {
  const int64_t b = next_q_target.size(0), a = next_q_target.size(1);
  torch::Tensor out = torch::empty({b}, next_q_target.options());
  const float* target = next_q_target.data_ptr<float>();
  const float* chooser =
      next_q_online.defined() ? next_q_online.data_ptr<float>() : target;
  const float *r = returns.data_ptr<float>(), *d = discounts.data_ptr<float>();
  float* y = out.data_ptr<float>();
  for (int64_t i = 0; i < b; ++i) {
    const int64_t best = ArgmaxOfRow(chooser + i * a, a);
    y[i] = r[i] + (d[i] == 0.0f ? 0.0f : d[i] * target[i * a + best]);
  }
  return out;
}

// TdLoss's kMse as one autograd node: per_sample = (t - q)^2 and dq =
// -(g * (2 (t - q))), the float operations of ATen's sub, square and their
// backward (PowBackward0, SubBackward0) in the same order: the same bits,
// three ops and two autograd nodes fewer.
struct MseTdLossFn : torch::autograd::Function<MseTdLossFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& q,
                               const torch::Tensor& targets) {
    const int64_t b = q.size(0);
    torch::Tensor diff = torch::empty({b}, q.options());
    torch::Tensor out = torch::empty({b}, q.options());
    const float *qp = q.data_ptr<float>(), *tp = targets.data_ptr<float>();
    float *dp = diff.data_ptr<float>(), *op = out.data_ptr<float>();
    for (int64_t i = 0; i < b; ++i) {
      dp[i] = tp[i] - qp[i];
      op[i] = dp[i] * dp[i];
    }
    ctx->save_for_backward({diff});
    return out;
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const torch::Tensor diff = ctx->get_saved_variables()[0];
    const torch::Tensor g = grads[0].contiguous();
    torch::Tensor dq = torch::empty_like(diff);
    const float *dp = diff.data_ptr<float>(), *gp = g.data_ptr<float>();
    float* out = dq.data_ptr<float>();
    for (int64_t i = 0; i < diff.size(0); ++i) {
      out[i] = -(gp[i] * (2.0f * dp[i]));
    }
    return {dq, torch::Tensor()};
  }
};

// WeightedMean as one autograd node: as tensor ops it was a mul and a mean
// forward (ATen's mean alone is a sum, a division and dtype conversions) and
// MulBackward0 and MeanBackward0 backward, ~20 us of a ~1 ms DQN flatten
// update in an op trace. The gradient is MeanBackward0's g / B times the
// weight, MulBackward0's product: the same bits.
struct WeightedMeanFn : torch::autograd::Function<WeightedMeanFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& weights,
                               const torch::Tensor& per_sample) {
    const int64_t b = per_sample.size(-1), rows = per_sample.numel() / b;
    std::vector<int64_t> sizes = per_sample.sizes().vec();
    sizes.pop_back();
    torch::Tensor out = torch::empty(sizes, per_sample.options());
    const float *wp = weights.data_ptr<float>(),
                *lp = per_sample.data_ptr<float>();
    float* op = out.data_ptr<float>();
    for (int64_t r = 0; r < rows; ++r) {
      float sum = 0.0f;
      for (int64_t i = 0; i < b; ++i) sum += wp[r * b + i] * lp[r * b + i];
      op[r] = sum / static_cast<float>(b);
    }
    ctx->save_for_backward({weights});
    return out;
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const torch::Tensor weights = ctx->get_saved_variables()[0];
    const torch::Tensor g = grads[0].contiguous();
    const int64_t b = weights.size(-1), rows = weights.numel() / b;
    torch::Tensor dl = torch::empty_like(weights);
    const float *wp = weights.data_ptr<float>(), *gp = g.data_ptr<float>();
    float* dp = dl.data_ptr<float>();
    for (int64_t r = 0; r < rows; ++r) {
      const float each = gp[r] / static_cast<float>(b);
      for (int64_t i = 0; i < b; ++i) dp[r * b + i] = each * wp[r * b + i];
    }
    return {torch::Tensor(), dl};
  }
};

}  // namespace

torch::Tensor WeightedMean(const torch::Tensor& weights,
                           const torch::Tensor& per_sample) {
  TOKRL_CHECK(per_sample.defined() && per_sample.dim() >= 1 &&
              per_sample.size(-1) > 0 && weights.defined() &&
              weights.sizes() == per_sample.sizes())
      << "WeightedMean: weights " << Shape(weights) << " and per_sample "
      << Shape(per_sample) << " must have one shape [..., B], B > 0";
  if (HostFloat(weights) && HostFloat(per_sample)) {
    return nn::ApplyFn<WeightedMeanFn>(weights.detach(), per_sample);
  }
  return (weights.detach().to(per_sample.options()) * per_sample).mean(-1);
}

torch::Tensor GreedyActions(const torch::Tensor& q) {
  TOKRL_CHECK(q.defined() && q.dim() == 2)
      << "GreedyActions: q must be [B, A], got " << Shape(q);
  // torch::argmax returns the first maximal index on CPU and CUDA.
  return q.argmax(/*dim=*/1);
}

std::vector<int64_t> HostGreedyActions(const torch::Tensor& q) {
  TOKRL_CHECK(q.defined() && q.dim() == 2)
      << "HostGreedyActions: q must be [B, A], got " << Shape(q);
  if (!HostFloat(q)) {
    const torch::Tensor g = GreedyActions(q).to(torch::kCPU).contiguous();
    return {g.data_ptr<int64_t>(), g.data_ptr<int64_t>() + g.numel()};
  }
  // Why a loop: argmax, the copy to the host and contiguous were three ops
  // (~1.5 us) of every greedy acting step.
  const int64_t b = q.size(0), a = q.size(1);
  std::vector<int64_t> out(static_cast<size_t>(b));
  const float* p = q.data_ptr<float>();
  for (int64_t i = 0; i < b; ++i) {
    out[static_cast<size_t>(i)] = ArgmaxOfRow(p + i * a, a);
  }
  return out;
}

torch::Tensor DoubleQActions(const torch::Tensor& next_q_target,
                             const torch::Tensor& next_q_online) {
  CheckDoubleQ(next_q_target, next_q_online);
  return GreedyActions(next_q_online.defined() ? next_q_online : next_q_target);
}

torch::Tensor SelectActions(const torch::Tensor& values,
                            const torch::Tensor& actions) {
  TOKRL_CHECK(values.defined() && (values.dim() == 2 || values.dim() == 3))
      << "SelectActions: values must be [B, A] or [B, A, K], got "
      << Shape(values);
  CheckBatchVector(actions, values.size(0), "SelectActions: actions");
  const torch::Tensor a = actions.to(values.device(), torch::kInt64);
  if (values.dim() == 2) return values.gather(1, a.unsqueeze(1)).squeeze(1);
  const int64_t k = values.size(2);
  return values.gather(1, a.view({-1, 1, 1}).expand({-1, 1, k})).squeeze(1);
}

torch::Tensor TdTargets(const torch::Tensor& returns,
                        const torch::Tensor& discounts,
                        const torch::Tensor& next_q_target,
                        const torch::Tensor& next_q_online) {
  TOKRL_CHECK(next_q_target.defined() && next_q_target.dim() == 2)
      << "TdTargets: next_q_target must be [B, A], got "
      << Shape(next_q_target);
  const int64_t b = next_q_target.size(0);
  CheckBatchVector(returns, b, "TdTargets: returns");
  CheckBatchVector(discounts, b, "TdTargets: discounts");
  torch::NoGradGuard no_grad;
  if (b > 0 && next_q_target.size(1) > 0 && HostFloat(next_q_target) &&
      HostFloat(next_q_online) && HostFloat(returns) && HostFloat(discounts)) {
    CheckDoubleQ(next_q_target, next_q_online);  // DoubleQActions' check
    return TdTargetsOnTheHost(returns, discounts, next_q_target, next_q_online);
  }
  const torch::Tensor next_a = DoubleQActions(next_q_target, next_q_online);
  const torch::Tensor next_v =
      next_q_target.gather(1, next_a.unsqueeze(1)).squeeze(1);
  const auto options = next_q_target.options();
  // A discount of exactly 0 must ignore next_v even if it is inf/nan (e.g. a
  // diverged target net on a terminal state): mask instead of multiplying.
  const torch::Tensor d = discounts.to(options);
  return returns.to(options) +
         torch::where(d == 0, torch::zeros_like(next_v), d * next_v);
}

torch::Tensor TdLoss(const torch::Tensor& q_selected,
                     const torch::Tensor& targets, LossType type,
                     double huber_delta) {
  TOKRL_CHECK(q_selected.defined() && q_selected.dim() == 1)
      << "TdLoss: q_selected must be [B], got " << Shape(q_selected);
  CheckBatchVector(targets, q_selected.size(0), "TdLoss: targets");
  if (type == LossType::kMse && HostFloat(q_selected) && HostFloat(targets)) {
    return nn::ApplyFn<MseTdLossFn>(q_selected, targets.detach());
  }
  const torch::Tensor diff =
      targets.detach().to(q_selected.options()) - q_selected;
  switch (type) {
    case LossType::kMse:
      return diff.square();
    case LossType::kHuber: {
      TOKRL_CHECK_GT(huber_delta, 0.0) << "TdLoss: huber delta";
      const torch::Tensor x = diff.abs();
      return torch::where(
          x <= huber_delta, 0.5 * x.square(),
          0.5 * huber_delta * huber_delta + huber_delta * (x - huber_delta));
    }
  }
  TOKRL_FAIL() << "TdLoss: unknown loss type";
  return {};
}

torch::Tensor ProjectDistribution(const torch::Tensor& next_probs,
                                  const torch::Tensor& returns,
                                  const torch::Tensor& discounts,
                                  const torch::Tensor& support) {
  TOKRL_CHECK(next_probs.defined() && next_probs.dim() == 2)
      << "ProjectDistribution: next_probs must be [B, K], got "
      << Shape(next_probs);
  const int64_t b = next_probs.size(0), k = next_probs.size(1);
  TOKRL_CHECK(support.defined() && support.dim() == 1 && support.size(0) == k &&
              k >= 2)
      << "ProjectDistribution: support must be [" << k
      << "] with at least 2 atoms, got " << Shape(support);
  CheckBatchVector(returns, b, "ProjectDistribution: returns");
  CheckBatchVector(discounts, b, "ProjectDistribution: discounts");
  torch::NoGradGuard no_grad;
  const auto options = next_probs.options();
  const torch::Tensor z = support.to(options);
  if (z.device().is_cpu()) {
    // Elsewhere these reads would synchronize with the host (and cannot
    // happen inside a CUDA graph); AgentSupport builds it (nn::C51Support).
    const torch::Tensor zd = z.to(torch::kDouble).contiguous();
    const double* zp = zd.data_ptr<double>();
    const double v_min = zp[0], v_max = zp[k - 1];
    const double dz = (v_max - v_min) / static_cast<double>(k - 1);
    TOKRL_CHECK_GT(dz, 0.0) << "ProjectDistribution: support must increase";
    double worst = 0.0;
    for (int64_t j = 1; j < k; ++j) {
      worst = std::max(worst, std::abs(zp[j] - zp[j - 1] - dz));
    }
    TOKRL_CHECK(worst <= 1e-4 * dz)
        << "ProjectDistribution: support must be evenly spaced";
    if (nn::FastPathsEnabled()) {
      return ProjectOnTheHost(next_probs, returns, discounts, zp, dz)
          .to(options.dtype());
    }
  }
  // The spacing and ends as tensors, so nothing is read back.
  const torch::Tensor dz = (z[k - 1] - z[0]) / static_cast<double>(k - 1);
  // Tz[b, i]: where source atom i lands.
  const torch::Tensor tz = (returns.to(options).unsqueeze(1) +
                            discounts.to(options).unsqueeze(1) * z.unsqueeze(0))
                               .clamp(z[0], z[k - 1]);
  // weight[b, j, i] = clip(1 - |Tz[b, i] - z[j]| / dz, 0, 1): the share of
  // source atom i given to target atom j. For Tz between z[l] and z[l+1]
  // the two shares are (z[l+1] - Tz)/dz and (Tz - z[l])/dz and sum to 1; on
  // an atom the whole mass stays there.
  const torch::Tensor weight =
      (1.0 - (tz.unsqueeze(1) - z.view({1, k, 1})).abs() / dz).clamp(0.0, 1.0);
  return (weight * next_probs.unsqueeze(1)).sum(-1);
}

namespace {

// C51Loss as one kernel (AtomCrossEntropy) with its backward: ATen's
// log_softmax, product, sum and negation and their backward were ~10
// LibTorch ops, and their bits depend on ATen's CPU kernel (AVX2, AVX-512).
struct AtomCrossEntropyFn : torch::autograd::Function<AtomCrossEntropyFn> {
  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const torch::Tensor& logits,
      const torch::Tensor& target_probs) {
    const torch::Tensor x = logits.contiguous();
    const torch::Tensor t = target_probs.contiguous();
    const int64_t b = x.size(0), k = x.size(1);
    torch::Tensor p = torch::empty_like(x);
    torch::Tensor loss = torch::empty({b}, x.options());
    internal::AtomCrossEntropy(x.data_ptr<float>(), t.data_ptr<float>(), b, k,
                               p.data_ptr<float>(), loss.data_ptr<float>());
    ctx->save_for_backward({p, t});
    return {loss};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& p = saved[0];
    const torch::Tensor g = grads[0].contiguous();
    const int64_t b = p.size(0), k = p.size(1);
    torch::Tensor grad = torch::empty_like(p);
    internal::AtomCrossEntropyBackward(
        p.data_ptr<float>(), saved[1].data_ptr<float>(), g.data_ptr<float>(), b,
        k, grad.data_ptr<float>());
    return {grad, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor C51Loss(const torch::Tensor& logits,
                      const torch::Tensor& target_probs) {
  TOKRL_CHECK(logits.defined() && logits.dim() == 2)
      << "C51Loss: logits must be [B, K], got " << Shape(logits);
  TOKRL_CHECK(target_probs.defined() && target_probs.sizes() == logits.sizes())
      << "C51Loss: target_probs must be " << Shape(logits) << ", got "
      << Shape(target_probs);
  if (nn::FastPathApplies(logits) && logits.numel() > 0) {
    return nn::ApplyFn<AtomCrossEntropyFn>(
        logits, target_probs.detach().to(logits.options()))[0];
  }
  return -(target_probs.detach().to(logits.options()) *
           torch::log_softmax(logits, -1))
              .sum(-1);
}

torch::Tensor EpsilonGreedy(const torch::Tensor& q, double epsilon, Rng& rng) {
  TOKRL_CHECK(q.defined() && q.dim() == 2 && q.size(1) >= 1)
      << "EpsilonGreedy: q must be [N, A], got " << Shape(q);
  torch::Tensor actions =
      GreedyActions(q.detach()).to(torch::kCPU).contiguous().clone();
  auto* out = actions.data_ptr<int64_t>();
  const std::vector<int32_t> explore =
      ExploreActions(q.size(0), q.size(1), epsilon, rng);
  for (size_t i = 0; i < explore.size(); ++i) {
    if (explore[i] >= 0) out[i] = explore[i];
  }
  return actions;
}

std::vector<int32_t> ExploreActions(int64_t n, int64_t num_actions,
                                    double epsilon, Rng& rng) {
  TOKRL_CHECK(n >= 0 && num_actions >= 1);
  std::vector<int32_t> actions(static_cast<size_t>(n), -1);
  for (auto& a : actions) {
    if (rng.Uniform() < epsilon) {
      a = static_cast<int32_t>(
          rng.UniformInt(static_cast<uint32_t>(num_actions)));
    }
  }
  return actions;
}

double LinearSchedule(double start, double end, int64_t duration, int64_t step,
                      int64_t warmup) {
  if (duration <= 0) return step < warmup ? start : end;
  const double steps_left = static_cast<double>(duration + warmup - step);
  const double bonus =
      (start - end) * steps_left / static_cast<double>(duration);
  const double span = start - end;
  return end + std::clamp(bonus, std::min(0.0, span), std::max(0.0, span));
}

}  // namespace tokrl
