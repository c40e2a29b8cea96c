#include "tokrl/nn/packed_q_network.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "tokrl/core/gtest_helpers.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/testing.h"

namespace tokrl::nn {
namespace {

constexpr int64_t kMembers = 3;
constexpr int64_t kBatch = 5;

struct Case {
  std::string name;
  QNetworkOptions options;
};

// The paper's MinAtar variants, and every other packable piece once: the
// Nature and Impala encoders, PerFeat / Shuffled tokens, GAP, tokenized
// sums, the extra layer, dueling C51.
std::vector<Case> Cases() {
  QNetworkOptions minatar;
  minatar.obs_shape = {4, 10, 10};
  minatar.num_actions = 3;
  minatar.hidden = 8;
  std::vector<Case> cases;
  auto add = [&](const std::string& name, QNetworkOptions o) {
    cases.push_back({name, o});
  };
  QNetworkOptions o = minatar;
  add("flatten", o);
  o.scale = 4;
  o.head = HeadType::kC51;
  o.num_atoms = 7;
  add("flatten_x4_c51", o);
  o = minatar;
  o.tokenizer = Tokenization::kPerConv;
  o.penultimate = Penultimate::kSoftMoE;
  o.normalize = true;
  o.softmoe_scale_init = 10.0;
  o.head = HeadType::kC51;
  o.num_atoms = 7;
  add("softmoe4_c51", o);
  o.experts = 1;
  o.scale = 4;
  o.normalize = false;
  o.head = HeadType::kLinear;
  add("softmoe1_x4", o);
  o = minatar;
  o.tokenizer = Tokenization::kPerConv;
  o.penultimate = Penultimate::kTokenizedAvg;
  o.scale = 2;
  add("tokenized_avg", o);
  o.tokenizer = Tokenization::kPerFeat;
  o.penultimate = Penultimate::kTokenizedSum;
  o.extra_layer = true;
  add("perfeat_tokenized_sum_extra", o);
  o = minatar;
  o.tokenizer = Tokenization::kShuffled;
  o.shuffle_seed = 7;
  o.penultimate = Penultimate::kGap;
  o.dueling = true;
  add("shuffled_gap_dueling", o);
  o = minatar;
  o.obs_shape = {2, 20, 20};
  o.encoder = EncoderType::kNature;
  o.tokenizer = Tokenization::kPerConv;
  o.penultimate = Penultimate::kSoftMoE;
  o.experts = 2;
  add("nature_softmoe", o);
  o.obs_shape = {3, 12, 12};
  o.encoder = EncoderType::kImpala;
  o.penultimate = Penultimate::kDense;
  o.head = HeadType::kC51;
  o.num_atoms = 5;
  o.dueling = true;
  add("impala_dueling_c51", o);
  return cases;
}

class PackedQNetworkTest : public ::testing::TestWithParam<Case> {};

// Members with their own seeds, packed; each member's output and gradients
// equal the member network's on its own rows.
TEST_P(PackedQNetworkTest, MembersEqualTheirUnpackedNetworks) {
  const QNetworkOptions& o = GetParam().options;
  std::vector<QNetwork> members;
  for (int64_t k = 0; k < kMembers; ++k) {
    torch::manual_seed(100 + k);
    members.emplace_back(o);
  }
  PackedQNetwork packed(o, kMembers);
  for (int64_t k = 0; k < kMembers; ++k) packed->Pack(k, *members[k]);

  torch::manual_seed(1);
  const auto& s = o.obs_shape;
  const at::Tensor obs =
      torch::randint(0, 2, {kMembers, kBatch, s[0], s[1], s[2]}, torch::kUInt8);
  const at::Tensor weights = torch::randn({kMembers, kBatch, o.num_actions});
  const QOutput out = packed->forward(obs);
  ASSERT_EQ(out.q.sizes(),
            (std::vector<int64_t>{kMembers, kBatch, o.num_actions}));
  // One loss over all members: member k's part reaches only member k.
  (out.q * weights).sum().div(kBatch).backward();
  for (int64_t k = 0; k < kMembers; ++k) {
    const QOutput mine = members[k]->forward(obs[k]);
    EXPECT_LT((mine.q - out.q[k]).abs().max().item<double>(), 1e-5)
        << "member " << k;
    if (o.head == HeadType::kC51) {
      EXPECT_LT((mine.logits - out.logits[k]).abs().max().item<double>(), 1e-5);
    }
    (mine.q * weights[k]).sum().div(kBatch).backward();
    const auto theirs = members[k]->named_parameters();
    ASSERT_EQ(theirs.size(), packed->packed_parameters().size());
    for (size_t i = 0; i < theirs.size(); ++i) {
      const at::Tensor& g = theirs[i].value().grad();
      const at::Tensor& pg = packed->packed_parameters()[i].grad();
      ASSERT_TRUE(g.defined() && pg.defined()) << theirs[i].key();
      const double diff = (PackedView(pg, kMembers)[k] - g.reshape({-1}))
                              .abs()
                              .max()
                              .item<double>();
      EXPECT_LT(diff, 1e-5)
          << "member " << k << " " << theirs[i].key() << " (gradient scale "
          << g.abs().max().item<double>() << ")";
    }
  }
}

TEST_P(PackedQNetworkTest, PackUnpackAndCloneAreExact) {
  const QNetworkOptions& o = GetParam().options;
  torch::manual_seed(3);
  QNetwork a(o), b(o), out(o);
  PackedQNetwork packed(o, 2);
  packed->Pack(0, *a);
  packed->Pack(1, *b);
  packed->Unpack(1, *out);
  const auto want = b->parameters();
  const auto got = out->parameters();
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(torch::equal(want[i], got[i])) << i;
  }
  auto copy = std::dynamic_pointer_cast<PackedQNetworkImpl>(packed->clone());
  // A clone packs and unpacks its own tensors (the encoder's included).
  copy->Pack(0, *b);
  copy->Unpack(0, *out);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(torch::equal(want[i], got[i])) << i;
  }
  const auto& s = o.obs_shape;
  const at::Tensor one =
      torch::randint(0, 2, {3, s[0], s[1], s[2]}, torch::kUInt8);
  const at::Tensor obs = torch::stack({one, one});  // both members see it
  EXPECT_TRUE(torch::equal(copy->forward(obs).q[0], packed->forward(obs).q[1]));
  copy->Pack(0, *a);
  testing::ExpectDeepClone(*packed, *copy);
}

// A network aliasing members [1, 3) of another computes those members'
// outputs, and sees their parameters change.
TEST_P(PackedQNetworkTest, AliasedMembersShareTheirParameters) {
  const QNetworkOptions& o = GetParam().options;
  torch::manual_seed(4);
  PackedQNetwork whole(o, kMembers);
  for (int64_t k = 0; k < kMembers; ++k) {
    QNetwork member(o);
    whole->Pack(k, *member);
  }
  PackedQNetwork part(o, 2);
  part->AliasMembers(*whole, 1);
  const auto& s = o.obs_shape;
  const at::Tensor obs =
      torch::randint(0, 2, {kMembers, kBatch, s[0], s[1], s[2]}, torch::kUInt8);
  const auto expect_rows_equal = [&] {
    const at::Tensor want = whole->forward(obs).q.narrow(0, 1, 2);
    EXPECT_LT((part->forward(obs.narrow(0, 1, 2)).q - want)
                  .abs()
                  .max()
                  .item<double>(),
              1e-6);
  };
  expect_rows_equal();
  QNetwork other(o);
  whole->Pack(2, *other);
  expect_rows_equal();
  EXPECT_THROW(part->AliasMembers(*whole, 2), Error);
}

// forward_taken equals forward at the actions, values and gradients, with
// the fast paths on (a C51 head then runs only the taken rows of every
// member's layer) and off.
TEST_P(PackedQNetworkTest, ForwardTakenIsForwardAtTheActions) {
  const QNetworkOptions& o = GetParam().options;
  const int64_t a = o.num_actions;
  PackedQNetwork packed(o, kMembers);
  for (int64_t k = 0; k < kMembers; ++k) {
    torch::manual_seed(200 + k);
    QNetwork member(o);
    packed->Pack(k, *member);
  }
  torch::manual_seed(2);
  const auto& s = o.obs_shape;
  const at::Tensor obs =
      torch::randint(0, 2, {kMembers, kBatch, s[0], s[1], s[2]}, torch::kUInt8);
  // Action 0 never occurs: its head rows get a zero gradient.
  const at::Tensor actions = torch::randint(1, a, {kMembers * kBatch});
  const bool c51 = o.head == HeadType::kC51;
  const at::Tensor wq = torch::randn({kMembers * kBatch});
  const at::Tensor wl =
      torch::randn({kMembers * kBatch, c51 ? o.num_atoms : 1});
  // Outputs and gradients of one loss over the taken outputs.
  const auto run = [&](bool taken_path) {
    for (auto& p : packed->parameters()) p.mutable_grad().reset();
    TakenOutput t;
    if (taken_path) {
      t = packed->forward_taken(obs, actions);
    } else {
      const QOutput full = packed->forward(obs);
      t.q = full.q.reshape({-1, a}).gather(1, actions.unsqueeze(1)).squeeze(1);
      if (c51) {
        t.logits =
            full.logits.reshape({-1, a, o.num_atoms})
                .gather(1,
                        actions.view({-1, 1, 1}).expand({-1, 1, o.num_atoms}))
                .squeeze(1);
      }
    }
    at::Tensor loss = (t.q * wq).sum();
    if (c51) loss = loss + (t.logits * wl).sum();
    loss.backward();
    std::vector<at::Tensor> out = {t.q.detach(),
                                   c51 ? t.logits.detach() : t.q.detach()};
    for (const auto& p : packed->packed_parameters()) out.push_back(p.grad());
    return out;
  };
  const std::vector<at::Tensor> want = run(false);
  for (const bool fast : {true, false}) {
    nn::SetFastPaths(fast);
    const std::vector<at::Tensor> got = run(true);
    nn::SetFastPaths(true);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(got[i].defined() && want[i].defined()) << i;
      EXPECT_LT((got[i] - want[i]).abs().max().item<double>(), 1e-5)
          << "output/gradient " << i << (fast ? " (fast)" : " (plain)");
    }
  }
  if (c51) {
    EXPECT_NE(ErrorText([&] {
                packed->forward_taken(obs, torch::full({kMembers * kBatch}, a));
              }).find("out of range"),
              std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, PackedQNetworkTest,
                         ::testing::ValuesIn(Cases()),
                         [](const auto& param_info) {
                           return param_info.param.name;
                         });

TEST(PackedQNetwork, ConstructionDrawsNothingFromTorchsGenerator) {
  QNetworkOptions o;
  o.obs_shape = {4, 10, 10};
  o.num_actions = 3;
  torch::manual_seed(5);
  const at::Tensor expected = torch::rand({4});
  torch::manual_seed(5);
  PackedQNetwork packed(o, 4);
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected));
  for (const auto& p : packed->parameters()) {
    EXPECT_EQ(p.abs().sum().item<double>(), 0.0);  // zero until packed
  }
}

TEST(PackedQNetwork, UnsupportedOptionsAreNamed) {
  QNetworkOptions o;
  o.obs_shape = {4, 10, 10};
  o.num_actions = 3;
  o.penultimate = Penultimate::kMoE;
  EXPECT_NE(ErrorText([&] { PackedQNetwork(o, 2); }).find("penultimate"),
            std::string::npos);
  o.penultimate = Penultimate::kDense;
  o.noisy = true;
  EXPECT_NE(ErrorText([&] { CheckPackable(o); }).find("network.noisy"),
            std::string::npos);
  o.noisy = false;
  o.tokenizer = Tokenization::kPerPatch;
  EXPECT_NE(ErrorText([&] { CheckPackable(o); }).find("patch_embedding"),
            std::string::npos);
  o.patch_embedding = PatchEmbedding::kAvgPool;
  CheckPackable(o);
  PackedQNetwork packed(
      QNetworkOptions{.obs_shape = {4, 10, 10}, .num_actions = 3}, 2);
  EXPECT_NE(ErrorText([&] {
              packed->forward(torch::zeros({3, 1, 4, 10, 10}));
            }).find("packed obs"),
            std::string::npos);
}

}  // namespace
}  // namespace tokrl::nn
