#include "tokrl/nn/encoders.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <utility>

#include "tokrl/core/check.h"
#include "tokrl/core/gtest_helpers.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/testing.h"
#include "tokrl/nn/tokenizer.h"

namespace tokrl::nn {
namespace {

at::Tensor RandomFrames(int64_t b, int64_t c, int64_t h, int64_t w) {
  return torch::randint(0, 256, {b, c, h, w}, torch::kUInt8);
}

TEST(SamePaddingTest, MatchesTensorFlow) {
  using P = std::array<int64_t, 2>;
  EXPECT_EQ(SamePadding(84, 8, 4), (P{2, 2}));  // 84 -> 21
  EXPECT_EQ(SamePadding(21, 4, 2), (P{1, 2}));  // 21 -> 11, asymmetric
  EXPECT_EQ(SamePadding(11, 3, 1), (P{1, 1}));  // 11 -> 11
  EXPECT_EQ(SamePadding(84, 3, 2), (P{0, 1}));  // Impala pool 84 -> 42
  EXPECT_EQ(SamePadding(42, 3, 2), (P{0, 1}));  // 42 -> 21
  EXPECT_EQ(SamePadding(21, 3, 2), (P{1, 1}));  // 21 -> 11
  EXPECT_EQ(ConvOutputSize(84, 8, 4, Padding::kSame), 21);
  EXPECT_EQ(ConvOutputSize(84, 8, 4, Padding::kValid), 20);
  EXPECT_EQ(ConvOutputSize(10, 3, 1, Padding::kValid), 8);
}

TEST(PaddedConv2dTest, SameEqualsConvOnExplicitlyPaddedInput) {
  torch::manual_seed(0);
  PaddedConv2d conv(PaddedConv2dOptions(2, 3, 4).stride(2));
  const at::Tensor x = torch::randn({1, 2, 21, 21});
  const at::Tensor y = conv->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 3, 11, 11}));
  // Top/left 1, bottom/right 2.
  const at::Tensor padded = torch::constant_pad_nd(x, {1, 2, 1, 2}, 0.0);
  const at::Tensor expected =
      torch::conv2d(padded, conv->conv->weight, conv->conv->bias, {2, 2});
  EXPECT_TRUE(torch::allclose(y, expected, 1e-5, 1e-6));
}

struct ConvResult {
  at::Tensor y, grad_weight, grad_bias;
};

ConvResult RunInputConv(const at::Tensor& x, const at::Tensor& weight,
                        const at::Tensor& bias, int64_t pad, int64_t groups,
                        bool relu, const at::Tensor& dy,
                        double input_scale = 1.0) {
  const at::Tensor w = weight.clone().requires_grad_(true);
  const at::Tensor b = bias.clone().requires_grad_(true);
  const at::Tensor y = InputConv2d(x, w, b, pad, groups, relu, input_scale);
  y.backward(dy);
  return {y.detach(), w.grad(), b.grad()};
}

// The kernel (fast paths) against torch::conv2d (and torch::relu):
// MinAtar's 3x3 conv (SAME and VALID, packed members as groups), a 5x5 and
// a 1x1 conv on odd sizes; batches across the kernel's chunks of 8; with
// and without the ReLU; values and the weight's and bias's gradients, from
// an output gradient in either memory layout.
TEST(InputConv2dTest, KernelEqualsConv2d) {
  torch::manual_seed(8);
  struct Case {
    int64_t b, c, h, w, out, kernel, pad, groups;
  };
  for (const Case& c :
       {Case{10, 4, 10, 10, 16, 3, 1, 1}, Case{3, 7, 10, 10, 16, 3, 0, 1},
        Case{17, 4, 10, 10, 16, 3, 1, 3}, Case{2, 3, 13, 9, 12, 5, 2, 1},
        Case{9, 3, 9, 7, 5, 3, 1, 1}, Case{4, 2, 5, 6, 3, 1, 0, 2}}) {
    for (const bool relu : {false, true}) {
      SCOPED_TRACE(::testing::Message()
                   << "B=" << c.b << " C=" << c.c << " " << c.h << "x" << c.w
                   << " O=" << c.out << " k=" << c.kernel << " p=" << c.pad
                   << " g=" << c.groups << " relu=" << relu);
      const at::Tensor x = torch::randint(0, 3, {c.b, c.groups * c.c, c.h, c.w})
                               .to(torch::kFloat);
      const at::Tensor weight =
          torch::randn({c.groups * c.out, c.c, c.kernel, c.kernel}) * 0.2;
      const at::Tensor bias = torch::randn({c.groups * c.out});
      const int64_t oh = c.h + 2 * c.pad - c.kernel + 1;
      const int64_t ow = c.w + 2 * c.pad - c.kernel + 1;
      const at::Tensor dy = torch::randn({c.b, c.groups * c.out, oh, ow});
      const ConvResult fast =
          RunInputConv(x, weight, bias, c.pad, c.groups, relu, dy);
      const ConvResult fast_last =
          RunInputConv(x, weight, bias, c.pad, c.groups, relu,
                       dy.contiguous(at::MemoryFormat::ChannelsLast));
      SetFastPaths(false);
      const ConvResult plain =
          RunInputConv(x, weight, bias, c.pad, c.groups, relu, dy);
      SetFastPaths(true);
      ASSERT_EQ(fast.y.sizes(), plain.y.sizes());
      EXPECT_TRUE(torch::allclose(fast.y, plain.y, 1e-4, 1e-4));
      EXPECT_TRUE(
          torch::allclose(fast.grad_weight, plain.grad_weight, 1e-3, 1e-3));
      EXPECT_TRUE(torch::allclose(fast.grad_bias, plain.grad_bias, 1e-3, 1e-3));
      EXPECT_TRUE(torch::equal(fast.grad_weight, fast_last.grad_weight));
      EXPECT_TRUE(torch::equal(fast.grad_bias, fast_last.grad_bias));
      if (relu) {
        EXPECT_EQ(fast.y.min().item<float>(), 0.0f);
      }
    }
  }
}

// The kernel's output is channels last, so MinAtar's PerConv and flatten
// tokens are views of it (no copy), and its gradient arrives without one.
TEST(InputConv2dTest, OutputIsChannelsLastAndTokensAreViews) {
  torch::manual_seed(10);
  MinAtarConv conv(MinAtarConvOptions(4));
  const at::Tensor obs = torch::randint(0, 2, {5, 4, 10, 10}, torch::kUInt8);
  const at::Tensor features = conv->forward(obs);
  EXPECT_TRUE(features.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(PerConvTokens(features).is_contiguous());
  const at::Tensor flat = FlattenTokens(features);
  EXPECT_EQ(flat.data_ptr(), features.data_ptr());
  EXPECT_GE(features.min().item<float>(), 0.0f);  // the ReLU
}

// The kernel's gradients do not depend on the number of threads; an input
// that needs a gradient is refused (PaddedConv2d then uses ATen's conv).
TEST(InputConv2dTest, SameBitsForAnyThreadCountAndNoInputGradient) {
  torch::manual_seed(9);
  const at::Tensor x = torch::randint(0, 2, {33, 4, 10, 10}).to(torch::kFloat);
  const at::Tensor weight = torch::randn({16, 4, 3, 3});
  const at::Tensor bias = torch::randn({16});
  const at::Tensor dy = torch::randn({33, 16, 10, 10});
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const ConvResult one = RunInputConv(x, weight, bias, 1, 1, true, dy);
  torch::set_num_threads(3);
  const ConvResult three = RunInputConv(x, weight, bias, 1, 1, true, dy);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one.y, three.y));
  EXPECT_TRUE(torch::equal(one.grad_weight, three.grad_weight));
  EXPECT_TRUE(torch::equal(one.grad_bias, three.grad_bias));

  const at::Tensor needs = x.clone().requires_grad_(true);
  EXPECT_THROW(InputConv2d(needs, weight, bias, 1, 1), tokrl::Error);
  PaddedConv2d conv(PaddedConv2dOptions(4, 16, 3));
  conv->forward(needs).sum().backward();
  ASSERT_TRUE(needs.grad().defined());
  EXPECT_GT(needs.grad().abs().sum().item<double>(), 0.0);
}

// Group-major input (a packed network's members as groups): the kernel
// reads and writes member-major rows itself, with the same bits as the
// sample-major kernel on the groups side by side in channels (and as ATen's
// grouped conv within rounding, fast paths off); so does PaddedConv2d.
TEST(InputConv2dTest, GroupMajorInputGivesMemberRowsWithTheSameBits) {
  torch::manual_seed(11);
  const int64_t g = 3, b = 17, c = 4, o = 16;
  const at::Tensor x5 =
      torch::randint(0, 2, {g, b, c, 10, 10}).to(torch::kFloat);
  const at::Tensor x4 = x5.transpose(0, 1).reshape({b, g * c, 10, 10});
  const at::Tensor weight = torch::randn({g * o, c, 3, 3}) * 0.3;
  const at::Tensor bias = torch::randn({g * o});
  // dy for member-major rows, and the same as [B, G * O, h, w].
  const at::Tensor dy = torch::randn({g * b, o, 10, 10});
  const at::Tensor dy4 =
      dy.view({g, b, o, 10, 10}).transpose(0, 1).reshape({b, g * o, 10, 10});
  const auto rows = [&](const at::Tensor& y4) {
    return y4.reshape({b, g, o, 10, 10})
        .transpose(0, 1)
        .reshape({g * b, o, 10, 10});
  };
  for (const bool relu : {false, true}) {
    SCOPED_TRACE(relu);
    const ConvResult blocks = RunInputConv(x4, weight, bias, 1, g, relu, dy4);
    const ConvResult members = RunInputConv(x5, weight, bias, 1, g, relu, dy);
    ASSERT_EQ(members.y.sizes(), (std::vector<int64_t>{g * b, o, 10, 10}));
    EXPECT_TRUE(members.y.is_contiguous(at::MemoryFormat::ChannelsLast));
    EXPECT_TRUE(torch::equal(members.y, rows(blocks.y)));
    EXPECT_TRUE(torch::equal(members.grad_weight, blocks.grad_weight));
    EXPECT_TRUE(torch::equal(members.grad_bias, blocks.grad_bias));
    SetFastPaths(false);
    const ConvResult plain = RunInputConv(x5, weight, bias, 1, g, relu, dy);
    SetFastPaths(true);
    EXPECT_TRUE(torch::allclose(members.y, plain.y, 1e-4, 1e-4));
    EXPECT_TRUE(
        torch::allclose(members.grad_weight, plain.grad_weight, 1e-3, 1e-3));
    EXPECT_TRUE(
        torch::allclose(members.grad_bias, plain.grad_bias, 1e-3, 1e-3));
  }
  PaddedConv2d conv(PaddedConv2dOptions(g * c, g * o, 3).groups(g).relu(true));
  EXPECT_TRUE(torch::equal(conv->forward(x5), rows(conv->forward(x4))));
  EXPECT_NE(ErrorText([&] {
              InputConv2d(x5, weight, bias, 1, 2);
            }).find("group-major input"),
            std::string::npos);
  EXPECT_NE(ErrorText([&] {
              InputConv2d(x5.narrow(2, 0, 3), weight, bias, 1, g);
            }).find("does not match weight"),
            std::string::npos);
  EXPECT_NE(ErrorText([&] {
              InputConv2d(x4, weight, bias, 1, 2);
            }).find("does not match weight"),
            std::string::npos);
}

// uint8 observations go to the kernel without a float copy: the same bits
// (values and gradients) as the kernel on PreprocessObservation's copy,
// sample-major and group-major, scaled or not, with fast paths off too;
// PaddedConv2d::forward_observation equals forward on the copy, through
// the kernel (MinAtar's SAME 3x3, an explicitly padded even kernel) and
// through ATen (a strided conv). A float input with a scale is refused.
TEST(InputConv2dTest, Uint8ObservationsGiveTheFloatCopysBits) {
  torch::manual_seed(12);
  const int64_t g = 2, b = 9, c = 4, o = 16;
  const at::Tensor weight = torch::randn({g * o, c, 3, 3}) * 0.3;
  const at::Tensor bias = torch::randn({g * o});
  const at::Tensor x4 = RandomFrames(b, g * c, 10, 10);
  const at::Tensor x5 =
      torch::randint(0, 256, {g, b, c, 10, 10}, torch::kUInt8);
  const at::Tensor dy = torch::randn({g * b, o, 10, 10});
  const at::Tensor dy4 = torch::randn({b, g * o, 10, 10});
  for (const bool fast : {true, false}) {
    SetFastPaths(fast);
    for (const double scale : {1.0, 1.0 / 255.0}) {
      for (const bool relu : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "fast " << fast << " scale "
                                          << scale << " relu " << relu);
        for (const auto& [x, grad] : {std::pair{x4, dy4}, std::pair{x5, dy}}) {
          const ConvResult bytes =
              RunInputConv(x, weight, bias, 1, g, relu, grad, scale);
          const ConvResult floats =
              RunInputConv(PreprocessObservation(x, scale, torch::kFloat),
                           weight, bias, 1, g, relu, grad);
          EXPECT_TRUE(torch::equal(bytes.y, floats.y));
          EXPECT_TRUE(torch::equal(bytes.grad_weight, floats.grad_weight));
          EXPECT_TRUE(torch::equal(bytes.grad_bias, floats.grad_bias));
        }
      }
    }
  }
  SetFastPaths(true);
  const at::Tensor obs = RandomFrames(b, c, 10, 10);
  for (const auto& options :
       {PaddedConv2dOptions(c, o, 3).relu(true), PaddedConv2dOptions(c, o, 4),
        PaddedConv2dOptions(c, o, 3).stride(2)}) {
    PaddedConv2d conv(options);
    EXPECT_TRUE(torch::equal(
        conv->forward_observation(obs, 0.5),
        conv->forward(PreprocessObservation(obs, 0.5, torch::kFloat))));
  }
  EXPECT_NE(ErrorText([&] {
              InputConv2d(x4.to(torch::kFloat), weight, bias, 1, g, false, 2.0);
            }).find("input_scale is for uint8 inputs"),
            std::string::npos);
}

TEST(PaddedConv2dTest, BiasStartsAtZero) {
  PaddedConv2d conv(PaddedConv2dOptions(2, 3, 3));
  EXPECT_EQ(conv->conv->bias.abs().sum().item<double>(), 0.0);
}

TEST(MaxPoolSameTest, PadsWithMinusInfinity) {
  // Zero padding would turn the border maxima of an all-negative input to 0.
  const at::Tensor x = -torch::ones({1, 1, 84, 84});
  const at::Tensor y = MaxPoolSame(x, 3, 2);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 42, 42}));
  EXPECT_EQ(y.max().item<double>(), -1.0);
}

TEST(MinAtarConvTest, SameAndValidShapes) {
  torch::manual_seed(0);
  const at::Tensor obs = torch::randint(0, 2, {3, 4, 10, 10}, torch::kUInt8);
  MinAtarConv same(MinAtarConvOptions(4));
  EXPECT_EQ(same->forward(obs).sizes(), (std::vector<int64_t>{3, 16, 10, 10}));
  EXPECT_EQ(same->OutputShape(10, 10), (std::array<int64_t, 3>{16, 10, 10}));
  MinAtarConv valid(MinAtarConvOptions(4).padding(Padding::kValid));
  EXPECT_EQ(valid->forward(obs).sizes(), (std::vector<int64_t>{3, 16, 8, 8}));
  EXPECT_EQ(valid->OutputShape(10, 10), (std::array<int64_t, 3>{16, 8, 8}));
}

TEST(MinAtarConvTest, BinaryUint8EqualsFloatWithoutRescaling) {
  torch::manual_seed(1);
  MinAtarConv enc(MinAtarConvOptions(7));
  const at::Tensor obs = torch::randint(0, 2, {2, 7, 10, 10}, torch::kUInt8);
  EXPECT_TRUE(
      torch::equal(enc->forward(obs), enc->forward(obs.to(torch::kFloat))));
  EXPECT_TRUE(
      torch::equal(enc->forward(obs), enc->forward(obs.to(torch::kBool))));
}

TEST(NatureCnnTest, SameGives11x11AndValidGives7x7) {
  torch::manual_seed(0);
  const at::Tensor obs = RandomFrames(2, 4, 84, 84);
  NatureCnn same(NatureCnnOptions(4));
  EXPECT_EQ(same->forward(obs).sizes(), (std::vector<int64_t>{2, 64, 11, 11}));
  EXPECT_EQ(same->OutputShape(84, 84), (std::array<int64_t, 3>{64, 11, 11}));
  NatureCnn valid(NatureCnnOptions(4).padding(Padding::kValid));
  EXPECT_EQ(valid->forward(obs).sizes(), (std::vector<int64_t>{2, 64, 7, 7}));
  EXPECT_EQ(valid->OutputShape(84, 84), (std::array<int64_t, 3>{64, 7, 7}));
}

TEST(NatureCnnTest, Uint8InputIsDividedBy255) {
  torch::manual_seed(2);
  NatureCnn enc(NatureCnnOptions(4));
  const at::Tensor obs = RandomFrames(2, 4, 84, 84);
  const at::Tensor a = enc->forward(obs);
  const at::Tensor b = enc->forward(obs.to(torch::kFloat) / 255.0);
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-6));
}

TEST(ImpalaCnnTest, Gives11x11x32AndMatchesOutputShape) {
  torch::manual_seed(0);
  ImpalaCnn enc(ImpalaCnnOptions(4));
  const at::Tensor y = enc->forward(RandomFrames(2, 4, 84, 84));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 32, 11, 11}));
  EXPECT_EQ(enc->OutputShape(84, 84), (std::array<int64_t, 3>{32, 11, 11}));
  EXPECT_GE(y.min().item<double>(), 0.0);  // Final ReLU.
  // 3 stacks x (1 + 2 blocks x 2) convs.
  EXPECT_EQ(enc->parameters().size(), 3u * 5u * 2u);
}

TEST(ImpalaCnnTest, StackSizesOption) {
  ImpalaCnn enc(ImpalaCnnOptions(3).stack_sizes({8, 8}).num_blocks(1));
  const at::Tensor y = enc->forward(torch::rand({1, 3, 20, 20}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{1, 8, 5, 5}));
  EXPECT_EQ(enc->OutputShape(20, 20), (std::array<int64_t, 3>{8, 5, 5}));
}

TEST(EncodersTest, EveryParameterGetsGradient) {
  torch::manual_seed(3);
  MinAtarConv minatar(MinAtarConvOptions(4));
  minatar->forward(torch::randint(0, 2, {2, 4, 10, 10})).sum().backward();
  testing::ExpectEveryParameterHasNonzeroGrad(*minatar);
  NatureCnn nature(NatureCnnOptions(4));
  nature->forward(RandomFrames(2, 4, 84, 84)).sum().backward();
  testing::ExpectEveryParameterHasNonzeroGrad(*nature);
  ImpalaCnn impala(ImpalaCnnOptions(4));
  impala->forward(RandomFrames(2, 4, 84, 84)).sum().backward();
  testing::ExpectEveryParameterHasNonzeroGrad(*impala);
}

TEST(EncodersTest, CloneIsDeepAndSaveLoadRoundTrips) {
  torch::manual_seed(4);
  ImpalaCnn enc(ImpalaCnnOptions(4));
  const at::Tensor obs = RandomFrames(2, 4, 84, 84);
  const at::Tensor before = enc->forward(obs);

  testing::TempFile file("impala");
  torch::save(enc, file.path());
  ImpalaCnn loaded(ImpalaCnnOptions(4));
  torch::load(loaded, file.path());
  EXPECT_TRUE(torch::equal(loaded->forward(obs), before));

  auto copy = std::dynamic_pointer_cast<ImpalaCnnImpl>(enc->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_TRUE(torch::equal(copy->forward(obs), before));
  testing::ExpectDeepClone(*enc, *copy);
  EXPECT_TRUE(torch::equal(copy->forward(obs), before));
}

TEST(EncodersTest, DoublePrecisionFollowsParameters) {
  NatureCnn enc(NatureCnnOptions(4));
  enc->to(torch::kDouble);
  EXPECT_EQ(enc->forward(RandomFrames(1, 4, 84, 84)).scalar_type(),
            torch::kDouble);
}

TEST(EncodersTest, WrongInputThrows) {
  MinAtarConv enc(MinAtarConvOptions(4));
  EXPECT_THROW(enc->forward(torch::zeros({2, 5, 10, 10})), tokrl::Error);
  EXPECT_THROW(enc->forward(torch::zeros({5, 10, 10})), tokrl::Error);
  // Packed: member-major [members, B, C, H, W] only.
  MinAtarConv packed(MinAtarConvOptions(4).members(2));
  EXPECT_EQ(packed->forward(torch::zeros({2, 3, 4, 10, 10})).sizes(),
            (std::vector<int64_t>{6, 16, 10, 10}));
  EXPECT_NE(ErrorText([&] {
              packed->forward(torch::zeros({3, 8, 10, 10}));
            }).find("as [members, B, C, H, W]"),
            std::string::npos);
  EXPECT_NE(ErrorText([&] {
              packed->forward(torch::zeros({3, 3, 4, 10, 10}));
            }).find("is not [2, B, 4, H, W]"),
            std::string::npos);
}

TEST(EncodersTest, ParseNames) {
  EXPECT_EQ(ParseEncoderType("impala"), EncoderType::kImpala);
  EXPECT_EQ(ParseEncoderType("Nature"), EncoderType::kNature);
  EXPECT_EQ(ParseEncoderType("minatar"), EncoderType::kMinAtar);
  EXPECT_EQ(ParsePadding("VALID"), Padding::kValid);
  EXPECT_EQ(ToString(EncoderType::kImpala), "impala");
  try {
    ParseEncoderType("resnet");
    FAIL() << "expected tokrl::Error";
  } catch (const tokrl::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'resnet'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("minatar, nature, impala"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace tokrl::nn
