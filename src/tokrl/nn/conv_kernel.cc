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
// A last row of ones follows them (row `rows`): the weight gradient's
// product then also sums its gradient over positions, the bias's.
struct Patches {
  explicit Patches(const ConvShape& s)
      : rows(s.channels * s.kernel * s.kernel),
        ph(s.out_height - 1 + s.kernel),
        pw(s.out_width - 1 + s.kernel),
        grid((s.out_height - 1) * pw + s.out_width),
        ld(SmallGemmPadded(grid)),
        cols(ScratchFloats((rows + 1) * ld)),
        padded(static_cast<size_t>(s.channels * ph * pw)) {
    std::fill(cols.get() + rows * ld, cols.get() + rows * ld + grid, 1.0f);
  }

  // From one sample's and group's input planes [channels, height, width].
  void Fill(const float* planes, const ConvShape& s) {
    // Rows and columns of the input inside the padded planes (the rest of
    // a padded plane is 0: zeroed once, never written).
    const int64_t rows_in = std::min(s.height, ph - s.pad);
    const int64_t cols_in = std::min(s.width, pw - s.pad);
    for (int64_t c = 0; c < s.channels; ++c) {
      const float* plane = planes + c * s.height * s.width;
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

// Where one sample's and group's input and output start, and the step
// between output positions, in the shape's layout (conv_kernel.h).
struct Layout {
  explicit Layout(const ConvShape& s) {
    const int64_t in = s.channels * s.height * s.width;
    const int64_t out = s.out_height * s.out_width * s.out_channels;
    if (s.group_major) {
      x_sample = in, x_group = s.batch * in;
      y_sample = out, y_group = s.batch * out, y_position = s.out_channels;
    } else {
      x_sample = s.groups * in, x_group = in;
      y_sample = s.groups * out, y_group = s.out_channels;
      y_position = s.groups * s.out_channels;
    }
  }
  const float* x(const float* base, int64_t b, int64_t g) const {
    return base + b * x_sample + g * x_group;
  }
  int64_t y(int64_t b, int64_t g) const { return b * y_sample + g * y_group; }

  int64_t x_sample, x_group, y_sample, y_group, y_position;
};

}  // namespace

TOKRL_CLONES
void ConvForward(const float* x, const ConvShape& s, int64_t begin, int64_t end,
                 const float* weight, const float* bias, float* y) {
  Patches p(s);
  const Layout at(s);
  const int64_t o = s.out_channels;
  const int64_t op = SmallGemmPadded(o);
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
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t b = begin; b < end; ++b) {
      p.Fill(at.x(x, b, g), s);
      SmallGemm(p.cols.get(), 1, p.ld, p.grid, p.rows,
                wt.data() + g * p.rows * op, op, o, out.get(), o);
      // Bias and ReLU in one pass (NaN stays NaN).
      const float* bg = bias + g * o;
      const float floor =
          s.relu ? 0.0f : -std::numeric_limits<float>::infinity();
      float* ybg = y + at.y(b, g);
      for (int64_t oy = 0; oy < s.out_height; ++oy) {
        for (int64_t ox = 0; ox < s.out_width; ++ox) {
          const float* from = out.get() + (oy * p.pw + ox) * o;
          float* to = ybg + (oy * s.out_width + ox) * at.y_position;
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
  const Layout at(s);
  const int64_t o = s.out_channels;
  const int64_t op = SmallGemmPadded(o);
  // One sample's and group's gradient on the grid, [grid, op]: the rows of
  // the columns ox >= out_width (and the padding columns) stay 0, so they
  // add exact zeros to the sums.
  std::vector<float> gt(static_cast<size_t>(p.grid * op), 0.0f);
  const auto dwt = ScratchFloats((p.rows + 1) * o);  // [rows + 1, o]
  std::fill(grad_weight, grad_weight + s.groups * o * p.rows, 0.0f);
  std::fill(grad_bias, grad_bias + s.groups * o, 0.0f);
  for (int64_t g = 0; g < s.groups; ++g) {
    float* dw = grad_weight + g * o * p.rows;
    float* db = grad_bias + g * o;
    for (int64_t b = begin; b < end; ++b) {
      const float* gb = grad_y + at.y(b, g);
      const float* yb = s.relu ? y + at.y(b, g) : nullptr;
      for (int64_t oy = 0; oy < s.out_height; ++oy) {
        for (int64_t ox = 0; ox < s.out_width; ++ox) {
          const int64_t from = (oy * s.out_width + ox) * at.y_position;
          float* to = gt.data() + (oy * p.pw + ox) * op;
          if (s.relu) {
            for (int64_t c = 0; c < o; ++c) {
              const float gi = gb[from + c];             // read unconditionally
              to[c] = yb[from + c] <= 0.0f ? 0.0f : gi;  // a select
            }
          } else {
            std::copy(gb + from, gb + from + o, to);
          }
        }
      }
      p.Fill(at.x(x, b, g), s);
      // [dW^T; the bias's] [rows + 1, o] = [cols; ones] [rows + 1, grid]
      // grad [grid, o]: the bias's is one sample's sum per channel over
      // positions in order (the padding rows add exact zeros).
      SmallGemm(p.cols.get(), p.ld, 1, p.rows + 1, p.grid, gt.data(), op, o,
                dwt.get(), o);
      for (int64_t c = 0; c < o; ++c) {
        for (int64_t r = 0; r < p.rows; ++r) {
          dw[c * p.rows + r] += dwt[r * o + c];
        }
        db[c] += dwt[p.rows * o + c];
      }
    }
  }
}

}  // namespace tokrl::internal
