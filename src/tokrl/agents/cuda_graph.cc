#include "tokrl/agents/cuda_graph.h"

#include "tokrl/core/check.h"

#if TOKRL_HAVE_CUDA_GRAPHS
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace tokrl {

#if TOKRL_HAVE_CUDA_GRAPHS

struct CudaGraph::Impl {
  explicit Impl(torch::Device d)
      : device(d),
        side(c10::cuda::getStreamFromPool(/*isHighPriority=*/false,
                                          d.index())) {}

  // Runs fn on the side stream, ordered after the current stream's work
  // and before its later work.
  template <typename F>
  void OnSide(F fn) {
    const c10::cuda::CUDAGuard device_guard(device);
    const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream();
    at::cuda::CUDAEvent before;
    before.record(current);
    before.block(side);
    {
      const c10::cuda::CUDAStreamGuard stream_guard(side);
      fn();
    }
    at::cuda::CUDAEvent after;
    after.record(side);
    after.block(current);
  }

  torch::Device device;
  c10::cuda::CUDAStream side;
  at::cuda::CUDAGraph graph;
};

bool CudaGraph::Available() { return true; }

CudaGraph::CudaGraph(torch::Device device, int warmup) : warmup_(warmup) {
  TOKRL_CHECK(device.is_cuda())
      << "CUDA graphs need a CUDA device, got " << device.str();
  TOKRL_CHECK_GE(warmup, 1) << "CUDA graphs need at least one warm-up run";
  impl_ = std::make_unique<Impl>(device);
}

const std::vector<torch::Tensor>& CudaGraph::Run(
    const std::function<std::vector<torch::Tensor>()>& body) {
  if (calls_ < warmup_) {
    impl_->OnSide([&] { outputs_ = body(); });
  } else if (calls_ == warmup_) {
    impl_->OnSide([&] {
      impl_->graph.capture_begin();
      outputs_ = body();
      impl_->graph.capture_end();
    });
    const c10::cuda::CUDAGuard device_guard(impl_->device);
    impl_->graph.replay();
  } else {
    const c10::cuda::CUDAGuard device_guard(impl_->device);
    impl_->graph.replay();
  }
  ++calls_;
  return outputs_;
}

#else  // no CUDA in this LibTorch

struct CudaGraph::Impl {};

bool CudaGraph::Available() { return false; }

CudaGraph::CudaGraph(torch::Device, int warmup) : warmup_(warmup) {
  TOKRL_FAIL() << "this tokrl was built against a LibTorch without CUDA, so "
                  "it cannot capture CUDA graphs";
}

const std::vector<torch::Tensor>& CudaGraph::Run(
    const std::function<std::vector<torch::Tensor>()>&) {
  TOKRL_FAIL() << "CUDA graphs are not available in this build";
}

#endif

CudaGraph::~CudaGraph() = default;

}  // namespace tokrl
