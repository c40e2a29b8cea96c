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
  // only roundings are the double additions: eight lanes in a fixed order
  // (vectorized, the same bits on every machine), then the lanes in order.
  double acc[8] = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int l = 0; l < 8; ++l) {
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
