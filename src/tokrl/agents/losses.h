// The maths of value-based agents as pure functions on tensors (Dopamine's
// target_q / project_distribution style): no modules, no state, each testable
// on its own. Shapes use B = batch, A = actions, K = atoms.
//
// A DQN update reads:
//   q       = SelectActions(online(obs), actions)                      [B]
//   targets = TdTargets(returns, discounts, target(next_obs),
//                       double_q ? online(next_obs) : torch::Tensor())  [B]
//   loss    = WeightedMean(weights, TdLoss(q, targets, LossType::kMse))
//
// A C51 / Rainbow update reads (nn::C51QValues, heads.h, is what the heads
// return as QOutput::q):
//   next_q      = nn::C51QValues(target_logits(next_obs), support)      [B,A]
//   next_a      = DoubleQActions(next_q, double_q ? nn::C51QValues(
//                     online_logits(next_obs), support) : torch::Tensor())
//   next_probs  = softmax(SelectActions(target_logits(next_obs), next_a))
//   target      = ProjectDistribution(next_probs, returns, discounts,
//                                     support)                          [B,K]
//   per_sample  = C51Loss(SelectActions(online_logits(obs), actions),
//                         target)                                       [B]
//   loss        = WeightedMean(weights, per_sample);  priorities = per_sample
//
// Targets are never differentiated: every function that builds a target
// (TdTargets, ProjectDistribution) runs under NoGradGuard, and the losses
// detach their target argument, so gradients flow only into the predictions.
// `returns` are n-step discounted reward sums and `discounts` the matching
// gamma^K (0 for terminated transitions), as produced by the replay buffer;
// a discount of 0 ignores the next-state values entirely.
#ifndef TOKRL_AGENTS_LOSSES_H_
#define TOKRL_AGENTS_LOSSES_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "tokrl/core/rng.h"

namespace tokrl {

enum class LossType {
  kMse,    // (target - q)^2 (no 1/2; Dopamine's mse_loss, its DQN default)
  kHuber,  // 0.5 x^2 if |x| <= delta else 0.5 delta^2 + delta (|x| - delta)
};

// Greedy action of each row of q [B, A]: int64 [B] (ties -> lowest index).
torch::Tensor GreedyActions(const torch::Tensor& q);
// GreedyActions(q) on the host (acting's actions), the same choices: for CPU
// floats one loop, without tensor ops.
std::vector<int64_t> HostGreedyActions(const torch::Tensor& q);

// The action chosen at s' for bootstrapping: argmax of next_q_online [B, A]
// when defined (double DQN, van Hasselt et al. 2016), otherwise argmax of
// next_q_target [B, A] (plain max). int64 [B].
torch::Tensor DoubleQActions(const torch::Tensor& next_q_target,
                             const torch::Tensor& next_q_online);

// Picks each row's entry for its action: values [B, A] -> [B], or
// values [B, A, K] -> [B, K] (per-action distributions). actions: integer
// [B] in [0, A).
torch::Tensor SelectActions(const torch::Tensor& values,
                            const torch::Tensor& actions);

// Bootstrapped TD targets [B], without gradient:
//   returns + discounts * next_q_target[b, a*],
//   a* = DoubleQActions(next_q_target, next_q_online).
// returns, discounts: [B]; next_q_target: [B, A]; next_q_online: [B, A] or
// undefined (torch::Tensor()) for no double Q. Result dtype: next_q_target's.
// On contiguous CPU floats with nn fast paths on: one loop, with the same
// bits as the tensor ops (argmax as ATen's: the first maximum, a NaN counts
// as the maximum).
torch::Tensor TdTargets(const torch::Tensor& returns,
                        const torch::Tensor& discounts,
                        const torch::Tensor& next_q_target,
                        const torch::Tensor& next_q_online = torch::Tensor());

// Per-sample TD loss [B] between q_selected [B] and targets [B] (targets are
// detached). The caller reduces (e.g. mean of importance-weighted losses) so
// that per-sample values can also serve as replay priorities.
// huber_delta > 0 is used by kHuber only. kMse on contiguous CPU floats
// with nn fast paths on is one autograd node with the tensor ops' bits.
torch::Tensor TdLoss(const torch::Tensor& q_selected,
                     const torch::Tensor& targets, LossType type,
                     double huber_delta = 1.0);

// The loss of a batch: (weights * per_sample).mean(-1), per_sample [..., B]
// (a packed update's [K, B]: K members' losses) -> [...], weights (replay's
// importance weights, no gradient) of the same shape. Differentiable in
// per_sample. On contiguous CPU floats with nn fast paths on: one autograd
// node whose gradient, (g / B) * weights, has the tensor form's bits; its
// value sums the products in order, so it may differ from ATen's mean (whose
// order depends on the CPU's vector width) in the last bits.
torch::Tensor WeightedMean(const torch::Tensor& weights,
                           const torch::Tensor& per_sample);

// C51 projection (Bellemare et al. 2017, Algorithm 1), vectorised and
// without gradient. next_probs [B, K]: the distribution of the action chosen
// at s' (rows sum to 1); returns, discounts: [B]; support [K >= 2]: evenly
// spaced atoms z_0 = v_min < ... < z_{K-1} = v_max (checked when it is on the
// CPU; elsewhere the check would synchronize with the host, so it is not).
// Each source atom i moves to Tz_i = clip(returns + discounts * z_i, v_min,
// v_max) and its probability is split between the two neighbouring atoms in
// proportion to closeness: target_j = sum_i clip(1 - |Tz_i - z_j| / dz, 0, 1)
// * next_probs_i, dz = (v_max - v_min) / (K - 1). This is the same as the
// floor/ceil form (l = floor(b), u = ceil(b), b = (Tz - v_min) / dz) but
// needs no special case when Tz lands exactly on an atom (b = l = u): all of
// p_i then goes to that atom (Dopamine's project_distribution). Mass beyond
// the support is clipped onto v_min / v_max. Rows of the result sum to 1 (up
// to rounding). Result [B, K] in next_probs' dtype. On the CPU with nn fast
// paths on, the floor/ceil form runs as a loop (O(B K), in double);
// elsewhere the clipped-weight form as tensor ops (O(B K^2)).
torch::Tensor ProjectDistribution(const torch::Tensor& next_probs,
                                  const torch::Tensor& returns,
                                  const torch::Tensor& discounts,
                                  const torch::Tensor& support);

// Per-sample cross-entropy [B] between target_probs [B, K] (detached) and
// softmax(logits [B, K]): -sum_j target_j log softmax(logits)_j. Computed
// with log_softmax for stability; on the CPU's fast path as one kernel
// (nn/routing_kernel.h: the same bits on every x86-64 CPU, within 1e-6 of
// ATen's ops).
torch::Tensor C51Loss(const torch::Tensor& logits,
                      const torch::Tensor& target_probs);

// Epsilon-greedy actions for q [N, A] (any device): int64 [N] on the CPU.
// Per row, in order: one rng.Uniform() draw; if it is < epsilon, one
// rng.UniformInt(A) draw gives the action, else the greedy action (lowest
// index on ties). Reproducible for equal Rng state.
torch::Tensor EpsilonGreedy(const torch::Tensor& q, double epsilon, Rng& rng);

// EpsilonGreedy's random draws alone, for n rows: the exploring action, or
// -1 where the greedy action is to be filled in. The same draws in the same
// order, so an agent can skip the network for rows that explore.
std::vector<int32_t> ExploreActions(int64_t n, int64_t num_actions,
                                    double epsilon, Rng& rng);

// Linear schedule with warmup, Dopamine's linearly_decaying_epsilon
// generalised to any start/end (decaying epsilon 1 -> 0.01, or increasing
// PER beta 0.4 -> 1):
//   value(step) = end + clip((start - end) * (duration + warmup - step)
//                            / duration, between 0 and start - end)
// i.e. `start` for step <= warmup, a straight line to `end` reached at
// step = warmup + duration, and `end` afterwards. With Dopamine's defaults
// warmup = min_replay_history (the agent acts with epsilon = start = 1 while
// the replay fills), duration = epsilon_decay_period, end = epsilon_train.
// duration <= 0 means a step: start before warmup, end from warmup on.
double LinearSchedule(double start, double end, int64_t duration, int64_t step,
                      int64_t warmup = 0);

}  // namespace tokrl

#endif  // TOKRL_AGENTS_LOSSES_H_
