#include "tokrl/nn/conv_kernel.h"

#include <algorithm>
#include <limits>
#include <type_traits>
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

// One sample's and group's input planes zero-padded, [channels, ph, pw],
// and the output positions on their grid, i = oy * pw + ox for ox < pw
// (the columns ox >= out_width are not outputs): the input under tap j =
// (c, ky, kx) of position i is planes[taps[j] + i], so that each tap's
// inputs over all positions are one contiguous run of the planes.
struct PaddedPlanes {
  explicit PaddedPlanes(const ConvShape& s)
      : ph(s.out_height - 1 + s.kernel),
        pw(s.out_width - 1 + s.kernel),
        grid((s.out_height - 1) * pw + s.out_width),
        planes(static_cast<size_t>(s.channels * ph * pw)) {
    for (int64_t c = 0; c < s.channels; ++c) {
      for (int64_t ky = 0; ky < s.kernel; ++ky) {
        for (int64_t kx = 0; kx < s.kernel; ++kx)
          taps.push_back((c * ph + ky) * pw + kx);
      }
    }
  }

  // From one sample's and group's input planes [channels, height, width]
  // (uint8 ones scaled by s.input_scale).
  template <typename T>
  void Fill(const T* x, const ConvShape& s) {
    // Rows and columns of the input inside the padded planes (the rest of
    // a padded plane is 0: zeroed once, never written).
    const int64_t rows_in = std::min(s.height, ph - s.pad);
    const int64_t cols_in = std::min(s.width, pw - s.pad);
    for (int64_t c = 0; c < s.channels; ++c) {
      const T* plane = x + c * s.height * s.width;
      float* to = planes.data() + (c * ph + s.pad) * pw + s.pad;
      for (int64_t y = 0; y < rows_in; ++y) {
        const T* from = plane + y * s.width;
        if constexpr (std::is_same_v<T, float>) {
          std::copy(from, from + cols_in, to + y * pw);
        } else {
          for (int64_t i = 0; i < cols_in; ++i)
            to[y * pw + i] = static_cast<float>(from[i]) * s.input_scale;
        }
      }
    }
  }

  int64_t ph, pw, grid;
  std::vector<float> planes;
  std::vector<int64_t> taps;  // [channels * kernel^2]
};

// The taps' runs copied out, cols [taps, grid] with leading dimension ld
// (for the weight gradient, whose product takes them as its rows), and a
// last row of ones (row `rows`): that product then also sums its gradient
// over positions, the bias's.
struct Patches {
  explicit Patches(const ConvShape& s)
      : in(s),
        rows(static_cast<int64_t>(in.taps.size())),
        ld(SmallGemmPadded(in.grid)),
        cols(ScratchFloats((rows + 1) * ld)) {
    std::fill(cols.get() + rows * ld, cols.get() + rows * ld + in.grid, 1.0f);
  }

  template <typename T>
  void Fill(const T* x, const ConvShape& s) {
    in.Fill(x, s);
    for (int64_t j = 0; j < rows; ++j) {
      const float* from = in.planes.data() + in.taps[j];
      std::copy(from, from + in.grid, cols.get() + j * ld);
    }
  }

  PaddedPlanes in;
  int64_t rows, ld;
  std::unique_ptr<float[]> cols;  // the padding columns never read
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
  template <typename T>
  const T* x(const T* base, int64_t b, int64_t g) const {
    return base + b * x_sample + g * x_group;
  }
  int64_t y(int64_t b, int64_t g) const { return b * y_sample + g * y_group; }

  int64_t x_sample, x_group, y_sample, y_group, y_position;
};

template <typename T>
[[gnu::always_inline]] inline void ConvForwardOf(const T* x, const ConvShape& s,
                                                 int64_t begin, int64_t end,
                                                 const float* weight,
                                                 const float* bias, float* y) {
  PaddedPlanes p(s);
  const Layout at(s);
  const int64_t o = s.out_channels;
  const int64_t op = SmallGemmPadded(o);
  const int64_t rows = static_cast<int64_t>(p.taps.size());
  // W^T per group, [groups, rows, op] (the padding columns 0), and one
  // sample's and group's output on the grid, [grid, o]: positions as the
  // product's rows (channels as its vector lanes) write channels last.
  std::vector<float> wt(static_cast<size_t>(s.groups * rows * op), 0.0f);
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t c = 0; c < o; ++c) {
      for (int64_t r = 0; r < rows; ++r) {
        wt[static_cast<size_t>((g * rows + r) * op + c)] =
            weight[(g * o + c) * rows + r];
      }
    }
  }
  const auto out = ScratchFloats(p.grid * o);
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t b = begin; b < end; ++b) {
      p.Fill(at.x(x, b, g), s);
      // The taps read in place (no patches copied: they were ~2-3% of a
      // DQN flatten update, bench_agent BM_Update; the same sums).
      SmallGemmColumnTable(p.planes.data(), p.taps.data(), p.grid, rows,
                           wt.data() + g * rows * op, op, o, out.get(), o);
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

template <typename T>
[[gnu::always_inline]] inline void ConvWeightGradientOf(
    const T* x, const ConvShape& s, int64_t begin, int64_t end,
    const float* grad_y, const float* y, float* grad_weight, float* grad_bias) {
  Patches p(s);
  const Layout at(s);
  const int64_t o = s.out_channels;
  const int64_t op = SmallGemmPadded(o);
  // One sample's and group's gradient on the grid, [grid, op]: the rows of
  // the columns ox >= out_width (and the padding columns) stay 0, so they
  // add exact zeros to the sums.
  std::vector<float> gt(static_cast<size_t>(p.in.grid * op), 0.0f);
  // One group's [dW^T; the bias's], [rows + 1, o], summed over the samples.
  std::vector<float> dwt(static_cast<size_t>((p.rows + 1) * o));
  SmallGemmEpilogue accumulate;
  accumulate.accumulate = true;
  for (int64_t g = 0; g < s.groups; ++g) {
    std::fill(dwt.begin(), dwt.end(), 0.0f);
    for (int64_t b = begin; b < end; ++b) {
      const float* gb = grad_y + at.y(b, g);
      const float* yb = s.relu ? y + at.y(b, g) : nullptr;
      for (int64_t oy = 0; oy < s.out_height; ++oy) {
        for (int64_t ox = 0; ox < s.out_width; ++ox) {
          const int64_t from = (oy * s.out_width + ox) * at.y_position;
          float* to = gt.data() + (oy * p.in.pw + ox) * op;
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
      // dwt += [cols; ones] [rows + 1, grid] grad [grid, o]: this sample's
      // sums over positions in order (the padding rows add exact zeros),
      // the bias's in the last row, added to the samples' before it.
      SmallGemm(p.cols.get(), p.ld, 1, p.rows + 1, p.in.grid, gt.data(), op, o,
                dwt.data(), o, accumulate);
    }
    float* dw = grad_weight + g * o * p.rows;
    for (int64_t c = 0; c < o; ++c) {
      for (int64_t r = 0; r < p.rows; ++r) dw[c * p.rows + r] = dwt[r * o + c];
      grad_bias[g * o + c] = dwt[p.rows * o + c];
    }
  }
}

}  // namespace

TOKRL_CLONES
void ConvForward(const float* x, const ConvShape& s, int64_t begin, int64_t end,
                 const float* weight, const float* bias, float* y) {
  ConvForwardOf(x, s, begin, end, weight, bias, y);
}

TOKRL_CLONES
void ConvForward(const uint8_t* x, const ConvShape& s, int64_t begin,
                 int64_t end, const float* weight, const float* bias,
                 float* y) {
  ConvForwardOf(x, s, begin, end, weight, bias, y);
}

TOKRL_CLONES
void ConvWeightGradient(const float* x, const ConvShape& s, int64_t begin,
                        int64_t end, const float* grad_y, const float* y,
                        float* grad_weight, float* grad_bias) {
  ConvWeightGradientOf(x, s, begin, end, grad_y, y, grad_weight, grad_bias);
}

TOKRL_CLONES
void ConvWeightGradient(const uint8_t* x, const ConvShape& s, int64_t begin,
                        int64_t end, const float* grad_y, const float* y,
                        float* grad_weight, float* grad_bias) {
  ConvWeightGradientOf(x, s, begin, end, grad_y, y, grad_weight, grad_bias);
}

}  // namespace tokrl::internal
