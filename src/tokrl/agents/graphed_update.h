// GraphedUpdate: an agent's update as one fixed computation on fixed input
// tensors, so that on a CUDA device it runs as a captured CUDA graph
// (cuda_graph.h) instead of a few hundred eager kernel launches.
//
// GraphedDqnUpdate / GraphedPackedUpdate are DqnAgent::Update and
// PackedAgent::Update in that form. Each copies the batch into the fixed
// inputs and runs, on the device and without a host synchronization: the
// forwards (online(s) with gradient, target(s'), online(s') under double Q),
// the update rule's terms (ComputeTdTerms), backward, the gradient norm (per
// member when packed), clipping (agent.grad_clip_norm) and Adam
// (FusedAdam::MaskedStep), applied only when every loss and gradient norm is
// finite. One copy of the results to the host follows. The values equal the
// eager updates to float rounding (tested on the CPU with capture off, and on
// CUDA captured), including a diverged update, which changes nothing.
//
// Requirements: SupportsGraphedUpdate (no noisy layers or MoE heads: they
// draw random numbers per update); batches of one shape; parameters,
// buffers, optimizer state and the C51 support keep their storage between
// runs (in-place changes such as SyncTarget, Reset, ShrinkPerturb, Pack are
// fine; after DqnAgent::Load the agent starts a new GraphedUpdate).
#ifndef TOKRL_AGENTS_GRAPHED_UPDATE_H_
#define TOKRL_AGENTS_GRAPHED_UPDATE_H_

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <vector>

#include "tokrl/agents/cuda_graph.h"
#include "tokrl/agents/fused_adam.h"
#include "tokrl/nn/q_network.h"
#include "tokrl/replay/replay_buffer.h"

namespace tokrl {

class DqnAgent;
class PackedAgent;
struct UpdateMetrics;

class GraphedUpdate {
 public:
  // The update from the fixed inputs (on the device, in the order of Run's
  // `inputs`) and t, Adam's step count for this update (0-dim double): the
  // tensors to read back.
  using Body = std::function<std::vector<torch::Tensor>(
      const std::vector<torch::Tensor>& inputs, const torch::Tensor& t)>;

  // Eager updates before the capture (cuda_graph.h).
  static constexpr int kWarmup = 3;

  // `capture`: as a CUDA graph (a CUDA device, CudaGraph::Available());
  // false runs the body eagerly on every call (on the CPU, for tests).
  GraphedUpdate(torch::Device device, bool capture);
  ~GraphedUpdate();

  // Copies `inputs` (any device) into the fixed ones (shapes fixed by the
  // first call), sets t = optimizer.step_count() + 1 and runs `body` (the
  // same one every call); returns its outputs. Gradients are dropped before
  // every eager run and before the capture; the captured backward then
  // writes into the ones it allocated.
  const std::vector<torch::Tensor>& Run(
      const std::vector<torch::Tensor>& inputs, FusedAdam& optimizer,
      const Body& body);

 private:
  torch::Device device_;
  std::vector<torch::Tensor> inputs_;
  torch::Tensor step_;
  std::unique_ptr<CudaGraph> graph_;
  std::vector<torch::Tensor> outputs_;  // of eager runs
};

bool SupportsGraphedUpdate(const nn::QNetworkOptions& network);

UpdateMetrics GraphedDqnUpdate(DqnAgent& agent, GraphedUpdate& update,
                               const SampledBatch& batch);

std::vector<UpdateMetrics> GraphedPackedUpdate(
    PackedAgent& agent, GraphedUpdate& update,
    const std::vector<SampledBatch>& batches);

}  // namespace tokrl

#endif  // TOKRL_AGENTS_GRAPHED_UPDATE_H_
