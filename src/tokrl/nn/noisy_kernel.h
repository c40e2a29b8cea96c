// NoisyLinear's factorised-noise parameters as loops (noisy_linear.h), free of
// LibTorch so that their .cc builds with -ffp-contract=off: each element is
// rounded exactly as ATen's outer, mul and add round it.
#ifndef TOKRL_NN_NOISY_KERNEL_H_
#define TOKRL_NN_NOISY_KERNEL_H_

#include <cstdint>

namespace tokrl::internal {

// Rows [row_begin, row_end) of out = mu + sigma * (eps_out eps_in^T): for
// each row o and column i < cols, out[o, i] = mu[o, i] + sigma[o, i] *
// (eps_out[o] * eps_in[i]), the three arrays row-major [rows, cols].
void NoisyParams(const float* mu, const float* sigma, const float* eps_out,
                 const float* eps_in, int64_t cols, int64_t row_begin,
                 int64_t row_end, float* out);

// The same rows of grad_sigma = grad * (eps_out eps_in^T).
void NoisySigmaGrad(const float* grad, const float* eps_out,
                    const float* eps_in, int64_t cols, int64_t row_begin,
                    int64_t row_end, float* grad_sigma);

}  // namespace tokrl::internal

#endif  // TOKRL_NN_NOISY_KERNEL_H_
