#include "tokrl/agents/dqn_agent.h"

#include <cmath>
#include <optional>

#include "tokrl/agents/cuda_graph.h"
#include "tokrl/agents/graphed_update.h"
#include "tokrl/agents/interventions.h"
#include "tokrl/agents/losses.h"
#include "tokrl/core/check.h"
#include "tokrl/nn/fast_paths.h"
#include "tokrl/nn/noisy_linear.h"

namespace tokrl {

torch::Device ResolveDevice(const std::string& name) {
  if (name == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                       : torch::Device(torch::kCPU);
  }
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    if (!torch::cuda::is_available()) {
      TOKRL_FAIL()
          << "device '" << name
          << "' requested but CUDA is not available in this LibTorch build or "
             "machine (use train.device = \"cpu\" or \"auto\")";
    }
    try {
      torch::Device device(name);
      TOKRL_CHECK_LT(device.index(),
                     static_cast<int>(torch::cuda::device_count()))
          << "no such CUDA device";
      return device;
    } catch (const c10::Error&) {
      TOKRL_FAIL() << "malformed device '" << name << "'";
    }
  }
  TOKRL_FAIL() << "unknown device '" << name
               << "'; valid choices: auto, cpu, cuda, cuda:N";
}

FusedAdamOptions AgentAdamOptions(const AgentOptions& options) {
  return {
      .lr = options.lr, .beta1 = 0.9, .beta2 = 0.999, .eps = options.adam_eps};
}

torch::Tensor AgentSupport(const AgentOptions& options,
                           const nn::QNetworkOptions& network,
                           torch::Device device) {
  TOKRL_CHECK((network.head == nn::HeadType::kC51) == options.distributional)
      << "the network's head is " << nn::ToString(network.head)
      << " but agent.distributional is "
      << (options.distributional ? "true" : "false");
  if (!options.distributional) return {};
  TOKRL_CHECK(network.num_atoms == options.num_atoms &&
              network.v_min == options.v_min && network.v_max == options.v_max)
      << "the network's C51 head has " << network.num_atoms << " atoms in ["
      << network.v_min << ", " << network.v_max << "], the agent "
      << options.num_atoms << " in [" << options.v_min << ", " << options.v_max
      << "]";
  return nn::C51Support(
      options.num_atoms, options.v_min, options.v_max,
      torch::TensorOptions().dtype(torch::kFloat).device(device));
}

DqnAgent::DqnAgent(const AgentOptions& options,
                   const nn::QNetworkOptions& network, torch::Device device)
    : options_(options),
      network_options_(network),
      device_(device),
      obs_shape_(network.obs_shape) {
  online_ = nn::QNetwork(network);
  online_->to(device_);
  target_ =
      std::dynamic_pointer_cast<nn::QNetworkImpl>(online_->clone(device_));
  TOKRL_CHECK(target_) << "QNetwork clone failed";
  for (auto& p : target_->parameters()) p.set_requires_grad(false);
  optimizer_ = std::make_unique<FusedAdam>(online_->parameters(),
                                           AgentAdamOptions(options));
  support_ = AgentSupport(options, network, device_);
  if (options.cuda_graphs && device_.is_cuda() && CudaGraph::Available() &&
      SupportsGraphs(network)) {
    StartGraphs();
  }
}

void DqnAgent::StartGraphs() {
  graphed_ = std::make_unique<GraphedStep>(device_, /*capture=*/true);
  for (auto& act : graphed_act_) {
    act = std::make_unique<GraphedStep>(device_, /*capture=*/true);
  }
}

DqnAgent::~DqnAgent() = default;
DqnAgent::DqnAgent(DqnAgent&&) noexcept = default;
DqnAgent& DqnAgent::operator=(DqnAgent&&) noexcept = default;

std::vector<int32_t> DqnAgent::Act(std::span<const uint8_t> obs,
                                   int64_t num_envs, double epsilon, Rng& rng,
                                   bool eval) {
  // Exploration is drawn first and the network runs only on the rows that
  // act greedily: with epsilon near 1 (the first 100k+ steps of a run) most
  // steps need no forward pass at all. The draws are EpsilonGreedy's.
  std::vector<int32_t> actions =
      ExploreActions(num_envs, network_options_.num_actions, epsilon, rng);
  std::vector<int64_t> greedy_rows;
  for (int64_t i = 0; i < num_envs; ++i) {
    if (actions[static_cast<size_t>(i)] < 0) greedy_rows.push_back(i);
  }
  if (network_options_.noisy) {
    if (eval) {
      online_->eval();
    } else {
      online_->reset_noise();  // always: it draws from torch's generator
    }
  }
  if (!greedy_rows.empty()) {
    std::vector<int64_t> shape = {num_envs};
    shape.insert(shape.end(), obs_shape_.begin(), obs_shape_.end());
    // Inference mode rather than NoGradGuard: ops skip autograd's and view
    // tracking's dispatch (a MinAtar act 11-15% faster on the CPU, BM_Act;
    // nothing from it is kept). CUDA keeps NoGradGuard: the captured acting
    // graphs have not run under inference mode on a GPU.
    torch::NoGradGuard no_grad;
    c10::InferenceMode inference(device_.is_cpu());
    // from_blob does not copy; index_select / .to() make the copies needed.
    torch::Tensor input = torch::from_blob(const_cast<uint8_t*>(obs.data()),
                                           shape, torch::kUInt8);
    GraphedStep* graphed = graphed_act_[eval ? 1 : 0].get();
    if (graphed != nullptr && graphed->Accepts({input})) {
      // Every row through one captured forward (a fixed shape); only the
      // greedy rows' actions are used.
      const torch::Tensor all =
          GraphedGreedyActions(*graphed, input, [this](const torch::Tensor& x) {
            return online_->forward(x).q;
          }).contiguous();
      const auto* g = all.data_ptr<int64_t>();
      for (const int64_t row : greedy_rows) {
        actions[static_cast<size_t>(row)] = static_cast<int32_t>(g[row]);
      }
    } else {
      if (static_cast<int64_t>(greedy_rows.size()) < num_envs) {
        input = input.index_select(
            0, torch::from_blob(greedy_rows.data(),
                                {static_cast<int64_t>(greedy_rows.size())},
                                torch::kInt64));
      }
      const std::vector<int64_t> g =
          HostGreedyActions(online_->forward(input.to(device_)).q);
      for (size_t k = 0; k < greedy_rows.size(); ++k) {
        actions[static_cast<size_t>(greedy_rows[k])] =
            static_cast<int32_t>(g[k]);
      }
    }
  }
  if (eval && network_options_.noisy) online_->train();
  return actions;
}

bool DqnAgent::ParametersFinite() {
  torch::NoGradGuard no_grad;
  for (const auto& p : online_->parameters()) {
    if (!torch::isfinite(p).all().item<bool>()) return false;
  }
  return true;
}

bool TargetAtOnlineActions(const AgentOptions& options) {
  return options.distributional && options.double_q;
}

TdTerms ComputeTdTerms(const AgentOptions& options,
                       const nn::TakenOutput& taken,
                       const nn::QOutput& next_target,
                       const nn::QOutput& next_online,
                       const torch::Tensor& returns,
                       const torch::Tensor& discounts,
                       const torch::Tensor& support) {
  TdTerms terms;
  terms.q_taken = taken.q;
  // The targets: no gradient flows into them.
  torch::Tensor targets, target_probs;
  {
    torch::NoGradGuard no_grad;
    if (!options.distributional) {
      targets = TdTargets(returns, discounts, next_target.q,
                          options.double_q ? next_online.q : torch::Tensor());
    } else {
      // The heads' Q values are these logits' expectations over `support`
      // already (C51QValues again cost two softmaxes of [B, A, K] per
      // update). Under double Q the logits are at the online network's
      // greedy actions already.
      const torch::Tensor next_logits =
          TargetAtOnlineActions(options)
              ? next_target.logits
              : SelectActions(next_target.logits, GreedyActions(next_target.q));
      const torch::Tensor next_probs = nn::C51Probabilities(next_logits);
      target_probs =
          ProjectDistribution(next_probs, returns, discounts, support);
    }
  }
  if (!options.distributional) {
    terms.per_sample = TdLoss(terms.q_taken, targets, options.loss);
    terms.priorities = (targets - terms.q_taken.detach()).abs();
  } else {
    terms.per_sample = C51Loss(taken.logits, target_probs);
    terms.priorities = terms.per_sample.detach();
  }
  return terms;
}

SampledBatch ToDevice(const SampledBatch& batch, torch::Device device) {
  SampledBatch out = batch;
  for (torch::Tensor* t : out.update_fields()) *t = t->to(device);
  return out;
}

UpdateLoss DqnAgent::ComputeLoss(const SampledBatch& batch) {
  UpdateLoss l;
  // Under double Q the online network runs twice on the same parameters and
  // noise: its noisy layers form their weights once.
  std::optional<nn::NoisyParamsReuse> reuse;
  if (network_options_.noisy && options_.double_q) reuse.emplace(*online_);
  const nn::TakenOutput taken =
      online_->forward_taken(batch.obs, batch.actions, &l.aux_loss);
  nn::QOutput next_target, next_online;
  {
    torch::NoGradGuard no_grad;
    if (options_.double_q) next_online = online_->forward(batch.next_obs);
    if (TargetAtOnlineActions(options_)) {
      next_target.logits =
          target_->forward_taken(batch.next_obs, GreedyActions(next_online.q))
              .logits;
    } else {
      next_target = target_->forward(batch.next_obs);
    }
  }
  l.terms = ComputeTdTerms(options_, taken, next_target, next_online,
                           batch.returns, batch.discounts, support_);
  l.loss = WeightedMean(batch.weights, l.terms.per_sample);
  return l;
}

UpdateMetrics DqnAgent::Update(const SampledBatch& batch) {
  if (graphed_ != nullptr) return GraphedDqnUpdate(*this, *graphed_, batch);
  if (network_options_.noisy) {
    online_->reset_noise();
    target_->reset_noise();
  }
  const UpdateLoss l = ComputeLoss(ToDevice(batch, device_));
  const torch::Tensor& q_taken = l.terms.q_taken;
  const torch::Tensor& priorities = l.terms.priorities;
  torch::Tensor loss = l.loss;
  UpdateMetrics metrics;
  metrics.loss = loss.item<double>();
  if (l.aux_loss.defined()) {
    metrics.aux_loss = l.aux_loss.item<double>();
    loss = loss + l.aux_loss;
  }
  optimizer_->ZeroGrad();
  loss.backward();
  if (options_.grad_clip_norm > 0 || !nn::FastPathsEnabled()) {
    // clip_grad_norm_ with an infinite max only measures the norm.
    const double max_norm = options_.grad_clip_norm > 0
                                ? options_.grad_clip_norm
                                : std::numeric_limits<double>::infinity();
    metrics.grad_norm =
        torch::nn::utils::clip_grad_norm_(online_->parameters(), max_norm);
  } else {
    // The same norm in one pass per tensor: clip_grad_norm_ costs ~40
    // LibTorch ops (a norm per parameter, a stack, a norm, a division).
    metrics.grad_norm = optimizer_->GradNorm();
  }
  // Both are read back anyway: the check costs nothing, and a step with NaN
  // gradients would poison every parameter and Adam's moments.
  if (!std::isfinite(metrics.loss) || !std::isfinite(metrics.aux_loss) ||
      !std::isfinite(metrics.grad_norm)) {
    metrics.diverged = true;
    return metrics;
  }
  optimizer_->Step();
  metrics.mean_q = q_taken.detach().mean().item<double>();
  metrics.priorities = priorities.to(torch::kCPU, torch::kDouble);
  return metrics;
}

void DqnAgent::SyncTarget() {
  torch::NoGradGuard no_grad;
  auto src = online_->parameters();
  auto dst = target_->parameters();
  for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  auto src_buffers = online_->buffers();
  auto dst_buffers = target_->buffers();
  for (size_t i = 0; i < src_buffers.size(); ++i)
    dst_buffers[i].copy_(src_buffers[i]);
}

namespace {

// The online parameters named, each with its fresh counterpart.
std::vector<std::pair<torch::Tensor, torch::Tensor>> Pairs(
    nn::QNetworkImpl& online, const nn::QNetworkOptions& options,
    const std::vector<std::string>& names, uint64_t seed) {
  nn::QNetwork fresh = FreshNetwork(options, seed);
  const auto mine = online.named_parameters(/*recurse=*/true);
  const auto theirs = fresh->named_parameters(/*recurse=*/true);
  std::vector<std::pair<torch::Tensor, torch::Tensor>> out;
  for (const auto& name : names) {
    const torch::Tensor* p = mine.find(name);
    TOKRL_CHECK(p != nullptr) << "no parameter '" << name << "'";
    out.emplace_back(*p, theirs[name].to(p->device()));
  }
  return out;
}

}  // namespace

void DqnAgent::Reset(const std::vector<std::string>& names, uint64_t seed) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> reset;
  for (auto& [p, fresh] : Pairs(*online_, network_options_, names, seed)) {
    p.copy_(fresh);
    reset.push_back(p);
  }
  optimizer_->ResetState(reset);
}

void DqnAgent::ShrinkPerturb(const std::vector<std::string>& names,
                             double shrink, double perturb, uint64_t seed) {
  torch::NoGradGuard no_grad;
  for (auto& [p, fresh] : Pairs(*online_, network_options_, names, seed)) {
    p.mul_(shrink).add_(fresh, perturb);
  }
}

void DqnAgent::Save(torch::serialize::OutputArchive& archive) const {
  torch::serialize::OutputArchive online, target, optimizer;
  online_->save(online);
  target_->save(target);
  optimizer_->Save(optimizer);
  archive.write("online", online);
  archive.write("target", target);
  archive.write("optimizer", optimizer);
}

void DqnAgent::Load(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive online, target, optimizer;
  archive.read("online", online);
  archive.read("target", target);
  archive.read("optimizer", optimizer);
  online_->load(online);
  target_->load(target);
  optimizer_->Load(optimizer);
  for (auto& p : target_->parameters()) p.set_requires_grad(false);
  // The loaded tensors have new storage: capture again.
  if (graphed_ != nullptr) StartGraphs();
}

}  // namespace tokrl
