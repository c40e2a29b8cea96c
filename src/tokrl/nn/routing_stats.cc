#include "tokrl/nn/routing_stats.h"

#include <torch/torch.h>

#include <cmath>

#include "tokrl/nn/experts.h"

namespace tokrl::nn {
namespace {

std::string Expert(const std::string& key, int64_t e) {
  return key + "/e" + std::to_string(e);
}

// Entropy of `weights` (non-negative, summing to 1 over `dims`) over dims,
// divided by log(count): 1 for uniform weights.
double NormalizedEntropy(const at::Tensor& weights, at::IntArrayRef dims,
                         int64_t count) {
  if (count <= 1) return 0.0;
  const at::Tensor h =
      -(weights * torch::log(weights.clamp_min(1e-30))).sum(dims);
  return h.mean().item<double>() / std::log(static_cast<double>(count));
}

// RMS deviation of tokens [B, m, d] from their mean over tokens.
double SpatialDeviation(const at::Tensor& tokens) {
  return (tokens - tokens.mean(1, /*keepdim=*/true))
      .pow(2)
      .mean()
      .sqrt()
      .item<double>();
}

// Gradient statistics of the router weights; `expert_dim` indexes experts.
void GradStats(const at::Tensor& weights, int64_t expert_dim,
               std::map<std::string, double>& out) {
  out["routing/param_norm"] = weights.detach().norm().item<double>();
  const at::Tensor grad = weights.grad();
  if (!grad.defined()) return;
  const at::Tensor a = grad.abs();
  out["routing/grad_abs_mean"] = a.mean().item<double>();
  out["routing/grad_rms"] = grad.pow(2).mean().sqrt().item<double>();
  const at::Tensor per_expert = a.transpose(0, expert_dim)
                                    .reshape({a.size(expert_dim), -1})
                                    .mean(1)
                                    .cpu();
  for (int64_t e = 0; e < per_expert.size(0); ++e) {
    out[Expert("routing/grad_abs_mean", e)] = per_expert[e].item<double>();
  }
}

}  // namespace

std::vector<std::string> RoutingStatNames(const QNetworkImpl& network) {
  int64_t n = 0;
  std::vector<std::string> names = {"routing/grad_abs_mean", "routing/grad_rms",
                                    "routing/param_norm"};
  if (network.softmoe) {
    n = network.softmoe->options.num_experts();
    for (const char* k : {"dispatch_max", "dispatch_entropy", "combine_max",
                          "combine_entropy"}) {
      names.push_back(std::string("routing/") + k);
    }
  } else if (network.moe) {
    n = network.moe->options.num_experts();
    names.push_back("routing/prob_max");
    names.push_back("routing/prob_entropy");
  } else {
    return {};
  }
  names.push_back("routing/spatial_ratio");
  for (int64_t e = 0; e < n; ++e) {
    names.push_back(Expert("routing/grad_abs_mean", e));
  }
  for (int64_t e = 0; e < n; ++e) names.push_back(Expert("routing/mass", e));
  return names;
}

std::map<std::string, double> RoutingStats(QNetworkImpl& network,
                                           const at::Tensor& obs) {
  std::map<std::string, double> out;
  if (!network.softmoe && !network.moe) return out;
  torch::NoGradGuard no_grad;
  const at::Tensor tokens = network.tokenizer->forward(network.encode(obs));
  at::Tensor output, mass;
  if (network.softmoe) {
    SoftMoEImpl& layer = *network.softmoe;
    GradStats(layer.phi, 1, out);
    const SoftMoERouting r = layer.route(tokens);  // [B, m, n, p]
    const int64_t m = r.dispatch.size(1);
    const int64_t slots = r.combine.size(2) * r.combine.size(3);
    out["routing/dispatch_max"] = r.dispatch.amax(1).mean().item<double>();
    out["routing/dispatch_entropy"] = NormalizedEntropy(r.dispatch, {1}, m);
    out["routing/combine_max"] =
        r.combine.flatten(2).amax(2).mean().item<double>();
    out["routing/combine_entropy"] =
        NormalizedEntropy(r.combine.flatten(2), {2}, slots);
    mass = r.combine.sum(3).mean(at::IntArrayRef{0, 1});  // [n]
    // SoftMoEImpl::forward, with the routing computed above.
    output = ApplyExperts(tokens, r.dispatch, r.combine, *layer.experts);
  } else {
    MoEImpl& layer = *network.moe;
    GradStats(layer.router, 1, out);
    // Without the training-time router noise: no randomness drawn.
    const at::Tensor probs =
        torch::softmax(torch::matmul(tokens, layer.router), -1);  // [B, m, n]
    out["routing/prob_max"] = probs.amax(2).mean().item<double>();
    out["routing/prob_entropy"] = NormalizedEntropy(probs, {2}, probs.size(2));
    mass = probs.mean(at::IntArrayRef{0, 1});
    const MoERoutingWeights w = layer.route(probs);
    output = ApplyExperts(tokens, w.dispatch, w.combine, *layer.experts);
  }
  const double in = SpatialDeviation(tokens);
  out["routing/spatial_ratio"] = in > 0 ? SpatialDeviation(output) / in : 0.0;
  mass = mass.cpu();
  for (int64_t e = 0; e < mass.size(0); ++e) {
    out[Expert("routing/mass", e)] = mass[e].item<double>();
  }
  return out;
}

}  // namespace tokrl::nn
