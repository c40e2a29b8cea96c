// Pixel encoders: the convolutional torsos in front of every Q-network.
//
//   encoder     layers                                  out (84x84 or 10x10)
//   ----------  --------------------------------------  --------------------
//   MinAtarConv conv 16 3x3 s1 -> ReLU                      10x10x16 (SAME)
//                                                           8x8x16   (VALID)
//   NatureCnn   conv 32 8x8 s4 -> ReLU -> conv 64 4x4 s2 -> ReLU
//               -> conv 64 3x3 s1 -> ReLU               11x11x64 (SAME)
//                                                           7x7x64   (VALID)
//   ImpalaCnn   3 stacks (16, 32, 32 channels), each:
//                 conv 3x3 s1 -> maxpool 3x3 s2 (SAME)
//                 -> 2 x [ReLU -> conv 3x3 -> ReLU -> conv 3x3 -> + input]
//               then a final ReLU                       11x11x32
//
// Invariants
//   * Input [B, C, H, W] (channels first, as the tokrl envs write them);
//     output [B, d, h, w] in the network's parameter dtype.
//   * Input scaling: integral inputs (uint8, bool, int) are cast to the
//     parameter dtype and multiplied by `input_scale`; floating inputs are
//     taken as already scaled and only cast. Defaults: 1/255 for the Atari
//     encoders (Dopamine `preprocess_atari_inputs`, paper.md 2.1), 1 for
//     MinAtar, whose observations are 0/1 (Dopamine casts them to float).
//   * SAME padding follows TensorFlow/Flax exactly: out = ceil(in / stride),
//     total padding max((out - 1) * stride + k - in, 0), the extra pixel of an
//     odd total going after (bottom/right). This can be asymmetric (21 -> 11
//     with k=4, s=2 pads 1 before and 2 after), which torch's symmetric conv
//     padding cannot express, so PaddedConv2d pads explicitly when needed.
//     SAME max-pooling pads with -inf.
//   * Init as Dopamine: xavier_uniform for the MinAtar and Nature convs and
//     the first conv of each Impala stack; lecun_normal (Flax default) for
//     the residual-block convs; zero biases.
//
// References: Mnih et al. 2015 (Nature DQN); Espeholt et al. 2018 (IMPALA);
// Young & Tian 2019 (MinAtar); google/dopamine `jax/networks.py`
// (NatureDQNNetwork, ImpalaEncoder/Stack, MinatarDQNNetwork); paper.md 2.2.
//
// Choices where the spec is open (each an option):
//   * MinAtar padding: SAME by default (10x10x16, Dopamine/Flax); VALID gives
//     the MinAtar reference torso's 8x8x16 (paper.md 7).
//   * Nature padding: SAME by default (Dopamine, 11x11x64, 121 tokens); VALID
//     gives the classic DQN 7x7x64. Impala is always SAME.
#ifndef TOKRL_NN_ENCODERS_H_
#define TOKRL_NN_ENCODERS_H_

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <cstdint>
#include <ostream>
#include <string_view>
#include <vector>

namespace tokrl::nn {

enum class EncoderType { kMinAtar, kNature, kImpala };
enum class Padding { kSame, kValid };

/// "minatar", "nature", "impala"; throws tokrl::Error otherwise.
EncoderType ParseEncoderType(std::string_view name);
std::string_view ToString(EncoderType type);
/// "same", "valid"; throws tokrl::Error otherwise.
Padding ParsePadding(std::string_view name);
std::string_view ToString(Padding padding);

// Padding {before, after} of one spatial axis for a TF/Flax SAME op.
std::array<int64_t, 2> SamePadding(int64_t size, int64_t kernel,
                                   int64_t stride);
// Output size of one spatial axis of a conv or pool.
int64_t ConvOutputSize(int64_t size, int64_t kernel, int64_t stride,
                       Padding padding);
// Pads H and W (the last two axes) of x [..., H, W] for a SAME op of
// (kernel, stride).
at::Tensor PadSame(const at::Tensor& x, int64_t kernel, int64_t stride,
                   double value = 0.0);
// Flax `max_pool(x, (k, k), strides=(s, s), padding="SAME")`.
at::Tensor MaxPoolSame(const at::Tensor& x, int64_t kernel, int64_t stride);
// Casts obs to `dtype`; integral inputs are also multiplied by `scale`.
at::Tensor PreprocessObservation(const at::Tensor& obs, double scale,
                                 c10::ScalarType dtype);

/// torch::conv2d(x, weight, bias, 1, pad, 1, groups) for a square kernel
/// at stride 1 with `pad` zeros on every side, where x needs no gradient
/// (an encoder's first layer, on observations); differentiable in the
/// weight and bias. On CPU floats under the fast paths (fast_paths.h) a kernel
/// (conv_kernel.h) whose gradients do not depend on the number of threads;
/// elsewhere torch::conv2d. The two agree within float rounding. With
/// `relu`, the ReLU of that (in the kernel, one pass less each way). The
/// kernel's output is channels last (a [B, C, H, W] view of [B, H, W, C]
/// memory), so that PerConv tokens of it need no copy. A group-major x
/// [groups, B, C / groups, H, W] (a packed network's members as groups)
/// gives member-major rows [groups * B, O / groups, h, w], group g's output
/// in rows [g * B, (g + 1) * B): the kernel reads and writes that layout
/// itself (no copies; the same values and gradients).
/// x may also be uint8 observations: the conv of
/// PreprocessObservation(x, input_scale, weight's dtype), which the kernel
/// reads without that float copy (the same values); input_scale must be 1
/// for float inputs.
at::Tensor InputConv2d(const at::Tensor& x, const at::Tensor& weight,
                       const at::Tensor& bias, int64_t pad, int64_t groups,
                       bool relu = false, double input_scale = 1.0);

// ---------------------------------------------------------------------------
// PaddedConv2d: a square conv with TF-style SAME or VALID padding.
// ---------------------------------------------------------------------------

/// Example: PaddedConv2d(PaddedConv2dOptions(4, 32, 8).stride(4))
struct PaddedConv2dOptions {
  PaddedConv2dOptions(int64_t in_channels, int64_t out_channels, int64_t kernel)
      : in_channels_(in_channels),
        out_channels_(out_channels),
        kernel_(kernel) {}
  /// Input channels.
  TORCH_ARG(int64_t, in_channels);
  /// Output channels.
  TORCH_ARG(int64_t, out_channels);
  /// Square kernel size.
  TORCH_ARG(int64_t, kernel);
  /// Stride on both axes.
  TORCH_ARG(int64_t, stride) = 1;
  /// SAME (TF/Flax) or VALID.
  TORCH_ARG(Padding, padding) = Padding::kSame;
  /// true: lecun_normal kernel (Flax default); false: xavier_uniform.
  TORCH_ARG(bool, lecun_init) = false;
  /// Grouped conv (torch semantics: in/out channels are totals, each group
  /// sees in/groups of them). Packed runs use one group per member.
  TORCH_ARG(int64_t, groups) = 1;
  /// ReLU on the output (in InputConv2d's kernel where that runs).
  TORCH_ARG(bool, relu) = false;
};

class PaddedConv2dImpl : public torch::nn::Cloneable<PaddedConv2dImpl> {
 public:
  explicit PaddedConv2dImpl(const PaddedConv2dOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// Through InputConv2d's kernel where x needs no gradient and the conv
  /// is small with stride 1 (MinAtar's; the .cc says why). x [B, in, H, W],
  /// or group-major [groups, B, in / groups, H, W] for member-major rows
  /// [groups * B, out / groups, h, w] (as InputConv2d's).
  at::Tensor forward(const at::Tensor& x);
  /// forward(PreprocessObservation(obs, input_scale, the weight's dtype)):
  /// where that would run InputConv2d's kernel, uint8 observations go to
  /// it as they are (no float copy; the same values).
  at::Tensor forward_observation(const at::Tensor& obs, double input_scale);
  int64_t OutputSize(int64_t size) const;

  PaddedConv2dOptions options;
  torch::nn::Conv2d conv{nullptr};

 private:
  // x padded for SAME where the conv's own padding does not do it.
  at::Tensor PaddedInput(const at::Tensor& x) const;
  // Whether InputConv2d's kernel takes this conv on the padded input `in`
  // (by shape; forward also asks for the fast paths and no input gradient).
  bool KernelShape(const at::Tensor& in) const;

  // True when the conv's own symmetric padding already implements SAME
  // (stride 1 and an odd kernel), so forward() needs no explicit pad.
  bool builtin_padding_ = false;
};
TORCH_MODULE(PaddedConv2d);

// ---------------------------------------------------------------------------
// MinAtarConv
// ---------------------------------------------------------------------------

/// Example: MinAtarConv(MinAtarConvOptions(4).padding(Padding::kValid))
struct MinAtarConvOptions {
  explicit MinAtarConvOptions(int64_t in_channels)
      : in_channels_(in_channels) {}
  /// Observation channels (4 to 10 depending on the game).
  TORCH_ARG(int64_t, in_channels);
  /// Conv filters d.
  TORCH_ARG(int64_t, channels) = 16;
  /// SAME (default, 10x10 out) or VALID (8x8 out).
  TORCH_ARG(Padding, padding) = Padding::kSame;
  /// Multiplier for integral inputs (MinAtar observations are 0/1).
  TORCH_ARG(double, input_scale) = 1.0;
  /// Packed runs (nn/packed_q_network.h): `members` independent encoders
  /// side by side, each conv grouped by member. The input is then
  /// member-major [members, B, C, H, W] and the output [members*B, d, h, w],
  /// member k's in rows [k*B, (k+1)*B); in_channels and OutputShape stay per
  /// member.
  TORCH_ARG(int64_t, members) = 1;
};

class MinAtarConvImpl : public torch::nn::Cloneable<MinAtarConvImpl> {
 public:
  explicit MinAtarConvImpl(const MinAtarConvOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// obs [B, C, H, W] -> features [B, channels, h, w] (packed: see
  /// MinAtarConvOptions::members).
  at::Tensor forward(const at::Tensor& obs);
  /// {d, h, w} for an H x W input.
  std::array<int64_t, 3> OutputShape(int64_t height, int64_t width) const;

  MinAtarConvOptions options;
  PaddedConv2d conv{nullptr};
};
TORCH_MODULE(MinAtarConv);

// ---------------------------------------------------------------------------
// NatureCnn
// ---------------------------------------------------------------------------

/// Example: NatureCnn(NatureCnnOptions(4))
struct NatureCnnOptions {
  explicit NatureCnnOptions(int64_t in_channels) : in_channels_(in_channels) {}
  /// Stacked frames.
  TORCH_ARG(int64_t, in_channels);
  /// SAME (Dopamine, 11x11x64 at 84x84) or VALID (classic DQN, 7x7x64).
  TORCH_ARG(Padding, padding) = Padding::kSame;
  /// Multiplier for integral inputs (uint8 frames -> [0, 1]).
  TORCH_ARG(double, input_scale) = 1.0 / 255.0;
  /// Packed runs: see MinAtarConvOptions::members.
  TORCH_ARG(int64_t, members) = 1;
};

class NatureCnnImpl : public torch::nn::Cloneable<NatureCnnImpl> {
 public:
  explicit NatureCnnImpl(const NatureCnnOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// obs [B, C, H, W] -> features [B, 64, h, w] (packed: see
  /// MinAtarConvOptions::members).
  at::Tensor forward(const at::Tensor& obs);
  std::array<int64_t, 3> OutputShape(int64_t height, int64_t width) const;

  NatureCnnOptions options;
  PaddedConv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
};
TORCH_MODULE(NatureCnn);

// ---------------------------------------------------------------------------
// ImpalaCnn
// ---------------------------------------------------------------------------

/// Example: ImpalaCnn(ImpalaCnnOptions(4).stack_sizes({32, 64, 64}))
struct ImpalaCnnOptions {
  explicit ImpalaCnnOptions(int64_t in_channels) : in_channels_(in_channels) {}
  /// Stacked frames.
  TORCH_ARG(int64_t, in_channels);
  /// Channels of each stack (Dopamine: 16, 32, 32; times `nn_scale`).
  TORCH_ARG(std::vector<int64_t>, stack_sizes) = std::vector<int64_t>{16, 32,
                                                                      32};
  /// Residual blocks per stack.
  TORCH_ARG(int64_t, num_blocks) = 2;
  /// Multiplier for integral inputs (uint8 frames -> [0, 1]).
  TORCH_ARG(double, input_scale) = 1.0 / 255.0;
  /// Packed runs: see MinAtarConvOptions::members.
  TORCH_ARG(int64_t, members) = 1;
};

class ImpalaCnnImpl : public torch::nn::Cloneable<ImpalaCnnImpl> {
 public:
  explicit ImpalaCnnImpl(const ImpalaCnnOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// obs [B, C, H, W] -> features [B, stack_sizes.back(), h, w] (packed:
  /// see MinAtarConvOptions::members).
  at::Tensor forward(const at::Tensor& obs);
  std::array<int64_t, 3> OutputShape(int64_t height, int64_t width) const;

  ImpalaCnnOptions options;
  /// Per stack: the entry conv, then 2 convs per residual block.
  std::vector<PaddedConv2d> stack_convs;
  std::vector<std::vector<PaddedConv2d>> block_convs;
};
TORCH_MODULE(ImpalaCnn);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_ENCODERS_H_
