// Network statistics for the paper's analysis of expert use (DFT sections
// 4.4-4.5; paper.md 4.4, 4.5): dormant units, expert use and redundancy,
// feature rank and norms. Logged by the trainer every train.stats_every
// steps on a probe batch (see trainer.h), prefixed "stats/":
//
//   dormant/tau0          share of penultimate hidden units never active on
//                         the probe: Dopamine's definition (score of unit u
//                         s_u = mean |a_u| over the probe, normalised by the
//                         sum over the layer's units, dormant when <= 0)
//   dormant/redo_0.025    ReDo's (Sokar et al. 2023): s_u normalised by the
//   dormant/redo_0.1      mean over units, dormant when <= tau
//   feature_norm          mean L2 norm of z, the head input, over the probe
//   param_norm            L2 norm of all parameters
//   srank                 effective rank of z over the probe (Kumar et al.
//                         2021, delta 0.01)
//   q_mean, q_std         of Q over probe samples and actions
//   SoftMoE only (n experts):
//   expert_redundancy     mean over expert pairs and slots of the cosine
//                         similarity of two experts' outputs on the same slot
//                         input: 1 = the experts compute the same function
//   top_share/e<k>        share of tokens whose largest combine mass is on
//                         expert k (sums to 1)
//   expert_grad/e<k>      mean |gradient| of expert k's parameters, from the
//                         last backward (left out before it)
//
// "Penultimate hidden units": the dense layer's units (dense, gap), the
// per-token projection's units over all tokens (tokenized_avg/sum), each
// expert's hidden units over its slots (SoftMoE: n * H units). Top-k and
// expert-choice MoE heads get the generic keys only (their slot inputs
// depend on capacity; not measured yet).
//
// Everything runs under NoGradGuard and uses no randomness, so computing
// the statistics never changes training.
#ifndef TOKRL_NN_NETWORK_STATS_H_
#define TOKRL_NN_NETWORK_STATS_H_

#include <map>
#include <string>
#include <vector>

#include "tokrl/nn/q_network.h"

namespace tokrl::nn {

enum class DormantScore {
  kSumNormalised,   // Dopamine: s_u / sum_v s_v
  kMeanNormalised,  // ReDo: s_u / mean_v s_v
};

/// Share of units dormant in activations [N, U] (N probe rows, U units):
/// s_u = mean_n |a[n, u]|, normalised as `score`, dormant when <= tau. A
/// layer whose scores are all 0 is all dormant.
double DormantFraction(const at::Tensor& activations, double tau,
                       DormantScore score);

/// Effective rank of features [N, F]: the least k with sum_{i<=k} sigma_i
/// >= (1 - delta) sum_i sigma_i, sigma the singular values (Kumar et al.
/// 2021). 0 for all-zero features.
int64_t Srank(const at::Tensor& features, double delta = 0.01);

/// Mean pairwise cosine similarity between the experts' outputs [n, T, d]
/// on the same T inputs, over pairs and inputs; an output row of norm 0
/// counts as similarity 0. 1 for n = 1 (nothing to compare).
double ExpertRedundancy(const at::Tensor& outputs);

/// Share of tokens whose summed combine weight is largest on expert k, from
/// combine [B, m, n, p]; n entries summing to 1.
std::vector<double> TopExpertShare(const at::Tensor& combine);

/// The keys NetworkStats returns for this network, in a fixed order.
std::vector<std::string> NetworkStatNames(const QNetworkImpl& network);

/// The statistics on obs [B, C, H, W] (on the network's device).
std::map<std::string, double> NetworkStats(QNetworkImpl& network,
                                           const at::Tensor& obs);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_NETWORK_STATS_H_
