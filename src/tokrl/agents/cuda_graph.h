// CudaGraph: runs a fixed computation as one captured CUDA graph.
//
// Why: a batch-32 update of a MinAtar or Atari network is a few hundred
// small kernels; launched eagerly one by one from the CPU (~5-10 us each),
// the GPU mostly waits for the host. Captured once, the whole update is one
// launch.
//
// Contract for `body`: it reads only tensors that stay at the same address
// between calls (the caller's fixed input tensors, module parameters,
// optimizer state), makes no host synchronization (no .item(), no copies to
// or from the CPU, no data-dependent shapes) and draws no random numbers. Its
// outputs are rewritten in place by every replay.
//
// Run(body) call k (0-based): k < warmup runs body eagerly on a side stream
// (lazy initialisations, e.g. cuBLAS workspaces, must not happen during
// capture); k == warmup captures it on that stream (recording only: nothing
// executes) and replays it once; k > warmup replays it. Replays are
// ordered on the current stream, so eager work before and after a Run sees
// its effects in order.
//
// Available() is false in a build against a LibTorch without CUDA (CMake
// option TOKRL_CUDA_GRAPHS); the constructor then throws tokrl::Error.
#ifndef TOKRL_AGENTS_CUDA_GRAPH_H_
#define TOKRL_AGENTS_CUDA_GRAPH_H_

#include <torch/types.h>

#include <functional>
#include <memory>
#include <vector>

namespace tokrl {

class CudaGraph {
 public:
  static bool Available();

  CudaGraph(torch::Device device, int warmup);
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  const std::vector<torch::Tensor>& Run(
      const std::function<std::vector<torch::Tensor>()>& body);

  // Whether the next Run replays a captured graph (the body's outputs of
  // the capture then hold every result).
  bool captured() const { return calls_ > warmup_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int warmup_;
  int calls_ = 0;
  std::vector<torch::Tensor> outputs_;
};

}  // namespace tokrl

#endif  // TOKRL_AGENTS_CUDA_GRAPH_H_
