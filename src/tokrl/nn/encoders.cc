#include "tokrl/nn/encoders.h"

#include <torch/torch.h>

#include <array>
#include <limits>
#include <string>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/nn/apply_fn.h"
#include "tokrl/nn/conv_kernel.h"
#include "tokrl/nn/enum_names.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/init.h"
#include "tokrl/nn/sample_chunks.h"

namespace tokrl::nn {
namespace {

constexpr std::array<EnumName<EncoderType>, 3> kEncoderNames = {{
    {"minatar", EncoderType::kMinAtar},
    {"nature", EncoderType::kNature},
    {"impala", EncoderType::kImpala},
}};

constexpr std::array<EnumName<Padding>, 2> kPaddingNames = {{
    {"same", Padding::kSame},
    {"valid", Padding::kValid},
}};

c10::ScalarType ParamDtype(const torch::nn::Module& module) {
  const auto params = module.parameters();
  return params.empty() ? torch::kFloat : params.front().scalar_type();
}

void CheckObservation(const at::Tensor& obs, int64_t members,
                      int64_t in_channels) {
  if (obs.dim() == 5) {
    TOKRL_CHECK(obs.size(0) == members && obs.size(2) == in_channels)
        << "packed obs " << obs.sizes() << " is not [" << members << ", B, "
        << in_channels << ", H, W]";
    return;
  }
  TOKRL_CHECK(obs.dim() == 4 && members == 1)
      << "expected obs [B, C, H, W]"
      << (members > 1 ? " for each member, as [members, B, C, H, W]" : "")
      << ", got " << obs.sizes();
  TOKRL_CHECK_EQ(obs.size(1), in_channels)
      << "obs channels do not match the encoder, obs " << obs.sizes();
}

// Member-major [G, B, C, H, W] -> [B, G * C, H, W], group g's channels in
// block g (torch's grouped convs), and back from [B, G * d, h, w] to
// member-major rows [G * B, d, h, w].
at::Tensor ToChannelBlocks(const at::Tensor& x) {
  return x.transpose(0, 1).reshape(
      {x.size(1), x.size(0) * x.size(2), x.size(3), x.size(4)});
}
at::Tensor ToMemberRows(const at::Tensor& y, int64_t groups) {
  const int64_t b = y.size(0);
  return y.reshape({b, groups, y.size(1) / groups, y.size(2), y.size(3)})
      .transpose(0, 1)
      .reshape({groups * b, y.size(1) / groups, y.size(2), y.size(3)});
}

}  // namespace

EncoderType ParseEncoderType(std::string_view name) {
  return ParseEnum<EncoderType>("encoder", name, kEncoderNames);
}
std::string_view ToString(EncoderType type) {
  return EnumToName<EncoderType>(type, kEncoderNames);
}
Padding ParsePadding(std::string_view name) {
  return ParseEnum<Padding>("padding", name, kPaddingNames);
}
std::string_view ToString(Padding padding) {
  return EnumToName<Padding>(padding, kPaddingNames);
}

std::array<int64_t, 2> SamePadding(int64_t size, int64_t kernel,
                                   int64_t stride) {
  const int64_t out = (size + stride - 1) / stride;
  const int64_t total =
      std::max<int64_t>((out - 1) * stride + kernel - size, 0);
  return {total / 2, total - total / 2};
}

int64_t ConvOutputSize(int64_t size, int64_t kernel, int64_t stride,
                       Padding padding) {
  if (padding == Padding::kSame) return (size + stride - 1) / stride;
  TOKRL_CHECK_GE(size, kernel) << "input too small for a VALID conv";
  return (size - kernel) / stride + 1;
}

at::Tensor PadSame(const at::Tensor& x, int64_t kernel, int64_t stride,
                   double value) {
  const auto h = SamePadding(x.size(-2), kernel, stride);
  const auto w = SamePadding(x.size(-1), kernel, stride);
  if (h[0] == 0 && h[1] == 0 && w[0] == 0 && w[1] == 0) return x;
  // constant_pad_nd takes {left, right, top, bottom} for the last two dims.
  return torch::constant_pad_nd(x, {w[0], w[1], h[0], h[1]}, value);
}

at::Tensor MaxPoolSame(const at::Tensor& x, int64_t kernel, int64_t stride) {
  const at::Tensor padded =
      PadSame(x, kernel, stride, -std::numeric_limits<double>::infinity());
  return torch::max_pool2d(padded, {kernel, kernel}, {stride, stride});
}

at::Tensor PreprocessObservation(const at::Tensor& obs, double scale,
                                 c10::ScalarType dtype) {
  if (at::isFloatingType(obs.scalar_type())) return obs.to(dtype);
  at::Tensor x = obs.to(dtype);
  if (scale != 1.0) x = x * scale;
  return x;
}

// ---- PaddedConv2d -----------------------------------------------------------

namespace {

namespace kernel = ::tokrl::internal;

// The most floats of one sample's and group's patches for which
// PaddedConv2d uses InputConv2d's kernel (MinAtar's 3x3 conv: 3,600).
constexpr int64_t kInputConvMaxPatchFloats = 64 * 1024;

// x [B, groups * C, H, W] or group-major [groups, B, C, H, W] contiguous,
// floats or uint8 observations (scaled by input_scale), weight [groups * O,
// C, k, k] and bias contiguous; x needs no gradient. The output is a [B,
// groups * O, h, w] or [groups * B, O, h, w] view of channels-last memory
// (conv_kernel.h).
struct InputConv2dFn : torch::autograd::Function<InputConv2dFn> {
  // The kernel's function f on x's data, as floats or as uint8.
  template <typename F>
  static void OnData(const at::Tensor& x, F&& f) {
    if (x.scalar_type() == at::kByte) {
      f(x.data_ptr<uint8_t>());
    } else {
      f(x.data_ptr<float>());
    }
  }

  static kernel::ConvShape ShapeOf(const at::Tensor& x,
                                   const at::Tensor& weight, int64_t pad,
                                   int64_t groups, bool relu,
                                   double input_scale) {
    kernel::ConvShape s;
    s.groups = groups;
    s.channels = weight.size(1);
    s.height = x.size(-2);
    s.width = x.size(-1);
    s.out_channels = weight.size(0) / groups;
    s.kernel = weight.size(2);
    s.pad = pad;
    s.out_height = s.height + 2 * pad - s.kernel + 1;
    s.out_width = s.width + 2 * pad - s.kernel + 1;
    s.relu = relu;
    s.group_major = x.dim() == 5;
    s.batch = x.size(s.group_major ? 1 : 0);
    s.input_scale = static_cast<float>(input_scale);
    return s;
  }

  static torch::autograd::variable_list forward(
      torch::autograd::AutogradContext* ctx, const at::Tensor& x,
      const at::Tensor& weight, const at::Tensor& bias, int64_t pad,
      int64_t groups, bool relu, double input_scale) {
    ctx->saved_data["pad"] = pad;
    ctx->saved_data["groups"] = groups;
    ctx->saved_data["relu"] = relu;
    ctx->saved_data["input_scale"] = input_scale;
    const kernel::ConvShape s =
        ShapeOf(x, weight, pad, groups, relu, input_scale);
    const int64_t o = s.out_channels;
    at::Tensor y =
        s.group_major
            ? at::empty({groups * s.batch, s.out_height, s.out_width, o},
                        weight.options())
            : at::empty({s.batch, s.out_height, s.out_width, groups * o},
                        weight.options());
    ForEachSampleChunk(
        1, s.batch, [&](int64_t, int64_t, int64_t first, int64_t end) {
          OnData(x, [&](const auto* xp) {
            kernel::ConvForward(xp, s, first, end, weight.data_ptr<float>(),
                                bias.data_ptr<float>(), y.data_ptr<float>());
          });
        });
    const at::Tensor out = y.permute({0, 3, 1, 2});
    // The ReLU's backward reads the output.
    ctx->save_for_backward(relu ? std::vector<at::Tensor>{x, weight, out}
                                : std::vector<at::Tensor>{x, weight});
    return {out};
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const kernel::ConvShape s = ShapeOf(
        x, weight, ctx->saved_data["pad"].toInt(),
        ctx->saved_data["groups"].toInt(), ctx->saved_data["relu"].toBool(),
        ctx->saved_data["input_scale"].toDouble());
    const at::Tensor g = grads[0].contiguous(at::MemoryFormat::ChannelsLast);
    const float* y = s.relu ? saved[2].data_ptr<float>() : nullptr;
    const int64_t chunks = NumSampleChunks(s.batch);
    at::Tensor partial_w =
        at::empty({1, chunks, weight.numel()}, weight.options());
    at::Tensor partial_b =
        at::empty({1, chunks, weight.size(0)}, weight.options());
    ForEachSampleChunk(
        1, s.batch, [&](int64_t task, int64_t, int64_t first, int64_t end) {
          OnData(x, [&](const auto* xp) {
            kernel::ConvWeightGradient(
                xp, s, first, end, g.data_ptr<float>(), y,
                partial_w.data_ptr<float>() + task * weight.numel(),
                partial_b.data_ptr<float>() + task * weight.size(0));
          });
        });
    return {at::Tensor(),
            SumChunksInOrder(partial_w)[0].view_as(weight),
            SumChunksInOrder(partial_b)[0],
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

at::Tensor InputConv2d(const at::Tensor& x, const at::Tensor& weight,
                       const at::Tensor& bias, int64_t pad, int64_t groups,
                       bool relu, double input_scale) {
  const bool u8 = x.scalar_type() == at::kByte;
  TOKRL_CHECK(u8 || input_scale == 1.0)
      << "InputConv2d: input_scale is for uint8 inputs, got "
      << x.scalar_type();
  TOKRL_CHECK(!(at::GradMode::is_enabled() && x.requires_grad()))
      << "InputConv2d's input must not need a gradient";
  const bool group_major = x.dim() == 5;
  TOKRL_CHECK(!group_major || x.size(0) == groups)
      << "group-major input " << x.sizes() << " for " << groups << " groups";
  TOKRL_CHECK(weight.dim() == 4 && weight.size(0) % groups == 0 &&
              x.dim() >= 4 &&
              x.size(group_major ? 2 : 1) ==
                  (group_major ? 1 : groups) * weight.size(1))
      << "InputConv2d: input " << x.sizes() << " does not match weight "
      << weight.sizes() << " in " << groups << " groups";
  if ((u8 ? x.device().is_cpu() : FastPathApplies(x)) &&
      FastPathApplies(weight) && FastPathApplies(bias) &&
      (x.dim() == 4 || group_major) && weight.size(2) == weight.size(3) &&
      x.size(group_major ? 1 : 0) > 0) {
    return ApplyFn<InputConv2dFn>(x.contiguous(), weight.contiguous(),
                                  bias.contiguous(), pad, groups, relu,
                                  input_scale)[0];
  }
  if (u8) {
    return InputConv2d(
        PreprocessObservation(x, input_scale, weight.scalar_type()), weight,
        bias, pad, groups, relu);
  }
  if (group_major) {
    return ToMemberRows(
        InputConv2d(ToChannelBlocks(x), weight, bias, pad, groups, relu),
        groups);
  }
  const at::Tensor y = torch::conv2d(x, weight, bias, 1, pad, 1, groups);
  return relu ? torch::relu(y) : y;
}

PaddedConv2dImpl::PaddedConv2dImpl(const PaddedConv2dOptions& options_)
    : options(options_) {
  reset();
}

void PaddedConv2dImpl::reset() {
  const int64_t k = options.kernel();
  TOKRL_CHECK_GT(k, 0);
  TOKRL_CHECK_GT(options.stride(), 0);
  const int64_t g = options.groups();
  TOKRL_CHECK(g > 0 && options.in_channels() % g == 0 &&
              options.out_channels() % g == 0)
      << "conv groups " << g << " must divide " << options.in_channels()
      << " and " << options.out_channels();
  builtin_padding_ =
      options.padding() == Padding::kSame && options.stride() == 1 && k % 2;
  auto conv_options =
      torch::nn::Conv2dOptions(options.in_channels(), options.out_channels(), k)
          .stride(options.stride())
          .padding(builtin_padding_ ? k / 2 : 0)
          .groups(g);
  conv = register_module("conv", torch::nn::Conv2d(conv_options));
  const int64_t fan_in = options.in_channels() / g * k * k;
  if (options.lecun_init()) {
    LecunNormal_(conv->weight, fan_in);
  } else {
    XavierUniform_(conv->weight, fan_in, options.out_channels() / g * k * k);
  }
  torch::NoGradGuard no_grad;
  conv->bias.zero_();
}

void PaddedConv2dImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::PaddedConv2d(" << options.in_channels() << ", "
         << options.out_channels() << ", kernel=" << options.kernel()
         << ", stride=" << options.stride()
         << ", padding=" << ToString(options.padding())
         << (options.relu() ? ", relu" : "") << ")";
}

at::Tensor PaddedConv2dImpl::PaddedInput(const at::Tensor& x) const {
  return options.padding() == Padding::kSame && !builtin_padding_
             ? PadSame(x, options.kernel(), options.stride())
             : x;
}

bool PaddedConv2dImpl::KernelShape(const at::Tensor& in) const {
  // Why only small stride-1 convs: the kernel (conv_kernel.cc) made DQN
  // flatten updates on MinAtar ~9% faster (0.79-0.83 against 0.88-0.91 ms,
  // bench_agent BM_Update, runs alternating), but a strided version of it
  // did not speed up the Nature CNN's first layer (8x8, stride 4: 32.5-36.1
  // against 31.8-34.1 ms per update), whose strided patches cost as much as
  // oneDNN's whole conv.
  const int64_t patch_floats = options.in_channels() / options.groups() *
                               options.kernel() * options.kernel() *
                               in.size(-2) * in.size(-1);
  return options.stride() == 1 && patch_floats <= kInputConvMaxPatchFloats;
}

at::Tensor PaddedConv2dImpl::forward_observation(const at::Tensor& obs,
                                                 double input_scale) {
  if (obs.scalar_type() == at::kByte && obs.device().is_cpu() &&
      FastPathApplies(conv->weight)) {
    // Why: the float copy was an op and an allocation of every forward
    // (acting's too), which the kernel's padded planes make anyway.
    const at::Tensor in = PaddedInput(obs);
    if (KernelShape(in)) {
      return InputConv2d(in, conv->weight, conv->bias,
                         builtin_padding_ ? options.kernel() / 2 : 0,
                         options.groups(), options.relu(), input_scale);
    }
  }
  return forward(
      PreprocessObservation(obs, input_scale, conv->weight.scalar_type()));
}

at::Tensor PaddedConv2dImpl::forward(const at::Tensor& x) {
  const at::Tensor in = PaddedInput(x);
  const int64_t g = options.groups();
  const int64_t pad = builtin_padding_ ? options.kernel() / 2 : 0;
  if (KernelShape(in) && FastPathApplies(in) &&
      !(at::GradMode::is_enabled() && in.requires_grad())) {
    return InputConv2d(in, conv->weight, conv->bias, pad, g, options.relu());
  }
  if (x.dim() == 5) return ToMemberRows(forward(ToChannelBlocks(x)), g);
  const auto relu = [this](const at::Tensor& y) {
    return options.relu() ? torch::relu(y) : y;
  };
  if (g == 1 || !in.device().is_cpu()) return relu(conv->forward(in));
  // ATen's CPU grouped convolution is ~2.4x slower than one convolution per
  // group at packed-run sizes (16 groups of 4 -> 16 channels on 10x10,
  // batch 32, forward and backward: 11.3 ms against 4.7 ms), so on the CPU
  // each group runs on its own slice of the weights.
  const auto xs = in.chunk(g, 1);
  const auto ws = conv->weight.chunk(g, 0);
  const auto bs = conv->bias.chunk(g, 0);
  std::vector<at::Tensor> ys;
  ys.reserve(static_cast<size_t>(g));
  for (int64_t i = 0; i < g; ++i) {
    ys.push_back(
        torch::conv2d(xs[static_cast<size_t>(i)], ws[static_cast<size_t>(i)],
                      bs[static_cast<size_t>(i)], options.stride(), pad));
  }
  return relu(torch::cat(ys, 1));
}

int64_t PaddedConv2dImpl::OutputSize(int64_t size) const {
  return ConvOutputSize(size, options.kernel(), options.stride(),
                        options.padding());
}

// ---- MinAtarConv ------------------------------------------------------------

MinAtarConvImpl::MinAtarConvImpl(const MinAtarConvOptions& options_)
    : options(options_) {
  reset();
}

void MinAtarConvImpl::reset() {
  const int64_t g = options.members();
  TOKRL_CHECK_GT(g, 0);
  conv = register_module(
      "conv", PaddedConv2d(PaddedConv2dOptions(g * options.in_channels(),
                                               g * options.channels(), 3)
                               .padding(options.padding())
                               .groups(g)
                               .relu(true)));
}

void MinAtarConvImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::MinAtarConv(in_channels=" << options.in_channels()
         << ", channels=" << options.channels()
         << ", padding=" << ToString(options.padding()) << ")";
}

at::Tensor MinAtarConvImpl::forward(const at::Tensor& obs) {
  CheckObservation(obs, options.members(), options.in_channels());
  return conv->forward_observation(obs, options.input_scale());
}

std::array<int64_t, 3> MinAtarConvImpl::OutputShape(int64_t height,
                                                    int64_t width) const {
  return {options.channels(), conv->OutputSize(height),
          conv->OutputSize(width)};
}

// ---- NatureCnn --------------------------------------------------------------

NatureCnnImpl::NatureCnnImpl(const NatureCnnOptions& options_)
    : options(options_) {
  reset();
}

void NatureCnnImpl::reset() {
  const Padding p = options.padding();
  const int64_t g = options.members();
  TOKRL_CHECK_GT(g, 0);
  conv1 = register_module(
      "conv1",
      PaddedConv2d(PaddedConv2dOptions(g * options.in_channels(), g * 32, 8)
                       .stride(4)
                       .padding(p)
                       .groups(g)));
  conv2 = register_module("conv2",
                          PaddedConv2d(PaddedConv2dOptions(g * 32, g * 64, 4)
                                           .stride(2)
                                           .padding(p)
                                           .groups(g)));
  conv3 = register_module("conv3",
                          PaddedConv2d(PaddedConv2dOptions(g * 64, g * 64, 3)
                                           .stride(1)
                                           .padding(p)
                                           .groups(g)));
}

void NatureCnnImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::NatureCnn(in_channels=" << options.in_channels()
         << ", padding=" << ToString(options.padding()) << ")";
}

at::Tensor NatureCnnImpl::forward(const at::Tensor& obs) {
  CheckObservation(obs, options.members(), options.in_channels());
  const bool packed = obs.dim() == 5;
  at::Tensor x =
      PreprocessObservation(packed ? ToChannelBlocks(obs) : obs,
                            options.input_scale(), ParamDtype(*this));
  x = torch::relu(conv1->forward(x));
  x = torch::relu(conv2->forward(x));
  x = torch::relu(conv3->forward(x));
  return packed ? ToMemberRows(x, options.members()) : x;
}

std::array<int64_t, 3> NatureCnnImpl::OutputShape(int64_t height,
                                                  int64_t width) const {
  for (const PaddedConv2d& c : {conv1, conv2, conv3}) {
    height = c->OutputSize(height);
    width = c->OutputSize(width);
  }
  return {64, height, width};
}

// ---- ImpalaCnn --------------------------------------------------------------

ImpalaCnnImpl::ImpalaCnnImpl(const ImpalaCnnOptions& options_)
    : options(options_) {
  reset();
}

void ImpalaCnnImpl::reset() {
  TOKRL_CHECK(!options.stack_sizes().empty()) << "Impala needs >= 1 stack";
  stack_convs.clear();
  block_convs.clear();
  const int64_t g = options.members();
  TOKRL_CHECK_GT(g, 0);
  int64_t in = g * options.in_channels();
  for (size_t s = 0; s < options.stack_sizes().size(); ++s) {
    const int64_t ch = g * options.stack_sizes()[s];
    const std::string prefix = "stack" + std::to_string(s);
    stack_convs.push_back(register_module(
        prefix + "_conv",
        PaddedConv2d(PaddedConv2dOptions(in, ch, 3).groups(g))));
    std::vector<PaddedConv2d> blocks;
    for (int64_t b = 0; b < options.num_blocks(); ++b) {
      for (int j = 0; j < 2; ++j) {
        blocks.push_back(register_module(
            prefix + "_block" + std::to_string(b) + "_conv" + std::to_string(j),
            PaddedConv2d(
                PaddedConv2dOptions(ch, ch, 3).lecun_init(true).groups(g))));
      }
    }
    block_convs.push_back(std::move(blocks));
    in = ch;
  }
}

void ImpalaCnnImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::ImpalaCnn(in_channels=" << options.in_channels()
         << ", stacks=[";
  for (size_t s = 0; s < options.stack_sizes().size(); ++s) {
    stream << (s ? ", " : "") << options.stack_sizes()[s];
  }
  stream << "], num_blocks=" << options.num_blocks() << ")";
}

at::Tensor ImpalaCnnImpl::forward(const at::Tensor& obs) {
  CheckObservation(obs, options.members(), options.in_channels());
  const bool packed = obs.dim() == 5;
  at::Tensor x =
      PreprocessObservation(packed ? ToChannelBlocks(obs) : obs,
                            options.input_scale(), ParamDtype(*this));
  for (size_t s = 0; s < stack_convs.size(); ++s) {
    x = MaxPoolSame(stack_convs[s]->forward(x), 3, 2);
    auto& convs = block_convs[s];
    for (size_t j = 0; j + 1 < convs.size(); j += 2) {
      at::Tensor y = convs[j]->forward(torch::relu(x));
      y = convs[j + 1]->forward(torch::relu(y));
      x = x + y;
    }
  }
  x = torch::relu(x);
  return packed ? ToMemberRows(x, options.members()) : x;
}

std::array<int64_t, 3> ImpalaCnnImpl::OutputShape(int64_t height,
                                                  int64_t width) const {
  for (size_t s = 0; s < options.stack_sizes().size(); ++s) {
    height = ConvOutputSize(height, 3, 2, Padding::kSame);
    width = ConvOutputSize(width, 3, 2, Padding::kSame);
  }
  return {options.stack_sizes().back(), height, width};
}

}  // namespace tokrl::nn
