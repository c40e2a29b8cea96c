#include "tokrl/agents/graphed_update.h"

#include "tokrl/agents/dqn_agent.h"
#include "tokrl/core/check.h"

namespace tokrl {

bool GraphedUpdate::Supports(const nn::QNetworkOptions& network) {
  return !network.noisy && network.penultimate != nn::Penultimate::kMoE;
}

GraphedUpdate::GraphedUpdate(const DqnAgent& agent, bool capture)
    : device_(agent.device()),
      support_(AgentSupport(agent.options(), agent.device())) {
  TOKRL_CHECK(Supports(agent.network_options()))
      << "a graphed update needs a network without noisy layers or MoE";
  if (capture) {
    graph_ = std::make_unique<CudaGraph>(agent.device(), kWarmup);
  }
}

GraphedUpdate::~GraphedUpdate() = default;

std::vector<torch::Tensor> GraphedUpdate::Body(DqnAgent& agent) {
  const AgentOptions& options = agent.options();
  nn::QNetworkImpl& online = *agent.online();
  FusedAdam& optimizer = agent.optimizer();
  const torch::Tensor& obs = inputs_[0];
  const torch::Tensor& actions = inputs_[1];
  const torch::Tensor& returns = inputs_[2];
  const torch::Tensor& discounts = inputs_[3];
  const torch::Tensor& next_obs = inputs_[4];
  const torch::Tensor& weights = inputs_[5];

  const nn::QOutput out = online.forward(obs);
  nn::QOutput next_target, next_online;
  {
    torch::NoGradGuard no_grad;
    next_target = agent.target()->forward(next_obs);
    if (options.double_q) next_online = online.forward(next_obs);
  }
  const TdTerms terms = ComputeTdTerms(options, out, next_target, next_online,
                                       actions, returns, discounts, support_);
  const torch::Tensor loss = (weights * terms.per_sample).mean();
  loss.backward();

  torch::NoGradGuard no_grad;
  const torch::Tensor norm = optimizer.GradNormTensor();
  const torch::Tensor apply = torch::isfinite(loss) & torch::isfinite(norm);
  if (options.grad_clip_norm > 0) {
    // clip_grad_norm_'s rule: scale by max / (norm + 1e-6) when below 1.
    const torch::Tensor coef = (options.grad_clip_norm / (norm + 1e-6))
                                   .clamp_max(1.0)
                                   .to(torch::kFloat);
    for (auto& p : online.parameters()) {
      if (p.grad().defined()) p.mutable_grad().mul_(coef);
    }
  }
  optimizer.MaskedStep(apply, step_);
  const torch::Tensor stats =
      torch::stack({loss.detach().to(torch::kDouble), torch::zeros_like(norm),
                    norm, terms.q_taken.detach().mean().to(torch::kDouble),
                    apply.to(torch::kDouble)});
  return {stats, terms.priorities.detach().to(torch::kFloat)};
}

UpdateMetrics GraphedUpdate::Run(DqnAgent& agent, const SampledBatch& batch) {
  const torch::Device device = device_;
  const std::vector<torch::Tensor> fresh = {batch.obs,      batch.actions,
                                            batch.returns,  batch.discounts,
                                            batch.next_obs, batch.weights};
  if (inputs_.empty()) {
    for (const auto& t : fresh) inputs_.push_back(torch::empty_like(t, device));
    step_ = torch::zeros(
        {}, torch::TensorOptions().dtype(torch::kDouble).device(device));
  }
  for (size_t i = 0; i < fresh.size(); ++i) {
    TOKRL_CHECK(fresh[i].sizes() == inputs_[i].sizes())
        << "a graphed update needs batches of one shape: got "
        << fresh[i].sizes() << ", captured " << inputs_[i].sizes();
    inputs_[i].copy_(fresh[i]);
  }
  FusedAdam& optimizer = agent.optimizer();
  step_.fill_(static_cast<double>(optimizer.step_count() + 1));

  std::vector<torch::Tensor> out;
  if (graph_ != nullptr) {
    // Until the capture, each run's backward allocates fresh gradients;
    // the captured backward writes into the ones it allocated.
    if (!graph_->captured()) optimizer.ZeroGrad();
    out = graph_->Run([&] { return Body(agent); });
  } else {
    optimizer.ZeroGrad();
    out = Body(agent);
  }
  const torch::Tensor stats = out[0].to(torch::kCPU);
  const double* s = stats.data_ptr<double>();
  UpdateMetrics metrics;
  metrics.loss = s[0];
  metrics.aux_loss = s[1];
  metrics.grad_norm = s[2];
  metrics.mean_q = s[3];
  metrics.diverged = s[4] == 0.0;
  if (!metrics.diverged) optimizer.set_step_count(optimizer.step_count() + 1);
  metrics.priorities = out[1].to(torch::kCPU, torch::kDouble);
  return metrics;
}

}  // namespace tokrl
