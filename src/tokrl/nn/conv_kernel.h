// A stride-1 convolution whose input needs no gradient (an encoder's first
// layer, on observations) as a hand-written CPU kernel: the small-matrix
// kernel (small_gemm_kernel.h) on each sample's zero-padded input planes,
// whose taps the forward reads in place (the weight gradient copies them
// out as im2col's patches); free of LibTorch so that its .cc builds with
// the kernels' flags. InputConv2d
// (encoders.h) wraps it as an autograd function (gradients of the weight
// and bias only).
//
// Shapes, row-major: x [B, groups * channels, height, width], weight
// [groups * out_channels, channels, kernel, kernel], bias [groups *
// out_channels], y channels last [B, out_height, out_width, groups *
// out_channels], with zero padding of `pad` rows and columns before the
// input (and as many as out_height / out_width need after it) and a square
// kernel; with `relu`, y = max(0, conv) (NaN stays NaN). Group-major
// (a packed network's members as groups): x [groups, B, channels, height,
// width] and y [groups, B, out_height, out_width, out_channels] instead;
// each value and sum is the same as in the sample-major layout.
// Every sum runs in an order fixed by the source: the same results for any
// split of the samples into [begin, end) ranges and on every CPU target.
#ifndef TOKRL_NN_CONV_KERNEL_H_
#define TOKRL_NN_CONV_KERNEL_H_

#include <cstdint>

namespace tokrl::internal {

struct ConvShape {
  int64_t groups = 1;
  int64_t channels = 0;  // per group
  int64_t height = 0;
  int64_t width = 0;
  int64_t out_channels = 0;  // per group
  int64_t kernel = 0;
  int64_t pad = 0;
  int64_t out_height = 0;
  int64_t out_width = 0;
  bool relu = false;
  bool group_major = false;
  int64_t batch = 0;  // B; read by the group-major layout only
  // For uint8 inputs (observations): the input is float(x) * input_scale,
  // the value PreprocessObservation's float copy would hold (encoders.h).
  float input_scale = 1.0f;
};

/// Writes y for samples [begin, end). x is floats, or uint8 observations
/// (scaled by shape.input_scale) read without a float copy.
void ConvForward(const float* x, const ConvShape& shape, int64_t begin,
                 int64_t end, const float* weight, const float* bias, float* y);
void ConvForward(const uint8_t* x, const ConvShape& shape, int64_t begin,
                 int64_t end, const float* weight, const float* bias, float* y);

/// The sums over samples [begin, end) of the gradients of the weight and
/// the bias given grad_y (laid out as y); written, not added to. With
/// shape.relu, y is ConvForward's output and grad_y passes where y > 0 (as
/// ATen's threshold_backward); otherwise y is not read.
void ConvWeightGradient(const float* x, const ConvShape& shape, int64_t begin,
                        int64_t end, const float* grad_y, const float* y,
                        float* grad_weight, float* grad_bias);
void ConvWeightGradient(const uint8_t* x, const ConvShape& shape, int64_t begin,
                        int64_t end, const float* grad_y, const float* y,
                        float* grad_weight, float* grad_bias);

}  // namespace tokrl::internal

#endif  // TOKRL_NN_CONV_KERNEL_H_
