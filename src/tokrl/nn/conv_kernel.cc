#include "tokrl/nn/conv_kernel.h"

#include <algorithm>
#include <vector>

#include "tokrl/nn/small_gemm_kernel.h"

namespace tokrl::internal {
namespace {

// Why: oneDNN (LibTorch 1.13's CPU conv) takes ~45 us forward and ~125 us
// for the weight gradient of MinAtar's 3x3 conv (4 -> 16 channels, 10x10,
// batch 32) on a Zen 5 core, ~3.7 MFLOP each; its backward runs at under
// 30 GFLOP/s on these small channel counts.

// One sample's and group's patches: cols [channels * kernel^2, positions],
// rows padded to a multiple of 8 positions (the padding stays 0), made
// from a zero-padded copy of the input planes so that every row segment is
// a plain copy (contiguous at stride 1).
struct Patches {
  explicit Patches(const ConvShape& s)
      : rows(s.channels * s.kernel * s.kernel),
        positions(s.out_height * s.out_width),
        ld(SmallGemmPadded(positions)),
        ph((s.out_height - 1) * s.stride + s.kernel),
        pw((s.out_width - 1) * s.stride + s.kernel),
        cols(static_cast<size_t>(rows * ld)),
        padded(static_cast<size_t>(s.channels * ph * pw)) {}

  // From x's channels [first, first + channels) of one sample.
  void Fill(const float* xs, const ConvShape& s, int64_t first) {
    const int64_t k = s.kernel;
    // Rows and columns of the input inside the padded planes (the rest of
    // a padded plane is 0: zeroed once, never written).
    const int64_t rows_in = std::min(s.height, ph - s.pad);
    const int64_t cols_in = std::min(s.width, pw - s.pad);
    for (int64_t c = 0; c < s.channels; ++c) {
      const float* plane = xs + (first + c) * s.height * s.width;
      float* to = padded.data() + (c * ph + s.pad) * pw + s.pad;
      for (int64_t y = 0; y < rows_in; ++y) {
        std::copy(plane + y * s.width, plane + y * s.width + cols_in,
                  to + y * pw);
      }
    }
    for (int64_t c = 0; c < s.channels; ++c) {
      const float* plane = padded.data() + c * ph * pw;
      for (int64_t ky = 0; ky < k; ++ky) {
        for (int64_t kx = 0; kx < k; ++kx) {
          float* row = cols.data() + ((c * k + ky) * k + kx) * ld;
          for (int64_t oy = 0; oy < s.out_height; ++oy) {
            const float* in = plane + (oy * s.stride + ky) * pw + kx;
            float* out = row + oy * s.out_width;
            if (s.stride == 1) {
              std::copy(in, in + s.out_width, out);
            } else {
              for (int64_t ox = 0; ox < s.out_width; ++ox) {
                out[ox] = in[ox * s.stride];
              }
            }
          }
        }
      }
    }
  }

  int64_t rows, positions, ld, ph, pw;
  std::vector<float> cols;
  std::vector<float> padded;  // [channels, ph, pw]
};

}  // namespace

void ConvForward(const float* x, const ConvShape& s, int64_t begin, int64_t end,
                 const float* weight, const float* bias, float* y) {
  Patches p(s);
  const int64_t in_sample = s.groups * s.channels * s.height * s.width;
  const int64_t out_sample = s.groups * s.out_channels * p.positions;
  for (int64_t b = begin; b < end; ++b) {
    for (int64_t g = 0; g < s.groups; ++g) {
      p.Fill(x + b * in_sample, s, g * s.channels);
      float* yg = y + b * out_sample + g * s.out_channels * p.positions;
      SmallGemm(weight + g * s.out_channels * p.rows, p.rows, 1, s.out_channels,
                p.rows, p.cols.data(), p.ld, p.positions, yg, p.positions);
      for (int64_t o = 0; o < s.out_channels; ++o) {
        const float bo = bias[g * s.out_channels + o];
        float* row = yg + o * p.positions;
        for (int64_t i = 0; i < p.positions; ++i) row[i] += bo;
      }
    }
  }
}

void ConvWeightGradient(const float* x, const ConvShape& s, int64_t begin,
                        int64_t end, const float* grad_y, float* grad_weight,
                        float* grad_bias) {
  Patches p(s);
  const int64_t in_sample = s.groups * s.channels * s.height * s.width;
  const int64_t out_sample = s.groups * s.out_channels * p.positions;
  const int64_t o = s.out_channels;
  const int64_t op = SmallGemmPadded(o);
  std::vector<float> gt(static_cast<size_t>(p.positions * op));  // grad^T
  std::vector<float> dwt(static_cast<size_t>(p.rows * o));       // [rows, o]
  std::fill(grad_weight, grad_weight + s.groups * o * p.rows, 0.0f);
  std::fill(grad_bias, grad_bias + s.groups * o, 0.0f);
  for (int64_t b = begin; b < end; ++b) {
    for (int64_t g = 0; g < s.groups; ++g) {
      p.Fill(x + b * in_sample, s, g * s.channels);
      const float* gy = grad_y + b * out_sample + g * o * p.positions;
      for (int64_t c = 0; c < o; ++c) {
        float sum = 0.0f;
        for (int64_t i = 0; i < p.positions; ++i) {
          gt[static_cast<size_t>(i * op + c)] = gy[c * p.positions + i];
          sum += gy[c * p.positions + i];
        }
        grad_bias[g * o + c] += sum;
      }
      // dW^T [rows, o] = cols [rows, positions] grad^T [positions, o].
      SmallGemm(p.cols.data(), p.ld, 1, p.rows, p.positions, gt.data(), op, o,
                dwt.data(), o);
      float* dw = grad_weight + g * o * p.rows;
      for (int64_t c = 0; c < o; ++c) {
        for (int64_t r = 0; r < p.rows; ++r) {
          dw[c * p.rows + r] += dwt[static_cast<size_t>(r * o + c)];
        }
      }
    }
  }
}

}  // namespace tokrl::internal
