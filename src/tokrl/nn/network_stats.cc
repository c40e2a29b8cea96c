#include "tokrl/nn/network_stats.h"

#include <torch/torch.h>

#include <cmath>

#include "tokrl/core/check.h"

namespace tokrl::nn {
namespace {

constexpr double kSrankDelta = 0.01;

std::string Expert(const std::string& key, int64_t e) {
  return key + "/e" + std::to_string(e);
}

// The penultimate layer's hidden activations as [N, U] (see the header),
// undefined for MoE heads; `slots` [B, n, p, d]: SoftMoE's slot inputs.
at::Tensor HiddenUnits(QNetworkImpl& net, const at::Tensor& tokens,
                       const at::Tensor& slots) {
  if (net.dense) {
    return net.dense->forward(
        net.options.penultimate == Penultimate::kGap ? tokens.mean(1) : tokens);
  }
  if (net.tokenized) {
    return torch::relu(net.tokenized->dense->forward(tokens))
        .reshape({-1, net.tokenized->out_features()});
  }
  if (net.softmoe) {
    // Grouped by expert [n, B*p, d] -> hidden [n, B*p, H] -> rows: slots,
    // units: n * H (as ApplyExperts groups them).
    const at::Tensor hidden = net.softmoe->experts->hidden(
        slots.permute({1, 0, 2, 3})
            .reshape({slots.size(1), -1, slots.size(3)}));
    return hidden.permute({1, 0, 2}).reshape({hidden.size(1), -1});
  }
  return {};
}

}  // namespace

double DormantFraction(const at::Tensor& activations, double tau,
                       DormantScore score) {
  TOKRL_CHECK(activations.dim() == 2 && activations.numel() > 0)
      << "activations must be [N, U], got " << activations.sizes();
  const at::Tensor s = activations.detach().abs().to(torch::kDouble).mean(0);
  const double total = s.sum().item<double>();
  if (total == 0.0) return 1.0;
  const double norm =
      score == DormantScore::kSumNormalised ? total : total / s.size(0);
  return (s / norm <= tau).to(torch::kDouble).mean().item<double>();
}

int64_t Srank(const at::Tensor& features, double delta) {
  TOKRL_CHECK(features.dim() == 2) << "features must be [N, F]";
  const at::Tensor sigma =
      torch::linalg_svdvals(features.detach().to(torch::kDouble).cpu());
  const double total = sigma.sum().item<double>();
  if (total == 0.0) return 0;
  const at::Tensor cumulative = sigma.cumsum(0) / total;
  // The first k (1-based) whose cumulative share reaches 1 - delta.
  return (cumulative < 1.0 - delta - 1e-12).sum().item<int64_t>() + 1;
}

double ExpertRedundancy(const at::Tensor& outputs) {
  TOKRL_CHECK(outputs.dim() == 3) << "outputs must be [n, T, d]";
  const int64_t n = outputs.size(0);
  if (n < 2) return 1.0;
  const at::Tensor o = outputs.detach().to(torch::kDouble);
  const at::Tensor norm = o.norm(2, {-1}, /*keepdim=*/true);
  const at::Tensor unit =
      torch::where(norm > 0, o / norm, torch::zeros_like(o));
  // [T, n, d] @ [T, d, n] -> pairwise cosines [T, n, n].
  const at::Tensor u = unit.transpose(0, 1);
  const at::Tensor cos = torch::bmm(u, u.transpose(1, 2));
  const double off_diagonal =
      cos.sum().item<double>() - cos.diagonal(0, 1, 2).sum().item<double>();
  return off_diagonal / static_cast<double>(u.size(0) * n * (n - 1));
}

std::vector<double> TopExpertShare(const at::Tensor& combine) {
  TOKRL_CHECK(combine.dim() == 4) << "combine must be [B, m, n, p]";
  const int64_t n = combine.size(2);
  const at::Tensor top = combine.detach().sum(3).argmax(2).flatten();
  const at::Tensor counts =
      torch::bincount(top.cpu(), /*weights=*/{}, n).to(torch::kDouble) /
      static_cast<double>(top.numel());
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t e = 0; e < n; ++e) out[e] = counts[e].item<double>();
  return out;
}

std::vector<std::string> NetworkStatNames(const QNetworkImpl& network) {
  std::vector<std::string> names;
  if (!network.moe) {
    names = {"stats/dormant/tau0", "stats/dormant/redo_0.025",
             "stats/dormant/redo_0.1"};
  }
  for (const char* k : {"stats/feature_norm", "stats/param_norm", "stats/srank",
                        "stats/q_mean", "stats/q_std"}) {
    names.push_back(k);
  }
  if (network.softmoe) {
    names.push_back("stats/expert_redundancy");
    const int64_t n = network.softmoe->options.num_experts();
    for (const char* k : {"stats/top_share", "stats/expert_grad"}) {
      for (int64_t e = 0; e < n; ++e) names.push_back(Expert(k, e));
    }
  }
  return names;
}

std::map<std::string, double> NetworkStats(QNetworkImpl& net,
                                           const at::Tensor& obs) {
  torch::NoGradGuard no_grad;
  std::map<std::string, double> out;
  const at::Tensor tokens = net.tokenizer->forward(net.encode(obs));
  SoftMoERouting routing;
  at::Tensor slots;  // [B, n, p, d]
  if (net.softmoe) {
    routing = net.softmoe->route(tokens);
    slots = DispatchTokens(tokens, routing.dispatch);
  }
  if (const at::Tensor hidden = HiddenUnits(net, tokens, slots);
      hidden.defined()) {
    out["stats/dormant/tau0"] =
        DormantFraction(hidden, 0.0, DormantScore::kSumNormalised);
    out["stats/dormant/redo_0.025"] =
        DormantFraction(hidden, 0.025, DormantScore::kMeanNormalised);
    out["stats/dormant/redo_0.1"] =
        DormantFraction(hidden, 0.1, DormantScore::kMeanNormalised);
  }
  const at::Tensor z = net.head_input(obs);
  out["stats/feature_norm"] = z.norm(2, {1}).mean().item<double>();
  double squares = 0.0;
  for (const auto& p : net.parameters()) {
    squares += p.detach().to(torch::kDouble).square().sum().item<double>();
  }
  out["stats/param_norm"] = std::sqrt(squares);
  out["stats/srank"] = static_cast<double>(Srank(z, kSrankDelta));
  const at::Tensor q = net.head->forward(z).q.to(torch::kDouble);
  out["stats/q_mean"] = q.mean().item<double>();
  out["stats/q_std"] = q.numel() > 1 ? q.std().item<double>() : 0.0;
  if (net.softmoe) {
    ExpertsImpl& experts = *net.softmoe->experts;
    // Every expert on every slot input: [n, B*n*p, d] -> outputs.
    const int64_t n = slots.size(1);
    const at::Tensor all = slots.reshape({1, -1, slots.size(3)});
    out["stats/expert_redundancy"] =
        ExpertRedundancy(experts.forward(all.expand({n, -1, -1})));
    const std::vector<double> share = TopExpertShare(routing.combine);
    for (int64_t e = 0; e < n; ++e) {
      out[Expert("stats/top_share", e)] = share[static_cast<size_t>(e)];
    }
    if (experts.w1.grad().defined()) {
      for (int64_t e = 0; e < n; ++e) {
        double sum = 0.0;
        int64_t count = 0;
        for (const at::Tensor& p :
             {experts.w1, experts.b1, experts.w2, experts.b2}) {
          const at::Tensor g = p.grad()[e];
          sum += g.abs().sum().item<double>();
          count += g.numel();
        }
        out[Expert("stats/expert_grad", e)] = sum / static_cast<double>(count);
      }
    }
  }
  return out;
}

}  // namespace tokrl::nn
