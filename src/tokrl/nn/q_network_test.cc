#include "tokrl/nn/q_network.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>
#include <string>
#include <tuple>

#include "tokrl/core/check.h"
#include "tokrl/core/gtest_helpers.h"
#include "tokrl/core/testing.h"
#include "tokrl/nn/testing.h"

namespace tokrl::nn {
namespace {

using Shape = std::vector<int64_t>;

// The penultimate variants of the cross product: MoE counts twice (routing).
enum class Variant { kDense, kSoftMoE, kTopK, kExpertChoice, kAvg, kSum, kGap };
// Head variants: plain linear, plain C51, and both with dueling + noisy.
enum class HeadVariant { kLinear, kC51, kRainbowLinear, kRainbowC51 };

std::string Name(Variant v) {
  switch (v) {
    case Variant::kDense:
      return "dense";
    case Variant::kSoftMoE:
      return "softmoe";
    case Variant::kTopK:
      return "top1";
    case Variant::kExpertChoice:
      return "expertchoice";
    case Variant::kAvg:
      return "tokavg";
    case Variant::kSum:
      return "toksum";
    case Variant::kGap:
      return "gap";
  }
  return "?";
}

std::string Name(HeadVariant h) {
  switch (h) {
    case HeadVariant::kLinear:
      return "linear";
    case HeadVariant::kC51:
      return "c51";
    case HeadVariant::kRainbowLinear:
      return "duelnoisylinear";
    case HeadVariant::kRainbowC51:
      return "duelnoisyc51";
  }
  return "?";
}

QNetworkOptions SmallOptions(EncoderType encoder, Tokenization tokenizer,
                             Variant variant, HeadVariant head) {
  QNetworkOptions o;
  o.encoder = encoder;
  o.obs_shape =
      encoder == EncoderType::kMinAtar ? Shape{4, 10, 10} : Shape{4, 84, 84};
  o.num_actions = 3;
  o.tokenizer = tokenizer;
  o.hidden = 16;
  o.experts = 2;
  o.num_atoms = 5;
  switch (variant) {
    case Variant::kDense:
      o.penultimate = Penultimate::kDense;
      break;
    case Variant::kSoftMoE:
      o.penultimate = Penultimate::kSoftMoE;
      break;
    case Variant::kTopK:
      o.penultimate = Penultimate::kMoE;
      o.aux_loss = MoEAuxLoss::kImportance;
      break;
    case Variant::kExpertChoice:
      o.penultimate = Penultimate::kMoE;
      o.routing = MoERouting::kExpertChoice;
      break;
    case Variant::kAvg:
      o.penultimate = Penultimate::kTokenizedAvg;
      break;
    case Variant::kSum:
      o.penultimate = Penultimate::kTokenizedSum;
      break;
    case Variant::kGap:
      o.penultimate = Penultimate::kGap;
      break;
  }
  o.head = (head == HeadVariant::kC51 || head == HeadVariant::kRainbowC51)
               ? HeadType::kC51
               : HeadType::kLinear;
  o.dueling = o.noisy =
      head == HeadVariant::kRainbowLinear || head == HeadVariant::kRainbowC51;
  return o;
}

at::Tensor RandomObs(const QNetworkOptions& o, int64_t batch) {
  const int64_t high = o.encoder == EncoderType::kMinAtar ? 2 : 256;
  return torch::randint(0, high,
                        {batch, o.obs_shape[0], o.obs_shape[1], o.obs_shape[2]},
                        torch::kUInt8);
}

// ---- every encoder x tokenizer x penultimate x head -------------------------

using Combo = std::tuple<EncoderType, Tokenization, Variant, HeadVariant>;

class QNetworkComboTest : public ::testing::TestWithParam<Combo> {};

TEST_P(QNetworkComboTest, ShapesAndGradients) {
  const auto [encoder, tokenizer, variant, head] = GetParam();
  torch::manual_seed(0);
  const QNetworkOptions o = SmallOptions(encoder, tokenizer, variant, head);
  QNetwork net(o);
  const at::Tensor obs = RandomObs(o, 2);
  const QOutput out = net->forward(obs);
  ASSERT_EQ(out.q.sizes(), (Shape{2, 3}));
  EXPECT_TRUE(torch::isfinite(out.q).all().item<bool>());
  if (o.head == HeadType::kC51) {
    ASSERT_TRUE(out.logits.defined());
    EXPECT_EQ(out.logits.sizes(), (Shape{2, 3, 5}));
  } else {
    EXPECT_FALSE(out.logits.defined());
  }
  EXPECT_EQ(out.aux_loss.defined(), variant == Variant::kTopK);
  // Head input size: m * t after an MoE, the width otherwise.
  const bool moe_like = variant == Variant::kSoftMoE ||
                        variant == Variant::kTopK ||
                        variant == Variant::kExpertChoice;
  EXPECT_EQ(net->head_input_dim(),
            moe_like ? net->num_tokens() * net->token_dim() : 16);

  // A loss that reaches every parameter: random weights on q (a plain sum of a
  // dueling q cancels the advantage stream) and on the C51 logits.
  at::Tensor loss = (out.q * torch::randn({2, 3})).sum();
  if (out.logits.defined()) {
    loss = loss + (out.logits * torch::randn({2, 3, 5})).sum();
  }
  if (out.aux_loss.defined()) loss = loss + out.aux_loss;
  loss.backward();
  testing::ExpectEveryParameterHasNonzeroGrad(*net);
}

std::string ComboName(const ::testing::TestParamInfo<Combo>& info) {
  const auto [encoder, tokenizer, variant, head] = info.param;
  return std::string(ToString(encoder)) + "_" +
         std::string(ToString(tokenizer)) + "_" + Name(variant) + "_" +
         Name(head);
}

INSTANTIATE_TEST_SUITE_P(
    All, QNetworkComboTest,
    ::testing::Combine(
        ::testing::Values(EncoderType::kMinAtar, EncoderType::kNature,
                          EncoderType::kImpala),
        ::testing::Values(Tokenization::kFlatten, Tokenization::kPerConv,
                          Tokenization::kPerFeat, Tokenization::kPerSamp,
                          Tokenization::kPerPatch, Tokenization::kShuffled),
        ::testing::Values(Variant::kDense, Variant::kSoftMoE, Variant::kTopK,
                          Variant::kExpertChoice, Variant::kAvg, Variant::kSum,
                          Variant::kGap),
        ::testing::Values(HeadVariant::kLinear, HeadVariant::kC51,
                          HeadVariant::kRainbowLinear,
                          HeadVariant::kRainbowC51)),
    ComboName);

// ---- shapes from the paper --------------------------------------------------

TEST(QNetworkTest, TokenCountsMatchDopamineAndMinAtar) {
  QNetworkOptions o;
  o.num_actions = 4;
  o.hidden = 8;
  o.tokenizer = Tokenization::kPerConv;
  o.penultimate = Penultimate::kSoftMoE;
  o.obs_shape = {4, 84, 84};
  o.encoder = EncoderType::kImpala;
  QNetwork impala(o);
  EXPECT_EQ(impala->num_tokens(), 121);  // (121, 32), networks_test.py.
  EXPECT_EQ(impala->token_dim(), 32);
  EXPECT_EQ(impala->softmoe->slots_per_expert(), 31);
  o.encoder = EncoderType::kNature;
  QNetwork nature(o);
  EXPECT_EQ(nature->num_tokens(), 121);  // (121, 64).
  EXPECT_EQ(nature->token_dim(), 64);
  o.padding = Padding::kValid;
  EXPECT_EQ(QNetwork(o)->num_tokens(), 49);  // Classic DQN 7x7.
  // MinAtar VALID (paper.md 7): 64 tokens x 16, SoftMoE-4 has 16 slots.
  o.encoder = EncoderType::kMinAtar;
  o.obs_shape = {4, 10, 10};
  QNetwork minatar(o);
  EXPECT_EQ(minatar->num_tokens(), 64);
  EXPECT_EQ(minatar->token_dim(), 16);
  EXPECT_EQ(minatar->softmoe->slots_per_expert(), 16);
  o.tokenizer = Tokenization::kPerPatch;
  o.patch_size = 2;
  EXPECT_EQ(QNetwork(o)->num_tokens(), 16);
  o.patch_size = 4;
  EXPECT_EQ(QNetwork(o)->num_tokens(), 4);
  o.padding = Padding::kSame;
  o.tokenizer = Tokenization::kPerSamp;
  EXPECT_EQ(QNetwork(o)->token_dim(), 1600);
}

// Parameters of the penultimate layer (paper.md 2.11), in a full network.
TEST(QNetworkTest, PenultimateParameterCountsMatchPaper) {
  QNetworkOptions o;
  o.encoder = EncoderType::kImpala;
  o.obs_shape = {4, 84, 84};
  o.num_actions = 6;
  o.tokenizer = Tokenization::kPerConv;

  o.penultimate = Penultimate::kSoftMoE;
  o.experts = 4;
  QNetwork softmoe4(o);
  EXPECT_EQ(NumParameters(*softmoe4->softmoe), 133248 + 3968);
  EXPECT_EQ(NumParameters(*softmoe4->head), 3872 * 6 + 6);
  EXPECT_EQ(NumParameters(*softmoe4),
            NumParameters(*softmoe4->impala) + 133248 + 3968 + 3872 * 6 + 6);

  o.experts = 1;
  o.scale = 4;
  QNetwork scaled(o);
  EXPECT_EQ(scaled->softmoe->expert_hidden(), 2048);
  EXPECT_EQ(NumParameters(*scaled->softmoe), 133152 + 3872);

  o.penultimate = Penultimate::kTokenizedAvg;
  QNetwork avg4(o);
  EXPECT_EQ(NumParameters(*avg4->tokenized), 67584);
  EXPECT_EQ(avg4->head_input_dim(), 2048);

  // GAP + Dense(2048) on Impala's 32 channels (paper.md 2.11).
  o.penultimate = Penultimate::kGap;
  QNetwork gap(o);
  EXPECT_EQ(NumParameters(*gap->dense), 32 * 2048 + 2048);
  EXPECT_EQ(gap->head_input_dim(), 2048);

  o.tokenizer = Tokenization::kFlatten;
  o.penultimate = Penultimate::kDense;
  o.scale = 1;
  QNetwork dense(o);
  EXPECT_EQ(NumParameters(*dense->dense), 1982976);
  o.scale = 4;
  EXPECT_EQ(NumParameters(*QNetwork(o)->dense), 7931904);
}

// ---- behaviour --------------------------------------------------------------

// GAP: the encoder output averaged over h and w, then Dense + ReLU.
TEST(QNetworkTest, GapIsDenseOnGlobalAveragePooledFeatures) {
  torch::manual_seed(5);
  QNetworkOptions o;
  o.obs_shape = {4, 10, 10};
  o.num_actions = 3;
  o.tokenizer = Tokenization::kPerConv;
  o.penultimate = Penultimate::kGap;
  o.hidden = 8;
  QNetwork net(o);
  const at::Tensor obs = torch::randint(0, 2, {3, 4, 10, 10}, torch::kUInt8);
  const at::Tensor features = net->encode(obs);  // [3, 16, 10, 10]
  const at::Tensor pooled = features.mean({2, 3});
  const at::Tensor z = torch::relu(torch::nn::functional::linear(
      pooled, net->dense->dense->weight, net->dense->dense->bias));
  const at::Tensor q = net->head->forward(z).q;
  EXPECT_TRUE(torch::allclose(net->forward(obs).q, q, 1e-5, 1e-6));
  EXPECT_EQ(NumParameters(*net->dense), 16 * 8 + 8);
}

QNetworkOptions RichOptions() {
  QNetworkOptions o;
  o.obs_shape = {4, 10, 10};
  o.num_actions = 5;
  o.tokenizer = Tokenization::kShuffled;
  o.shuffle_seed = 42;
  o.penultimate = Penultimate::kSoftMoE;
  o.hidden = 16;
  o.normalize = true;
  o.head = HeadType::kC51;
  o.num_atoms = 7;
  o.dueling = true;
  o.noisy = true;
  return o;
}

TEST(QNetworkTest, CloneIsDeep) {
  torch::manual_seed(1);
  QNetwork online(RichOptions());
  const at::Tensor obs = torch::randint(0, 2, {3, 4, 10, 10}, torch::kUInt8);
  const QOutput before = online->forward(obs);
  auto target = std::dynamic_pointer_cast<QNetworkImpl>(online->clone());
  ASSERT_NE(target, nullptr);
  // Same function, including the noise and the shuffle permutation.
  EXPECT_TRUE(torch::equal(target->forward(obs).logits, before.logits));
  EXPECT_NE(target->tokenizer->permutation.data_ptr(),
            online->tokenizer->permutation.data_ptr());
  testing::ExpectDeepClone(*online, *target);  // Also perturbs online.
  EXPECT_FALSE(torch::equal(online->forward(obs).logits, before.logits));
  EXPECT_TRUE(torch::equal(target->forward(obs).logits, before.logits));
  // New noise in the online network leaves the target alone.
  online->reset_noise();
  EXPECT_TRUE(torch::equal(target->forward(obs).logits, before.logits));
}

TEST(QNetworkTest, SaveLoadRoundTrip) {
  torch::manual_seed(2);
  QNetwork net(RichOptions());
  net->eval();
  const at::Tensor obs = torch::randint(0, 2, {3, 4, 10, 10}, torch::kUInt8);
  const QOutput before = net->forward(obs);
  testing::TempFile file("qnet");
  torch::save(net, file.path());

  QNetworkOptions other = RichOptions();
  other.shuffle_seed = 7;  // The permutation is loaded, not re-derived.
  QNetwork loaded(other);
  torch::load(loaded, file.path());
  loaded->eval();
  const QOutput after = loaded->forward(obs);
  EXPECT_TRUE(torch::equal(after.q, before.q));
  EXPECT_TRUE(torch::equal(after.logits, before.logits));
}

TEST(QNetworkTest, NoiseChangesTrainOutputsOnly) {
  torch::manual_seed(3);
  QNetwork net(RichOptions());
  const at::Tensor obs = torch::randint(0, 2, {2, 4, 10, 10}, torch::kUInt8);
  const at::Tensor a = net->forward(obs).q;
  EXPECT_TRUE(torch::equal(a, net->forward(obs).q));
  net->reset_noise();
  EXPECT_FALSE(torch::allclose(a, net->forward(obs).q));
  net->eval();
  const at::Tensor e = net->forward(obs).q;
  net->reset_noise();
  EXPECT_TRUE(torch::equal(e, net->forward(obs).q));
}

TEST(QNetworkTest, Uint8AndScaledFloatObservationsAgree) {
  torch::manual_seed(4);
  QNetworkOptions o;
  o.encoder = EncoderType::kNature;
  o.obs_shape = {4, 84, 84};
  o.num_actions = 3;
  o.hidden = 8;
  QNetwork net(o);
  const at::Tensor obs = torch::randint(0, 256, {2, 4, 84, 84}, torch::kUInt8);
  EXPECT_TRUE(torch::allclose(net->forward(obs).q,
                              net->forward(obs.to(torch::kFloat) / 255.0).q,
                              1e-4, 1e-5));
  EXPECT_THROW(net->forward(torch::zeros({2, 4, 80, 84})), tokrl::Error);
}

TEST(QNetworkTest, ExtraLayerSitsBeforeTheHead) {
  QNetworkOptions o;
  o.num_actions = 3;
  o.hidden = 8;
  o.tokenizer = Tokenization::kPerConv;
  o.penultimate = Penultimate::kSoftMoE;
  o.extra_layer = true;
  QNetwork net(o);
  EXPECT_EQ(net->head_input_dim(), 8);
  ASSERT_TRUE(net->extra);
  EXPECT_EQ(net->extra->weight.size(1), 100 * 16);
  EXPECT_EQ(net->forward(torch::zeros({2, 4, 10, 10})).q.sizes(),
            (Shape{2, 3}));
}

TEST(QNetworkTest, DoublePrecision) {
  QNetworkOptions o = RichOptions();
  QNetwork net(o);
  net->to(torch::kDouble);
  const QOutput out =
      net->forward(torch::randint(0, 2, {2, 4, 10, 10}, torch::kUInt8));
  EXPECT_EQ(out.q.scalar_type(), torch::kDouble);
}

TEST(QNetworkTest, BadOptionsThrow) {
  QNetworkOptions o;
  EXPECT_THROW(QNetwork{o}, tokrl::Error);  // num_actions unset.
  o.num_actions = 3;
  o.obs_shape = {10, 10};
  EXPECT_THROW(QNetwork{o}, tokrl::Error);
  o.obs_shape = {4, 84, 84};
  o.encoder = EncoderType::kImpala;
  o.padding = Padding::kValid;
  EXPECT_THROW(QNetwork{o}, tokrl::Error);
  o.padding = Padding::kSame;
  o.penultimate = Penultimate::kMoE;
  o.routing = MoERouting::kExpertChoice;
  o.k = 2;
  EXPECT_THROW(QNetwork{o}, tokrl::Error);
}

TEST(QNetworkTest, ParseNamesAndErrors) {
  EXPECT_EQ(ParsePenultimate("softmoe"), Penultimate::kSoftMoE);
  EXPECT_EQ(ParsePenultimate("SoftMoE"), Penultimate::kSoftMoE);
  EXPECT_EQ(ParsePenultimate("tokenized-avg"), Penultimate::kTokenizedAvg);
  EXPECT_EQ(ParsePenultimate("tokenized_sum"), Penultimate::kTokenizedSum);
  for (Penultimate p : {Penultimate::kDense, Penultimate::kSoftMoE,
                        Penultimate::kMoE, Penultimate::kTokenizedAvg,
                        Penultimate::kTokenizedSum, Penultimate::kGap}) {
    EXPECT_EQ(ParsePenultimate(ToString(p)), p);
  }
  try {
    ParsePenultimate("sofmoe");
    FAIL() << "expected tokrl::Error";
  } catch (const tokrl::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown penultimate 'sofmoe'"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("valid choices: dense, softmoe, moe, tokenized_avg, "
                       "tokenized_sum"),
              std::string::npos)
        << msg;
  }
  EXPECT_THROW(ParseEncoderType(""), tokrl::Error);
  EXPECT_THROW(ParseTokenization("per conv"), tokrl::Error);
  EXPECT_THROW(ParseHeadType("dueling"), tokrl::Error);
}

// Every field is a key except those set from the env and the agent; the
// table prints and parses every value back unchanged.
TEST(QNetworkOptionsTest, TableCoversEveryFieldAndRoundTrips) {
  std::vector<ConfigField> schema;
  AppendSchema(schema, "network", QNetworkOptionsTable());
  EXPECT_EQ(schema.size(), 30u);
  Config config(schema);
  QNetworkOptions defaults;
  QNetworkOptions read = defaults;
  ReadOptions(config, "network", QNetworkOptionsTable(), read);
  EXPECT_TRUE(read == defaults);
  config.Set("network.encoder", "impala");
  config.Set("network.aux_loss", "importance_load");
  config.Set("network.router_noise_std", "0.5");
  config.Set("network.shuffle_seed", "9223372036854775807");
  ReadOptions(config, "network", QNetworkOptionsTable(), read);
  EXPECT_EQ(read.encoder, EncoderType::kImpala);
  EXPECT_EQ(read.aux_loss, MoEAuxLoss::kImportanceLoad);
  EXPECT_DOUBLE_EQ(read.router_noise_std, 0.5);
  EXPECT_EQ(read.shuffle_seed, 9223372036854775807ull);
  config.Set("network.penultimate", "mlp");
  EXPECT_TRUE(Contains(
      ErrorOf([&] {
        ReadOptions(config, "network", QNetworkOptionsTable(), read);
      }),
      "config key 'network.penultimate': unknown penultimate 'mlp'; valid "
      "choices:"));
}

TEST(QNetworkTest, PrettyPrint) {
  QNetworkOptions o = RichOptions();
  std::ostringstream s;
  QNetwork(o)->pretty_print(s);
  EXPECT_EQ(s.str(),
            "tokrl::nn::QNetwork(encoder=minatar, features=16x10x10, "
            "tokenizer=shuffled, tokens=100x16, penultimate=softmoe, "
            "head=c51+dueling+noisy, actions=5)");
}

}  // namespace
}  // namespace tokrl::nn
