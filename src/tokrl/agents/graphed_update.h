// GraphedUpdate: DqnAgent::Update as one fixed computation on fixed input
// tensors, so that on a CUDA device it runs as a captured CUDA graph
// (cuda_graph.h) instead of a few hundred eager kernel launches.
//
// Each Run copies the batch into the fixed inputs and runs, on the device
// and without a host synchronization: the forwards (online(s) with
// gradient, target(s'), online(s') under double Q), the update rule's terms
// (ComputeTdTerms), backward, the gradient norm, clipping (agent.
// grad_clip_norm) and Adam (FusedAdam::MaskedStep), applied only when the
// loss and the gradient norm are finite. One copy of the results to the
// host follows. The values equal DqnAgent's eager Update to float rounding
// (tested on the CPU with capture off, and on CUDA with it on), including
// a diverged update, which changes nothing.
//
// Supports(): not with noisy layers or MoE heads (they draw random numbers
// per update). The batch shape must stay the same between Runs.
// Parameters, buffers and optimizer state must keep their storage (in-place
// changes such as SyncTarget, Reset and ShrinkPerturb are fine); after a
// Load, DqnAgent builds a new GraphedUpdate.
#ifndef TOKRL_AGENTS_GRAPHED_UPDATE_H_
#define TOKRL_AGENTS_GRAPHED_UPDATE_H_

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "tokrl/agents/cuda_graph.h"
#include "tokrl/nn/q_network.h"
#include "tokrl/replay/replay_buffer.h"

namespace tokrl {

class DqnAgent;
struct UpdateMetrics;

class GraphedUpdate {
 public:
  static bool Supports(const nn::QNetworkOptions& network);

  // Eager updates before the capture (cuda_graph.h).
  static constexpr int kWarmup = 3;

  // For updates of `agent` (always the same one, in place or moved).
  // `capture`: as a CUDA graph (the agent on a CUDA device, and
  // CudaGraph::Available()); false runs the same computation eagerly on
  // every call (on the CPU, for tests).
  GraphedUpdate(const DqnAgent& agent, bool capture);
  ~GraphedUpdate();

  UpdateMetrics Run(DqnAgent& agent, const SampledBatch& batch);

 private:
  // The update from inputs_ to {stats [5] double: loss, aux loss, gradient
  // norm, mean Q, applied (0/1); priorities [B] float}.
  std::vector<torch::Tensor> Body(DqnAgent& agent);

  torch::Device device_;
  torch::Tensor support_;
  // obs, actions, returns, discounts, next_obs, weights (SampledBatch's
  // order), and Adam's step count for this update.
  std::vector<torch::Tensor> inputs_;
  torch::Tensor step_;
  std::unique_ptr<CudaGraph> graph_;
};

}  // namespace tokrl

#endif  // TOKRL_AGENTS_GRAPHED_UPDATE_H_
