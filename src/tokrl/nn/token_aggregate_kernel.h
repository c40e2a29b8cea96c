// The tokenized baselines' penultimate layer (baselines.h) as one
// hand-written CPU kernel per direction, free of LibTorch so that its .cc
// builds with the kernels' flags (see CMakeLists.txt). DenseReluAggregate
// (baselines.h) wraps it as an autograd function.
//
// For each sample b, with tokens x[b] an [m, t] matrix at element strides
// (sm, st), a dense layer W [width, t] (row-major) and bias [width]:
//   z[b, r] = scale * sum_{i < m} relu(pre[b, r, i] + bias[r]),
//   pre[b, r, i] = sum_{j < t} W[r, j] x[b, i, j]
// (scale 1/m: the mean over tokens, 1: the sum). The [m, width]
// activations of a sample are made and used in cache, one sample at a
// time, and never stored: the backward makes them again.
//
// Products run in internal::SmallGemm; every sum runs in an order fixed by
// the source, so the results are the same for any split of the samples
// into [begin, end) ranges and on every CPU target.
#ifndef TOKRL_NN_TOKEN_AGGREGATE_KERNEL_H_
#define TOKRL_NN_TOKEN_AGGREGATE_KERNEL_H_

#include <cstdint>

namespace tokrl::internal {

/// x's layout: the element strides of a sample, a token and a feature.
struct TokenStrides {
  int64_t sample = 0;
  int64_t token = 0;
  int64_t feature = 0;
};

/// Writes z[b, r] (row-major, width per sample) for samples [begin, end).
void DenseReluAggregateForward(const float* x, TokenStrides strides,
                               int64_t begin, int64_t end, int64_t m, int64_t t,
                               const float* weight, const float* bias,
                               int64_t width, float scale, float* z);

/// Given grad_z (as z), writes the gradient of x at x's strides for samples
/// [begin, end) where grad_x is not null, and the sums over those samples
/// of the gradients of the weight [width, t] and the bias [width] (written,
/// not added to). A pre-activation of exactly 0 passes no gradient (as
/// ATen's ReLU backward).
void DenseReluAggregateBackward(const float* x, TokenStrides strides,
                                int64_t begin, int64_t end, int64_t m,
                                int64_t t, const float* weight,
                                const float* bias, int64_t width, float scale,
                                const float* grad_z, float* grad_x,
                                float* grad_weight, float* grad_bias);

}  // namespace tokrl::internal

#endif  // TOKRL_NN_TOKEN_AGGREGATE_KERNEL_H_
