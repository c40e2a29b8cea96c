#include "tokrl/nn/q_network.h"

#include <torch/torch.h>

#include <array>
#include <charconv>
#include <string>
#include <system_error>
#include <type_traits>

#include "tokrl/core/check.h"
#include "tokrl/nn/enum_names.h"
#include "tokrl/nn/noisy_linear.h"

namespace tokrl::nn {
namespace {

constexpr std::array<EnumName<Penultimate>, 5> kPenultimateNames = {{
    {"dense", Penultimate::kDense},
    {"softmoe", Penultimate::kSoftMoE},
    {"moe", Penultimate::kMoE},
    {"tokenized_avg", Penultimate::kTokenizedAvg},
    {"tokenized_sum", Penultimate::kTokenizedSum},
}};

// ---- "key=value" codec for QNetworkOptions ----------------------------------

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

template <typename T>
T ParseNumber(std::string_view key, std::string_view value, const char* what) {
  T out{};
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, out);
  if (ec != std::errc() || ptr != end || value.empty()) {
    TOKRL_FAIL() << "bad value '" << value << "' for QNetworkOptions key '"
                 << key << "': expected " << what;
  }
  return out;
}

bool ParseBool(std::string_view key, std::string_view value) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  TOKRL_FAIL() << "bad value '" << value << "' for QNetworkOptions key '" << key
               << "': expected true, false, 1 or 0";
  return false;
}

std::string FormatDouble(double v) {
  std::array<char, 64> buf{};
  const auto result = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return std::string(buf.data(), result.ptr);
}

struct Field {
  std::string_view name;
  void (*parse)(QNetworkOptions&, std::string_view key, std::string_view value);
  std::string (*print)(const QNetworkOptions&);
};

template <auto kMember>
Field IntField(std::string_view name) {
  return {name,
          [](QNetworkOptions& o, std::string_view key, std::string_view v) {
            o.*kMember =
                ParseNumber<std::remove_reference_t<decltype(o.*kMember)>>(
                    key, v, "an integer");
          },
          [](const QNetworkOptions& o) { return std::to_string(o.*kMember); }};
}

template <auto kMember>
Field DoubleField(std::string_view name) {
  return {name,
          [](QNetworkOptions& o, std::string_view key, std::string_view v) {
            o.*kMember = ParseNumber<double>(key, v, "a number");
          },
          [](const QNetworkOptions& o) { return FormatDouble(o.*kMember); }};
}

template <auto kMember>
Field BoolField(std::string_view name) {
  return {name,
          [](QNetworkOptions& o, std::string_view key, std::string_view v) {
            o.*kMember = ParseBool(key, v);
          },
          [](const QNetworkOptions& o) {
            return std::string(o.*kMember ? "true" : "false");
          }};
}

template <auto kMember, auto kParse>
Field EnumField(std::string_view name) {
  return {name,
          [](QNetworkOptions& o, std::string_view, std::string_view v) {
            o.*kMember = kParse(v);
          },
          [](const QNetworkOptions& o) {
            return std::string(ToString(o.*kMember));
          }};
}

Field ObsShapeField() {
  return {"obs_shape",
          [](QNetworkOptions& o, std::string_view key, std::string_view v) {
            std::vector<int64_t> shape;
            std::string_view rest = v;
            while (true) {
              const size_t x = rest.find('x');
              shape.push_back(ParseNumber<int64_t>(key, rest.substr(0, x),
                                                   "CxHxW, e.g. 4x84x84"));
              if (x == std::string_view::npos) break;
              rest.remove_prefix(x + 1);
            }
            TOKRL_CHECK_EQ(shape.size(), 3u)
                << "obs_shape '" << v << "' must be CxHxW";
            o.obs_shape = shape;
          },
          [](const QNetworkOptions& o) {
            std::string out;
            for (size_t i = 0; i < o.obs_shape.size(); ++i) {
              if (i) out += "x";
              out += std::to_string(o.obs_shape[i]);
            }
            return out;
          }};
}

// All fields, in declaration order.
const std::vector<Field>& Fields() {
  using O = QNetworkOptions;
  static const std::vector<Field> fields = {
      ObsShapeField(),
      IntField<&O::num_actions>("num_actions"),
      EnumField<&O::encoder, &ParseEncoderType>("encoder"),
      EnumField<&O::padding, &ParsePadding>("padding"),
      DoubleField<&O::input_scale>("input_scale"),
      IntField<&O::impala_scale>("impala_scale"),
      IntField<&O::minatar_channels>("minatar_channels"),
      EnumField<&O::tokenizer, &ParseTokenization>("tokenizer"),
      IntField<&O::patch_size>("patch_size"),
      EnumField<&O::patch_embedding, &ParsePatchEmbedding>("patch_embedding"),
      IntField<&O::patch_embedding_size>("patch_embedding_size"),
      IntField<&O::shuffle_seed>("shuffle_seed"),
      EnumField<&O::penultimate, &ParsePenultimate>("penultimate"),
      IntField<&O::hidden>("hidden"),
      IntField<&O::scale>("scale"),
      IntField<&O::experts>("experts"),
      IntField<&O::slots>("slots"),
      DoubleField<&O::capacity_factor>("capacity_factor"),
      BoolField<&O::normalize>("normalize"),
      EnumField<&O::routing, &ParseMoERouting>("routing"),
      IntField<&O::k>("k"),
      EnumField<&O::capacity_priority, &ParseCapacityPriority>(
          "capacity_priority"),
      EnumField<&O::aux_loss, &ParseMoEAuxLoss>("aux_loss"),
      DoubleField<&O::router_noise_std>("router_noise_std"),
      BoolField<&O::extra_layer>("extra_layer"),
      EnumField<&O::head, &ParseHeadType>("head"),
      BoolField<&O::dueling>("dueling"),
      BoolField<&O::noisy>("noisy"),
      DoubleField<&O::noisy_sigma0>("noisy_sigma0"),
      BoolField<&O::noisy_deterministic_eval>("noisy_deterministic_eval"),
      IntField<&O::num_atoms>("num_atoms"),
      DoubleField<&O::v_min>("v_min"),
      DoubleField<&O::v_max>("v_max"),
  };
  return fields;
}

}  // namespace

QNetworkOptions ParseQNetworkOptions(std::string_view spec,
                                     QNetworkOptions base) {
  std::string_view rest = spec;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view()
                                           : rest.substr(comma + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    TOKRL_CHECK(eq != std::string_view::npos)
        << "QNetworkOptions setting '" << item << "' is not key=value";
    const std::string_view key = Trim(item.substr(0, eq));
    const std::string_view value = Trim(item.substr(eq + 1));
    const Field* field = nullptr;
    for (const Field& f : Fields()) {
      if (f.name == key) field = &f;
    }
    if (field == nullptr) {
      std::string keys;
      for (const Field& f : Fields()) {
        if (!keys.empty()) keys += ", ";
        keys += f.name;
      }
      TOKRL_FAIL() << "unknown QNetworkOptions key '" << key
                   << "'; valid keys: " << keys;
    }
    field->parse(base, key, value);
  }
  return base;
}

std::string ToString(const QNetworkOptions& options) {
  std::string out;
  for (const Field& f : Fields()) {
    if (!out.empty()) out += ",";
    out += std::string(f.name) + "=" + f.print(options);
  }
  return out;
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
  switch (o.encoder) {
    case EncoderType::kMinAtar: {
      MinAtarConvOptions eo(c);
      eo.channels(o.minatar_channels).padding(o.padding);
      if (o.input_scale > 0) eo.input_scale(o.input_scale);
      minatar = register_module("encoder", MinAtarConv(eo));
      features_ = minatar->OutputShape(h, w);
      break;
    }
    case EncoderType::kNature: {
      NatureCnnOptions eo(c);
      eo.padding(o.padding);
      if (o.input_scale > 0) eo.input_scale(o.input_scale);
      nature = register_module("encoder", NatureCnn(eo));
      features_ = nature->OutputShape(h, w);
      break;
    }
    case EncoderType::kImpala: {
      TOKRL_CHECK(o.padding == Padding::kSame)
          << "the Impala encoder only supports SAME padding";
      TOKRL_CHECK_GT(o.impala_scale, 0);
      ImpalaCnnOptions eo(c);
      eo.stack_sizes(
          {16 * o.impala_scale, 32 * o.impala_scale, 32 * o.impala_scale});
      if (o.input_scale > 0) eo.input_scale(o.input_scale);
      impala = register_module("encoder", ImpalaCnn(eo));
      features_ = impala->OutputShape(h, w);
      break;
    }
  }
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
      dense = register_module(
          "penultimate",
          DenseBaseline(
              DenseBaselineOptions(m * t).hidden(o.hidden).scale(o.scale)));
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
                                            .normalize(o.normalize)));
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

QOutput QNetworkImpl::forward(const at::Tensor& obs) {
  const at::Tensor tokens = tokenizer->forward(encode(obs));
  QOutput out;
  at::Tensor z;
  if (dense) {
    z = dense->forward(tokens);
  } else if (softmoe) {
    z = softmoe->forward(tokens).flatten(1);
  } else if (moe) {
    MoEOutput r = moe->forward(tokens);
    z = r.tokens.flatten(1);
    out.aux_loss = r.aux_loss;
  } else {
    z = tokenized->forward(tokens);
  }
  if (extra) z = torch::relu(extra->forward(z));
  HeadOutput h = head->forward(z);
  out.q = h.q;
  out.logits = h.logits;
  return out;
}

void QNetworkImpl::reset_noise() {
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* noisy = module->as<NoisyLinearImpl>()) noisy->reset_noise();
  }
}

}  // namespace tokrl::nn
