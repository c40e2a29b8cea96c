// DqnAgent: the value-based agent of tokrl. One class covers DQN, Rainbow-lite
// and full Rainbow / DER, which differ only in options (style.md 8.1.7: DER
// is a preset, not a new agent):
//
//   agent            distributional  n_step  replay       extras
//   DQN              no (scalar Q)   1       uniform      loss mse|huber
//   Rainbow-lite     C51             3       prioritized  (Dopamine JAX
//   Rainbow) full Rainbow/DER C51             3/10    prioritized  double,
//   dueling, noisy
//
// The agent owns the online and target QNetworks and the Adam optimizer. It
// does not own the replay buffer or the envs (the Trainer does), so Update()
// reads top to bottom as the update rule (CleanRL style):
//
//   scalar:  q = Q(s)[a];  y = R + disc * Q_target(s')[a*]
//            (a* = argmax Q(s') with double_q, else argmax Q_target(s'))
//            loss = mean(w * TdLoss(q, y));  priorities = |y - q|
//   C51:     p = Z(s)[a];  m = Project(Z_target(s')[a*], R, disc)
//            loss = mean(w * CE(m, p));      priorities = CE(m, p)
//   + MoE auxiliary loss when the network returns one.
//
// Devices: the networks live on `device`; Act and Update accept CPU batches
// and move them. Acting is batched over the N envs of a VecEnv. On a CUDA
// device with agent.cuda_graphs (the default), Update and the greedy forward
// of Act run as captured CUDA graphs after a few eager warm-up calls
// (graphed_update.h); Act then evaluates every row, not only the greedy
// ones.
//
// Reproducibility: acting draws exploration from the caller's Rng; noisy
// layers and initialisation draw from torch's global generator, which the
// trainer seeds and checkpoints.
#ifndef TOKRL_AGENTS_DQN_AGENT_H_
#define TOKRL_AGENTS_DQN_AGENT_H_

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tokrl/agents/agent_options.h"
#include "tokrl/agents/fused_adam.h"
#include "tokrl/core/rng.h"
#include "tokrl/nn/q_network.h"
#include "tokrl/replay/replay_buffer.h"

namespace tokrl {

struct UpdateMetrics {
  double loss = 0.0;         // mean weighted loss (without the aux loss)
  double aux_loss = 0.0;     // MoE auxiliary loss, 0 when none
  double mean_q = 0.0;       // mean Q(s, a) of the batch
  double grad_norm = 0.0;    // before clipping
  torch::Tensor priorities;  // [B] CPU double, for UpdatePriorities
  // The loss or gradient norm was NaN or infinite: the step was not applied
  // (networks and optimizer state are as before the call).
  bool diverged = false;
};

// Whether the rule reads the target network at s' at the online network's
// greedy actions only (C51 under double Q: the online network picks the
// action, the target's logits are taken at it), which a C51 head computes
// at 1/A of its layer's cost (QNetworkImpl::forward_taken).
bool TargetAtOnlineActions(const AgentOptions& options);

// The update rule's per-sample terms (the header comment's formulas):
// per_sample loss [N] (differentiable), priorities [N] and Q(s, a) [N].
// `taken` = online(s) at the taken actions, with gradient; next_online =
// online(s') when options.double_q (else unused); next_target = target(s'),
// where TargetAtOnlineActions its logits [N, atoms] at
// GreedyActions(next_online.q) alone (q undefined); support: the C51
// atoms, those of the heads that computed next_target.q and next_online.q
// (AgentSupport checks), which the C51 rule uses as they are.
// Shared by DqnAgent and PackedAgent (members folded into N).
struct TdTerms {
  torch::Tensor per_sample, priorities, q_taken;
};
TdTerms ComputeTdTerms(const AgentOptions& options,
                       const nn::TakenOutput& taken,
                       const nn::QOutput& next_target,
                       const nn::QOutput& next_online,
                       const torch::Tensor& returns,
                       const torch::Tensor& discounts,
                       const torch::Tensor& support);

// An update's differentiable half: the rule's terms and the mean weighted
// loss (per member [K] in PackedAgent), plus the MoE auxiliary loss
// (undefined for other networks). Computed by DqnAgent / PackedAgent::
// ComputeLoss for their eager Update and for graphed_update.h.
struct UpdateLoss {
  TdTerms terms;
  torch::Tensor loss;
  torch::Tensor aux_loss;
};

// The batch's tensors on `device` (the same values).
SampledBatch ToDevice(const SampledBatch& batch, torch::Device device);

// The agents' Adam (Dopamine's betas, agent.lr and agent.adam_eps) and C51
// support (agent.v_min .. v_max, num_atoms atoms; undefined for scalar Q),
// shared by DqnAgent and PackedAgent. AgentSupport throws tokrl::Error
// unless the network's head matches the agent: a C51 head exactly when
// options.distributional, with the same atoms and v_min / v_max (the
// update bootstraps from the head's own Q values, ComputeTdTerms).
FusedAdamOptions AgentAdamOptions(const AgentOptions& options);
torch::Tensor AgentSupport(const AgentOptions& options,
                           const nn::QNetworkOptions& network,
                           torch::Device device);

class GraphedStep;

class DqnAgent {
 public:
  DqnAgent(const AgentOptions& options, const nn::QNetworkOptions& network,
           torch::Device device);
  ~DqnAgent();
  DqnAgent(DqnAgent&&) noexcept;
  DqnAgent& operator=(DqnAgent&&) noexcept;

  // Epsilon-greedy actions for obs (uint8, num_envs * obs_size bytes,
  // [N, C, H, W] on the CPU). With noisy layers, fresh noise is drawn first
  // (training) or the mean weights are used (evaluation = `eval` true).
  std::vector<int32_t> Act(std::span<const uint8_t> obs, int64_t num_envs,
                           double epsilon, Rng& rng, bool eval = false);

  // One gradient step on a sampled batch; skipped (metrics.diverged) when
  // the loss or the gradient norm is not finite.
  UpdateMetrics Update(const SampledBatch& batch);

  // The forwards and losses of Update on a batch already on the device.
  UpdateLoss ComputeLoss(const SampledBatch& batch);

  // Whether every online-network parameter is finite.
  bool ParametersFinite();

  // Copies the online weights into the target network.
  void SyncTarget();

  // Interventions (interventions.h) on the named online parameters, with
  // theta_fresh = FreshNetwork(network options, seed): Reset copies it in
  // and zeroes those parameters' Adam moments; ShrinkPerturb sets
  // theta <- shrink * theta + perturb * theta_fresh.
  void Reset(const std::vector<std::string>& names, uint64_t seed);
  void ShrinkPerturb(const std::vector<std::string>& names, double shrink,
                     double perturb, uint64_t seed);

  // Saves / restores networks and optimizer state (torch archive).
  void Save(torch::serialize::OutputArchive& archive) const;
  void Load(torch::serialize::InputArchive& archive);

  nn::QNetwork& online() { return online_; }
  nn::QNetwork& target() { return target_; }
  const FusedAdam& optimizer() const { return *optimizer_; }
  FusedAdam& optimizer() { return *optimizer_; }
  const AgentOptions& options() const { return options_; }
  const nn::QNetworkOptions& network_options() const {
    return network_options_;
  }
  // The C51 atoms on the device (undefined for scalar Q).
  const torch::Tensor& support() const { return support_; }
  torch::Device device() const { return device_; }
  // Whether Update runs as a CUDA graph (graphed_update.h).
  bool graphed() const { return graphed_ != nullptr; }

 private:
  AgentOptions options_;
  nn::QNetworkOptions network_options_;
  torch::Device device_;
  std::vector<int64_t> obs_shape_;
  nn::QNetwork online_{nullptr};
  nn::QNetwork target_{nullptr};
  std::unique_ptr<FusedAdam> optimizer_;
  torch::Tensor support_;  // C51 atoms on device_
  // Update, and greedy acting in training [0] and evaluation [1], as CUDA
  // graphs (graphed_update.h); null when eager.
  void StartGraphs();
  std::unique_ptr<GraphedStep> graphed_;
  std::array<std::unique_ptr<GraphedStep>, 2> graphed_act_;
};

// "auto" -> CUDA when available, else CPU; "cpu"; "cuda"; "cuda:N". Throws
// tokrl::Error for unknown names or an unavailable CUDA device.
torch::Device ResolveDevice(const std::string& name);

}  // namespace tokrl

#endif  // TOKRL_AGENTS_DQN_AGENT_H_
