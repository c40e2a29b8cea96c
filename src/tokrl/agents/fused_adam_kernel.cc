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
  // Eight float lanes per block of 64 (vectorized, exact order on every
  // machine), flushed into double so long tensors keep their precision.
  double total = 0.0;
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) {
    float acc[8] = {};
    for (int64_t u = 0; u < 64; u += 8) {
      for (int l = 0; l < 8; ++l) acc[l] += g[j + u + l] * g[j + u + l];
    }
    for (const float a : acc) total += a;
  }
  for (; j < n; ++j) total += static_cast<double>(g[j]) * g[j];
  return total;
}

}  // namespace tokrl::internal
