// PackedQNetwork: K QNetworks of one shape ("members", e.g. K seeds of one
// game and variant) computed as one network, for packed runs (`--pack K`):
// every layer runs once for all members, on parameters stacked along a
// leading member dimension, instead of K small forward and backward passes.
//
//   obs [K, B, C, H, W]
//     | encoder: the member's encoder with every conv grouped by member
//     |          (input [B, K*C, H, W], member k in channel block k)
//     v
//   E [K*B, d, h, w] -> the member's tokenizer -> X [K, B, m, t]
//     | penultimate: per-member matmuls (bmm over K): Dense, SoftMoE (Phi
//     |              [K, d, n, p], K*n experts), tokenized avg/sum, GAP
//     | (extra_layer), head: linear | c51, optionally dueling
//     v
//   QOutput { q [K, B, A], logits [K, B, A, N] (C51) }
//
// Contract
//   * Member k of the packed network computes what a QNetwork with the same
//     options and member k's parameters computes, to float rounding (tested
//     to 1e-5 for outputs and gradients). The members never mix: the
//     gradient of member k's loss reaches only member k's parameters.
//   * Every packed parameter holds its K members' values as K contiguous
//     blocks, member k's block laid out as the member's parameter, in the
//     member's order (parameters()[i] packs QNetwork::parameters()[i]).
//     Pack / Unpack copy one member in or out; optimizer state with the same
//     layout (Adam moments) packs the same way (PackedView).
//   * Construction takes nothing from torch's random generator: the
//     parameters are zero until members are packed in.
//   * Supported (CheckPackable throws a tokrl::Error naming the first option
//     that is not): every encoder; parameter-free tokenizers (all but
//     PerPatch with a conv embedding); penultimate dense, softmoe,
//     tokenized_avg, tokenized_sum, gap; extra_layer; linear and C51 heads,
//     dueling or not. Not: MoE (data-dependent routing per member), NoisyNet
//     heads (per-member noise draws), PerPatch conv embeddings.
#ifndef TOKRL_NN_PACKED_Q_NETWORK_H_
#define TOKRL_NN_PACKED_Q_NETWORK_H_

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "tokrl/nn/encoders.h"
#include "tokrl/nn/q_network.h"
#include "tokrl/nn/tokenizer.h"

namespace tokrl::nn {

/// Throws tokrl::Error naming the first option of `options` that packed
/// networks do not support.
void CheckPackable(const QNetworkOptions& options);

/// Example (4 seeds of SoftMoE-4 on MinAtar, packed):
///   std::vector<QNetwork> seeds = ...;          // one per seed
///   PackedQNetwork packed(seeds[0]->options, 4);
///   for (int k = 0; k < 4; ++k) packed->Pack(k, *seeds[k]);
///   QOutput out = packed->forward(obs);          // obs [4, B, C, H, W]
class PackedQNetworkImpl : public torch::nn::Cloneable<PackedQNetworkImpl> {
 public:
  PackedQNetworkImpl(const QNetworkOptions& member, int64_t members);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  std::shared_ptr<torch::nn::Module> clone(
      const c10::optional<torch::Device>& device = c10::nullopt) const override;

  /// obs [K, B, C, H, W] (uint8 or float) -> q [K, B, A], logits
  /// [K, B, A, N] for C51 (undefined otherwise); aux_loss undefined.
  QOutput forward(const at::Tensor& obs);
  /// forward(obs) at actions [K*B] (int64, member-major: row k*B + i is
  /// member k's sample i; any device) only, folded: q [K*B], logits [K*B, N]
  /// for C51. Differentiable as forward. A C51 head on the CPU with nn fast
  /// paths on computes only the taken actions' rows of every member's head
  /// (LinearAtGroups: 1/A of its FLOPs; dueling: of the streams combined in
  /// their parameters, DuelingParams; equal within float rounding);
  /// otherwise forward(obs) then a gather.
  TakenOutput forward_taken(const at::Tensor& obs, const at::Tensor& actions);

  /// Copies member k's parameters in from / out to `network`, which must
  /// have this network's member options. Unpack copies the gradients too
  /// (undefined where the packed ones are), which statistics read.
  void Pack(int64_t k, QNetworkImpl& network);
  void Unpack(int64_t k, QNetworkImpl& network) const;

  /// Makes this network's parameters views of members [first, first +
  /// members()) of `whole` (same member options): the two then share those
  /// values, while gradients stay each network's own. For running a packed
  /// network's members a chunk at a time (agents/packed_agent.h).
  void AliasMembers(const PackedQNetworkImpl& whole, int64_t first);

  /// Floats of activation one member's sample keeps for backward, roughly:
  /// the encoder's output and the penultimate layer's largest tensors
  /// (SoftMoE: logits, dispatch and combine weights m*n*p each, the experts'
  /// hidden n*p*H; the tokenized baselines' per-token activations m*W,
  /// unless the fast paths hold them in cache, baselines.h). For sizing
  /// chunks of members to a cache.
  int64_t ActivationFloatsPerSample() const;

  int64_t members() const { return members_; }
  /// The packed parameters, in the member's parameter order.
  const std::vector<at::Tensor>& packed_parameters() const { return params_; }

  QNetworkOptions member;

  // The encoder (one non-null), with `members` groups.
  MinAtarConv minatar{nullptr};
  NatureCnn nature{nullptr};
  ImpalaCnn impala{nullptr};
  // One member's tokenizer (parameter-free), applied to all K*B rows.
  Tokenizer tokenizer{nullptr};

 private:
  // The penultimate representation z [K, B, F] (after extra_layer).
  at::Tensor features(const at::Tensor& obs);
  // Fills params_ from names_ with the tensors registered now.
  void BindParameters();
  // Packed tensor of the member parameter `name` (e.g.
  // "head.advantage.weight").
  const at::Tensor& P(const std::string& name) const;
  // The K members' dense layer `name` on x [K, rows, in] -> [K, rows, out].
  at::Tensor Linear(const at::Tensor& x, const std::string& name) const;

  int64_t members_ = 1;
  int64_t activation_floats_ = 0;   // ActivationFloatsPerSample
  std::vector<std::string> names_;  // member parameter names, in order
  std::vector<at::Tensor> params_;  // packed, aligned with names_
  at::Tensor support_;              // C51 atoms (buffer)
};
TORCH_MODULE(PackedQNetwork);

/// A packed tensor [K * (member numel)] seen as [K, member numel]: row k is
/// member k's values, flattened.
at::Tensor PackedView(const at::Tensor& packed, int64_t members);

}  // namespace tokrl::nn

#endif  // TOKRL_NN_PACKED_Q_NETWORK_H_
