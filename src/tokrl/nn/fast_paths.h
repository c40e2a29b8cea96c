// A process-wide switch for tokrl's hand-written CPU fast paths (the fused
// SoftMoE routing kernel and token normalization, a C51 head evaluated at
// the taken actions only, FusedAdam's one-pass gradient norm). They compute
// the same values as the plain LibTorch ops within float rounding; the switch
// exists so that benchmarks can measure both in one process (bench_agent's
// "plain" rows) and tests can compare them. On by default.
#ifndef TOKRL_NN_FAST_PATHS_H_
#define TOKRL_NN_FAST_PATHS_H_

namespace tokrl::nn {

bool FastPathsEnabled();
void SetFastPaths(bool enabled);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_FAST_PATHS_H_
