#include "tokrl/nn/routing_kernel.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "tokrl/core/cpu_clones.h"

namespace tokrl::internal {
namespace {

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

// The max of a row of n logits, in 8 lanes as Sum, raising col_max[j] to
// x[j] on the way: one read of the row for both.
inline float MaxAndColumnMax(const float* x, int64_t n, float* col_max) {
  constexpr float kLow = -std::numeric_limits<float>::infinity();
  Lanes acc = {kLow, kLow, kLow, kLow, kLow, kLow, kLow, kLow};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    Lanes v, cm;
    Load(x + j, v);
    Load(col_max + j, cm);
    acc = v > acc ? v : acc;
    cm = v > cm ? v : cm;
    std::memcpy(col_max + j, &cm, sizeof cm);
  }
  float s = kLow;
  for (; j < n; ++j) {
    s = x[j] > s ? x[j] : s;
    col_max[j] = x[j] > col_max[j] ? x[j] : col_max[j];
  }
  for (int l = 0; l < kLanes; ++l) s = acc[l] > s ? acc[l] : s;
  return s;
}

// The exp's vectors of W lanes: floats, int32s, and floats at any float's
// alignment for loads and stores (here, not as template arguments: there a
// typedef's attributes would be dropped, and the loads assume alignment).
template <int W>
struct ExpVectors;
template <>
struct ExpVectors<8> {
  typedef Lanes V;
  typedef int32_t I __attribute__((vector_size(32)));
  typedef float U __attribute__((vector_size(32), aligned(4)));
};
template <>
struct ExpVectors<16> {
  typedef float V __attribute__((vector_size(64)));
  typedef int32_t I __attribute__((vector_size(64)));
  typedef float U __attribute__((vector_size(64), aligned(4)));
};

// e^x for x <= 0 on u vectors of W lanes, in place, branch-free: x = n ln2
// + r with |r| <= ln2/2, e^r by its degree-6 Taylor polynomial (relative
// error below 2e-7), 2^n built in the exponent bits. Inputs below -87 (where
// a float would go subnormal) give e^-87 ~ 1.6e-38, which is 0 for softmax.
// Each lane runs the same float operations in the same order, so its value
// does not depend on u, the lane or the CPU clone.
// Why u vectors in step: one exp is a chain of ~25 dependent operations,
// and a Zen 3 core's out-of-order window held about two such chains when
// they came one after the other (a MinAtar sample's routing took ~3 cycles
// per logit); interleaved, u chains advance together (forward 12.1 -> 8.9
// us per 100 x 100 sample there).
template <int W, int u>
inline void ExpNonPositive(typename ExpVectors<W>::V* x) {
  typedef typename ExpVectors<W>::V V;
  typedef typename ExpVectors<W>::I I;
  // Round x/ln2 to the nearest integer with the 1.5 * 2^23 trick: t's low
  // mantissa bits then hold n.
  constexpr float kShift = 12582912.0f;
  V t[u], n[u], r[u], p[u];
  for (int v = 0; v < u; ++v) {
    const V low = V{} - 87.0f;
    x[v] = x[v] < low ? low : x[v];
  }
  for (int v = 0; v < u; ++v) t[v] = x[v] * 1.44269504088896341f + kShift;
  for (int v = 0; v < u; ++v) n[v] = t[v] - kShift;
  for (int v = 0; v < u; ++v) r[v] = x[v] - n[v] * 0.693145751953125f;
  for (int v = 0; v < u; ++v) r[v] = r[v] - n[v] * 1.42860682030941723e-6f;
  for (int v = 0; v < u; ++v) p[v] = r[v] * (1.0f / 720.0f) + 1.0f / 120.0f;
  for (int v = 0; v < u; ++v) p[v] = p[v] * r[v] + 1.0f / 24.0f;
  for (int v = 0; v < u; ++v) p[v] = p[v] * r[v] + 1.0f / 6.0f;
  for (int v = 0; v < u; ++v) p[v] = p[v] * r[v] + 0.5f;
  for (int v = 0; v < u; ++v) p[v] = p[v] * r[v] + 1.0f;
  for (int v = 0; v < u; ++v) p[v] = p[v] * r[v] + 1.0f;
  // A cast between vector types of one size keeps the bits (GCC).
  for (int v = 0; v < u; ++v) {
    const I bits = (reinterpret_cast<I>(t[v]) - 0x4B400000 + 127) << 23;
    x[v] = p[v] * reinterpret_cast<V>(bits);
  }
}

// e[j] = e^(x[j] - top) for j < n (e may be x), four vectors of W lanes at
// a time; the last logits (fewer than four vectors) 8 at a time, the last
// 8 padded with top.
template <int W>
[[gnu::always_inline]] inline void ExpShiftedIn(const float* x, int64_t n,
                                                float top, float* e) {
  typedef typename ExpVectors<W>::V V;
  typedef typename ExpVectors<W>::U U;
  constexpr int kStep = 4;
  int64_t j = 0;
  for (; j + kStep * W <= n; j += kStep * W) {
    V v[kStep];
    // Loads and stores through an unaligned vector type, not Load's memcpy:
    // GCC kept memcpy'd array elements in memory (store-forwarding stalls,
    // twice the time).
    for (int s = 0; s < kStep; ++s)
      v[s] = *reinterpret_cast<const U*>(x + j + s * W) - top;
    ExpNonPositive<W, kStep>(v);
    for (int s = 0; s < kStep; ++s) *reinterpret_cast<U*>(e + j + s * W) = v[s];
  }
  for (; j < n; j += kLanes) {
    float tail[kLanes];
    for (int l = 0; l < kLanes; ++l) tail[l] = j + l < n ? x[j + l] : top;
    Lanes v;
    Load(tail, v);
    v -= top;
    ExpNonPositive<8, 1>(&v);
    for (int l = 0; l < kLanes && j + l < n; ++l) e[j + l] = v[l];
  }
}

#if TOKRL_HAVE_AVX512_CLONE && !defined(TOKRL_NO_AVX512)
// The exp on 16-lane vectors, whole AVX-512 registers, for CPUs that have
// them: every lane's value is the same at any width (this file builds
// without FMA contraction), so only the exp, whose lanes are independent,
// goes wide; the reductions keep the 8 lanes that fix the order of their
// sums. Why: the 8-lane exp left half of each AVX-512 register unused
// (bench_nn BM_Routing/1/0 on a Zen 5 core: forward 234 -> 170 us). Why a
// function of its own: the same 16-lane source built for AVX2 (two
// registers a vector) ran 2-3x slower than the 8-lane one there, so the
// AVX2 and baseline clones keep 8 lanes.
__attribute__((target("avx512f"))) void ExpShiftedAvx512(const float* x,
                                                         int64_t n, float top,
                                                         float* e) {
  ExpShiftedIn<16>(x, n, top, e);
}
#endif

[[gnu::always_inline]] inline void ExpShifted(const float* x, int64_t n,
                                              float top, float* e) {
#if TOKRL_HAVE_AVX512_CLONE && !defined(TOKRL_NO_AVX512)
  if (CpuHasAvx512()) {
    ExpShiftedAvx512(x, n, top, e);
    return;
  }
#endif
  ExpShiftedIn<8>(x, n, top, e);
}

// Sum(e, n) (the same order, so the same float), adding each e[j] to
// col_sum[j] on the way.
inline float SumAndColumnSum(const float* e, int64_t n, float* col_sum) {
  Lanes acc = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    Lanes v, cs;
    Load(e + j, v);
    Load(col_sum + j, cs);
    cs += v;
    std::memcpy(col_sum + j, &cs, sizeof cs);
    acc += v;
  }
  float s = 0.0f;
  for (; j < n; ++j) {
    s += e[j];
    col_sum[j] += e[j];
  }
  for (int l = 0; l < kLanes; ++l) s += acc[l];
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
  std::vector<float> col_max(k), col_sum(k), row_max(m), row_inv(m);
  for (int64_t b = begin; b < end; ++b) {
    const float* x = logits + b * m * k;
    float* d = dispatch + b * m * k;
    float* c = combine + b * m * k;
    for (int64_t j = 0; j < k; ++j)
      col_max[j] = -std::numeric_limits<float>::infinity();
    float top = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < m; ++i) {
      row_max[i] = MaxAndColumnMax(x + i * k, k, col_max.data());
      top = row_max[i] > top ? row_max[i] : top;
    }
    float lowest = top;
    for (int64_t i = 0; i < m; ++i)
      lowest = row_max[i] < lowest ? row_max[i] : lowest;
    for (int64_t j = 0; j < k; ++j)
      lowest = col_max[j] < lowest ? col_max[j] : lowest;
    for (int64_t j = 0; j < k; ++j) col_sum[j] = 0.0f;
    // The exps go to d (and c): e^(x - top) serves both softmaxes when
    // shared, else e^(x - column max) and e^(x - row max). One pass at the
    // end scales them by the sums' inverses.
    const bool shared = top - lowest <= kShared;
    if (shared) {
      ExpShifted(x, m * k, top, d);
      for (int64_t i = 0; i < m; ++i)
        row_inv[i] = 1.0f / SumAndColumnSum(d + i * k, k, col_sum.data());
    } else {
      for (int64_t i = 0; i < m; ++i) {
        const float* xi = x + i * k;
        float* di = d + i * k;
        float* ci = c + i * k;
        for (int64_t j = 0; j < k; ++j) {
          di[j] = xi[j] - col_max[j];
          ci[j] = xi[j] - row_max[i];
        }
        ExpShifted(di, k, 0.0f, di);
        ExpShifted(ci, k, 0.0f, ci);
        for (int64_t j = 0; j < k; ++j) col_sum[j] += di[j];
        row_inv[i] = 1.0f / Sum(ci, k);
      }
    }
    for (int64_t j = 0; j < k; ++j) col_sum[j] = 1.0f / col_sum[j];
    for (int64_t i = 0; i < m; ++i) {
      float* di = d + i * k;
      float* ci = c + i * k;
      const float* ei = shared ? di : ci;
      const float inv = row_inv[i];
      for (int64_t j = 0; j < k; ++j) {
        ci[j] = ei[j] * inv;
        di[j] *= col_sum[j];
      }
    }
  }
}

TOKRL_CLONES
void RoutingSoftmaxBackward(const float* dispatch, const float* combine,
                            const float* grad_dispatch,
                            const float* grad_combine, int64_t begin,
                            int64_t end, int64_t m, int64_t k,
                            float* grad_logits) {
  std::vector<float> col_dot(k), row_dot(m);
  for (int64_t b = begin; b < end; ++b) {
    const int64_t offset = b * m * k;
    float* out = grad_logits + offset;
    const float* d = dispatch + offset;
    const float* c = combine + offset;
    const float* gd = grad_dispatch ? grad_dispatch + offset : nullptr;
    const float* gc = grad_combine ? grad_combine + offset : nullptr;
    if (gd != nullptr) {
      for (int64_t j = 0; j < k; ++j) col_dot[j] = 0.0f;
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < k; ++j)
          col_dot[j] += gd[i * k + j] * d[i * k + j];
      }
    }
    if (gc != nullptr) {
      for (int64_t i = 0; i < m; ++i)
        row_dot[i] = Dot(gc + i * k, c + i * k, k);
    }
    // One pass over the output; the sum of the two terms is the same float
    // whether or not they are added in separate passes.
    for (int64_t i = 0; i < m; ++i) {
      float* oi = out + i * k;
      const int64_t r = i * k;
      if (gd != nullptr && gc != nullptr) {
        const float dot = row_dot[i];
        for (int64_t j = 0; j < k; ++j) {
          oi[j] = d[r + j] * (gd[r + j] - col_dot[j]) +
                  c[r + j] * (gc[r + j] - dot);
        }
      } else if (gd != nullptr) {
        for (int64_t j = 0; j < k; ++j)
          oi[j] = d[r + j] * (gd[r + j] - col_dot[j]);
      } else if (gc != nullptr) {
        // Added to 0, as to the zeroed output before: a -0 term gives +0.
        const float dot = row_dot[i];
        for (int64_t j = 0; j < k; ++j)
          oi[j] = 0.0f + c[r + j] * (gc[r + j] - dot);
      } else {
        for (int64_t j = 0; j < k; ++j) oi[j] = 0.0f;
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

namespace {

// The max of a row of n floats, in 8 lanes as Sum.
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

// p = softmax(x) for rows x k floats. The exps run over all the rows at
// once (one row of 51 atoms kept the exp's ~25-operation chain waiting on
// its latency: ~4 ns an element, against ~1 in one stream). Writes each
// row's max to top[r] and sum of e^(x - max) to sum[r].
[[gnu::always_inline]] inline void SoftmaxRows(const float* x, int64_t rows,
                                               int64_t k, float* p, float* top,
                                               float* sum) {
  for (int64_t r = 0; r < rows; ++r) {
    top[r] = Max(x + r * k, k);
    for (int64_t j = 0; j < k; ++j) p[r * k + j] = x[r * k + j] - top[r];
  }
  ExpShifted(p, rows * k, 0.0f, p);
  for (int64_t r = 0; r < rows; ++r) {
    sum[r] = Sum(p + r * k, k);
    const float inv = 1.0f / sum[r];
    for (int64_t j = 0; j < k; ++j) p[r * k + j] *= inv;
  }
}

}  // namespace

TOKRL_CLONES
void AtomSoftmax(const float* x, int64_t rows, int64_t k, float* p) {
  std::vector<float> top(rows), sum(rows);
  SoftmaxRows(x, rows, k, p, top.data(), sum.data());
}

TOKRL_CLONES
void AtomExpectations(const float* x, const float* support, int64_t rows,
                      int64_t k, float* p, float* q) {
  std::vector<float> top(rows), sum(rows);
  SoftmaxRows(x, rows, k, p, top.data(), sum.data());
  for (int64_t r = 0; r < rows; ++r) q[r] = Dot(p + r * k, support, k);
}

TOKRL_CLONES
void AtomExpectationsBackward(const float* p, const float* q,
                              const float* support, const float* grad_q,
                              int64_t rows, int64_t k, float* grad_x) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* pr = p + r * k;
    float* gr = grad_x + r * k;
    for (int64_t j = 0; j < k; ++j)
      gr[j] = grad_q[r] * (pr[j] * (support[j] - q[r]));
  }
}

TOKRL_CLONES
void AtomCrossEntropy(const float* x, const float* t, int64_t rows, int64_t k,
                      float* p, float* loss) {
  std::vector<float> top(rows), sum(rows), log_softmax(k);
  SoftmaxRows(x, rows, k, p, top.data(), sum.data());
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * k;
    const float log_sum = std::log(sum[r]);
    for (int64_t j = 0; j < k; ++j) log_softmax[j] = (xr[j] - top[r]) - log_sum;
    loss[r] = -Dot(t + r * k, log_softmax.data(), k);
  }
}

TOKRL_CLONES
void AtomCrossEntropyBackward(const float* p, const float* t,
                              const float* grad_loss, int64_t rows, int64_t k,
                              float* grad_x) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* pr = p + r * k;
    const float* tr = t + r * k;
    const float mass = Sum(tr, k);
    float* gr = grad_x + r * k;
    for (int64_t j = 0; j < k; ++j)
      gr[j] = grad_loss[r] * (pr[j] * mass - tr[j]);
  }
}

// Phi is a few thousand floats (MinAtar SoftMoE-4: 16 x 100), so plain
// loops; what they save is the ~ten LibTorch ops of the same maths.
void NormalizePhiForward(const float* phi, const float* scale, int64_t k,
                         int64_t d, int64_t cols, float eps, float* out,
                         float* norms) {
  for (int64_t b = 0; b < k; ++b) {
    const float* p = phi + b * d * cols;
    float* n = norms + b * cols;
    float* y = out + b * d * cols;
    for (int64_t j = 0; j < cols; ++j) n[j] = 0.0f;
    for (int64_t i = 0; i < d; ++i) {
      for (int64_t j = 0; j < cols; ++j)
        n[j] += p[i * cols + j] * p[i * cols + j];
    }
    for (int64_t j = 0; j < cols; ++j) n[j] = std::sqrt(n[j]);
    for (int64_t i = 0; i < d; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        y[i * cols + j] = p[i * cols + j] / (n[j] + eps) * scale[b];
      }
    }
  }
}

void NormalizePhiBackward(const float* phi, const float* scale,
                          const float* norms, const float* grad_out, int64_t k,
                          int64_t d, int64_t cols, float eps, float* grad_phi,
                          float* grad_scale) {
  std::vector<float> inv(static_cast<size_t>(cols));
  std::vector<float> coef(static_cast<size_t>(cols));
  for (int64_t b = 0; b < k; ++b) {
    const float* p = phi + b * d * cols;
    const float* n = norms + b * cols;
    const float* g = grad_out + b * d * cols;
    float* gp = grad_phi + b * d * cols;
    const float s = scale[b];
    for (int64_t j = 0; j < cols; ++j) {
      inv[j] = 1.0f / (n[j] + eps);
      coef[j] = 0.0f;
    }
    double ds = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        const float x = p[i * cols + j];
        coef[j] += s * g[i * cols + j] * x;
        ds += static_cast<double>(g[i * cols + j]) * (x * inv[j]);
      }
    }
    grad_scale[b] = static_cast<float>(ds);
    for (int64_t j = 0; j < cols; ++j) {
      coef[j] = n[j] > 0.0f ? coef[j] * inv[j] * inv[j] / n[j] : 0.0f;
    }
    for (int64_t i = 0; i < d; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        gp[i * cols + j] =
            s * g[i * cols + j] * inv[j] - p[i * cols + j] * coef[j];
      }
    }
  }
}

}  // namespace tokrl::internal
