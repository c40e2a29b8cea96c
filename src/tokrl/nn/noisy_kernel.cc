#include "tokrl/nn/noisy_kernel.h"

#include <cstdint>

#include "tokrl/core/cpu_clones.h"

namespace tokrl::internal {

// eps_out[o] * eps_in[i] is rounded to a float first, as ATen's outer
// product is, and the sum is not contracted into an FMA (this file builds
// with -ffp-contract=off): the same bits as the three tensor ops.
TOKRL_CLONES
void NoisyParams(const float* __restrict mu, const float* __restrict sigma,
                 const float* __restrict eps_out,
                 const float* __restrict eps_in, int64_t cols,
                 int64_t row_begin, int64_t row_end, float* __restrict out) {
  for (int64_t o = row_begin; o < row_end; ++o) {
    const float e = eps_out[o];
    const int64_t base = o * cols;
    for (int64_t i = 0; i < cols; ++i) {
      const float noise = e * eps_in[i];
      out[base + i] = mu[base + i] + sigma[base + i] * noise;
    }
  }
}

TOKRL_CLONES
void NoisySigmaGrad(const float* __restrict grad,
                    const float* __restrict eps_out,
                    const float* __restrict eps_in, int64_t cols,
                    int64_t row_begin, int64_t row_end,
                    float* __restrict grad_sigma) {
  for (int64_t o = row_begin; o < row_end; ++o) {
    const float e = eps_out[o];
    const int64_t base = o * cols;
    for (int64_t i = 0; i < cols; ++i) {
      const float noise = e * eps_in[i];
      grad_sigma[base + i] = grad[base + i] * noise;
    }
  }
}

}  // namespace tokrl::internal
