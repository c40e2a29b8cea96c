#include "tokrl/nn/routing_kernel.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "tokrl/core/cpu_clones.h"

namespace tokrl::internal {
namespace {

// e^x for x <= 0, branch-free so that loops over it vectorize: x = n ln2 + r
// with |r| <= ln2/2, e^r by its degree-6 Taylor polynomial (relative error
// below 2e-7), 2^n built in the exponent bits. Inputs below -87 (where a
// float would go subnormal) give e^-87 ~ 1.6e-38, which is 0 for softmax.
inline float ExpNonPositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  // Round x/ln2 to the nearest integer with the 1.5 * 2^23 trick: t's low
  // mantissa bits then hold n.
  constexpr float kShift = 12582912.0f;
  const float t = x * 1.44269504088896341f + kShift;
  const float n = t - kShift;
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t tb;
  std::memcpy(&tb, &t, sizeof tb);
  const int32_t bits = (tb - 0x4B400000 + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// Reductions in 8 independent lanes, in GCC's vector type (GCC left the
// same loop on an array of 8 floats scalar: 8 vmaxss / vaddss per 8
// elements). Each lane's sum runs in source order and the lanes are added
// in order, so the result is the same with or without vectors, and a run
// gives the same numbers on every x86-64 machine.
typedef float Lanes __attribute__((vector_size(32)));
constexpr int64_t kLanes = 8;

// Loads 8 floats into v (unaligned). By reference: returning a 32-byte
// vector by value changes the ABI of the non-AVX clone (GCC -Wpsabi).
inline void Load(const float* x, Lanes& v) { std::memcpy(&v, x, sizeof v); }

inline float Sum(const float* x, int64_t n) {
  Lanes acc = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    Lanes v;
    Load(x + j, v);
    acc += v;
  }
  float s = 0.0f;
  for (; j < n; ++j) s += x[j];
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

inline float Dot(const float* x, const float* y, int64_t n) {
  Lanes acc = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    Lanes u, v;
    Load(x + j, u);
    Load(y + j, v);
    acc += u * v;
  }
  float s = 0.0f;
  for (; j < n; ++j) s += x[j] * y[j];
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

inline float Max(const float* x, int64_t n) {
  constexpr float kLow = -std::numeric_limits<float>::infinity();
  Lanes acc = {kLow, kLow, kLow, kLow, kLow, kLow, kLow, kLow};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    Lanes v;
    Load(x + j, v);
    acc = v > acc ? v : acc;
  }
  float s = kLow;
  for (; j < n; ++j) s = x[j] > s ? x[j] : s;
  for (int l = 0; l < kLanes; ++l) s = acc[l] > s ? acc[l] : s;
  return s;
}

// The shared exp is used when every row and column max is within this of
// the sample's max: the smallest row (column) sum is then >= e^-kShared, far
// from underflow, and an element it rounds to 0 is below e^-(87-kShared)
// relative to its row (column) max.
constexpr float kShared = 40.0f;

}  // namespace

TOKRL_CLONES
void RoutingSoftmaxForward(const float* logits, int64_t begin, int64_t end,
                           int64_t m, int64_t k, float* dispatch,
                           float* combine) {
  std::vector<float> col_max(k), col_sum(k), row_max(m);
  for (int64_t b = begin; b < end; ++b) {
    const float* x = logits + b * m * k;
    float* d = dispatch + b * m * k;
    float* c = combine + b * m * k;
    for (int64_t j = 0; j < k; ++j)
      col_max[j] = -std::numeric_limits<float>::infinity();
    float top = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < m; ++i) {
      const float* xi = x + i * k;
      for (int64_t j = 0; j < k; ++j)
        col_max[j] = xi[j] > col_max[j] ? xi[j] : col_max[j];
      row_max[i] = Max(xi, k);
      top = row_max[i] > top ? row_max[i] : top;
    }
    float lowest = top;
    for (int64_t i = 0; i < m; ++i)
      lowest = row_max[i] < lowest ? row_max[i] : lowest;
    for (int64_t j = 0; j < k; ++j)
      lowest = col_max[j] < lowest ? col_max[j] : lowest;
    const bool shared = top - lowest <= kShared;
    for (int64_t j = 0; j < k; ++j) col_sum[j] = 0.0f;
    for (int64_t i = 0; i < m; ++i) {
      const float* xi = x + i * k;
      float* di = d + i * k;
      float* ci = c + i * k;
      if (shared) {
        // One exp: e^(x - top) serves both softmaxes.
        for (int64_t j = 0; j < k; ++j) {
          const float e = ExpNonPositive(xi[j] - top);
          di[j] = e;
          ci[j] = e;
          col_sum[j] += e;
        }
      } else {
        const float rm = row_max[i];
        for (int64_t j = 0; j < k; ++j) {
          const float ed = ExpNonPositive(xi[j] - col_max[j]);
          const float ec = ExpNonPositive(xi[j] - rm);
          di[j] = ed;
          ci[j] = ec;
          col_sum[j] += ed;
        }
      }
      const float inv = 1.0f / Sum(ci, k);
      for (int64_t j = 0; j < k; ++j) ci[j] *= inv;
    }
    for (int64_t j = 0; j < k; ++j) col_sum[j] = 1.0f / col_sum[j];
    for (int64_t i = 0; i < m; ++i) {
      float* di = d + i * k;
      for (int64_t j = 0; j < k; ++j) di[j] *= col_sum[j];
    }
  }
}

TOKRL_CLONES
void RoutingSoftmaxBackward(const float* dispatch, const float* combine,
                            const float* grad_dispatch,
                            const float* grad_combine, int64_t begin,
                            int64_t end, int64_t m, int64_t k,
                            float* grad_logits) {
  std::vector<float> col_dot(k);
  for (int64_t b = begin; b < end; ++b) {
    const int64_t offset = b * m * k;
    float* out = grad_logits + offset;
    if (grad_dispatch != nullptr) {
      const float* d = dispatch + offset;
      const float* gd = grad_dispatch + offset;
      for (int64_t j = 0; j < k; ++j) col_dot[j] = 0.0f;
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < k; ++j)
          col_dot[j] += gd[i * k + j] * d[i * k + j];
      }
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < k; ++j)
          out[i * k + j] = d[i * k + j] * (gd[i * k + j] - col_dot[j]);
      }
    } else {
      for (int64_t i = 0; i < m * k; ++i) out[i] = 0.0f;
    }
    if (grad_combine != nullptr) {
      const float* c = combine + offset;
      const float* gc = grad_combine + offset;
      for (int64_t i = 0; i < m; ++i) {
        const float* ci = c + i * k;
        const float* gci = gc + i * k;
        const float dot = Dot(gci, ci, k);
        float* oi = out + i * k;
        for (int64_t j = 0; j < k; ++j) oi[j] += ci[j] * (gci[j] - dot);
      }
    }
  }
}

// Feature-major loops (for k, for j): on PerConv tokens, whose token stride
// sm is 1, the inner loop over tokens is contiguous and vectorizes; x_hat is
// written with a stride of d, within the sample's few KB.
TOKRL_CLONES
void NormalizeTokensForward(const float* x, int64_t sb, int64_t sm, int64_t sd,
                            int64_t begin, int64_t end, int64_t m, int64_t d,
                            float eps, float* x_hat, float* norms) {
  for (int64_t b = begin; b < end; ++b) {
    const float* xb = x + b * sb;
    float* n = norms + b * m;
    float* y = x_hat + b * m * d;
    for (int64_t j = 0; j < m; ++j) n[j] = 0.0f;
    for (int64_t k = 0; k < d; ++k) {
      const float* xk = xb + k * sd;
      for (int64_t j = 0; j < m; ++j) n[j] += xk[j * sm] * xk[j * sm];
    }
    for (int64_t j = 0; j < m; ++j) n[j] = std::sqrt(n[j]);
    for (int64_t k = 0; k < d; ++k) {
      const float* xk = xb + k * sd;
      for (int64_t j = 0; j < m; ++j) y[j * d + k] = xk[j * sm] / (n[j] + eps);
    }
  }
}

TOKRL_CLONES
void NormalizeTokensBackward(const float* x, int64_t sb, int64_t sm, int64_t sd,
                             const float* norms, const float* grad_x_hat,
                             int64_t begin, int64_t end, int64_t m, int64_t d,
                             float eps, float* grad_x) {
  std::vector<float> inv(static_cast<size_t>(m));
  std::vector<float> coef(static_cast<size_t>(m));
  for (int64_t b = begin; b < end; ++b) {
    const float* xb = x + b * sb;
    const float* n = norms + b * m;
    const float* g = grad_x_hat + b * m * d;
    float* gx = grad_x + b * sb;
    for (int64_t j = 0; j < m; ++j) coef[j] = 0.0f;
    for (int64_t k = 0; k < d; ++k) {
      const float* xk = xb + k * sd;
      for (int64_t j = 0; j < m; ++j) coef[j] += g[j * d + k] * xk[j * sm];
    }
    for (int64_t j = 0; j < m; ++j) {
      const float shifted = n[j] + eps;
      inv[j] = 1.0f / shifted;
      coef[j] = n[j] > 0.0f ? coef[j] / (shifted * shifted) / n[j] : 0.0f;
    }
    for (int64_t k = 0; k < d; ++k) {
      const float* xk = xb + k * sd;
      float* gk = gx + k * sd;
      for (int64_t j = 0; j < m; ++j) {
        gk[j * sm] = g[j * d + k] * inv[j] - xk[j * sm] * coef[j];
      }
    }
  }
}

}  // namespace tokrl::internal
