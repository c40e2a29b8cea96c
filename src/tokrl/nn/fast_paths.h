// A process-wide switch for tokrl's hand-written CPU fast paths (the fused
// SoftMoE routing kernel and token normalization, the small-matrix kernel of
// SoftMoE's products, the C51 head and acting's dense layers, a C51 head
// evaluated at the taken actions only, FusedAdam's one-pass gradient norm,
// the flatten tokens' gradient in the encoder's layout, the tokenized
// baselines' fused dense-ReLU-aggregate layer, Top-k MoE's routing weights
// and router softmax, the first conv on observations, the experts' fused
// MLP, NoisyNet's noisy weights in one pass). They compute the same values
// as the plain LibTorch ops within float rounding; the switch exists so that
// benchmarks can measure both in one process (bench_agent's "plain" rows) and
// tests can compare them. On by default.
#ifndef TOKRL_NN_FAST_PATHS_H_
#define TOKRL_NN_FAST_PATHS_H_

namespace at {
class Tensor;
}  // namespace at

namespace tokrl::nn {

bool FastPathsEnabled();
void SetFastPaths(bool enabled);

/// Whether the hand-written CPU kernels take x: fast paths on, x a float
/// tensor on the CPU.
bool FastPathApplies(const at::Tensor& x);

/// How many threads a parallel loop of tokrl's kernels runs on now:
/// LibTorch's thread count (torch::set_num_threads, train.torch_threads).
/// at::parallel_for splits work only where tokrl is built with LibTorch's
/// parallel backend (CMakeLists.txt links OpenMP); 1 would mean it is not.
int KernelThreads();

}  // namespace tokrl::nn

#endif  // TOKRL_NN_FAST_PATHS_H_
