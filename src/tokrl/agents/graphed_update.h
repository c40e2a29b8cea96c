// An agent's update, and its greedy acting, as fixed computations on fixed
// input tensors, so that on a CUDA device they run as captured CUDA graphs
// (cuda_graph.h) instead of a few hundred eager kernel launches each.
//
// GraphedStep runs one such computation. GraphedDqnUpdate /
// GraphedPackedUpdate are DqnAgent::Update and PackedAgent::Update in that
// form: each copies the batch into the fixed inputs and runs, on the device
// and without a host synchronization, the forwards and losses (ComputeLoss,
// shared with the eager updates), backward, the gradient norm (per member
// when packed), clipping (agent.grad_clip_norm) and Adam
// (FusedAdam::MaskedStep), applied only when every loss and gradient norm is
// finite; one copy of the results to the host follows. The values equal the
// eager updates to float rounding (tested on the CPU with capture off, and on
// CUDA captured), including a diverged update, which changes nothing.
// GraphedGreedyActions is the greedy action of every row of a fixed-shape
// observation batch (the agents then use the rows that act greedily).
//
// Requirements: SupportsGraphs (no noisy layers or MoE heads: they draw
// random numbers per call); inputs of one shape per GraphedStep; parameters,
// buffers, optimizer state and the C51 support keep their storage between
// runs (in-place changes such as SyncTarget, Reset, ShrinkPerturb, Pack are
// fine; after DqnAgent::Load the agent starts new GraphedSteps).
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

class GraphedStep {
 public:
  // The computation from the fixed inputs (on the device, in the order of
  // Run's `inputs`) and t, Adam's step count for this update (0-dim double;
  // undefined without an optimizer): the tensors to read back.
  using Body = std::function<std::vector<torch::Tensor>(
      const std::vector<torch::Tensor>& inputs, const torch::Tensor& t)>;

  // Eager updates before the capture (cuda_graph.h).
  static constexpr int kWarmup = 3;

  // `capture`: as a CUDA graph (a CUDA device, CudaGraph::Available());
  // false runs the body eagerly on every call (on the CPU, for tests).
  GraphedStep(torch::Device device, bool capture);
  ~GraphedStep();

  // Copies `inputs` (any device) into the fixed ones (shapes fixed by the
  // first call) and runs `body` (the same one every call); returns its
  // outputs. With an optimizer (an update): t = step_count() + 1, and the
  // gradients are dropped before every eager run and before the capture
  // (the captured backward then writes into the ones it allocated).
  const std::vector<torch::Tensor>& Run(
      const std::vector<torch::Tensor>& inputs, FusedAdam* optimizer,
      const Body& body);

  // Whether Run takes inputs of these shapes (always before the first).
  bool Accepts(const std::vector<torch::Tensor>& inputs) const;

 private:
  torch::Device device_;
  std::vector<torch::Tensor> inputs_;
  torch::Tensor step_;
  std::unique_ptr<CudaGraph> graph_;
  std::vector<torch::Tensor> outputs_;  // of eager runs
};

bool SupportsGraphs(const nn::QNetworkOptions& network);

UpdateMetrics GraphedDqnUpdate(DqnAgent& agent, GraphedStep& update,
                               const SampledBatch& batch);

std::vector<UpdateMetrics> GraphedPackedUpdate(
    PackedAgent& agent, GraphedStep& update,
    const std::vector<SampledBatch>& batches);

// argmax_a q(obs)[row] for every row of `obs` (uint8 [rows, ...] on the CPU)
// as int64 [rows] on the CPU; `q` maps the observations on the device to
// Q-values [rows, A] and runs without gradient.
torch::Tensor GraphedGreedyActions(
    GraphedStep& step, const torch::Tensor& obs,
    const std::function<torch::Tensor(const torch::Tensor&)>& q);

}  // namespace tokrl

#endif  // TOKRL_AGENTS_GRAPHED_UPDATE_H_
