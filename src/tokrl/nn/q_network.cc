#include "tokrl/nn/q_network.h"

#include <torch/torch.h>

#include <array>
#include <limits>
#include <string>

#include "tokrl/core/check.h"
#include "tokrl/nn/enum_names.h"
#include "tokrl/nn/linear.h"
#include "tokrl/nn/noisy_linear.h"

namespace tokrl::nn {
namespace {

constexpr std::array<EnumName<Penultimate>, 6> kPenultimateNames = {{
    {"dense", Penultimate::kDense},
    {"softmoe", Penultimate::kSoftMoE},
    {"moe", Penultimate::kMoE},
    {"tokenized_avg", Penultimate::kTokenizedAvg},
    {"tokenized_sum", Penultimate::kTokenizedSum},
    {"gap", Penultimate::kGap},
}};

}  // namespace

const OptionsTable<QNetworkOptions>& QNetworkOptionsTable() {
  using O = QNetworkOptions;
  constexpr int64_t kMaxWidth = int64_t{1} << 20;
  // obs_shape and num_actions come from the env, head and the C51 support
  // from the agent: they are not keys.
  static const OptionsTable<O> table = {
      EnumOption("encoder", &O::encoder, ParseEncoderType, ToString,
                 "minatar | nature | impala"),
      EnumOption("padding", &O::padding, ParsePadding, ToString,
                 "minatar/nature conv padding: same | valid"),
      EnumOption("tokenizer", &O::tokenizer, ParseTokenization, ToString,
                 "flatten | perconv | perfeat | persamp | perpatch | shuffled"),
      EnumOption("penultimate", &O::penultimate, ParsePenultimate, ToString,
                 "dense | softmoe | moe | tokenized_avg | tokenized_sum | gap"),
      IntOption("hidden", &O::hidden, 1, kMaxWidth,
                "penultimate base width (dense width, expert hidden)"),
      IntOption("scale", &O::scale, 1, 1 << 10,
                "penultimate width multiplier (x4 = DFT's scaled)"),
      IntOption("experts", &O::experts, 1, 1 << 12, "SoftMoE / MoE experts"),
      IntOption("slots", &O::slots, 0, kMaxWidth,
                "slots per expert / MoE capacity (0 = ceil(m c / n))"),
      // It becomes a slot count: a bound keeps the cast defined.
      FloatOption("capacity_factor", &O::capacity_factor, 0.0, 1024.0,
                  "c in the default slot count", /*lo_open=*/true),
      BoolOption("normalize", &O::normalize,
                 "SoftMoE normalization with learned scale"),
      EnumOption("routing", &O::routing, ParseMoERouting, ToString,
                 "MoE routing: token_choice | expert_choice"),
      IntOption("k", &O::k, 1, 1 << 12, "MoE token choice: experts per token"),
      IntOption("patch_size", &O::patch_size, 1, 1 << 10,
                "PerPatch patch side"),
      EnumOption("patch_embedding", &O::patch_embedding, ParsePatchEmbedding,
                 ToString, "PerPatch embedding: conv | avg_pool"),
      IntOption("shuffle_seed", &O::shuffle_seed, 0,
                std::numeric_limits<int64_t>::max(),
                "Shuffled tokenizer permutation seed"),
      BoolOption("extra_layer", &O::extra_layer,
                 "extra Dense(hidden)+ReLU before the head"),
      BoolOption("dueling", &O::dueling, "dueling head"),
      BoolOption("noisy", &O::noisy, "NoisyNet head layers"),
      FloatOption("noisy_sigma0", &O::noisy_sigma0, 0.0, 1e6,
                  "NoisyNet sigma0"),
      FloatOption("input_scale", &O::input_scale, 0.0, 1e6,
                  "multiplier for integer observations (0 = encoder default: "
                  "1/255 nature/impala, 1 minatar)"),
      IntOption("impala_scale", &O::impala_scale, 1, 64,
                "Impala channel multiplier (Dopamine nn_scale)"),
      IntOption("minatar_channels", &O::minatar_channels, 1, 1 << 12,
                "MinAtar conv filters"),
      IntOption("patch_embedding_size", &O::patch_embedding_size, 0, kMaxWidth,
                "PerPatch conv embedding size (0 = encoder channels)"),
      EnumOption("capacity_priority", &O::capacity_priority,
                 ParseCapacityPriority, ToString,
                 "MoE token choice overflow priority: token_index | "
                 "gate_value"),
      EnumOption("aux_loss", &O::aux_loss, ParseMoEAuxLoss, ToString,
                 "MoE auxiliary loss: none | importance | load | "
                 "importance_load"),
      FloatOption("router_noise_std", &O::router_noise_std, 0.0, 1e6,
                  "MoE noisy routing std (divided by n; 0 = off)"),
      BoolOption("noisy_deterministic_eval", &O::noisy_deterministic_eval,
                 "NoisyNet: mean weights only when evaluating"),
      FloatOption("softmoe_scale_init", &O::softmoe_scale_init, 0.0, 1e6,
                  "SoftMoE with normalize: initial learned scale s0 "
                  "(Dopamine 1; see docs/softmoe_routing.md)",
                  /*lo_open=*/true),
      FloatOption("phi_init_scale", &O::phi_init_scale, 0.0, 1e6,
                  "SoftMoE: Phi multiplier after its lecun-normal init "
                  "(Dopamine 1)",
                  /*lo_open=*/true),
      FloatOption("router_init_scale", &O::router_init_scale, 0.0, 1e6,
                  "MoE: router multiplier after its lecun-normal init "
                  "(Dopamine 1)",
                  /*lo_open=*/true),
  };
  return table;
}

Penultimate ParsePenultimate(std::string_view name) {
  return ParseEnum<Penultimate>("penultimate", name, kPenultimateNames);
}
std::string_view ToString(Penultimate penultimate) {
  return EnumToName<Penultimate>(penultimate, kPenultimateNames);
}

int64_t NumParameters(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

void RegisterEncoder(torch::nn::Module& parent, const QNetworkOptions& o,
                     int64_t members, MinAtarConv& minatar, NatureCnn& nature,
                     ImpalaCnn& impala) {
  const int64_t c = o.obs_shape[0];
  switch (o.encoder) {
    case EncoderType::kMinAtar: {
      MinAtarConvOptions eo(c);
      eo.channels(o.minatar_channels).padding(o.padding).members(members);
      if (o.input_scale > 0) eo.input_scale(o.input_scale);
      minatar = parent.register_module("encoder", MinAtarConv(eo));
      break;
    }
    case EncoderType::kNature: {
      NatureCnnOptions eo(c);
      eo.padding(o.padding).members(members);
      if (o.input_scale > 0) eo.input_scale(o.input_scale);
      nature = parent.register_module("encoder", NatureCnn(eo));
      break;
    }
    case EncoderType::kImpala: {
      TOKRL_CHECK(o.padding == Padding::kSame)
          << "the Impala encoder only supports SAME padding";
      TOKRL_CHECK_GT(o.impala_scale, 0);
      ImpalaCnnOptions eo(c);
      eo.stack_sizes(
            {16 * o.impala_scale, 32 * o.impala_scale, 32 * o.impala_scale})
          .members(members);
      if (o.input_scale > 0) eo.input_scale(o.input_scale);
      impala = parent.register_module("encoder", ImpalaCnn(eo));
      break;
    }
  }
}

QNetworkImpl::QNetworkImpl(const QNetworkOptions& options_)
    : options(options_) {
  reset();
}

void QNetworkImpl::reset() {
  const QNetworkOptions& o = options;
  TOKRL_CHECK_EQ(o.obs_shape.size(), 3u) << "obs_shape must be {C, H, W}";
  const int64_t c = o.obs_shape[0];
  const int64_t h = o.obs_shape[1];
  const int64_t w = o.obs_shape[2];
  TOKRL_CHECK(c > 0 && h > 0 && w > 0) << "bad obs_shape";
  TOKRL_CHECK_GT(o.num_actions, 0) << "num_actions must be set";
  TOKRL_CHECK_GT(o.hidden, 0);
  TOKRL_CHECK_GT(o.scale, 0);
  TOKRL_CHECK_GE(o.input_scale, 0.0);

  minatar = nullptr;
  nature = nullptr;
  impala = nullptr;
  dense = nullptr;
  softmoe = nullptr;
  moe = nullptr;
  tokenized = nullptr;
  extra = nullptr;

  // ---- encoder ----
  RegisterEncoder(*this, o, /*members=*/1, minatar, nature, impala);
  features_ = minatar  ? minatar->OutputShape(h, w)
              : nature ? nature->OutputShape(h, w)
                       : impala->OutputShape(h, w);
  TOKRL_CHECK(features_[1] > 0 && features_[2] > 0)
      << "observation " << h << "x" << w << " too small for the encoder";

  // ---- tokenizer ----
  tokenizer = register_module(
      "tokenizer", Tokenizer(TokenizerOptions(o.tokenizer, features_[0],
                                              features_[1], features_[2])
                                 .patch_size(o.patch_size)
                                 .patch_embedding(o.patch_embedding)
                                 .embedding_size(o.patch_embedding_size)
                                 .shuffle_seed(o.shuffle_seed)));
  const int64_t m = tokenizer->num_tokens();
  const int64_t t = tokenizer->token_dim();

  // ---- penultimate ----
  switch (o.penultimate) {
    case Penultimate::kDense:
    case Penultimate::kGap:
      // GAP is the dense baseline on the mean token.
      dense = register_module(
          "penultimate",
          DenseBaseline(DenseBaselineOptions(
                            o.penultimate == Penultimate::kGap ? t : m * t)
                            .hidden(o.hidden)
                            .scale(o.scale)));
      head_in_ = dense->out_features();
      break;
    case Penultimate::kSoftMoE:
      softmoe = register_module("penultimate",
                                SoftMoE(SoftMoEOptions(t, o.experts)
                                            .num_tokens(m)
                                            .capacity_factor(o.capacity_factor)
                                            .slots_per_expert(o.slots)
                                            .expert_hidden(o.hidden)
                                            .expert_hidden_scale(o.scale)
                                            .normalize(o.normalize)
                                            .scale_init(o.softmoe_scale_init)
                                            .phi_init_scale(o.phi_init_scale)));
      head_in_ = m * t;
      break;
    case Penultimate::kMoE:
      moe = register_module("penultimate",
                            MoE(MoEOptions(t, o.experts)
                                    .num_tokens(m)
                                    .routing(o.routing)
                                    .k(o.k)
                                    .capacity_factor(o.capacity_factor)
                                    .capacity(o.slots)
                                    .priority(o.capacity_priority)
                                    .expert_hidden(o.hidden)
                                    .expert_hidden_scale(o.scale)
                                    .router_noise_std(o.router_noise_std)
                                    .router_init_scale(o.router_init_scale)
                                    .aux_loss(o.aux_loss)));
      head_in_ = m * t;
      break;
    case Penultimate::kTokenizedAvg:
    case Penultimate::kTokenizedSum:
      tokenized = register_module(
          "penultimate",
          TokenizedAggregate(
              TokenizedAggregateOptions(t)
                  .width(o.hidden)
                  .scale(o.scale)
                  .aggregation(o.penultimate == Penultimate::kTokenizedAvg
                                   ? Aggregation::kMean
                                   : Aggregation::kSum)));
      head_in_ = tokenized->out_features();
      break;
  }
  if (o.extra_layer) {
    extra = register_module("extra", MakeDense(head_in_, o.hidden));
    head_in_ = o.hidden;
  }

  // ---- head ----
  head = register_module(
      "head", QHead(QHeadOptions(head_in_, o.num_actions)
                        .type(o.head)
                        .num_atoms(o.num_atoms)
                        .v_min(o.v_min)
                        .v_max(o.v_max)
                        .dueling(o.dueling)
                        .noisy(o.noisy)
                        .noisy_sigma0(o.noisy_sigma0)
                        .noisy_deterministic_eval(o.noisy_deterministic_eval)));
}

void QNetworkImpl::pretty_print(std::ostream& stream) const {
  const QNetworkOptions& o = options;
  stream << "tokrl::nn::QNetwork(encoder=" << ToString(o.encoder)
         << ", features=" << features_[0] << "x" << features_[1] << "x"
         << features_[2] << ", tokenizer=" << ToString(o.tokenizer)
         << ", tokens=" << num_tokens() << "x" << token_dim()
         << ", penultimate=" << ToString(o.penultimate)
         << ", head=" << ToString(o.head) << (o.dueling ? "+dueling" : "")
         << (o.noisy ? "+noisy" : "") << ", actions=" << o.num_actions << ")";
}

at::Tensor QNetworkImpl::encode(const at::Tensor& obs) {
  TOKRL_CHECK(obs.dim() == 4 && obs.size(1) == options.obs_shape[0] &&
              obs.size(2) == options.obs_shape[1] &&
              obs.size(3) == options.obs_shape[2])
      << "obs " << obs.sizes() << " does not match obs_shape {"
      << options.obs_shape[0] << ", " << options.obs_shape[1] << ", "
      << options.obs_shape[2] << "}";
  if (minatar) return minatar->forward(obs);
  if (nature) return nature->forward(obs);
  return impala->forward(obs);
}

at::Tensor QNetworkImpl::head_input(const at::Tensor& obs,
                                    at::Tensor* aux_loss) {
  const at::Tensor tokens = tokenizer->forward(encode(obs));
  at::Tensor z;
  if (dense) {
    z = dense->forward(options.penultimate == Penultimate::kGap ? tokens.mean(1)
                                                                : tokens);
  } else if (softmoe) {
    z = softmoe->forward(tokens).flatten(1);
  } else if (moe) {
    MoEOutput r = moe->forward(tokens);
    z = r.tokens.flatten(1);
    if (aux_loss != nullptr) *aux_loss = r.aux_loss;
  } else {
    z = tokenized->forward(tokens);
  }
  if (extra) z = LinearReluForward(z, extra->weight, extra->bias);
  return z;
}

QOutput QNetworkImpl::forward(const at::Tensor& obs) {
  QOutput out;
  HeadOutput h = head->forward(head_input(obs, &out.aux_loss));
  out.q = h.q;
  out.logits = h.logits;
  return out;
}

TakenOutput QNetworkImpl::forward_taken(const at::Tensor& obs,
                                        const at::Tensor& actions,
                                        at::Tensor* aux_loss) {
  return head->forward_taken(head_input(obs, aux_loss), actions);
}

void QNetworkImpl::reset_noise() {
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* noisy = module->as<NoisyLinearImpl>()) noisy->reset_noise();
  }
}

}  // namespace tokrl::nn
