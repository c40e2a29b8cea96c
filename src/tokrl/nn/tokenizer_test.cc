#include "tokrl/nn/tokenizer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "tokrl/core/check.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/linear.h"
#include "tokrl/nn/small_gemm_kernel.h"
#include "tokrl/nn/testing.h"

namespace tokrl::nn {
namespace {

using Shape = std::vector<int64_t>;

TEST(TokenizerTest, PerConvHoldsEachPositionsChannelVector) {
  torch::manual_seed(0);
  const at::Tensor f = torch::randn({2, 3, 4, 5});
  const at::Tensor t = PerConvTokens(f);
  ASSERT_EQ(t.sizes(), (Shape{2, 20, 3}));
  for (int64_t i = 0; i < 4; ++i) {
    for (int64_t j = 0; j < 5; ++j) {
      EXPECT_TRUE(
          torch::equal(t.select(1, i * 5 + j), f.select(3, j).select(2, i)));
    }
  }
}

TEST(TokenizerTest, PerFeatIsTransposeOfPerConv) {
  const at::Tensor f = torch::randn({2, 32, 11, 11});
  const at::Tensor feat = PerFeatTokens(f);
  ASSERT_EQ(feat.sizes(), (Shape{2, 32, 121}));
  EXPECT_TRUE(torch::equal(feat, PerConvTokens(f).transpose(1, 2)));
}

TEST(TokenizerTest, PerSampAndFlattenAreTheRowMajorHwdFlattening) {
  const at::Tensor f = torch::randn({2, 3, 4, 5});
  const at::Tensor s = PerSampTokens(f);
  ASSERT_EQ(s.sizes(), (Shape{2, 1, 60}));
  EXPECT_TRUE(torch::equal(s, FlattenTokens(f)));
  // (h, w, d) order: element (i, j, c) at (i * 5 + j) * 3 + c.
  EXPECT_TRUE(torch::equal(s.reshape({2, 4, 5, 3}), f.permute({0, 2, 3, 1})));
}

TEST(TokenizerTest, FlattenSamplesGivesGradientsInTheInputsLayout) {
  torch::manual_seed(4);
  const at::Tensor y = torch::randn({3, 5, 4}, torch::requires_grad());
  const at::Tensor g = torch::randn({3, 20});
  // y * 1 is not a leaf: its gradient is what the layers below receive.
  const at::Tensor below = y * 1;
  at::Tensor seen;
  below.register_hook([&seen](const at::Tensor& grad) { seen = grad; });
  const at::Tensor x = below.transpose(1, 2);  // [3, 4, 5], strided
  const at::Tensor out = FlattenSamples(x);
  EXPECT_TRUE(torch::equal(out, x.flatten(1)));
  out.backward(g);
  ASSERT_TRUE(seen.defined());
  EXPECT_TRUE(seen.is_contiguous());
  EXPECT_TRUE(torch::equal(y.grad(), g.view({3, 4, 5}).transpose(1, 2)));
  // Contiguous inputs, and inputs without gradient, are plain flattens.
  EXPECT_TRUE(torch::equal(FlattenSamples(y), y.flatten(1)));
  EXPECT_TRUE(torch::equal(FlattenSamples(x.detach()), x.flatten(1)));
  EXPECT_THROW(FlattenSamples(torch::zeros({3})), tokrl::Error);
  // So do the flatten tokens of an encoder's output.
  const at::Tensor e = torch::randn({2, 3, 2, 2}, torch::requires_grad());
  const at::Tensor features = e * 1;
  at::Tensor seen_by_encoder;
  features.register_hook(
      [&seen_by_encoder](const at::Tensor& grad) { seen_by_encoder = grad; });
  FlattenTokens(features).backward(torch::randn({2, 1, 12}));
  ASSERT_TRUE(seen_by_encoder.defined());
  EXPECT_TRUE(seen_by_encoder.is_contiguous());
}

// Channels-last features (InputConv2d's kernel): PerConv tokens are then
// contiguous views, PerFeat tokens contiguous copies whose gradient comes
// back channels last.
TEST(TokenizerTest, ChannelsLastFeaturesGiveContiguousTokens) {
  torch::manual_seed(5);
  const at::Tensor e = torch::randn({2, 3, 4, 5}, torch::requires_grad());
  const at::Tensor features = e.contiguous(at::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(PerConvTokens(features).is_contiguous());
  const at::Tensor perfeat = PerFeatTokens(features);
  EXPECT_TRUE(perfeat.is_contiguous());
  EXPECT_TRUE(torch::equal(perfeat, e.detach().flatten(2)));
  at::Tensor seen;
  features.register_hook([&seen](const at::Tensor& grad) { seen = grad; });
  const at::Tensor g = torch::randn({2, 3, 20});
  perfeat.backward(g);
  ASSERT_TRUE(seen.defined());
  EXPECT_TRUE(seen.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::equal(e.grad(), g.view({2, 3, 4, 5})));
}

TEST(TokenizerTest, PerPatchAvgAveragesNonOverlappingPatches) {
  torch::manual_seed(1);
  const at::Tensor f = torch::randn({2, 32, 11, 11});
  const at::Tensor p4 = PerPatchAvgTokens(f, 4);  // 2 x 2 patches.
  ASSERT_EQ(p4.sizes(), (Shape{2, 4, 32}));
  // Token 1 = patch (row 0, col 1): rows 0..3, cols 4..7.
  const at::Tensor expected =
      f.slice(2, 0, 4).slice(3, 4, 8).mean(std::vector<int64_t>{2, 3});
  EXPECT_TRUE(torch::allclose(p4.select(1, 1), expected, 1e-5, 1e-6));
  EXPECT_EQ(PerPatchAvgTokens(f, 3).sizes(), (Shape{2, 9, 32}));
  EXPECT_THROW(PerPatchAvgTokens(f, 12), tokrl::Error);
}

TEST(TokenizerTest, TokenShapesForImpalaFeatures) {
  using S = std::array<int64_t, 2>;
  EXPECT_EQ(TokenShape(Tokenization::kPerConv, 32, 11, 11), (S{121, 32}));
  EXPECT_EQ(TokenShape(Tokenization::kPerFeat, 32, 11, 11), (S{32, 121}));
  EXPECT_EQ(TokenShape(Tokenization::kPerSamp, 32, 11, 11), (S{1, 3872}));
  EXPECT_EQ(TokenShape(Tokenization::kFlatten, 64, 11, 11), (S{1, 7744}));
  EXPECT_EQ(TokenShape(Tokenization::kShuffled, 32, 11, 11), (S{121, 32}));
  EXPECT_EQ(TokenShape(Tokenization::kPerPatch, 32, 11, 11, 3), (S{9, 32}));
  EXPECT_EQ(TokenShape(Tokenization::kPerPatch, 32, 11, 11, 4,
                       PatchEmbedding::kConv, 48),
            (S{4, 48}));
  EXPECT_EQ(TokenShape(Tokenization::kPerPatch, 32, 11, 11, 4,
                       PatchEmbedding::kAvgPool, 48),
            (S{4, 32}));
}

TEST(ShuffleTest, PermutationIsSeededAndValid) {
  const at::Tensor a = MakeShufflePermutation(1000, 7);
  EXPECT_TRUE(torch::equal(std::get<0>(a.sort()), torch::arange(1000)));
  EXPECT_TRUE(torch::equal(a, MakeShufflePermutation(1000, 7)));
  EXPECT_FALSE(torch::equal(a, MakeShufflePermutation(1000, 8)));
  EXPECT_FALSE(torch::equal(a, torch::arange(1000)));
}

TEST(ShuffleTest, ShuffledIsAFixedPermutationOfAllEntries) {
  torch::manual_seed(2);
  const at::Tensor f = torch::randn({2, 16, 10, 10});
  Tokenizer tok(
      TokenizerOptions(Tokenization::kShuffled, 16, 10, 10).shuffle_seed(3));
  const at::Tensor t = tok->forward(f);
  ASSERT_EQ(t.sizes(), (Shape{2, 100, 16}));
  // Same multiset of values per sample.
  for (int64_t b = 0; b < 2; ++b) {
    EXPECT_TRUE(torch::equal(std::get<0>(t[b].flatten().sort()),
                             std::get<0>(f[b].flatten().sort())));
  }
  // Fixed across calls, and the same for another module with the same seed.
  EXPECT_TRUE(torch::equal(t, tok->forward(f)));
  Tokenizer same(
      TokenizerOptions(Tokenization::kShuffled, 16, 10, 10).shuffle_seed(3));
  EXPECT_TRUE(torch::equal(t, same->forward(f)));
  Tokenizer other(
      TokenizerOptions(Tokenization::kShuffled, 16, 10, 10).shuffle_seed(4));
  EXPECT_FALSE(torch::equal(t, other->forward(f)));
  // Entries, not whole tokens, move: some token mixes entries of several
  // PerConv tokens (source token of flat entry k is perm[k] / d).
  const at::Tensor source = tok->permutation.div(16, "floor").view({100, 16});
  const at::Tensor mixed = (source != source.select(1, 0).unsqueeze(1)).any(1);
  EXPECT_GT(mixed.sum().item<int64_t>(), 50);
  // It equals the pure function.
  EXPECT_TRUE(torch::equal(t, ShuffledTokens(f, tok->permutation)));
}

TEST(TokenizerModuleTest, EverySchemeHasTheAdvertisedShape) {
  torch::manual_seed(3);
  const at::Tensor f = torch::randn({2, 32, 11, 11});
  for (Tokenization tk : {Tokenization::kFlatten, Tokenization::kPerConv,
                          Tokenization::kPerFeat, Tokenization::kPerSamp,
                          Tokenization::kPerPatch, Tokenization::kShuffled}) {
    for (PatchEmbedding pe :
         {PatchEmbedding::kAvgPool, PatchEmbedding::kConv}) {
      Tokenizer tok(TokenizerOptions(tk, 32, 11, 11)
                        .patch_size(4)
                        .patch_embedding(pe)
                        .embedding_size(24));
      const at::Tensor t = tok->forward(f);
      EXPECT_EQ(t.sizes(), (Shape{2, tok->num_tokens(), tok->token_dim()}))
          << ToString(tk);
      const auto expected =
          TokenShape(tk, 32, 11, 11, 4, pe, /*embedding_size=*/24);
      EXPECT_EQ(tok->num_tokens(), expected[0]);
      EXPECT_EQ(tok->token_dim(), expected[1]);
    }
  }
}

TEST(TokenizerModuleTest, PatchConvEmbeddingIsKernelEqualsStride) {
  torch::manual_seed(4);
  Tokenizer tok(TokenizerOptions(Tokenization::kPerPatch, 8, 11, 11)
                    .patch_size(4)
                    .embedding_size(5));
  ASSERT_TRUE(tok->patch_embed);
  EXPECT_EQ(tok->parameters().size(), 2u);
  const at::Tensor f = torch::randn({1, 8, 11, 11});
  const at::Tensor t = tok->forward(f);
  ASSERT_EQ(t.sizes(), (Shape{1, 4, 5}));
  // Token 2 = patch (row 1, col 0): a dot product with that 4x4 window.
  const at::Tensor window = f.slice(2, 4, 8).slice(3, 0, 4);  // [1, 8, 4, 4]
  const at::Tensor expected =
      (tok->patch_embed->weight * window).sum({1, 2, 3}) +
      tok->patch_embed->bias;
  EXPECT_TRUE(torch::allclose(t[0][2], expected, 1e-5, 1e-5));
  t.sum().backward();
  testing::ExpectEveryParameterHasNonzeroGrad(*tok);
}

// The embedding as a dense layer over the patches equals ATen's conv (values
// and all three gradients, the features' in their layout), for
// channels-last and contiguous features, with the fast paths (the patch
// loops and the kernel) and without (ATen's view and torch::linear), a patch
// that drops the last rows, patch rows the kernel takes (d*P*P a multiple of
// 8) or not, and narrow and wide embeddings; its bits do not depend on the
// number of threads where every product is in the kernel.
TEST(TokenizerTest, PerPatchConvTokensEqualTheConv) {
  const int threads = torch::get_num_threads();
  torch::manual_seed(7);
  for (const auto& [d, hw, p, e] : std::vector<std::array<int64_t, 4>>{
           {16, 10, 3, 16}, {8, 11, 4, 5}, {3, 10, 3, 40}, {16, 10, 2, 64}}) {
    for (const auto format :
         {at::MemoryFormat::ChannelsLast, at::MemoryFormat::Contiguous}) {
      SCOPED_TRACE(::testing::Message() << d << "x" << hw << "x" << hw << " P="
                                        << p << " e=" << e << " " << format);
      const at::Tensor f0 = torch::randn({32, d, hw, hw}).contiguous(format);
      const at::Tensor w0 = torch::randn({e, d, p, p}) / (p * std::sqrt(d));
      const at::Tensor b0 = torch::randn({e});
      const int64_t n = hw / p;
      const at::Tensor g = torch::randn({32, n * n, e});
      std::vector<std::vector<at::Tensor>> results;
      // ATen's conv; ours on 1 and 3 threads; ours without the fast paths.
      for (const int mode : {0, 1, 3, 4}) {
        torch::set_num_threads(mode == 3 ? 3 : 1);
        SetFastPaths(mode != 4);
        const at::Tensor f = f0.clone().requires_grad_(true);
        const at::Tensor w = w0.clone().requires_grad_(true);
        const at::Tensor b = b0.clone().requires_grad_(true);
        const at::Tensor t = mode == 0
                                 ? PerConvTokens(torch::conv2d(f, w, b, p))
                                 : PerPatchConvTokens(f, w, b);
        ASSERT_EQ(t.sizes(), (Shape{32, n * n, e}));
        t.backward(g);
        results.push_back({t.detach(), f.grad(), w.grad(), b.grad()});
        EXPECT_EQ(f.grad().strides(), f.strides()) << mode;
      }
      SetFastPaths(true);
      for (size_t i = 0; i < results[0].size(); ++i) {
        for (const size_t r : {1, 3}) {  // ours, with and without fast paths
          EXPECT_TRUE(torch::allclose(results[r][i], results[0][i], 1e-4, 1e-4))
              << r << " " << i << ": "
              << (results[r][i] - results[0][i]).abs().max();
        }
        // Wide embeddings are OpenBLAS's without FMA (linear.h).
        if (e < kKernelLinearMinOut || internal::SmallGemmFuses()) {
          EXPECT_TRUE(torch::equal(results[1][i], results[2][i])) << i;
        }
      }
    }
  }
  torch::set_num_threads(threads);
  EXPECT_THROW(
      PerPatchConvTokens(torch::randn({2, 4, 5, 5}), torch::randn({3, 4, 6, 6}),
                         torch::randn({3})),
      tokrl::Error);
  EXPECT_THROW(
      PerPatchConvTokens(torch::randn({2, 4, 5, 5}), torch::randn({3, 2, 2, 2}),
                         torch::randn({3})),
      tokrl::Error);
}

TEST(TokenizerModuleTest, CloneAndSaveLoadKeepThePermutation) {
  Tokenizer tok(
      TokenizerOptions(Tokenization::kShuffled, 4, 3, 3).shuffle_seed(11));
  auto copy = std::dynamic_pointer_cast<TokenizerImpl>(tok->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_TRUE(torch::equal(copy->permutation, tok->permutation));
  EXPECT_NE(copy->permutation.data_ptr(), tok->permutation.data_ptr());
  copy->permutation.fill_(0);
  EXPECT_TRUE(
      torch::equal(std::get<0>(tok->permutation.sort()), torch::arange(36)));

  testing::TempFile file("tokenizer");
  torch::save(tok, file.path());
  Tokenizer loaded(
      TokenizerOptions(Tokenization::kShuffled, 4, 3, 3).shuffle_seed(99));
  torch::load(loaded, file.path());
  EXPECT_TRUE(torch::equal(loaded->permutation, tok->permutation));
}

TEST(TokenizerModuleTest, ToDtypeKeepsTheIntegerPermutation) {
  Tokenizer tok(TokenizerOptions(Tokenization::kShuffled, 4, 3, 3));
  const at::Tensor perm = tok->permutation.clone();
  const at::Tensor f = torch::randn({2, 4, 3, 3}, torch::kDouble);
  tok->to(torch::kDouble);
  EXPECT_EQ(tok->permutation.scalar_type(), torch::kLong);
  tok->to(torch::kCPU, torch::kHalf);
  EXPECT_EQ(tok->permutation.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(tok->permutation, perm));
  EXPECT_TRUE(torch::equal(tok->forward(f), ShuffledTokens(f, perm)));
}

TEST(TokenizerModuleTest, RejectsMismatchedFeatures) {
  Tokenizer tok(TokenizerOptions(Tokenization::kPerConv, 16, 10, 10));
  EXPECT_THROW(tok->forward(torch::zeros({1, 16, 8, 8})), tokrl::Error);
  EXPECT_THROW(
      Tokenizer(
          TokenizerOptions(Tokenization::kPerPatch, 16, 2, 2).patch_size(3)),
      tokrl::Error);
}

TEST(TokenizerTest, ParseNames) {
  EXPECT_EQ(ParseTokenization("perconv"), Tokenization::kPerConv);
  EXPECT_EQ(ParseTokenization("Per_Feat"), Tokenization::kPerFeat);
  EXPECT_EQ(ParseTokenization("shuffled"), Tokenization::kShuffled);
  EXPECT_EQ(ParsePatchEmbedding("avg_pool"), PatchEmbedding::kAvgPool);
  for (Tokenization tk : {Tokenization::kFlatten, Tokenization::kPerConv,
                          Tokenization::kPerFeat, Tokenization::kPerSamp,
                          Tokenization::kPerPatch, Tokenization::kShuffled}) {
    EXPECT_EQ(ParseTokenization(ToString(tk)), tk);
  }
  try {
    ParseTokenization("perpixel");
    FAIL() << "expected tokrl::Error";
  } catch (const tokrl::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("tokenizer 'perpixel'"), std::string::npos) << msg;
    EXPECT_NE(
        msg.find("flatten, perconv, perfeat, persamp, perpatch, shuffled"),
        std::string::npos)
        << msg;
  }
}

}  // namespace
}  // namespace tokrl::nn
