#include "tokrl/agents/fused_adam_kernel.h"

#include <cmath>
#include <cstdint>

#include "tokrl/core/cpu_clones.h"

namespace tokrl::internal {

TOKRL_CLONES
void AdamKernel(float* __restrict p, const float* __restrict g,
                float* __restrict m, float* __restrict v, int64_t n, float b1,
                float b2, float step_size, float inv_sqrt_bias2, float eps) {
  const float c1 = 1.0f - b1, c2 = 1.0f - b2;
  for (int64_t j = 0; j < n; ++j) {
    const float grad = g[j];
    const float mj = b1 * m[j] + c1 * grad;
    const float vj = b2 * v[j] + c2 * grad * grad;
    m[j] = mj;
    v[j] = vj;
    p[j] -= step_size * mj / (std::sqrt(vj) * inv_sqrt_bias2 + eps);
  }
}

TOKRL_CLONES
double SumOfSquares(const float* g, int64_t n) {
  // A float's square is exact in double (24 + 24 significant bits), so the
  // only roundings are the double additions: kLanes lanes in a fixed order
  // (vectorized, the same bits on every machine), then the lanes in order.
  // Why 32: with 8 (one AVX-512 register) each addition waited on the one
  // before; 32 are four independent chains (AVX2: eight). A DQN flatten
  // network's 222k gradients on the Zen 5 VM: 20.6-28.6 -> 11.0-12.9 us
  // (bench_agent BM_GradNorm); AVX2 code 22.6 -> 18.7 us (docs/speed.md).
  constexpr int kLanes = 32;
  double acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const double x = g[j + l];
      acc[l] += x * x;
    }
  }
  double total = 0.0;
  for (const double a : acc) total += a;
  for (; j < n; ++j) total += static_cast<double>(g[j]) * g[j];
  return total;
}

}  // namespace tokrl::internal
