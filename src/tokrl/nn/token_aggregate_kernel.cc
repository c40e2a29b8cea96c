#include "tokrl/nn/token_aggregate_kernel.h"

#include <algorithm>
#include <vector>

#include "tokrl/core/cpu_clones.h"
#include "tokrl/nn/small_gemm_kernel.h"

namespace tokrl::internal {
namespace {

// Why: on MinAtar (m = 100 PerConv tokens of t = 16, width 512 for the x4
// baselines) the per-token activations of a batch of 32 are 6.5 MB; ATen
// wrote them, read them for the ReLU, the mean and their three backward
// ops, and ran the product as 32 small GEMMs. Here a sample's 200 KB stay
// in L2 from the product to the sum.

// One sample's buffers; the product's padded columns stay 0.
struct Scratch {
  Scratch(int64_t m, int64_t t, int64_t width)
      : mp(SmallGemmPadded(m)),
        tp(SmallGemmPadded(t)),
        xt(static_cast<size_t>(t * mp)),
        pre(static_cast<size_t>(width * mp)) {}
  int64_t mp, tp;
  std::vector<float> xt;   // x^T [t, mp]
  std::vector<float> pre;  // W x^T [width, mp], before the bias
};

// pre = W x[b]^T for one sample.
void PreActivations(const float* xb, TokenStrides s, int64_t m, int64_t t,
                    const float* weight, int64_t width, Scratch& w) {
  for (int64_t j = 0; j < t; ++j) {
    float* row = w.xt.data() + j * w.mp;
    for (int64_t i = 0; i < m; ++i) row[i] = xb[i * s.token + j * s.feature];
  }
  SmallGemm(weight, t, 1, width, t, w.xt.data(), w.mp, m, w.pre.data(), w.mp);
}

// scale * sum_i relu(row[i] + bias), in 8 lanes then the lanes in order.
TOKRL_CLONES float ReluSum(const float* row, int64_t m, float bias) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= m; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += std::max(row[i + l] + bias, 0.0f);
  }
  float s = 0.0f;
  for (; i < m; ++i) s += std::max(row[i] + bias, 0.0f);
  for (int l = 0; l < 8; ++l) s += acc[l];
  return s;
}

// row[i] = g where row[i] + bias > 0, else 0; returns how many passed.
TOKRL_CLONES int64_t MaskRow(float* row, int64_t m, float bias, float g) {
  int64_t passed = 0;
  for (int64_t i = 0; i < m; ++i) {
    const bool on = row[i] + bias > 0.0f;
    passed += on ? 1 : 0;
    row[i] = on ? g : 0.0f;
  }
  return passed;
}

}  // namespace

void DenseReluAggregateForward(const float* x, TokenStrides strides,
                               int64_t begin, int64_t end, int64_t m, int64_t t,
                               const float* weight, const float* bias,
                               int64_t width, float scale, float* z) {
  Scratch w(m, t, width);
  for (int64_t b = begin; b < end; ++b) {
    PreActivations(x + b * strides.sample, strides, m, t, weight, width, w);
    float* zb = z + b * width;
    for (int64_t r = 0; r < width; ++r) {
      zb[r] = scale * ReluSum(w.pre.data() + r * w.mp, m, bias[r]);
    }
  }
}

void DenseReluAggregateBackward(const float* x, TokenStrides strides,
                                int64_t begin, int64_t end, int64_t m,
                                int64_t t, const float* weight,
                                const float* bias, int64_t width, float scale,
                                const float* grad_z, float* grad_x,
                                float* grad_weight, float* grad_bias) {
  Scratch w(m, t, width);
  std::vector<float> xr(static_cast<size_t>(m * w.tp));  // x[b] [m, tp]
  std::vector<float> dxt(static_cast<size_t>(t * m));    // dx^T [t, m]
  std::fill(grad_weight, grad_weight + width * t, 0.0f);
  std::fill(grad_bias, grad_bias + width, 0.0f);
  for (int64_t b = begin; b < end; ++b) {
    const float* xb = x + b * strides.sample;
    PreActivations(xb, strides, m, t, weight, width, w);
    // pre becomes G = dL/d(pre) [width, mp]: the sample's gradient where
    // the unit was active.
    const float* gz = grad_z + b * width;
    for (int64_t r = 0; r < width; ++r) {
      const float g = scale * gz[r];
      const int64_t passed = MaskRow(w.pre.data() + r * w.mp, m, bias[r], g);
      grad_bias[r] += static_cast<float>(passed) * g;
    }
    // dW += G x[b]: x[b] row-major, its padded columns 0.
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < t; ++j) {
        xr[static_cast<size_t>(i * w.tp + j)] =
            xb[i * strides.token + j * strides.feature];
      }
    }
    SmallGemm(w.pre.data(), w.mp, 1, width, m, xr.data(), w.tp, t, grad_weight,
              t, {.accumulate = true});
    if (grad_x != nullptr) {
      // dx^T = W^T G [t, m], then to x's layout (for PerConv tokens, a
      // transposed view of the encoder's output, the same order).
      SmallGemm(weight, 1, t, t, width, w.pre.data(), w.mp, m, dxt.data(), m);
      float* gx = grad_x + b * strides.sample;
      for (int64_t j = 0; j < t; ++j) {
        for (int64_t i = 0; i < m; ++i) {
          gx[i * strides.token + j * strides.feature] = dxt[j * m + i];
        }
      }
    }
  }
}

}  // namespace tokrl::internal
