// Tokenizers: how the encoder output E [B, d, h, w] becomes tokens [B, m, t].
//
//   scheme    tokens [B, m, t]                        Impala 84x84  MinAtar
//   --------  --------------------------------------  ------------  --------
//   Flatten   [B, 1, h*w*d]  the baseline's flatten   1 x 3872      1 x 1600
//   PerConv   [B, h*w, d]    one token per position   121 x 32      100 x 16
//   PerFeat   [B, d, h*w]    one token per channel    32 x 121      16 x 100
//   PerSamp   [B, 1, h*w*d]  the whole sample         1 x 3872      1 x 1600
//   PerPatch  [B, (h/P)*(w/P), e]  P x P patches      9 x 32 (P=3)  9 x 16
//   Shuffled  [B, h*w, d]    PerConv of a fixed       121 x 32      100 x 16
//                            permutation of entries
//   (MinAtar column: SAME padding, 10x10x16 features.)
//
// Invariants
//   * Every flattening uses Dopamine's row-major (h, w, d) order (Flax is
//     channels-last): PerConv token i = h_i * w + w_i holds that position's
//     channel vector, and Flatten/PerSamp equal PerConv(E).reshape(B, 1, -1).
//   * PerFeat(E) == PerConv(E).transpose(1, 2).
//   * Flatten and PerSamp give the same tensor. Flatten is the baseline's
//     name: with a dense penultimate layer the whole network is the flatten
//     baseline, with TokenizedAvg over its single token it is too.
//   * PerPatch uses non-overlapping P x P patches (stride P, VALID): the
//     h mod P last rows and w mod P last columns are dropped, as in Dopamine.
//     Two embeddings (option): average-pooling each patch (token dim d) or a
//     learned conv with kernel = stride = P and `embedding_size` filters, no
//     activation (Dopamine's default path; lecun_normal init, zero bias).
//   * Shuffled permutes all h*w*d entries (not whole tokens) with a fixed
//     permutation, then applies PerConv. Permuting whole tokens would change
//     nothing: SoftMoE is permutation-equivariant and the head's weights
//     absorb a token reordering (paper.md 2.4). The permutation depends only
//     on (h*w*d, seed): a Fisher-Yates shuffle driven by std::mt19937_64 with
//     our own unbiased bounded draw, so it is the same on every platform and
//     LibTorch version. It is a registered buffer: it is saved, loaded and
//     deep-copied by clone().
//
// References: paper.md 2.4; Obando-Ceron et al. 2024 (MoE-RL) section 4.2;
// Sokar et al. 2024 (DFT) section 5.1; google/dopamine labs/moes
// `networks.py` (RoutingType).
#ifndef TOKRL_NN_TOKENIZER_H_
#define TOKRL_NN_TOKENIZER_H_

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <cstdint>
#include <ostream>
#include <string_view>

namespace tokrl::nn {

enum class Tokenization {
  kFlatten,
  kPerConv,
  kPerFeat,
  kPerSamp,
  kPerPatch,
  kShuffled
};
enum class PatchEmbedding { kAvgPool, kConv };

/// "flatten", "perconv", "perfeat", "persamp", "perpatch", "shuffled".
Tokenization ParseTokenization(std::string_view name);
std::string_view ToString(Tokenization tokenization);
/// "avg_pool", "conv".
PatchEmbedding ParsePatchEmbedding(std::string_view name);
std::string_view ToString(PatchEmbedding embedding);

// ---- pure functions: features [B, d, h, w] -> tokens [B, m, t] --------------

/// x.flatten(1) for x [B, ...]. When x is a strided view (PerConv tokens of
/// channels-first features are a transposed view of them), its gradient
/// comes back in x's memory layout, so the encoder below sees a dense one.
/// The flattening tokenizers (Flatten, PerSamp, Shuffled) use it.
at::Tensor FlattenSamples(const at::Tensor& x);

/// [B, 1, h*w*d], (h, w, d) order. Same values as PerSampTokens.
at::Tensor FlattenTokens(const at::Tensor& features);
/// [B, h*w, d].
at::Tensor PerConvTokens(const at::Tensor& features);
/// [B, d, h*w]. From channels-last features (InputConv2d's), a contiguous
/// copy whose gradient comes back in their layout, as in FlattenSamples.
at::Tensor PerFeatTokens(const at::Tensor& features);
/// [B, 1, h*w*d].
at::Tensor PerSampTokens(const at::Tensor& features);
/// Average-pooled P x P patches (stride P, VALID): [B, (h/P)*(w/P), d].
at::Tensor PerPatchAvgTokens(const at::Tensor& features, int64_t patch);
/// The learned embedding: the conv of weight [e, d, P, P] and bias [e]
/// (stride P, VALID) over features [B, d, h, w], as tokens
/// [B, (h/P)*(w/P), e]; equals PerConvTokens(conv2d(features, weight, bias,
/// P)) within float rounding, computed as one dense layer over the patches
/// (LinearForward), whose sums do not depend on the number of threads on
/// the fast paths (ATen's conv's weight gradient does).
at::Tensor PerPatchConvTokens(const at::Tensor& features,
                              const at::Tensor& weight, const at::Tensor& bias);
/// PerConv after permuting the h*w*d entries of each sample (in (h, w, d)
/// order) by `permutation` (int64 [h*w*d]): out_flat[j] = in_flat[perm[j]].
at::Tensor ShuffledTokens(const at::Tensor& features,
                          const at::Tensor& permutation);
/// A permutation of 0..n-1 (int64 [n]) that depends only on (n, seed).
at::Tensor MakeShufflePermutation(int64_t n, uint64_t seed);
/// {m, t} for a d x h x w feature map (embedding_size 0 means d).
std::array<int64_t, 2> TokenShape(
    Tokenization tokenization, int64_t d, int64_t h, int64_t w,
    int64_t patch = 3, PatchEmbedding embedding = PatchEmbedding::kConv,
    int64_t embedding_size = 0);

// ---- module -----------------------------------------------------------------

/// Example:
///   Tokenizer tok(TokenizerOptions(Tokenization::kPerPatch, 32, 11, 11)
///                     .patch_size(4)
///                     .patch_embedding(PatchEmbedding::kAvgPool));
struct TokenizerOptions {
  TokenizerOptions(Tokenization tokenization, int64_t channels, int64_t height,
                   int64_t width)
      : tokenization_(tokenization),
        channels_(channels),
        height_(height),
        width_(width) {}
  /// The scheme.
  TORCH_ARG(Tokenization, tokenization);
  /// Encoder output channels d.
  TORCH_ARG(int64_t, channels);
  /// Encoder output height h (needed for the shuffle and patch counts).
  TORCH_ARG(int64_t, height);
  /// Encoder output width w.
  TORCH_ARG(int64_t, width);
  /// PerPatch: patch side P (Dopamine default 3; its tests use 4).
  TORCH_ARG(int64_t, patch_size) = 3;
  /// PerPatch: learned conv embedding (Dopamine default) or average pooling.
  TORCH_ARG(PatchEmbedding, patch_embedding) = PatchEmbedding::kConv;
  /// PerPatch conv: embedding features; 0 means d (Dopamine: 32 Impala,
  /// 64 CNN, i.e. d in both cases).
  TORCH_ARG(int64_t, embedding_size) = 0;
  /// Shuffled: permutation seed.
  TORCH_ARG(uint64_t, shuffle_seed) = 0;
};

class TokenizerImpl : public torch::nn::Cloneable<TokenizerImpl> {
 public:
  explicit TokenizerImpl(const TokenizerOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// As Module::to, except that the int64 permutation keeps its dtype
  /// (Module::to(dtype) would convert integer buffers too).
  using torch::nn::Module::to;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, torch::Dtype dtype,
          bool non_blocking = false) override;
  /// features [B, d, h, w] -> tokens [B, m, t].
  at::Tensor forward(const at::Tensor& features);
  /// m.
  int64_t num_tokens() const { return shape_[0]; }
  /// t.
  int64_t token_dim() const { return shape_[1]; }

  TokenizerOptions options;
  /// PerPatch with a conv embedding only.
  torch::nn::Conv2d patch_embed{nullptr};
  /// Shuffled only: int64 [h*w*d] buffer.
  at::Tensor permutation;

 private:
  std::array<int64_t, 2> shape_{};
};
TORCH_MODULE(Tokenizer);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_TOKENIZER_H_
