#include "tokrl/nn/conv_kernel.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "tokrl/core/cpu_clones.h"
#include "tokrl/nn/small_gemm_kernel.h"

namespace tokrl::internal {
namespace {

// Why: oneDNN (LibTorch 1.13's CPU conv) takes ~45 us forward and ~125 us
// for the weight gradient of MinAtar's 3x3 conv (4 -> 16 channels, 10x10,
// batch 32) on a Zen 5 core, ~3.7 MFLOP each; its backward runs at under
// 30 GFLOP/s on these small channel counts.
//
// Both functions are built for AVX2 and AVX-512 too (TOKRL_CLONES): their
// own loops (the copies into the patches, bias and ReLU, the gradient's
// mask and sums) ran 4 floats wide in the x86-64 baseline build, ~6% of a
// DQN flatten update in perf on a CPU without AVX-512. Every loop is
// element by element or sums in a fixed order: the same results in each.

// One sample's and group's patches, cols [channels * kernel^2, grid]: the
// output positions on the padded input's grid, i = oy * pw + ox for
// ox < pw (the columns ox >= out_width are not outputs), so that each row
// of cols is one contiguous run of a zero-padded copy of the input planes
// (one copy per row, where a compact im2col makes out_height short ones).
struct Patches {
  explicit Patches(const ConvShape& s)
      : rows(s.channels * s.kernel * s.kernel),
        ph(s.out_height - 1 + s.kernel),
        pw(s.out_width - 1 + s.kernel),
        grid((s.out_height - 1) * pw + s.out_width),
        ld(SmallGemmPadded(grid)),
        cols(ScratchFloats(rows * ld)),
        padded(static_cast<size_t>(s.channels * ph * pw)) {}

  // From x's channels [first, first + channels) of one sample.
  void Fill(const float* xs, const ConvShape& s, int64_t first) {
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
    const int64_t k = s.kernel;
    for (int64_t c = 0; c < s.channels; ++c) {
      for (int64_t ky = 0; ky < k; ++ky) {
        for (int64_t kx = 0; kx < k; ++kx) {
          const float* from = padded.data() + (c * ph + ky) * pw + kx;
          std::copy(from, from + grid,
                    cols.get() + ((c * k + ky) * k + kx) * ld);
        }
      }
    }
  }

  int64_t rows, ph, pw, grid, ld;
  std::unique_ptr<float[]> cols;  // the padding columns never read
  std::vector<float> padded;      // [channels, ph, pw]
};

}  // namespace

TOKRL_CLONES
void ConvForward(const float* x, const ConvShape& s, int64_t begin, int64_t end,
                 const float* weight, const float* bias, float* y) {
  Patches p(s);
  const int64_t in_sample = s.groups * s.channels * s.height * s.width;
  const int64_t o = s.out_channels;
  const int64_t all = s.groups * o;  // channels of an output position
  const int64_t op = SmallGemmPadded(o);
  const int64_t positions = s.out_height * s.out_width;
  // W^T per group, [groups, rows, op] (the padding columns 0), and one
  // sample's and group's output on the grid, [grid, o]: positions as the
  // product's rows (channels as its vector lanes) write channels last.
  std::vector<float> wt(static_cast<size_t>(s.groups * p.rows * op), 0.0f);
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t c = 0; c < o; ++c) {
      for (int64_t r = 0; r < p.rows; ++r) {
        wt[static_cast<size_t>((g * p.rows + r) * op + c)] =
            weight[(g * o + c) * p.rows + r];
      }
    }
  }
  const auto out = ScratchFloats(p.grid * o);
  for (int64_t b = begin; b < end; ++b) {
    float* yb = y + b * positions * all;
    for (int64_t g = 0; g < s.groups; ++g) {
      p.Fill(x + b * in_sample, s, g * s.channels);
      SmallGemm(p.cols.get(), 1, p.ld, p.grid, p.rows,
                wt.data() + g * p.rows * op, op, o, out.get(), o);
      // Bias and ReLU in one pass (NaN stays NaN).
      const float* bg = bias + g * o;
      const float floor =
          s.relu ? 0.0f : -std::numeric_limits<float>::infinity();
      for (int64_t oy = 0; oy < s.out_height; ++oy) {
        for (int64_t ox = 0; ox < s.out_width; ++ox) {
          const float* from = out.get() + (oy * p.pw + ox) * o;
          float* to = yb + (oy * s.out_width + ox) * all + g * o;
          for (int64_t c = 0; c < o; ++c) {
            const float v = from[c] + bg[c];
            to[c] = v < floor ? floor : v;
          }
        }
      }
    }
  }
}

TOKRL_CLONES
void ConvWeightGradient(const float* x, const ConvShape& s, int64_t begin,
                        int64_t end, const float* grad_y, const float* y,
                        float* grad_weight, float* grad_bias) {
  Patches p(s);
  const int64_t in_sample = s.groups * s.channels * s.height * s.width;
  const int64_t o = s.out_channels;
  const int64_t all = s.groups * o;
  const int64_t op = SmallGemmPadded(o);
  const int64_t positions = s.out_height * s.out_width;
  // One sample's and group's gradient on the grid, [grid, op]: the rows of
  // the columns ox >= out_width (and the padding columns) stay 0, so they
  // add exact zeros to the sums.
  std::vector<float> gt(static_cast<size_t>(p.grid * op), 0.0f);
  const auto dwt = ScratchFloats(p.rows * o);  // [rows, o]
  std::vector<float> sums(static_cast<size_t>(all));
  const auto masked = ScratchFloats(s.relu ? positions * all : 0);
  std::fill(grad_weight, grad_weight + all * p.rows, 0.0f);
  std::fill(grad_bias, grad_bias + all, 0.0f);
  for (int64_t b = begin; b < end; ++b) {
    const float* gb = grad_y + b * positions * all;
    if (s.relu) {
      const float* yb = y + b * positions * all;
      for (int64_t i = 0; i < positions * all; ++i) {
        const float gi = gb[i];  // read unconditionally: a select, no branch
        masked[i] = yb[i] <= 0.0f ? 0.0f : gi;
      }
      gb = masked.get();
    }
    // The bias's: one sample's sum per channel, over positions in order.
    std::fill(sums.begin(), sums.end(), 0.0f);
    for (int64_t i = 0; i < positions; ++i) {
      for (int64_t c = 0; c < all; ++c) {
        sums[static_cast<size_t>(c)] += gb[i * all + c];
      }
    }
    for (int64_t c = 0; c < all; ++c) {
      grad_bias[c] += sums[static_cast<size_t>(c)];
    }
    for (int64_t g = 0; g < s.groups; ++g) {
      p.Fill(x + b * in_sample, s, g * s.channels);
      for (int64_t oy = 0; oy < s.out_height; ++oy) {
        for (int64_t ox = 0; ox < s.out_width; ++ox) {
          const float* from = gb + (oy * s.out_width + ox) * all + g * o;
          std::copy(from, from + o, gt.data() + (oy * p.pw + ox) * op);
        }
      }
      // dW^T [rows, o] = cols [rows, grid] grad [grid, o].
      SmallGemm(p.cols.get(), p.ld, 1, p.rows, p.grid, gt.data(), op, o,
                dwt.get(), o);
      float* dw = grad_weight + g * o * p.rows;
      for (int64_t c = 0; c < o; ++c) {
        for (int64_t r = 0; r < p.rows; ++r) {
          dw[c * p.rows + r] += dwt[r * o + c];
        }
      }
    }
  }
}

}  // namespace tokrl::internal
