// QNetwork: encoder -> tokenizer -> penultimate layer -> Q head, assembled
// from a plain options struct. This is the network of every value-based agent
// in tokrl (DQN, Rainbow-lite, full Rainbow / DER).
//
//   obs [B, C, H, W] (uint8 or float)
//     | encoder: MinAtarConv | NatureCnn | ImpalaCnn          (encoders.h)
//     v
//   E [B, d, h, w]
//     | tokenizer: Flatten | PerConv | PerFeat | PerSamp
//     |            | PerPatch | Shuffled                      (tokenizer.h)
//     v
//   X [B, m, t]
//     | penultimate:
//     |   dense          flatten -> Dense(hidden*scale) -> ReLU    -> [B, W]
//     |   softmoe        SoftMoE -> [B, m, t] -> flatten           -> [B, m*t]
//     |   moe            top-k / expert-choice MoE -> flatten      -> [B, m*t]
//     |   tokenized_avg  per-token Dense(hidden*scale) + ReLU, mean -> [B, W]
//     |   tokenized_sum  ... sum                                   -> [B, W]
//     |   gap            mean over tokens -> Dense(hidden*scale) -> ReLU
//     |                                                           -> [B, W]
//     | (extra_layer: Dense(hidden) -> ReLU)
//     v
//   z [B, F]
//     | head: linear | c51, optionally dueling and/or noisy     (heads.h)
//     v
//   QOutput { q [B, A], logits [B, A, N] (C51), aux_loss (MoE aux loss) }
//
// Every (encoder, tokenizer, penultimate, head) combination is valid. The
// classic configurations:
//   flatten baseline x k  tokenizer=flatten, penultimate=dense, scale=k
//   SoftMoE-n             tokenizer=perconv, penultimate=softmoe, experts=n
//   SoftMoE-1 scaled x4   ... experts=1, scale=4 (expert hidden 4 * hidden)
//   Top1-MoE              penultimate=moe, routing=token_choice, k=1
//   ExpertChoice-n        penultimate=moe, routing=expert_choice, experts=n
//   TokenizedAvg/Sum x k  tokenizer=perconv, scale=k,
//                         penultimate=tokenized_avg / tokenized_sum
//   GAP x k               tokenizer=perconv, penultimate=gap, scale=k:
//                         global average pooling of E over h and w (the
//                         mean PerConv token), then Dense (paper.md 2.3);
//                         with other tokenizers, the mean token. Parameters
//                         t*W + W (MinAtar t = 16, W = 512: 8,704).
//
// Invariants
//   * `scale` multiplies the one width that the penultimate layer has: the
//     dense width (baseline x k), the per-token projection width (tokenized
//     baselines), or each expert's hidden width (SoftMoE/MoE: "expert hidden
//     scaling"; with experts=1 this is DFT's scaled single expert).
//   * clone() is deep, buffers included (Shuffled permutation, C51 support,
//     noise), so `target = online->clone()` shares nothing with the online
//     network.
//   * The noisy flag only affects the Q head's layers (not the dense
//     penultimate layer as in Dopamine's full Rainbow, nor the experts).
//   * Nothing is lazily shaped: all shapes follow from obs_shape at
//     construction, so parameters exist before the first forward.
//
// References: paper.md 2 (architecture) and 7 (mapping); style.md 8.3.
#ifndef TOKRL_NN_Q_NETWORK_H_
#define TOKRL_NN_Q_NETWORK_H_

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "tokrl/core/options_table.h"
#include "tokrl/nn/baselines.h"
#include "tokrl/nn/encoders.h"
#include "tokrl/nn/heads.h"
#include "tokrl/nn/moe.h"
#include "tokrl/nn/softmoe.h"
#include "tokrl/nn/tokenizer.h"

namespace tokrl::nn {

enum class Penultimate {
  kDense,
  kSoftMoE,
  kMoE,
  kTokenizedAvg,
  kTokenizedSum,
  kGap
};
/// "dense", "softmoe", "moe", "tokenized_avg", "tokenized_sum", "gap".
Penultimate ParsePenultimate(std::string_view name);
std::string_view ToString(Penultimate penultimate);

/// Example (DFT's SoftMoE-4 Rainbow-lite network on Atari):
///   QNetworkOptions o{.obs_shape = {4, 84, 84}, .num_actions = 18,
///                     .encoder = EncoderType::kImpala,
///                     .tokenizer = Tokenization::kPerConv,
///                     .penultimate = Penultimate::kSoftMoE, .experts = 4,
///                     .head = HeadType::kC51};
///   QNetwork online(o);
///   auto target = std::dynamic_pointer_cast<QNetworkImpl>(online->clone());
struct QNetworkOptions {
  // ---- input / output ----
  /// Observation shape {C, H, W}, channels first.
  std::vector<int64_t> obs_shape = {4, 10, 10};
  /// A. Required.
  int64_t num_actions = 0;

  // ---- encoder ----
  /// minatar | nature | impala.
  EncoderType encoder = EncoderType::kMinAtar;
  /// MinAtar and Nature convs: SAME (default, Dopamine) or VALID (MinAtar
  /// reference 8x8 torso, classic DQN 7x7). Impala is always SAME.
  Padding padding = Padding::kSame;
  /// Multiplier for integral observations; 0 = encoder default (1/255 for
  /// nature/impala, 1 for minatar). Float observations are never scaled.
  double input_scale = 0.0;
  /// Impala channel multiplier (Dopamine `nn_scale`): stacks 16s, 32s, 32s.
  int64_t impala_scale = 1;
  /// MinAtar conv filters.
  int64_t minatar_channels = 16;

  // ---- tokenizer ----
  /// flatten | perconv | perfeat | persamp | perpatch | shuffled.
  Tokenization tokenizer = Tokenization::kFlatten;
  /// PerPatch: patch side P (tokens: floor(h/P) * floor(w/P)).
  int64_t patch_size = 3;
  /// PerPatch: learned conv embedding (default) or average pooling.
  PatchEmbedding patch_embedding = PatchEmbedding::kConv;
  /// PerPatch conv: embedding size; 0 = encoder channels d.
  int64_t patch_embedding_size = 0;
  /// Shuffled: permutation seed.
  uint64_t shuffle_seed = 0;

  // ---- penultimate layer ----
  /// dense | softmoe | moe | tokenized_avg | tokenized_sum.
  Penultimate penultimate = Penultimate::kDense;
  /// Base width: dense width, tokenized projection width, expert hidden H,
  /// and the extra layer's width (Dopamine 512; MinAtar often 128).
  int64_t hidden = 512;
  /// Width multiplier of the penultimate layer (see header).
  int64_t scale = 1;
  /// SoftMoE/MoE: number of experts n.
  int64_t experts = 4;
  /// SoftMoE slots per expert p / MoE capacity; 0 = ceil(m c / n)
  /// (MoE token choice: ceil(k m c / n)).
  int64_t slots = 0;
  /// c in the default slot count / capacity.
  double capacity_factor = 1.0;
  /// SoftMoE: Puigcerver normalisation with learned scale.
  bool normalize = false;
  /// SoftMoE: initial learned scale s0 (with normalize).
  double softmoe_scale_init = 1.0;
  /// SoftMoE: Phi multiplier after init.
  double phi_init_scale = 1.0;
  /// MoE: router W_g multiplier after init.
  double router_init_scale = 1.0;
  /// MoE: token-choice (top-k) or expert-choice routing.
  MoERouting routing = MoERouting::kTokenChoice;
  /// MoE token choice: experts per token.
  int64_t k = 1;
  /// MoE token choice: overflow priority.
  CapacityPriority capacity_priority = CapacityPriority::kTokenIndex;
  /// MoE: auxiliary load-balancing loss, returned in QOutput::aux_loss.
  MoEAuxLoss aux_loss = MoEAuxLoss::kNone;
  /// MoE: noisy routing std (divided by n); 0 = off.
  double router_noise_std = 0.0;
  /// Dopamine `use_extra_linear_layer`: Dense(hidden) + ReLU before the head.
  bool extra_layer = false;

  // ---- head ----
  /// linear | c51.
  HeadType head = HeadType::kLinear;
  /// Dueling value/advantage streams.
  bool dueling = false;
  /// NoisyNet head layers.
  bool noisy = false;
  /// NoisyLinear sigma0 (0.5 Fortunato; Dopamine full Rainbow 0.1).
  double noisy_sigma0 = 0.5;
  /// NoisyLinear: mean weights only in eval mode.
  bool noisy_deterministic_eval = true;
  /// C51 atoms.
  int64_t num_atoms = 51;
  /// C51 support [v_min, v_max].
  double v_min = -10.0;
  double v_max = 10.0;

  bool operator==(const QNetworkOptions&) const = default;
};

struct QOutput {
  at::Tensor q;         ///< [B, A]
  at::Tensor logits;    ///< [B, A, atoms] for C51, undefined otherwise
  at::Tensor aux_loss;  ///< scalar (MoE with an aux loss) or undefined
};

class QNetworkImpl : public torch::nn::Cloneable<QNetworkImpl> {
 public:
  explicit QNetworkImpl(const QNetworkOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// obs [B, C, H, W] -> QOutput.
  QOutput forward(const at::Tensor& obs);
  /// forward(obs) at actions [B] only (QHeadImpl::forward_taken); the MoE
  /// auxiliary loss goes to *aux_loss when given.
  TakenOutput forward_taken(const at::Tensor& obs, const at::Tensor& actions,
                            at::Tensor* aux_loss = nullptr);
  /// Encoder output E [B, d, h, w].
  at::Tensor encode(const at::Tensor& obs);
  /// z [B, F], the head's input (forward without the head); the MoE
  /// auxiliary loss goes to *aux_loss when given.
  at::Tensor head_input(const at::Tensor& obs, at::Tensor* aux_loss = nullptr);
  /// Draws new noise in every NoisyLinear (no-op without noisy layers).
  void reset_noise();

  /// {d, h, w} of the encoder output.
  const std::array<int64_t, 3>& feature_shape() const { return features_; }
  /// m and t of the tokens.
  int64_t num_tokens() const { return tokenizer->num_tokens(); }
  int64_t token_dim() const { return tokenizer->token_dim(); }
  /// Size of z, the head's input.
  int64_t head_input_dim() const { return head_in_; }

  QNetworkOptions options;
  // Exactly one encoder and one penultimate holder are non-null.
  MinAtarConv minatar{nullptr};
  NatureCnn nature{nullptr};
  ImpalaCnn impala{nullptr};
  Tokenizer tokenizer{nullptr};
  DenseBaseline dense{nullptr};
  SoftMoE softmoe{nullptr};
  MoE moe{nullptr};
  TokenizedAggregate tokenized{nullptr};
  torch::nn::Linear extra{nullptr};
  QHead head{nullptr};

 private:
  std::array<int64_t, 3> features_{};
  int64_t head_in_ = 0;
};
TORCH_MODULE(QNetwork);

/// Registers the encoder of `options` in `parent` as "encoder" and sets the
/// one matching holder; with members > 1, `members` encoders side by side
/// (encoders.h `members`, for PackedQNetwork).
void RegisterEncoder(torch::nn::Module& parent, const QNetworkOptions& options,
                     int64_t members, MinAtarConv& minatar, NatureCnn& nature,
                     ImpalaCnn& impala);

/// Total number of parameter elements (recursively).
int64_t NumParameters(const torch::nn::Module& module);

/// The config keys of QNetworkOptions (`network.<name>`), one per field but
/// obs_shape, num_actions (from the env) and head, num_atoms, v_min, v_max
/// (from the agent); see core/options_table.h.
const OptionsTable<QNetworkOptions>& QNetworkOptionsTable();

}  // namespace tokrl::nn

#endif  // TOKRL_NN_Q_NETWORK_H_
