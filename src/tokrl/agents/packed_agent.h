// PackedAgent: the DqnAgent of K runs of one shape (the members of a packed
// run, `tokrl train --pack K`), stepped together. It holds PackedQNetworks
// (nn/packed_q_network.h) for online and target and one FusedAdam over the
// packed parameters; every member keeps its own DqnAgent, which the packed
// trainer fills (Unpack) whenever a member's networks are needed one at a
// time: evaluation, statistics, checkpoints.
//
// Contract
//   * Update(batches) equals, member by member, DqnAgent::Update on the same
//     batch with the same networks and optimizer state, to float rounding
//     (tested to 1e-5 for losses and gradients): the loss is the sum of the
//     members' losses, so member k's gradient is its own; Adam is
//     element-wise; the gradient norm and its clip (agent.grad_clip_norm)
//     are per member.
//   * If any member's loss or gradient norm is not finite, no member's step
//     is applied, and that member's metrics say diverged.
//   * Act(k-th obs, k-th rng) draws member k's exploration exactly as
//     DqnAgent::Act does (same Rng draws); the greedy rows of all members go
//     through one packed forward.
//   * Pack / Unpack copy a member's online and target networks and its Adam
//     state (moments and step count) in and out; the members' step counts
//     must agree.
//   * Not supported (a tokrl::Error from the constructor): what
//     nn::CheckPackable refuses (MoE, NoisyNet, PerPatch conv).
#ifndef TOKRL_AGENTS_PACKED_AGENT_H_
#define TOKRL_AGENTS_PACKED_AGENT_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <span>
#include <tuple>
#include <vector>

#include "tokrl/agents/agent_options.h"
#include "tokrl/agents/dqn_agent.h"
#include "tokrl/agents/fused_adam.h"
#include "tokrl/agents/graphed_update.h"
#include "tokrl/core/rng.h"
#include "tokrl/nn/packed_q_network.h"
#include "tokrl/replay/replay_buffer.h"

namespace tokrl {

// Activation bytes of one chunk of members in a CPU update (Update).
inline constexpr int64_t kCpuUpdateChunkBytes = int64_t{8} << 20;

class PackedAgent {
 public:
  PackedAgent(const AgentOptions& options, const nn::QNetworkOptions& network,
              int64_t members, torch::Device device);

  // Epsilon-greedy actions of every member: obs[k] holds member k's
  // num_envs observations (uint8, CPU), rngs[k] its exploration stream.
  std::vector<std::vector<int32_t>> Act(
      const std::vector<std::span<const uint8_t>>& obs, int64_t num_envs,
      double epsilon, const std::vector<Rng*>& rngs);

  // One gradient step of every member, batches[k] being member k's. On a
  // CUDA device with agent.cuda_graphs it runs (as does Act's forward) as a
  // CUDA graph (graphed_update.h). On the CPU the forwards and backward run
  // chunk by chunk of members (the same values; see set_update_chunk); one
  // optimizer step then updates all members.
  std::vector<UpdateMetrics> Update(const std::vector<SampledBatch>& batches);
  // Members per chunk of an update on the CPU: 0 (the default) for as many
  // as keep their activations within kCpuUpdateChunkBytes (at least 1, and
  // the members split evenly), members() or more for all at once, as on a
  // GPU.
  void set_update_chunk(int64_t members);

  // The members' batches as one: obs and next_obs stacked [K, B, ...], the
  // rest concatenated [K*B] (on the batches' device).
  static SampledBatch Stack(const std::vector<SampledBatch>& batches);
  // The forwards and losses of Update on a Stack()ed batch on the device;
  // the loss is per member [K].
  UpdateLoss ComputeLoss(const SampledBatch& stacked);
  // After a backward: each member's gradient norm [K] (double, on device_),
  // as clip_grad_norm_ computes it on that member alone. No host read.
  torch::Tensor MemberGradNorms() const;
  // Scales each member's gradients by clip_grad_norm_'s rule, from its norm
  // in `norms` [K]; nothing when agent.grad_clip_norm is 0.
  void ClipMemberGrads(const torch::Tensor& norms);

  void SyncTarget();

  void Pack(int64_t k, DqnAgent& member);
  void Unpack(int64_t k, DqnAgent& member) const;

  int64_t members() const { return members_; }
  nn::PackedQNetwork& online() { return online_; }
  FusedAdam& optimizer() { return *optimizer_; }
  const AgentOptions& options() const { return options_; }
  torch::Device device() const { return device_; }

 private:
  // ComputeLoss with `online` and `target` (members online.members()).
  UpdateLoss LossOf(nn::PackedQNetworkImpl& online,
                    nn::PackedQNetworkImpl& target,
                    const SampledBatch& stacked) const;
  // Members per chunk of a CPU update on batches of `batch` samples.
  int64_t UpdateChunk(int64_t batch) const;
  // The forward and backward of Update in chunks of `chunk` members (CPU):
  // leaves every packed gradient defined as one backward would, and
  // returns the detached per-member losses [K], taken values [K*B] and
  // priorities [K*B].
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> ChunkedBackward(
      const std::vector<SampledBatch>& batches, int64_t chunk);

  AgentOptions options_;
  nn::QNetworkOptions network_options_;
  int64_t members_;
  torch::Device device_;
  nn::PackedQNetwork online_{nullptr};
  nn::PackedQNetwork target_{nullptr};
  std::unique_ptr<FusedAdam> optimizer_;
  torch::Tensor support_;  // C51 atoms on device_
  // Update and Act's forward as CUDA graphs (graphed_update.h); null when
  // eager.
  std::unique_ptr<GraphedStep> graphed_;
  std::unique_ptr<GraphedStep> graphed_act_;
  int64_t update_chunk_ = 0;
  // The chunks' networks: their parameters alias members [first, first + c)
  // of online_ / target_ (PackedQNetworkImpl::AliasMembers).
  struct Chunk {
    int64_t first;
    nn::PackedQNetwork online, target;
  };
  std::vector<Chunk> chunks_;
};

}  // namespace tokrl

#endif  // TOKRL_AGENTS_PACKED_AGENT_H_
