// The SoftMoE routing softmaxes as one hand-written CPU kernel, free of
// LibTorch so that its .cc builds with its own flags (see CMakeLists.txt).
// SoftMoERoutingWeights (softmoe.h) wraps it as an autograd function. Also
// here, for their shared exp and sums (the same bits on every x86-64 CPU,
// whichever of ATen's kernels a build runs): the token and Phi
// normalizations (softmoe.cc) and C51's softmax over atoms (heads.cc,
// agents/losses.cc).
//
// For each sample b, with logits L[b] an [m, k] row-major matrix (m tokens,
// k = n * p slots):
//   dispatch D[b] = softmax of L[b] over rows (each column sums to 1),
//   combine  C[b] = softmax of L[b] over columns (each row sums to 1),
// the same values as two torch::softmax calls to float rounding (relative
// error below 1e-6), with mostly one exp per element for both.
//
// With `normalize`, the logits come from tokens scaled to unit length:
//   x_hat = x / (||x||_2 + eps) over each token's d features,
// which ATen computes in ~0.35 ms forward for a batch of 32 MinAtar PerConv
// tokens (a transposed view: its norm reduces over a stride of 100) and
// ~0.5 ms backward, against ~0.02 ms each here.
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

// Tokens x: batch * m * d floats at element strides (sb, sm, sd), any
// layout without overlap (PerConv tokens are a transposed view); samples
// [begin, end) only. Writes x_hat row-major [batch, m, d] and each token's
// norm ||x|| to norms [batch, m] (for the backward).
void NormalizeTokensForward(const float* x, int64_t sb, int64_t sm, int64_t sd,
                            int64_t begin, int64_t end, int64_t m, int64_t d,
                            float eps, float* x_hat, float* norms);

// The gradient of x (written at x's strides) given that of x_hat
// (row-major): dx = g / (n + eps) - x * <g, x> / (n (n + eps)^2), where the
// second term is 0 for n = 0 (as ATen's norm backward).
void NormalizeTokensBackward(const float* x, int64_t sb, int64_t sm, int64_t sd,
                             const float* norms, const float* grad_x_hat,
                             int64_t begin, int64_t end, int64_t m, int64_t d,
                             float eps, float* grad_x);

// C51's softmax over each row of k atoms, x row-major [rows, k]:
// p = e^(x - max) / sum, with the routing softmax's exp and
// sums (the same bits on every x86-64 CPU and thread count). ATen's softmax
// over a last dimension of 51 took ~12 us for [32, 6, 51].
void AtomSoftmax(const float* x, int64_t rows, int64_t k, float* p);

// C51's Q values q[r] = sum_j p[r, j] support[j] with p = AtomSoftmax(x)
// written out (for the backward).
void AtomExpectations(const float* x, const float* support, int64_t rows,
                      int64_t k, float* p, float* q);

// Their gradient: dx[r, j] = dq[r] p[r, j] (support[j] - q[r]).
void AtomExpectationsBackward(const float* p, const float* q,
                              const float* support, const float* grad_q,
                              int64_t rows, int64_t k, float* grad_x);

// C51's cross-entropy per row: loss[r] = -sum_j t[r, j] log_softmax(x)[r, j]
// (log_softmax = x - max - log(sum e^(x - max))), with p = AtomSoftmax(x)
// written out for the backward, dx[r, j] = dloss[r] (p[r, j] sum_j t[r, j]
// - t[r, j]) (AtomCrossEntropyBackward).
void AtomCrossEntropy(const float* x, const float* t, int64_t rows, int64_t k,
                      float* p, float* loss);
void AtomCrossEntropyBackward(const float* p, const float* t,
                              const float* grad_loss, int64_t rows, int64_t k,
                              float* grad_x);

// SoftMoE's Phi normalized over its d axis and scaled, per member:
// out = s * phi / (||phi||_2 + eps) with phi a row-major [d, cols] matrix
// (cols = n * p slots) for each of k members, s = scale[member], the norm
// taken down each column. Writes out [k, d, cols] and the column norms to
// norms [k, cols] (for the backward).
void NormalizePhiForward(const float* phi, const float* scale, int64_t k,
                         int64_t d, int64_t cols, float eps, float* out,
                         float* norms);

// The gradients of phi and scale given that of out ([k, d, cols]): with
// q = phi / (n + eps), d scale = <g, q> (summed in double) and d phi =
// s g / (n + eps) - phi * <s g, phi> / (n (n + eps)^2), the second term 0
// for n = 0 (as ATen's norm backward).
void NormalizePhiBackward(const float* phi, const float* scale,
                          const float* norms, const float* grad_out, int64_t k,
                          int64_t d, int64_t cols, float eps, float* grad_phi,
                          float* grad_scale);

}  // namespace tokrl::internal

#endif  // TOKRL_NN_ROUTING_KERNEL_H_
