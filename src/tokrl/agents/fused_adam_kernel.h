// The FusedAdam inner loop (fused_adam.h), free of LibTorch so that its .cc
// compiles with -fno-math-errno (GCC then vectorizes the sqrt and division)
// without touching the shared precompiled header.
#ifndef TOKRL_AGENTS_FUSED_ADAM_KERNEL_H_
#define TOKRL_AGENTS_FUSED_ADAM_KERNEL_H_

#include <cstdint>

namespace tokrl::internal {

// One Adam pass over n floats: m, v updated in place, p -= step_size * m /
// (sqrt(v) * inv_sqrt_bias2 + eps). The four arrays must not overlap.
void AdamKernel(float* __restrict p, const float* __restrict g,
                float* __restrict m, float* __restrict v, int64_t n, float b1,
                float b2, float step_size, float inv_sqrt_bias2, float eps);

// Sum of g[j]^2 over n floats, squared and accumulated in double (to about
// double precision; the same bits on every machine).
double SumOfSquares(const float* g, int64_t n);

}  // namespace tokrl::internal

#endif  // TOKRL_AGENTS_FUSED_ADAM_KERNEL_H_
