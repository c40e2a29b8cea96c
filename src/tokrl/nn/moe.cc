#include "tokrl/nn/moe.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/nn/enum_names.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/init.h"

namespace tokrl::nn {
namespace {

constexpr std::array<EnumName<MoERouting>, 3> kRoutingNames = {{
    {"token_choice", MoERouting::kTokenChoice},
    {"expert_choice", MoERouting::kExpertChoice},
    {"topk", MoERouting::kTokenChoice},
}};

constexpr std::array<EnumName<CapacityPriority>, 2> kPriorityNames = {{
    {"token_index", CapacityPriority::kTokenIndex},
    {"gate_value", CapacityPriority::kGateValue},
}};

constexpr std::array<EnumName<MoEAuxLoss>, 4> kAuxLossNames = {{
    {"none", MoEAuxLoss::kNone},
    {"importance", MoEAuxLoss::kImportance},
    {"load", MoEAuxLoss::kLoad},
    {"importance_load", MoEAuxLoss::kImportanceLoad},
}};

void CheckProbs(const at::Tensor& probs) {
  TOKRL_CHECK_EQ(probs.dim(), 3)
      << "expected router probabilities [B, m, n], got " << probs.sizes();
}

// Squared coefficient of variation (population std), as jnp.std.
at::Tensor SquaredCv(const at::Tensor& v) {
  return (v.std(/*unbiased=*/false) / v.mean()).pow(2);
}

}  // namespace

MoERouting ParseMoERouting(std::string_view name) {
  return ParseEnum<MoERouting>("routing", name, kRoutingNames);
}
std::string_view ToString(MoERouting routing) {
  return EnumToName<MoERouting>(routing, kRoutingNames);
}
CapacityPriority ParseCapacityPriority(std::string_view name) {
  return ParseEnum<CapacityPriority>("capacity priority", name, kPriorityNames);
}
std::string_view ToString(CapacityPriority priority) {
  return EnumToName<CapacityPriority>(priority, kPriorityNames);
}
MoEAuxLoss ParseMoEAuxLoss(std::string_view name) {
  return ParseEnum<MoEAuxLoss>("aux loss", name, kAuxLossNames);
}
std::string_view ToString(MoEAuxLoss loss) {
  return EnumToName<MoEAuxLoss>(loss, kAuxLossNames);
}

namespace {

// TokenChoiceRouting on the CPU from the top-k gates and experts [B, m, k]:
// each assignment's slot e * capacity + position found in one pass over
// the queues, then the two [B, m, n * capacity] tensors made by
// scatter_add (differentiable in the gates). Why: the one-hot form below
// builds and reduces [B, k, m, n, capacity] int64 and float tensors, ~1.3
// ms of a 4 ms Top1-MoE-4 DQN update on MinAtar (op trace).
MoERoutingWeights TokenChoiceSlots(const at::Tensor& gates,
                                   const at::Tensor& chosen, int64_t n,
                                   int64_t capacity,
                                   CapacityPriority priority) {
  const int64_t b = gates.size(0), m = gates.size(1), k = gates.size(2);
  const at::Tensor experts = chosen.contiguous();
  const at::Tensor values = gates.detach().contiguous();
  at::Tensor slots = at::empty({b, m, k}, experts.options());  // -1: dropped
  const int64_t* e = experts.data_ptr<int64_t>();
  const float* g = values.data_ptr<float>();
  int64_t* slot = slots.data_ptr<int64_t>();
  std::vector<int64_t> order(static_cast<size_t>(m));
  std::vector<int64_t> queued(static_cast<size_t>(n));
  for (int64_t s = 0; s < b; ++s) {
    std::fill(queued.begin(), queued.end(), 0);
    for (int64_t r = 0; r < k; ++r) {  // rank by rank, as the cumsum below
      std::iota(order.begin(), order.end(), 0);
      if (priority == CapacityPriority::kGateValue) {
        const float* gr = g + s * m * k + r;
        std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) {
          return gr[i * k] > gr[j * k];
        });
      }
      for (const int64_t i : order) {
        const int64_t at = (s * m + i) * k + r;
        const int64_t position = queued[static_cast<size_t>(e[at])]++;
        slot[at] = position < capacity ? e[at] * capacity + position : -1;
      }
    }
  }
  const at::Tensor kept = slots.ge(0).to(gates.scalar_type());
  const at::Tensor index = slots.clamp_min(0);
  const at::Tensor zeros = at::zeros({b, m, n * capacity}, gates.options());
  MoERoutingWeights out;
  out.dispatch = zeros.scatter_add(2, index, kept).view({b, m, n, capacity});
  out.combine =
      zeros.scatter_add(2, index, gates * kept).view({b, m, n, capacity});
  return out;
}

}  // namespace

MoERoutingWeights TokenChoiceRouting(const at::Tensor& probs, int64_t k,
                                     int64_t capacity,
                                     CapacityPriority priority) {
  CheckProbs(probs);
  const int64_t b = probs.size(0);
  const int64_t m = probs.size(1);
  const int64_t n = probs.size(2);
  TOKRL_CHECK(k >= 1 && k <= n)
      << "top-k with k=" << k << " of " << n << " experts";
  TOKRL_CHECK_GE(capacity, 1);
  // gates, experts: [B, m, k]; rank-major views [B, k, m].
  const auto [gates, chosen] = probs.topk(k, -1);
  if (FastPathApplies(probs)) {
    return TokenChoiceSlots(gates, chosen, n, capacity, priority);
  }
  const at::Tensor gates_r = gates.permute({0, 2, 1});
  const at::Tensor mask =
      torch::one_hot(chosen.permute({0, 2, 1}), n);  // [B, k, m, n] int64

  // Priority order within each rank: token index, or gate value (desc).
  at::Tensor pos;  // Position of each assignment in its expert's queue.
  if (priority == CapacityPriority::kTokenIndex) {
    pos = mask.reshape({b, k * m, n}).cumsum(1).view({b, k, m, n}) - 1;
  } else {
    const at::Tensor order =
        std::get<1>(gates_r.sort(/*stable=*/true, /*dim=*/2,
                                 /*descending=*/true))
            .unsqueeze(-1)
            .expand({b, k, m, n});
    const at::Tensor sorted = mask.gather(2, order);
    const at::Tensor sorted_pos =
        sorted.reshape({b, k * m, n}).cumsum(1).view({b, k, m, n}) - 1;
    pos = torch::empty_like(sorted_pos).scatter_(2, order, sorted_pos);
  }
  const at::Tensor keep = mask * (pos < capacity);  // [B, k, m, n] int64
  // One-hot slot of every kept assignment: [B, k, m, n, p].
  const at::Tensor slot =
      torch::one_hot(pos.clamp(0, capacity - 1), capacity) * keep.unsqueeze(-1);
  const at::Tensor slot_f = slot.to(probs.scalar_type());
  MoERoutingWeights out;
  out.dispatch = slot_f.sum(1);
  out.combine = (slot_f * gates_r.unsqueeze(-1).unsqueeze(-1)).sum(1);
  return out;
}

MoERoutingWeights ExpertChoiceRouting(const at::Tensor& probs,
                                      int64_t capacity) {
  CheckProbs(probs);
  const int64_t m = probs.size(1);
  TOKRL_CHECK(capacity >= 1 && capacity <= m)
      << "expert choice capacity " << capacity << " with " << m << " tokens";
  // Per expert, its top-capacity tokens: [B, n, p].
  const auto [gates, tokens] = probs.transpose(1, 2).topk(capacity, -1);
  MoERoutingWeights out;
  if (FastPathApplies(probs)) {
    // Each slot's token as a scatter into [B, m, n * p] (contiguous, where
    // the one-hot form below is a permuted view of [B, n, p, m]).
    const int64_t b = probs.size(0), n = probs.size(2);
    const at::Tensor index = tokens.reshape({b, 1, n * capacity});
    const at::Tensor zeros = at::zeros({b, m, n * capacity}, probs.options());
    out.dispatch = zeros.scatter(1, index, 1.0).view({b, m, n, capacity});
    out.combine =
        zeros.scatter(1, index, gates.reshape({b, 1, n * capacity}))
            .view({b, m, n, capacity});
    return out;
  }
  out.dispatch = torch::one_hot(tokens, m)
                     .to(probs.scalar_type())
                     .permute({0, 3, 1, 2});  // [B, m, n, p]
  out.combine = out.dispatch * gates.unsqueeze(1);
  return out;
}

at::Tensor ImportanceLoss(const at::Tensor& probs) {
  const at::Tensor importance = probs.reshape({-1, probs.size(-1)}).sum(0);
  return SquaredCv(importance);
}

at::Tensor LoadLoss(const at::Tensor& logits, int64_t k, double noise_std) {
  TOKRL_CHECK_GT(noise_std, 0.0);
  const at::Tensor flat = logits.reshape({-1, logits.size(-1)});  // [T, n]
  TOKRL_CHECK(k >= 1 && k <= flat.size(1));
  const at::Tensor noisy = flat + torch::randn_like(flat) * noise_std;
  // Threshold: the k-th largest noisy logit of each token.
  const at::Tensor threshold =
      std::get<0>(noisy.topk(k, -1)).select(-1, k - 1).unsqueeze(-1);
  // P[i, e] = 1 - Phi((T_i - R[i, e]) / sigma) = erfc(z / sqrt 2) / 2.
  const at::Tensor z = (threshold - flat) / noise_std;
  const at::Tensor p = 0.5 * torch::erfc(z / std::sqrt(2.0));
  return SquaredCv(p.mean(0));
}

// ---- MoEImpl ----------------------------------------------------------------

MoEImpl::MoEImpl(const MoEOptions& options_) : options(options_) { reset(); }

void MoEImpl::reset() {
  const int64_t d = options.token_dim();
  const int64_t n = options.num_experts();
  TOKRL_CHECK_GT(d, 0);
  TOKRL_CHECK_GT(n, 0);
  TOKRL_CHECK_GT(options.expert_hidden(), 0);
  TOKRL_CHECK_GT(options.expert_hidden_scale(), 0);
  TOKRL_CHECK_GT(options.capacity_factor(), 0.0);
  const bool expert_choice = options.routing() == MoERouting::kExpertChoice;
  if (expert_choice) {
    TOKRL_CHECK_EQ(options.k(), 1)
        << "k applies to token-choice routing only; expert choice uses "
           "capacity_factor as the average number of experts per token";
  } else {
    TOKRL_CHECK(options.k() >= 1 && options.k() <= n)
        << "top-k with k=" << options.k() << " of " << n << " experts";
  }
  if (options.capacity() > 0) {
    capacity_ = options.capacity();
  } else {
    const int64_t m = options.num_tokens();
    TOKRL_CHECK_GT(m, 0) << "MoE needs num_tokens or capacity";
    const double kk = expert_choice ? 1.0 : static_cast<double>(options.k());
    capacity_ = std::max<int64_t>(
        1, static_cast<int64_t>(std::ceil(kk * static_cast<double>(m) *
                                          options.capacity_factor() /
                                          static_cast<double>(n))));
    if (expert_choice) capacity_ = std::min(capacity_, m);
  }
  if (expert_choice && options.num_tokens() > 0) {
    TOKRL_CHECK_LE(capacity_, options.num_tokens())
        << "expert choice cannot pick more tokens than there are";
  }
  router = register_parameter("router", torch::empty({d, n}));
  LecunNormal_(router, d);
  {
    torch::NoGradGuard no_grad;
    router.mul_(options.router_init_scale());
  }
  experts = register_module("experts",
                            Experts(ExpertsOptions(n, d, expert_hidden())));
}

void MoEImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::MoE(d=" << options.token_dim()
         << ", experts=" << options.num_experts()
         << ", routing=" << ToString(options.routing());
  if (options.routing() == MoERouting::kTokenChoice) {
    stream << ", k=" << options.k();
  }
  stream << ", capacity=" << capacity_ << ", hidden=" << expert_hidden()
         << ", aux_loss=" << ToString(options.aux_loss()) << ")";
}

at::Tensor MoEImpl::router_logits(const at::Tensor& tokens) {
  TOKRL_CHECK(tokens.dim() == 3 && tokens.size(2) == options.token_dim())
      << "expected tokens [B, m, " << options.token_dim() << "], got "
      << tokens.sizes();
  // [B*m, d] @ [d, n] as one product: torch::matmul ran it as a bmm over
  // an expanded router, one GEMM per sample.
  const int64_t b = tokens.size(0), m = tokens.size(1);
  at::Tensor logits =
      tokens.reshape({b * m, tokens.size(2)}).mm(router).view({b, m, -1});
  if (is_training() && options.router_noise_std() > 0.0) {
    logits = logits + torch::randn_like(logits) *
                          (options.router_noise_std() /
                           static_cast<double>(options.num_experts()));
  }
  return logits;
}

MoERoutingWeights MoEImpl::route(const at::Tensor& probs) const {
  if (options.routing() == MoERouting::kExpertChoice) {
    return ExpertChoiceRouting(probs, capacity_);
  }
  return TokenChoiceRouting(probs, options.k(), capacity_, options.priority());
}

MoEOutput MoEImpl::forward(const at::Tensor& tokens) {
  const at::Tensor logits = router_logits(tokens);
  MoEOutput out;
  // Why: LibTorch 1.13's CPU softmax over a last dimension narrower than a
  // vector (4 experts) runs row by row: 225 us forward and 350 us with the
  // backward for [32, 100, 4], against 17 and 37 us for the same softmax
  // over a middle dimension (the transposed view, made contiguous).
  out.probs = FastPathApplies(logits)
                  ? torch::softmax(logits.transpose(1, 2), 1).transpose(1, 2)
                  : torch::softmax(logits, -1);
  const MoERoutingWeights r = route(out.probs);
  out.tokens = ApplyExperts(tokens, r.dispatch, r.combine, *experts);
  const double sigma =
      options.load_noise_std() / static_cast<double>(options.num_experts());
  switch (options.aux_loss()) {
    case MoEAuxLoss::kNone:
      break;
    case MoEAuxLoss::kImportance:
      out.aux_loss = options.importance_weight() * ImportanceLoss(out.probs);
      break;
    case MoEAuxLoss::kLoad:
      out.aux_loss =
          options.load_weight() * LoadLoss(logits, options.k(), sigma);
      break;
    case MoEAuxLoss::kImportanceLoad:
      out.aux_loss =
          options.importance_weight() * ImportanceLoss(out.probs) +
          options.load_weight() * LoadLoss(logits, options.k(), sigma);
      break;
  }
  return out;
}

}  // namespace tokrl::nn
