#include "tokrl/nn/tokenizer.h"

#include <torch/torch.h>

#include <array>
#include <limits>
#include <random>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/nn/apply_fn.h"
#include "tokrl/nn/enum_names.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/init.h"
#include "tokrl/nn/linear.h"

namespace tokrl::nn {
namespace {

constexpr std::array<EnumName<Tokenization>, 6> kTokenizationNames = {{
    {"flatten", Tokenization::kFlatten},
    {"perconv", Tokenization::kPerConv},
    {"perfeat", Tokenization::kPerFeat},
    {"persamp", Tokenization::kPerSamp},
    {"perpatch", Tokenization::kPerPatch},
    {"shuffled", Tokenization::kShuffled},
}};

constexpr std::array<EnumName<PatchEmbedding>, 2> kPatchEmbeddingNames = {{
    {"avg_pool", PatchEmbedding::kAvgPool},
    {"conv", PatchEmbedding::kConv},
}};

void CheckFeatures(const at::Tensor& features) {
  TOKRL_CHECK_EQ(features.dim(), 4)
      << "expected features [B, d, h, w], got " << features.sizes();
}

// Uniform integer in [0, bound) without modulo bias (rejection sampling).
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t bound) {
  const uint64_t limit = std::numeric_limits<uint64_t>::max() -
                         std::numeric_limits<uint64_t>::max() % bound;
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % bound;
}

}  // namespace

Tokenization ParseTokenization(std::string_view name) {
  return ParseEnum<Tokenization>("tokenizer", name, kTokenizationNames);
}
std::string_view ToString(Tokenization tokenization) {
  return EnumToName<Tokenization>(tokenization, kTokenizationNames);
}
PatchEmbedding ParsePatchEmbedding(std::string_view name) {
  return ParseEnum<PatchEmbedding>("patch embedding", name,
                                   kPatchEmbeddingNames);
}
std::string_view ToString(PatchEmbedding embedding) {
  return EnumToName<PatchEmbedding>(embedding, kPatchEmbeddingNames);
}

at::Tensor PerConvTokens(const at::Tensor& features) {
  CheckFeatures(features);
  // [B, d, h, w] -> [B, d, h*w] -> [B, h*w, d].
  return features.flatten(2).transpose(1, 2);
}

namespace {

// Why: autograd's gradient of a reshape of a transposed view is the
// transpose of a contiguous gradient, and ATen's elementwise backward ops
// (the encoder's ReLU) run ~30x slower on such a strided gradient than on a
// contiguous one (threshold_backward of [32, 16, 10, 10]: 144 against 4.4
// us). Writing the gradient into x's layout here costs one strided copy.
struct ContiguousKeepingLayout
    : torch::autograd::Function<ContiguousKeepingLayout> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx,
                            const at::Tensor& x) {
    ctx->save_for_backward({x});
    return x.contiguous();
  }
  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const at::Tensor x = ctx->get_saved_variables()[0];
    if (!grads[0].defined()) return {at::Tensor()};
    // empty_like keeps x's strides when x is dense and non-overlapping.
    return {at::empty_like(x).copy_(grads[0])};
  }
};

// x made contiguous, its gradient coming back in x's own layout, where that
// matters (x strided and needing a gradient, on the fast paths); otherwise
// x itself.
at::Tensor ContiguousForGradient(const at::Tensor& x) {
  if (x.is_contiguous() || x.numel() == 0 || !FastPathApplies(x) ||
      !(at::GradMode::is_enabled() && x.requires_grad())) {
    return x;
  }
  return ApplyFn<ContiguousKeepingLayout>(x);
}

}  // namespace

at::Tensor PerFeatTokens(const at::Tensor& features) {
  CheckFeatures(features);
  // Channels-last features (InputConv2d's kernel) give strided tokens.
  return ContiguousForGradient(features.flatten(2));
}

at::Tensor FlattenSamples(const at::Tensor& x) {
  TOKRL_CHECK(x.dim() >= 2)
      << "FlattenSamples expects [B, ...], got " << x.sizes();
  return ContiguousForGradient(x).flatten(1);
}

at::Tensor PerSampTokens(const at::Tensor& features) {
  return FlattenSamples(PerConvTokens(features)).unsqueeze(1);
}

at::Tensor FlattenTokens(const at::Tensor& features) {
  return PerSampTokens(features);
}

at::Tensor PerPatchAvgTokens(const at::Tensor& features, int64_t patch) {
  CheckFeatures(features);
  TOKRL_CHECK_GT(patch, 0);
  TOKRL_CHECK(patch <= features.size(2) && patch <= features.size(3))
      << "patch " << patch << " larger than the feature map "
      << features.sizes();
  return PerConvTokens(torch::avg_pool2d(features, {patch, patch}));
}

namespace {

// Rows of the P x P patches (stride P, VALID) of features [B, d, h, w]:
// [B*nh*nw, P*P*d], row (b, i, j) holding features[b, :, i*P + py, j*P + px]
// in (py, px, c) order, so that from channels-last features (InputConv2d's)
// each (py, px) is one contiguous run of d floats.
//
// Why loops: ATen's copies of a 6-d permuted view (inner runs of P floats)
// added ~0.46 ms to a MinAtar DQN update (batch 32, 41k floats per copy),
// more than the conv they replace cost; these take microseconds.
struct PatchRowsFn : torch::autograd::Function<PatchRowsFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx,
                            const at::Tensor& features, int64_t p) {
    ctx->saved_data["p"] = p;
    ctx->saved_data["sizes"] = features.sizes();
    ctx->saved_data["strides"] = features.strides();
    at::Tensor rows = at::empty(
        {features.size(0) * (features.size(2) / p) * (features.size(3) / p),
         p * p * features.size(1)},
        features.options());
    Copy(features.data_ptr<float>(), features.sizes(), features.strides(), p,
         rows.data_ptr<float>(), /*to_rows=*/true);
    return rows;
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    const int64_t p = ctx->saved_data["p"].toInt();
    const std::vector<int64_t> sizes = ctx->saved_data["sizes"].toIntVector();
    const std::vector<int64_t> strides =
        ctx->saved_data["strides"].toIntVector();
    const at::Tensor g = grads[0].contiguous();
    // In the features' own layout; the dropped last rows and columns get 0.
    at::Tensor grad = at::empty_strided(sizes, strides, g.options()).zero_();
    Copy(grad.data_ptr<float>(), sizes, strides, p, g.data_ptr<float>(),
         /*to_rows=*/false);
    return {grad, at::Tensor()};
  }

  // Between features (sizes, strides) and rows, either way.
  static void Copy(float* f, at::IntArrayRef sizes, at::IntArrayRef strides,
                   int64_t p, float* rows, bool to_rows) {
    const int64_t d = sizes[1], nh = sizes[2] / p, nw = sizes[3] / p;
    float* r = rows;
    for (int64_t b = 0; b < sizes[0]; ++b) {
      for (int64_t i = 0; i < nh; ++i) {
        for (int64_t j = 0; j < nw; ++j) {
          for (int64_t py = 0; py < p; ++py) {
            for (int64_t px = 0; px < p; ++px) {
              float* pixel = f + b * strides[0] + (i * p + py) * strides[2] +
                             (j * p + px) * strides[3];
              for (int64_t c = 0; c < d; ++c, ++r) {
                if (to_rows) {
                  *r = pixel[c * strides[1]];
                } else {
                  pixel[c * strides[1]] = *r;
                }
              }
            }
          }
        }
      }
    }
  }
};

at::Tensor PatchRows(const at::Tensor& features, int64_t p) {
  if (FastPathApplies(features) && features.is_non_overlapping_and_dense()) {
    return ApplyFn<PatchRowsFn>(features, p);
  }
  const int64_t b = features.size(0), d = features.size(1),
                nh = features.size(2) / p, nw = features.size(3) / p;
  return features.permute({0, 2, 3, 1})
      .slice(1, 0, nh * p)
      .slice(2, 0, nw * p)
      .reshape({b, nh, p, nw, p, d})
      .permute({0, 1, 3, 2, 4, 5})
      .reshape({b * nh * nw, p * p * d});
}

}  // namespace

at::Tensor PerPatchConvTokens(const at::Tensor& features,
                              const at::Tensor& weight,
                              const at::Tensor& bias) {
  CheckFeatures(features);
  const int64_t b = features.size(0), d = features.size(1);
  TOKRL_CHECK(weight.dim() == 4 && weight.size(1) == d &&
              weight.size(2) == weight.size(3) && bias.dim() == 1 &&
              bias.size(0) == weight.size(0))
      << "patch embedding weight " << weight.sizes() << " and bias "
      << bias.sizes() << " for features " << features.sizes();
  const int64_t e = weight.size(0), p = weight.size(2);
  TOKRL_CHECK(p <= features.size(2) && p <= features.size(3))
      << "patch " << p << " larger than the feature map " << features.sizes();
  const int64_t tokens = (features.size(2) / p) * (features.size(3) / p);
  // The weight's columns in the rows' (py, px, c) order (a 2.3k-float copy
  // for MinAtar).
  const at::Tensor w = weight.permute({0, 2, 3, 1}).reshape({e, p * p * d});
  return LinearForward(PatchRows(features, p), w, bias).view({b, tokens, e});
}

at::Tensor ShuffledTokens(const at::Tensor& features,
                          const at::Tensor& permutation) {
  CheckFeatures(features);
  const int64_t b = features.size(0);
  const int64_t d = features.size(1);
  const at::Tensor flat = FlattenSamples(PerConvTokens(features));
  TOKRL_CHECK_EQ(permutation.numel(), flat.size(1))
      << "shuffle permutation does not match the feature size";
  return flat.index_select(1, permutation).reshape({b, -1, d});
}

at::Tensor MakeShufflePermutation(int64_t n, uint64_t seed) {
  TOKRL_CHECK_GT(n, 0);
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j =
        static_cast<int64_t>(UniformBelow(rng, static_cast<uint64_t>(i) + 1));
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
  }
  return torch::tensor(perm, torch::kLong);
}

std::array<int64_t, 2> TokenShape(Tokenization tokenization, int64_t d,
                                  int64_t h, int64_t w, int64_t patch,
                                  PatchEmbedding embedding,
                                  int64_t embedding_size) {
  switch (tokenization) {
    case Tokenization::kFlatten:
    case Tokenization::kPerSamp:
      return {1, h * w * d};
    case Tokenization::kPerConv:
    case Tokenization::kShuffled:
      return {h * w, d};
    case Tokenization::kPerFeat:
      return {d, h * w};
    case Tokenization::kPerPatch: {
      TOKRL_CHECK(patch > 0 && patch <= h && patch <= w)
          << "patch_size " << patch << " does not fit a " << h << "x" << w
          << " feature map";
      const int64_t t = embedding == PatchEmbedding::kAvgPool ? d
                        : embedding_size > 0                  ? embedding_size
                                                              : d;
      return {(h / patch) * (w / patch), t};
    }
  }
  TOKRL_FAIL() << "unhandled tokenization";
  return {};
}

// ---- TokenizerImpl ----------------------------------------------------------

TokenizerImpl::TokenizerImpl(const TokenizerOptions& options_)
    : options(options_) {
  reset();
}

void TokenizerImpl::reset() {
  const int64_t d = options.channels();
  const int64_t h = options.height();
  const int64_t w = options.width();
  TOKRL_CHECK(d > 0 && h > 0 && w > 0)
      << "bad feature shape " << d << "x" << h << "x" << w;
  shape_ = TokenShape(options.tokenization(), d, h, w, options.patch_size(),
                      options.patch_embedding(), options.embedding_size());
  patch_embed = nullptr;
  permutation = at::Tensor();
  if (options.tokenization() == Tokenization::kPerPatch &&
      options.patch_embedding() == PatchEmbedding::kConv) {
    const int64_t p = options.patch_size();
    patch_embed = register_module(
        "patch_embed",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(d, shape_[1], p).stride(p)));
    LecunNormal_(patch_embed->weight, d * p * p);
    torch::NoGradGuard no_grad;
    patch_embed->bias.zero_();
  }
  if (options.tokenization() == Tokenization::kShuffled) {
    permutation = register_buffer(
        "permutation",
        MakeShufflePermutation(h * w * d, options.shuffle_seed()));
  }
}

void TokenizerImpl::to(torch::Dtype dtype, bool non_blocking) {
  const at::Tensor keep =
      permutation.defined() ? permutation.detach() : at::Tensor();
  torch::nn::Module::to(dtype, non_blocking);
  if (keep.defined()) permutation.set_data(keep);
}

void TokenizerImpl::to(torch::Device device, torch::Dtype dtype,
                       bool non_blocking) {
  const at::Tensor keep =
      permutation.defined() ? permutation.detach() : at::Tensor();
  torch::nn::Module::to(device, dtype, non_blocking);
  if (keep.defined()) permutation.set_data(keep.to(device));
}

void TokenizerImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::Tokenizer(" << ToString(options.tokenization())
         << ", tokens=" << num_tokens() << "x" << token_dim();
  if (options.tokenization() == Tokenization::kPerPatch) {
    stream << ", patch=" << options.patch_size() << ", "
           << ToString(options.patch_embedding());
  }
  if (options.tokenization() == Tokenization::kShuffled) {
    stream << ", seed=" << options.shuffle_seed();
  }
  stream << ")";
}

at::Tensor TokenizerImpl::forward(const at::Tensor& features) {
  CheckFeatures(features);
  TOKRL_CHECK(features.size(1) == options.channels() &&
              features.size(2) == options.height() &&
              features.size(3) == options.width())
      << "features " << features.sizes() << " do not match the tokenizer's "
      << options.channels() << "x" << options.height() << "x"
      << options.width();
  switch (options.tokenization()) {
    case Tokenization::kFlatten:
      return FlattenTokens(features);
    case Tokenization::kPerConv:
      return PerConvTokens(features);
    case Tokenization::kPerFeat:
      return PerFeatTokens(features);
    case Tokenization::kPerSamp:
      return PerSampTokens(features);
    case Tokenization::kPerPatch:
      if (patch_embed) {
        return PerPatchConvTokens(features, patch_embed->weight,
                                  patch_embed->bias);
      }
      return PerPatchAvgTokens(features, options.patch_size());
    case Tokenization::kShuffled:
      return ShuffledTokens(features, permutation);
  }
  TOKRL_FAIL() << "unhandled tokenization";
  return {};
}

}  // namespace tokrl::nn
