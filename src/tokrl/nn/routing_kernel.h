// The SoftMoE routing softmaxes as one hand-written CPU kernel, free of
// LibTorch so that its .cc builds with its own flags (see CMakeLists.txt).
// SoftMoERoutingWeights (softmoe.h) wraps it as an autograd function.
//
// For each sample b, with logits L[b] an [m, k] row-major matrix (m tokens,
// k = n * p slots):
//   dispatch D[b] = softmax of L[b] over rows (each column sums to 1),
//   combine  C[b] = softmax of L[b] over columns (each row sums to 1),
// the same values as two torch::softmax calls to float rounding (relative
// error below 1e-6), in one read of L and mostly one exp per element.
#ifndef TOKRL_NN_ROUTING_KERNEL_H_
#define TOKRL_NN_ROUTING_KERNEL_H_

#include <cstdint>

namespace tokrl::internal {

// logits, dispatch and combine: batch * m * k floats each, not overlapping.
// Samples [begin, end) only, so callers can split the batch across threads.
void RoutingSoftmaxForward(const float* logits, int64_t begin, int64_t end,
                           int64_t m, int64_t k, float* dispatch,
                           float* combine);

// The gradient of the logits given those of D and C (either may be null:
// that output was unused): dL = D * (dD - colsum(dD * D))
//                               + C * (dC - rowsum(dC * C)).
void RoutingSoftmaxBackward(const float* dispatch, const float* combine,
                            const float* grad_dispatch,
                            const float* grad_combine, int64_t begin,
                            int64_t end, int64_t m, int64_t k,
                            float* grad_logits);

}  // namespace tokrl::internal

#endif  // TOKRL_NN_ROUTING_KERNEL_H_
