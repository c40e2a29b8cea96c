#include "tokrl/nn/packed_q_network.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <mutex>
#include <string>
#include <tuple>

#include "tokrl/core/check.h"
#include "tokrl/nn/experts.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/heads.h"
#include "tokrl/nn/linear.h"
#include "tokrl/nn/softmoe.h"

namespace tokrl::nn {
namespace {

// register_parameter refuses dots; the member's names keep them.
std::string ParameterKey(std::string name) {
  for (char& c : name) {
    if (c == '.') c = '_';
  }
  return "packed_" + name;
}

// Runs `make` with torch's CPU generator restored afterwards: the modules
// built here only lend their shapes, and must not shift the run's stream.
template <typename F>
auto WithoutRandomDraws(F make) {
  auto gen = at::detail::getDefaultCPUGenerator();
  at::Tensor saved;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    saved = gen.get_state();
  }
  struct Restore {
    at::Generator gen;
    at::Tensor state;
    ~Restore() {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(state);
    }
  } restore{gen, saved};
  return make();
}

}  // namespace

void CheckPackable(const QNetworkOptions& o) {
  TOKRL_CHECK(o.penultimate != Penultimate::kMoE)
      << "packed runs do not support network.penultimate = \"moe\" (each "
         "member routes its tokens differently); use softmoe, dense, "
         "tokenized_avg, tokenized_sum or gap";
  TOKRL_CHECK(!o.noisy)
      << "packed runs do not support network.noisy = true (NoisyNet draws "
         "its noise per network)";
  TOKRL_CHECK(!(o.tokenizer == Tokenization::kPerPatch &&
                o.patch_embedding == PatchEmbedding::kConv))
      << "packed runs do not support network.tokenizer = \"perpatch\" with "
         "patch_embedding = \"conv\" (use avg_pool)";
}

at::Tensor PackedView(const at::Tensor& packed, int64_t members) {
  return packed.view({members, -1});
}

PackedQNetworkImpl::PackedQNetworkImpl(const QNetworkOptions& member_,
                                       int64_t members)
    : member(member_), members_(members) {
  reset();
}

void PackedQNetworkImpl::reset() {
  CheckPackable(member);
  TOKRL_CHECK_GT(members_, 0);
  const int64_t k = members_;
  minatar = nullptr;
  nature = nullptr;
  impala = nullptr;
  names_.clear();
  params_.clear();

  torch::NoGradGuard no_grad;
  // One member network lends names, shapes and its tokenizer (with the
  // Shuffled permutation buffer); the encoder is rebuilt with K groups.
  const QNetwork shape = WithoutRandomDraws([&] { return QNetwork(member); });
  WithoutRandomDraws([&] {
    RegisterEncoder(*this, member, k, minatar, nature, impala);
    return 0;
  });
  tokenizer = register_module("tokenizer", shape->tokenizer);
  if (member.head == HeadType::kC51) {
    support_ = register_buffer("support", shape->head->support.clone());
  }

  for (const auto& p : shape->named_parameters(/*recurse=*/true)) {
    // The encoder's grouped convs already hold the member blocks along dim
    // 0; every other parameter is the member's with a leading K.
    if (p.key().rfind("encoder.", 0) != 0) {
      std::vector<int64_t> sizes = {k};
      for (int64_t s : p.value().sizes()) sizes.push_back(s);
      register_parameter(ParameterKey(p.key()), torch::zeros(sizes));
    }
    names_.push_back(p.key());
  }
  BindParameters();
  const auto& f = shape->feature_shape();
  const int64_t m = shape->num_tokens();
  activation_floats_ = f[0] * f[1] * f[2];
  if (member.penultimate == Penultimate::kSoftMoE) {
    const auto phi = P("penultimate.phi").sizes();  // [K, d, n, p]
    const int64_t slots = phi[2] * phi[3];
    activation_floats_ +=
        slots * (3 * m + P("penultimate.experts.w1").size(3) + 2 * phi[1]);
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    params_[i].zero_();
    TOKRL_CHECK_EQ(params_[i].numel(),
                   k * shape->named_parameters()[names_[i]].numel())
        << "packed parameter " << names_[i];
  }
}

void PackedQNetworkImpl::BindParameters() {
  const auto all = named_parameters(/*recurse=*/true);
  params_.clear();
  for (const auto& name : names_) {
    const bool encoder = name.rfind("encoder.", 0) == 0;
    params_.push_back(all[encoder ? name : ParameterKey(name)]);
  }
}

std::shared_ptr<torch::nn::Module> PackedQNetworkImpl::clone(
    const c10::optional<torch::Device>& device) const {
  // Cloneable::clone replaces the encoder's tensors after reset() bound
  // them: bind the copy's again.
  auto copy = Cloneable<PackedQNetworkImpl>::clone(device);
  std::dynamic_pointer_cast<PackedQNetworkImpl>(copy)->BindParameters();
  return copy;
}

void PackedQNetworkImpl::pretty_print(std::ostream& stream) const {
  stream << "tokrl::nn::PackedQNetwork(members=" << members_
         << ", encoder=" << ToString(member.encoder)
         << ", tokenizer=" << ToString(member.tokenizer)
         << ", penultimate=" << ToString(member.penultimate)
         << ", head=" << ToString(member.head) << ")";
}

const at::Tensor& PackedQNetworkImpl::P(const std::string& name) const {
  size_t i = 0;
  while (i < names_.size() && names_[i] != name) ++i;
  TOKRL_CHECK(i < names_.size()) << "packed network has no parameter " << name;
  return params_[i];
}

void PackedQNetworkImpl::Pack(int64_t k, QNetworkImpl& network) {
  TOKRL_CHECK(k >= 0 && k < members_) << "member " << k;
  TOKRL_CHECK(network.options == member)
      << "packing a network with other options";
  const auto theirs = network.parameters();
  TOKRL_CHECK_EQ(theirs.size(), params_.size());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    PackedView(params_[i], members_)[k].copy_(theirs[i].reshape({-1}));
  }
}

void PackedQNetworkImpl::Unpack(int64_t k, QNetworkImpl& network) const {
  TOKRL_CHECK(k >= 0 && k < members_) << "member " << k;
  TOKRL_CHECK(network.options == member)
      << "unpacking into a network with other options";
  auto theirs = network.parameters();
  TOKRL_CHECK_EQ(theirs.size(), params_.size());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    theirs[i].copy_(PackedView(params_[i], members_)[k].view_as(theirs[i]));
    // The last backward's gradients too: statistics read them.
    const at::Tensor& g = params_[i].grad();
    theirs[i].mutable_grad() =
        g.defined() ? PackedView(g, members_)[k].view_as(theirs[i]).clone()
                    : at::Tensor();
  }
}

int64_t PackedQNetworkImpl::ActivationFloatsPerSample() const {
  const bool tokenized = member.penultimate == Penultimate::kTokenizedAvg ||
                         member.penultimate == Penultimate::kTokenizedSum;
  if (!tokenized || FastPathsEnabled()) return activation_floats_;
  return activation_floats_ +
         tokenizer->num_tokens() * P("penultimate.dense.weight").size(1);
}

void PackedQNetworkImpl::AliasMembers(const PackedQNetworkImpl& whole,
                                      int64_t first) {
  TOKRL_CHECK(whole.member == member)
      << "aliasing members of a network with other options";
  TOKRL_CHECK(first >= 0 && first + members_ <= whole.members_)
      << "members [" << first << ", " << first + members_ << ") of "
      << whole.members_;
  for (size_t i = 0; i < params_.size(); ++i) {
    params_[i].set_data(PackedView(whole.params_[i], whole.members_)
                            .narrow(0, first, members_)
                            .view(params_[i].sizes()));
  }
}

at::Tensor PackedQNetworkImpl::Linear(const at::Tensor& x,
                                      const std::string& name) const {
  return PackedLinearForward(x, P(name + ".weight"), P(name + ".bias"));
}

at::Tensor PackedQNetworkImpl::features(const at::Tensor& obs) {
  const int64_t k = members_;
  const auto& shape = member.obs_shape;
  TOKRL_CHECK(obs.dim() == 5 && obs.size(0) == k && obs.size(2) == shape[0] &&
              obs.size(3) == shape[1] && obs.size(4) == shape[2])
      << "packed obs " << obs.sizes() << " is not [" << k << ", B, " << shape[0]
      << ", " << shape[1] << ", " << shape[2] << "]";
  const int64_t b = obs.size(1);

  // Member-major rows [K*B, d, h, w], in the encoder's memory layout
  // (channels last from MinAtar's conv kernel, which writes each member's
  // rows itself; PerConv tokens are then contiguous).
  const at::Tensor e = minatar  ? minatar->forward(obs)
                       : nature ? nature->forward(obs)
                                : impala->forward(obs);
  const at::Tensor tokens = tokenizer->forward(e);  // [K*B, m, t]
  const int64_t m = tokens.size(1);
  const int64_t t = tokens.size(2);

  at::Tensor z;  // [K, B, F]
  switch (member.penultimate) {
    case Penultimate::kDense:
      z = LinearReluForward(tokens.reshape({k, b, m * t}),
                            P("penultimate.dense.weight"),
                            P("penultimate.dense.bias"));
      break;
    case Penultimate::kGap:
      z = LinearReluForward(tokens.mean(1).view({k, b, t}),
                            P("penultimate.dense.weight"),
                            P("penultimate.dense.bias"));
      break;
    case Penultimate::kTokenizedAvg:
    case Penultimate::kTokenizedSum: {
      z = DenseReluAggregate(
          tokens.reshape({k, b, m, t}), P("penultimate.dense.weight"),
          P("penultimate.dense.bias"),
          member.penultimate == Penultimate::kTokenizedAvg ? Aggregation::kMean
                                                           : Aggregation::kSum);
      break;
    }
    case Penultimate::kSoftMoE: {
      const at::Tensor& phi = P("penultimate.phi");  // [K, d, n, p]
      const int64_t n = phi.size(2);
      const at::Tensor logits = SoftMoELogits(
          tokens, phi, member.normalize,
          member.normalize ? P("penultimate.scale").view({k}) : at::Tensor());
      const SoftMoERouting r = SoftMoERoutingWeights(logits);
      // Slots [K*B, n, p, t]; member j's expert e is expert j * n + e.
      const at::Tensor slots = DispatchTokens(tokens, r.dispatch);
      const at::Tensor& w1 = P("penultimate.experts.w1");  // [K, n, t, H]
      const int64_t hidden = w1.size(3);
      const at::Tensor out =
          ExpertMlp(slots, w1.view({k * n, t, hidden}),
                    P("penultimate.experts.b1").view({k * n, hidden}),
                    P("penultimate.experts.w2").view({k * n, hidden, t}),
                    P("penultimate.experts.b2").view({k * n, t}));
      z = CombineSlots(r.combine, out).view({k, b, m * t});
      break;
    }
    case Penultimate::kMoE:
      TOKRL_FAIL() << "unreachable: CheckPackable refuses MoE";
  }
  if (member.extra_layer) {
    z = LinearReluForward(z, P("extra.weight"), P("extra.bias"));
  }
  return z;
}

QOutput PackedQNetworkImpl::forward(const at::Tensor& obs) {
  const at::Tensor z = features(obs);
  const int64_t k = members_;
  const int64_t b = z.size(1);
  const int64_t a = member.num_actions;
  const bool c51 = member.head == HeadType::kC51;
  const int64_t atoms = c51 ? member.num_atoms : 1;
  at::Tensor out = Linear(z, "head.advantage").reshape({k * b, a, atoms});
  if (member.dueling) {
    out =
        DuelingCombine(Linear(z, "head.value").reshape({k * b, 1, atoms}), out);
  }
  QOutput result;
  if (c51) {
    result.logits = out.view({k, b, a, atoms});
    result.q = C51QValues(out, support_).view({k, b, a});
  } else {
    result.q = out.view({k, b, a});
  }
  return result;
}

TakenOutput PackedQNetworkImpl::forward_taken(const at::Tensor& obs,
                                              const at::Tensor& actions) {
  const int64_t k = members_;
  TOKRL_CHECK(obs.dim() == 5 && actions.dim() == 1 &&
              actions.size(0) == k * obs.size(1))
      << "expected actions [" << k << " * B] for packed obs " << obs.sizes()
      << ", got " << actions.sizes();
  const int64_t a = member.num_actions;
  TakenOutput result;
  if (member.head == HeadType::kC51 && FastPathsEnabled() &&
      obs.device().is_cpu()) {
    // The K heads as one layer of K*A groups of atoms: member k's action j is
    // group k*A + j (dueling: the streams combined in their parameters).
    const at::Tensor z = features(obs);
    const int64_t b = z.size(1);
    const int64_t n = member.num_atoms;
    const at::Tensor taken = actions.to(torch::kCPU, torch::kLong);
    TOKRL_CHECK(taken.min().item<int64_t>() >= 0 &&
                taken.max().item<int64_t>() < a)
        << "actions out of range [0, " << a << ")";
    const at::Tensor groups =
        taken + torch::arange(k, taken.options()).repeat_interleave(b) * a;
    at::Tensor weight = P("head.advantage.weight");  // [K, A n, F]
    at::Tensor bias = P("head.advantage.bias");
    if (member.dueling) {
      std::tie(weight, bias) = DuelingLayer(P("head.value.weight"),
                                            P("head.value.bias"), weight, bias);
    }
    result.logits = LinearAtGroups(z.reshape({k * b, -1}),
                                   weight.view({k * a * n, weight.size(2)}),
                                   bias.view({k * a * n}), groups, n);
    result.q = C51QValues(result.logits.unsqueeze(1), support_).squeeze(1);
    return result;
  }
  const QOutput full = forward(obs);
  return AtActions(full.q.reshape({-1, a}),
                   full.logits.defined()
                       ? full.logits.reshape({-1, a, full.logits.size(3)})
                       : at::Tensor(),
                   actions);
}

}  // namespace tokrl::nn
