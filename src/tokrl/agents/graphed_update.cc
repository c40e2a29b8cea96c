#include "tokrl/agents/graphed_update.h"

#include "tokrl/agents/dqn_agent.h"
#include "tokrl/agents/losses.h"
#include "tokrl/agents/packed_agent.h"
#include "tokrl/core/check.h"

namespace tokrl {
namespace {

// SampledBatch's tensors as GraphedStep inputs, and back.
std::vector<torch::Tensor> Fields(const SampledBatch& b) {
  std::vector<torch::Tensor> fields;
  for (const torch::Tensor* t : b.update_fields()) fields.push_back(*t);
  return fields;
}

SampledBatch FromFields(const std::vector<torch::Tensor>& fields) {
  SampledBatch b;
  const auto slots = b.update_fields();
  for (size_t i = 0; i < slots.size(); ++i) *slots[i] = fields[i];
  return b;
}

// clip_grad_norm_'s rule on the device, from the total norm [] without
// reading it: scale by max / (norm + 1e-6) when below 1.
void ClipOnDevice(const std::vector<torch::Tensor>& params,
                  const torch::Tensor& norm, double max_norm) {
  const torch::Tensor coef =
      (max_norm / (norm + 1e-6)).clamp_max(1.0).to(torch::kFloat);
  for (const auto& p : params) {
    if (p.grad().defined()) p.mutable_grad().mul_(coef);
  }
}

}  // namespace

GraphedStep::GraphedStep(torch::Device device, bool capture) : device_(device) {
  if (capture) graph_ = std::make_unique<CudaGraph>(device, kWarmup);
}

GraphedStep::~GraphedStep() = default;

bool GraphedStep::Accepts(const std::vector<torch::Tensor>& inputs) const {
  if (inputs_.empty()) return true;
  if (inputs.size() != inputs_.size()) return false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].sizes() != inputs_[i].sizes()) return false;
  }
  return true;
}

const std::vector<torch::Tensor>& GraphedStep::Run(
    const std::vector<torch::Tensor>& inputs, FusedAdam* optimizer,
    const Body& body) {
  if (inputs_.empty()) {
    for (const auto& t : inputs) {
      inputs_.push_back(torch::empty(t.sizes(), t.options().device(device_)));
    }
    step_ = torch::zeros(
        {}, torch::TensorOptions().dtype(torch::kDouble).device(device_));
  }
  TOKRL_CHECK_EQ(inputs.size(), inputs_.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    TOKRL_CHECK(inputs[i].sizes() == inputs_[i].sizes())
        << "a graphed update needs batches of one shape: got "
        << inputs[i].sizes() << ", the first had " << inputs_[i].sizes();
    inputs_[i].copy_(inputs[i]);
  }
  if (optimizer != nullptr) {
    step_.fill_(static_cast<double>(optimizer->step_count() + 1));
  }
  const torch::Tensor t = optimizer != nullptr ? step_ : torch::Tensor();
  const auto run = [&] { return body(inputs_, t); };
  if (graph_ != nullptr) {
    if (optimizer != nullptr && !graph_->captured()) optimizer->ZeroGrad();
    return graph_->Run(run);
  }
  if (optimizer != nullptr) optimizer->ZeroGrad();
  outputs_ = run();
  return outputs_;
}

bool SupportsGraphs(const nn::QNetworkOptions& network) {
  return !network.noisy && network.penultimate != nn::Penultimate::kMoE;
}

UpdateMetrics GraphedDqnUpdate(DqnAgent& agent, GraphedStep& update,
                               const SampledBatch& batch) {
  TOKRL_CHECK(SupportsGraphs(agent.network_options()))
      << "a graphed update needs a network without noisy layers or MoE";
  FusedAdam& optimizer = agent.optimizer();
  const double clip = agent.options().grad_clip_norm;
  const auto body = [&agent, &optimizer, clip](
                        const std::vector<torch::Tensor>& inputs,
                        const torch::Tensor& t) -> std::vector<torch::Tensor> {
    const UpdateLoss l = agent.ComputeLoss(FromFields(inputs));
    l.loss.backward();
    torch::NoGradGuard no_grad;
    const torch::Tensor norm = optimizer.GradNormTensor();
    const torch::Tensor apply = torch::isfinite(l.loss) & torch::isfinite(norm);
    if (clip > 0) ClipOnDevice(agent.online()->parameters(), norm, clip);
    optimizer.MaskedStep(apply, t);
    return {torch::stack({l.loss.detach().to(torch::kDouble), norm,
                          l.terms.q_taken.detach().mean().to(torch::kDouble),
                          apply.to(torch::kDouble)}),
            l.terms.priorities.detach().to(torch::kFloat)};
  };
  const auto& out = update.Run(Fields(batch), &optimizer, body);
  const torch::Tensor stats = out[0].to(torch::kCPU);
  const double* s = stats.data_ptr<double>();
  UpdateMetrics metrics;
  metrics.loss = s[0];
  metrics.grad_norm = s[1];
  metrics.diverged = s[3] == 0.0;
  if (metrics.diverged) return metrics;  // as the eager update
  optimizer.set_step_count(optimizer.step_count() + 1);
  metrics.mean_q = s[2];
  metrics.priorities = out[1].to(torch::kCPU, torch::kDouble);
  return metrics;
}

std::vector<UpdateMetrics> GraphedPackedUpdate(
    PackedAgent& agent, GraphedStep& update,
    const std::vector<SampledBatch>& batches) {
  FusedAdam& optimizer = agent.optimizer();
  const int64_t k = agent.members();
  const auto body = [&agent, &optimizer, k](
                        const std::vector<torch::Tensor>& inputs,
                        const torch::Tensor& t) -> std::vector<torch::Tensor> {
    const UpdateLoss l = agent.ComputeLoss(FromFields(inputs));
    l.loss.sum().backward();
    torch::NoGradGuard no_grad;
    const torch::Tensor norms = agent.MemberGradNorms();
    const torch::Tensor apply =
        torch::isfinite(l.loss).all() & torch::isfinite(norms).all();
    agent.ClipMemberGrads(norms);
    optimizer.MaskedStep(apply, t);
    const torch::Tensor mean_q = l.terms.q_taken.detach().view({k, -1}).mean(1);
    return {torch::stack({l.loss.detach().to(torch::kDouble), norms,
                          mean_q.to(torch::kDouble)},
                         1),
            apply.to(torch::kDouble),
            l.terms.priorities.detach().view({k, -1}).to(torch::kFloat)};
  };
  const auto& out =
      update.Run(Fields(PackedAgent::Stack(batches)), &optimizer, body);
  const torch::Tensor stats = out[0].to(torch::kCPU);  // [K, 3]
  const bool applied = out[1].item<double>() != 0.0;
  std::vector<UpdateMetrics> metrics(static_cast<size_t>(k));
  const auto s = stats.accessor<double, 2>();
  for (int64_t i = 0; i < k; ++i) {
    UpdateMetrics& m = metrics[static_cast<size_t>(i)];
    m.loss = s[i][0];
    m.grad_norm = s[i][1];
    m.diverged = !std::isfinite(m.loss) || !std::isfinite(m.grad_norm);
  }
  if (!applied) return metrics;  // as the eager update
  optimizer.set_step_count(optimizer.step_count() + 1);
  const torch::Tensor priorities = out[2].to(torch::kCPU, torch::kDouble);
  for (int64_t i = 0; i < k; ++i) {
    metrics[static_cast<size_t>(i)].mean_q = s[i][2];
    metrics[static_cast<size_t>(i)].priorities = priorities[i].clone();
  }
  return metrics;
}

torch::Tensor GraphedGreedyActions(
    GraphedStep& step, const torch::Tensor& obs,
    const std::function<torch::Tensor(const torch::Tensor&)>& q) {
  const auto body = [&q](const std::vector<torch::Tensor>& inputs,
                         const torch::Tensor&) -> std::vector<torch::Tensor> {
    torch::NoGradGuard no_grad;
    return {GreedyActions(q(inputs[0]))};
  };
  return step.Run({obs}, nullptr, body)[0].to(torch::kCPU);
}

}  // namespace tokrl
