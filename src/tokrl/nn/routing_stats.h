// Routing diagnostics of a Q-network's SoftMoE or MoE layer: is the router
// learning, how sharp is the routing, which experts get the tokens. Logged
// by the trainer every train.log_every steps (see docs/softmoe_routing.md
// for how to read them).
//
// Keys (all prefixed "routing/"; n experts, m tokens, p slots per expert):
//   grad_abs_mean, grad_abs_mean/e<k>   mean |gradient| of Phi (SoftMoE) or
//                                       of the router W_g (MoE), overall and
//                                       per expert; from the last backward
//   grad_rms                            RMS of that gradient (compare with
//                                       Adam's eps: far below it, Adam
//                                       barely moves the router)
//   param_norm                          L2 norm of Phi / W_g
//   SoftMoE only:
//   dispatch_max        max over tokens of the dispatch weights, mean over
//                       slots (1/m = uniform, 1 = one token per slot)
//   dispatch_entropy    their entropy over tokens / log(m) (1 = uniform)
//   combine_max         max over slots of the combine weights, mean over
//                       tokens (1/(n p) = uniform)
//   combine_entropy     their entropy over the n p slots / log(n p)
//   MoE only:
//   prob_max, prob_entropy   the same for the router probabilities over the
//                            n experts (entropy / log(n))
//   mass/e<k>           mean share of the combine weights (SoftMoE) or of
//                       the router probabilities (MoE) of expert k; sums to 1
//   spatial_ratio       RMS deviation of the layer's output tokens from
//                       their mean over tokens, over the same for its input
//                       tokens: near 0, every position gets the same vector
//                       (flat routing acts like global average pooling)
// The probe is a batch of observations (the trainer passes its last
// training batch); the forward pass uses no randomness (MoE router noise
// is left out), so logging never changes training.
#ifndef TOKRL_NN_ROUTING_STATS_H_
#define TOKRL_NN_ROUTING_STATS_H_

#include <map>
#include <string>
#include <vector>

#include "tokrl/nn/q_network.h"

namespace tokrl::nn {

// The keys RoutingStats returns for this network, in a fixed order; empty
// when its penultimate layer is neither SoftMoE nor MoE.
std::vector<std::string> RoutingStatNames(const QNetworkImpl& network);

// The statistics on `obs` [B, C, H, W] (uint8 or float, on the network's
// device); the gradient keys are left out before the first backward.
std::map<std::string, double> RoutingStats(QNetworkImpl& network,
                                           const at::Tensor& obs);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_ROUTING_STATS_H_
