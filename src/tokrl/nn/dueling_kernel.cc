#include "tokrl/nn/dueling_kernel.h"

#include <algorithm>

#include "tokrl/core/cpu_clones.h"

namespace tokrl::internal {
namespace {

// Columns per block: its sums on the stack, its a rows in L1.
constexpr int64_t kBlock = 1024;

// sum[j] = rows[0][j] + ... + rows[a - 1][j], rows `stride` apart, in row
// order.
inline void SumRows(const float* rows, int64_t a, int64_t stride, int64_t len,
                    float* sum) {
  std::copy(rows, rows + len, sum);
  for (int64_t r = 1; r < a; ++r) {
    for (int64_t j = 0; j < len; ++j) sum[j] += rows[r * stride + j];
  }
}

}  // namespace

TOKRL_CLONES
void DuelingForward(const float* value, const float* advantage, int64_t a,
                    int64_t stride, int64_t len, float* out) {
  const float count = static_cast<float>(a);
  float mean[kBlock];
  for (int64_t c = 0; c < len; c += kBlock) {
    const int64_t n = std::min(kBlock, len - c);
    const float* v = value + c;
    const float* adv = advantage + c;
    float* o = out + c;
    SumRows(adv, a, stride, n, mean);
    for (int64_t j = 0; j < n; ++j) mean[j] /= count;
    for (int64_t r = 0; r < a; ++r) {
      for (int64_t j = 0; j < n; ++j) {
        o[r * stride + j] = (v[j] + adv[r * stride + j]) - mean[j];
      }
    }
  }
}

TOKRL_CLONES
void DuelingBackward(const float* grad_out, int64_t a, int64_t stride,
                     int64_t len, float* grad_value, float* grad_advantage) {
  const float count = static_cast<float>(a);
  float share[kBlock];  // grad_v / a: one division per column
  for (int64_t c = 0; c < len; c += kBlock) {
    const int64_t n = std::min(kBlock, len - c);
    const float* g = grad_out + c;
    float* dv = grad_value + c;
    float* da = grad_advantage + c;
    SumRows(g, a, stride, n, dv);
    for (int64_t j = 0; j < n; ++j) share[j] = dv[j] / count;
    for (int64_t r = 0; r < a; ++r) {
      for (int64_t j = 0; j < n; ++j) {
        da[r * stride + j] = g[r * stride + j] - share[j];
      }
    }
  }
}

}  // namespace tokrl::internal
