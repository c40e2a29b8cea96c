#include "tokrl/nn/expert_mlp_kernel.h"

#include <algorithm>

#include "tokrl/core/cpu_clones.h"
#include "tokrl/nn/small_gemm_kernel.h"

namespace tokrl::internal {
namespace {

// Why: on MinAtar SoftMoE-1 x4 (one expert, 3,200 slots of d = 16 per batch,
// H = 512) the hidden activations are 6.5 MB; the batched products wrote
// them, and the ReLU, its backward and the bias gradients read them again
// from memory (~1.2 ms of a 6.2 ms update in an op trace). Here 64 rows'
// 128 KB stay in L2 from the first product to the second.
constexpr int64_t kRows = 64;

// The products' biases, ReLU and its mask, the hidden bias gradient and the
// weight gradients' running sums happen as each product stores its results
// (SmallGemmEpilogue), not as passes over the 64 x H hidden block after it:
// those passes were ~7% of a MinAtar SoftMoE-1 x4 update on a Zen 3 (perf).

// acc[j] += sum over rows of g[r, j], rows in order.
TOKRL_CLONES void AddColumnSums(float* acc, const float* g, int64_t rows,
                                int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) acc[j] += g[r * n + j];
  }
}

// Rows [r0, r0 + rows) of a SlotRows layout as one row-major [rows, d]
// matrix: where they lie in one block, in place; else copied to (In) or
// from (Out) `buf`, rows * d floats of the thread's own, which stay in
// cache. The products see the same numbers in the same order either way.
class Rows {
 public:
  Rows(int64_t r0, int64_t rows, int64_t d, const SlotRows& layout)
      : r0_(r0), rows_(rows), d_(d), layout_(layout) {}

  bool InPlace() const {
    return r0_ / layout_.block == (r0_ + rows_ - 1) / layout_.block;
  }

  const float* In(const float* base, float* buf) const {
    if (InPlace()) return base + Offset(r0_);
    ForEachRun([&](int64_t r, int64_t n) {
      std::copy_n(base + Offset(r0_ + r), n * d_, buf + r * d_);
    });
    return buf;
  }

  float* Out(float* base, float* buf) const {
    return InPlace() ? base + Offset(r0_) : buf;
  }

  // After Out(base, buf) was written: copies buf's rows to their places.
  void Flush(const float* buf, float* base) const {
    if (InPlace()) return;
    ForEachRun([&](int64_t r, int64_t n) {
      std::copy_n(buf + r * d_, n * d_, base + Offset(r0_ + r));
    });
  }

 private:
  // fn(r, n) for each run of n consecutive rows r0 + r .. r0 + r + n - 1
  // within one block.
  template <typename F>
  void ForEachRun(const F& fn) const {
    for (int64_t r = 0; r < rows_;) {
      const int64_t n =
          std::min(rows_ - r, layout_.block - (r0_ + r) % layout_.block);
      fn(r, n);
      r += n;
    }
  }

  int64_t Offset(int64_t r) const {
    return r / layout_.block * layout_.block_stride + r % layout_.block * d_;
  }

  int64_t r0_, rows_, d_;
  SlotRows layout_;
};

}  // namespace

void ExpertMlpForward(const float* x, int64_t begin, int64_t end,
                      const ExpertWeights& w, float* y,
                      const SlotRows& layout) {
  const int64_t d = w.d, hidden = w.hidden;
  const auto h = ScratchFloats(kRows * hidden);
  const auto xb = ScratchFloats(kRows * d);
  const auto yb = ScratchFloats(kRows * d);
  for (int64_t r0 = begin; r0 < end; r0 += kRows) {
    const int64_t rows = std::min(kRows, end - r0);
    const Rows chunk(r0, rows, d, layout);
    SmallGemm(chunk.In(x, xb.get()), d, 1, rows, d, w.w1, hidden, hidden,
              h.get(), hidden, {.bias = w.b1, .relu = true});
    SmallGemm(h.get(), hidden, 1, rows, hidden, w.w2, d, d,
              chunk.Out(y, yb.get()), d, {.bias = w.b2});
    chunk.Flush(yb.get(), y);
  }
}

void ExpertMlpBackward(const float* x, int64_t begin, int64_t end,
                       const ExpertWeights& w, const float* grad_y,
                       float* grad_x, float* grad_w1, float* grad_b1,
                       float* grad_w2, float* grad_b2, const SlotRows& layout) {
  const int64_t d = w.d, hidden = w.hidden;
  const auto h = ScratchFloats(kRows * hidden);
  const auto dh = ScratchFloats(kRows * hidden);
  const auto xb = ScratchFloats(kRows * d);
  const auto gb = ScratchFloats(kRows * d);
  const auto db = ScratchFloats(kRows * d);
  std::fill(grad_w1, grad_w1 + d * hidden, 0.0f);
  std::fill(grad_b1, grad_b1 + hidden, 0.0f);
  std::fill(grad_w2, grad_w2 + hidden * d, 0.0f);
  std::fill(grad_b2, grad_b2 + d, 0.0f);
  for (int64_t r0 = begin; r0 < end; r0 += kRows) {
    const int64_t rows = std::min(kRows, end - r0);
    const Rows chunk(r0, rows, d, layout);
    const float* xc = chunk.In(x, xb.get());
    const float* gy = chunk.In(grad_y, gb.get());
    SmallGemm(xc, d, 1, rows, d, w.w1, hidden, hidden, h.get(), hidden,
              {.bias = w.b1, .relu = true});
    // W2, b2: h^T gy [H, d] added to the running sum, column sums of gy.
    SmallGemm(h.get(), 1, hidden, hidden, rows, gy, d, d, grad_w2, d,
              {.accumulate = true});
    AddColumnSums(grad_b2, gy, rows, d);
    // dh = gy W2^T where the unit was active (h > 0 iff its pre-activation
    // was), and b1's gradient: dh's column sums.
    SmallGemm(gy, d, 1, rows, d, w.w2t, hidden, hidden, dh.get(), hidden,
              {.mask = h.get(), .ldm = hidden, .column_sums = grad_b1});
    // W1: x^T dh [d, H] added to the running sum.
    SmallGemm(xc, 1, d, d, rows, dh.get(), hidden, hidden, grad_w1, hidden,
              {.accumulate = true});
    // dx = dh W1^T.
    SmallGemm(dh.get(), hidden, 1, rows, hidden, w.w1t, d, d,
              chunk.Out(grad_x, db.get()), d);
    chunk.Flush(db.get(), grad_x);
  }
}

}  // namespace tokrl::internal
