// The experts' MLP (experts.h) as one hand-written CPU kernel per
// direction, free of LibTorch so that its .cc builds with the kernels'
// flags. ExpertMlp (experts.h) wraps it as an autograd function.
//
// For one expert and rows [begin, end) of its slot inputs x [T, d]
// (rows of d floats, laid out as SlotRows says): y = relu(x W1 + b1) W2 + b2,
// with W1 [d, H], b1 [H], W2 [H, d], b2 [d] row-major. The hidden activations
// are made and used a few dozen rows at a time in cache and never stored: the
// backward makes them again. Products run in internal::SmallGemm (d and H
// multiples of 8); every sum runs in an order fixed by the source, so the
// results do not depend on how rows are split into [begin, end) calls.
#ifndef TOKRL_NN_EXPERT_MLP_KERNEL_H_
#define TOKRL_NN_EXPERT_MLP_KERNEL_H_

#include <cstdint>

namespace tokrl::internal {

struct ExpertWeights {
  const float* w1 = nullptr;   // [d, H]
  const float* b1 = nullptr;   // [H]
  const float* w2 = nullptr;   // [H, d]
  const float* b2 = nullptr;   // [d]
  const float* w1t = nullptr;  // W1^T [H, d] (backward only)
  const float* w2t = nullptr;  // W2^T [d, H] (backward only)
  int64_t d = 0;
  int64_t hidden = 0;
};

/// Where an expert's slot rows lie: in blocks of `block` consecutive rows
/// of d floats, `block_stride` floats from one block to the next (row r at
/// (r / block) * block_stride + (r % block) * d). SoftMoE's slots [B, n, p,
/// d] give expert e's B * p rows in blocks of p, n * p * d apart, so no
/// one has to copy them into an [n, B * p, d] tensor first; the default is
/// one contiguous block. x, y and their gradients share the layout.
struct SlotRows {
  int64_t block = INT64_MAX;
  int64_t block_stride = 0;
};

/// Writes rows [begin, end) of y [T, d].
void ExpertMlpForward(const float* x, int64_t begin, int64_t end,
                      const ExpertWeights& w, float* y,
                      const SlotRows& layout = {});

/// Given grad_y (as y): rows [begin, end) of grad_x (as x), and the sums
/// over those rows of the gradients of W1, b1, W2, b2 (written, not added
/// to). A hidden pre-activation of exactly 0 passes no gradient (as ATen's
/// ReLU backward).
void ExpertMlpBackward(const float* x, int64_t begin, int64_t end,
                       const ExpertWeights& w, const float* grad_y,
                       float* grad_x, float* grad_w1, float* grad_b1,
                       float* grad_w2, float* grad_b2,
                       const SlotRows& layout = {});

}  // namespace tokrl::internal

#endif  // TOKRL_NN_EXPERT_MLP_KERNEL_H_
