#include "tokrl/agents/packed_agent.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tokrl/agents/fused_adam_kernel.h"
#include "tokrl/agents/losses.h"
#include "tokrl/core/check.h"
#include "tokrl/nn/fast_paths.h"

namespace tokrl {

PackedAgent::PackedAgent(const AgentOptions& options,
                         const nn::QNetworkOptions& network, int64_t members,
                         torch::Device device)
    : options_(options),
      network_options_(network),
      members_(members),
      device_(device) {
  TOKRL_CHECK_GT(members, 0);
  online_ = nn::PackedQNetwork(network, members);
  online_->to(device_);
  target_ = std::dynamic_pointer_cast<nn::PackedQNetworkImpl>(
      online_->clone(device_));
  TOKRL_CHECK(target_) << "PackedQNetwork clone failed";
  for (auto& p : target_->parameters()) p.set_requires_grad(false);
  optimizer_ = std::make_unique<FusedAdam>(online_->packed_parameters(),
                                           AgentAdamOptions(options));
  support_ = AgentSupport(options, network, device_);
  if (options.cuda_graphs && device_.is_cuda() && CudaGraph::Available() &&
      SupportsGraphs(network)) {
    graphed_ = std::make_unique<GraphedStep>(device_, /*capture=*/true);
    graphed_act_ = std::make_unique<GraphedStep>(device_, /*capture=*/true);
  }
}

std::vector<std::vector<int32_t>> PackedAgent::Act(
    const std::vector<std::span<const uint8_t>>& obs, int64_t num_envs,
    double epsilon, const std::vector<Rng*>& rngs) {
  TOKRL_CHECK(static_cast<int64_t>(obs.size()) == members_ &&
              static_cast<int64_t>(rngs.size()) == members_)
      << "Act needs one observation batch and one Rng per member";
  // Exploration first, member by member, with DqnAgent::Act's draws.
  std::vector<std::vector<int32_t>> actions;
  bool any_greedy = false;
  for (int64_t k = 0; k < members_; ++k) {
    actions.push_back(ExploreActions(num_envs, network_options_.num_actions,
                                     epsilon, *rngs[static_cast<size_t>(k)]));
    for (int32_t a : actions.back()) any_greedy |= a < 0;
  }
  if (!any_greedy) return actions;
  // One forward over every member's rows (the exploring rows' values are
  // computed and dropped: cheaper than gathering ragged rows).
  const auto& s = network_options_.obs_shape;
  const int64_t obs_size = s[0] * s[1] * s[2];
  torch::Tensor input =
      torch::empty({members_, num_envs, s[0], s[1], s[2]}, torch::kUInt8);
  for (int64_t k = 0; k < members_; ++k) {
    const auto& o = obs[static_cast<size_t>(k)];
    TOKRL_CHECK_EQ(static_cast<int64_t>(o.size()), num_envs * obs_size)
        << "member " << k << " observations";
    std::memcpy(input[k].data_ptr<uint8_t>(), o.data(), o.size());
  }
  // As DqnAgent::Act.
  torch::NoGradGuard no_grad;
  c10::InferenceMode inference(device_.is_cpu());
  const auto q = [this, num_envs](const torch::Tensor& x) {
    return online_->forward(x).q.reshape({members_ * num_envs, -1});
  };
  std::vector<int64_t> g;
  if (graphed_act_ != nullptr && graphed_act_->Accepts({input})) {
    const torch::Tensor all =
        GraphedGreedyActions(*graphed_act_, input, q).contiguous();
    g.assign(all.data_ptr<int64_t>(), all.data_ptr<int64_t>() + all.numel());
  } else {
    g = HostGreedyActions(q(input.to(device_)));
  }
  for (int64_t k = 0; k < members_; ++k) {
    auto& a = actions[static_cast<size_t>(k)];
    for (int64_t i = 0; i < num_envs; ++i) {
      if (a[static_cast<size_t>(i)] < 0) {
        a[static_cast<size_t>(i)] = static_cast<int32_t>(g[k * num_envs + i]);
      }
    }
  }
  return actions;
}

SampledBatch PackedAgent::Stack(const std::vector<SampledBatch>& batches) {
  SampledBatch out;
  const auto fields = out.update_fields();
  for (size_t i = 0; i < fields.size(); ++i) {
    std::vector<torch::Tensor> parts;
    for (const auto& b : batches) parts.push_back(*b.update_fields()[i]);
    // Observations [K, B, ...]; the per-sample vectors [K*B], member-major.
    *fields[i] = parts[0].dim() > 1 ? torch::stack(parts) : torch::cat(parts);
  }
  return out;
}

UpdateLoss PackedAgent::ComputeLoss(const SampledBatch& stacked) {
  return LossOf(*online_, *target_, stacked);
}

UpdateLoss PackedAgent::LossOf(nn::PackedQNetworkImpl& online,
                               nn::PackedQNetworkImpl& target,
                               const SampledBatch& stacked) const {
  const int64_t k = online.members();
  const int64_t b = stacked.obs.size(1);
  // Members folded into the batch: [K, B, ...] -> [K*B, ...].
  const auto fold = [&](const nn::QOutput& o) {
    nn::QOutput f;
    if (o.q.defined()) f.q = o.q.reshape({k * b, -1});
    if (o.logits.defined()) {
      f.logits = o.logits.reshape({k * b, o.logits.size(2), o.logits.size(3)});
    }
    return f;
  };
  // stacked.actions is [K*B], member-major, as forward_taken takes them.
  const nn::TakenOutput taken =
      online.forward_taken(stacked.obs, stacked.actions);
  nn::QOutput next_target, next_online;
  {
    torch::NoGradGuard no_grad;
    if (options_.double_q) {
      next_online = fold(online.forward(stacked.next_obs));
    }
    if (TargetAtOnlineActions(options_)) {
      next_target.logits =
          target.forward_taken(stacked.next_obs, GreedyActions(next_online.q))
              .logits;
    } else {
      next_target = fold(target.forward(stacked.next_obs));
    }
  }
  UpdateLoss l;
  l.terms = ComputeTdTerms(options_, taken, next_target, next_online,
                           stacked.returns, stacked.discounts, support_);
  l.loss = WeightedMean(stacked.weights.view({k, b}),
                        l.terms.per_sample.view({k, b}));
  return l;
}

torch::Tensor PackedAgent::MemberGradNorms() const {
  torch::NoGradGuard no_grad;
  const int64_t k = members_;
  if (!device_.is_cpu() || !nn::FastPathsEnabled()) {
    // All member rows side by side, [K, sum of sizes]: a few kernels in all
    // (on a GPU) instead of a few per parameter.
    std::vector<torch::Tensor> rows;
    for (const auto& p : online_->packed_parameters()) {
      if (p.grad().defined()) rows.push_back(nn::PackedView(p.grad(), k));
    }
    if (!rows.empty()) {
      return torch::cat(rows, 1).to(torch::kDouble).square().sum(1).sqrt();
    }
  }
  torch::Tensor squares = torch::zeros(
      {k}, torch::TensorOptions().dtype(torch::kDouble).device(device_));
  for (const auto& p : online_->packed_parameters()) {
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (g.device().is_cpu() && g.scalar_type() == torch::kFloat &&
        g.is_contiguous()) {
      // One pass per member row, as FusedAdam::GradNorm does.
      const int64_t n = g.numel() / k;
      auto* sq = squares.data_ptr<double>();
      for (int64_t i = 0; i < k; ++i) {
        sq[i] += internal::SumOfSquares(g.data_ptr<float>() + i * n, n);
      }
    } else {
      squares += nn::PackedView(g, k).to(torch::kDouble).square().sum(1);
    }
  }
  return squares.sqrt();
}

void PackedAgent::ClipMemberGrads(const torch::Tensor& norms) {
  if (options_.grad_clip_norm <= 0) return;
  torch::NoGradGuard no_grad;
  // torch's clip_grad_norm_: scale by max / (norm + 1e-6) when below 1.
  const torch::Tensor coef = (options_.grad_clip_norm / (norms + 1e-6))
                                 .clamp_max(1.0)
                                 .to(device_, torch::kFloat)
                                 .unsqueeze(1);
  for (const auto& p : online_->packed_parameters()) {
    if (p.grad().defined())
      nn::PackedView(p.mutable_grad(), members_).mul_(coef);
  }
}

std::vector<UpdateMetrics> PackedAgent::Update(
    const std::vector<SampledBatch>& batches) {
  TOKRL_CHECK_EQ(static_cast<int64_t>(batches.size()), members_)
      << "Update needs one batch per member";
  if (graphed_ != nullptr)
    return GraphedPackedUpdate(*this, *graphed_, batches);
  const int64_t k = members_;
  const int64_t b = batches.front().obs.size(0);
  torch::Tensor member_loss, q_taken, priorities;
  if (const int64_t chunk = UpdateChunk(b); device_.is_cpu() && chunk < k) {
    std::tie(member_loss, q_taken, priorities) =
        ChunkedBackward(batches, chunk);
  } else {
    const UpdateLoss l = ComputeLoss(ToDevice(Stack(batches), device_));
    optimizer_->ZeroGrad();
    l.loss.sum().backward();
    member_loss = l.loss.detach();
    q_taken = l.terms.q_taken.detach();
    priorities = l.terms.priorities;
  }

  const torch::Tensor norms = MemberGradNorms().to(torch::kCPU);
  const torch::Tensor losses = member_loss.to(torch::kCPU, torch::kDouble);
  std::vector<UpdateMetrics> metrics(static_cast<size_t>(k));
  bool diverged = false;
  for (int64_t i = 0; i < k; ++i) {
    UpdateMetrics& m = metrics[static_cast<size_t>(i)];
    m.loss = losses[i].item<double>();
    m.grad_norm = norms[i].item<double>();
    m.diverged = !std::isfinite(m.loss) || !std::isfinite(m.grad_norm);
    diverged |= m.diverged;
  }
  if (diverged) return metrics;
  ClipMemberGrads(norms);
  optimizer_->Step();
  const torch::Tensor mean_q =
      q_taken.view({k, b}).mean(1).to(torch::kCPU, torch::kDouble);
  const torch::Tensor member_priorities =
      priorities.view({k, b}).to(torch::kCPU, torch::kDouble);
  for (int64_t i = 0; i < k; ++i) {
    UpdateMetrics& m = metrics[static_cast<size_t>(i)];
    m.mean_q = mean_q[i].item<double>();
    m.priorities = member_priorities[i].clone();
  }
  return metrics;
}

void PackedAgent::set_update_chunk(int64_t members) {
  TOKRL_CHECK_GE(members, 0) << "packed update chunk";
  update_chunk_ = members;
}

int64_t PackedAgent::UpdateChunk(int64_t batch) const {
  if (update_chunk_ > 0) return update_chunk_;
  const int64_t bytes =
      std::max<int64_t>(1, online_->ActivationFloatsPerSample() * batch *
                               static_cast<int64_t>(sizeof(float)));
  const int64_t most =
      std::clamp<int64_t>(kCpuUpdateChunkBytes / bytes, 1, members_);
  const int64_t chunks = (members_ + most - 1) / most;
  return (members_ + chunks - 1) / chunks;
}

// Why chunks: a chunk's backward then follows its forward while its
// activations are still in cache. All 16 members of a MinAtar SoftMoE-4
// batch at once (~6 MB of routing and expert activations each) streamed
// from memory in every op: 0.65x the member updates/s of 16 separate
// agents, 0.93x in chunks of one (bench_agent BM_PackedUpdate, docs/speed.md).
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor>
PackedAgent::ChunkedBackward(const std::vector<SampledBatch>& batches,
                             int64_t chunk) {
  const int64_t k = members_;
  const auto& whole = online_->packed_parameters();
  // (Re)build the chunks when their size changed, and alias again where the
  // whole networks' parameters are not the ones aliased (a chunk's first
  // parameter then starts elsewhere).
  if (chunks_.empty() || chunks_.front().online->members() != chunk) {
    chunks_.clear();
    for (int64_t first = 0; first < k; first += chunk) {
      const int64_t c = std::min(chunk, k - first);
      chunks_.push_back({first, nn::PackedQNetwork(network_options_, c),
                         nn::PackedQNetwork(network_options_, c)});
      chunks_.back().online->to(device_);
      chunks_.back().target->to(device_);
      for (auto& p : chunks_.back().target->parameters())
        p.set_requires_grad(false);
    }
  }
  const auto aliased = [k](const nn::PackedQNetworkImpl& part,
                           const nn::PackedQNetworkImpl& of, int64_t first) {
    return part.packed_parameters()[0].data_ptr() ==
           nn::PackedView(of.packed_parameters()[0], k)[first].data_ptr();
  };
  for (Chunk& c : chunks_) {
    if (!aliased(*c.online, *online_, c.first))
      c.online->AliasMembers(*online_, c.first);
    if (!aliased(*c.target, *target_, c.first))
      c.target->AliasMembers(*target_, c.first);
  }

  optimizer_->ZeroGrad();
  std::vector<torch::Tensor> grads(whole.size());
  std::vector<torch::Tensor> losses, q_taken, priorities;
  for (Chunk& c : chunks_) {
    const int64_t n = c.online->members();
    const std::vector<SampledBatch> part(batches.begin() + c.first,
                                         batches.begin() + c.first + n);
    const UpdateLoss l =
        LossOf(*c.online, *c.target, ToDevice(Stack(part), device_));
    const auto& params = c.online->packed_parameters();
    for (const auto& p : params) p.mutable_grad() = torch::Tensor();
    l.loss.sum().backward();
    // Each chunk's gradients into its members' rows of the whole ones.
    for (size_t i = 0; i < params.size(); ++i) {
      const torch::Tensor& g = params[i].grad();
      if (!g.defined() && !grads[i].defined()) continue;
      if (!grads[i].defined()) {
        grads[i] = c.first == 0 ? torch::empty_like(whole[i])
                                : torch::zeros_like(whole[i]);
      }
      torch::Tensor rows = nn::PackedView(grads[i], k).narrow(0, c.first, n);
      if (g.defined()) {
        rows.copy_(g.reshape({n, -1}));
      } else {
        rows.zero_();
      }
    }
    losses.push_back(l.loss.detach());
    q_taken.push_back(l.terms.q_taken.detach());
    priorities.push_back(l.terms.priorities);
  }
  for (size_t i = 0; i < whole.size(); ++i) {
    if (grads[i].defined()) whole[i].mutable_grad() = grads[i];
  }
  return {torch::cat(losses), torch::cat(q_taken), torch::cat(priorities)};
}

void PackedAgent::SyncTarget() {
  torch::NoGradGuard no_grad;
  auto src = online_->parameters();
  auto dst = target_->parameters();
  for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
}

void PackedAgent::Pack(int64_t k, DqnAgent& member) {
  online_->Pack(k, *member.online());
  target_->Pack(k, *member.target());
  const FusedAdam& theirs = member.optimizer();
  TOKRL_CHECK(k == 0 || theirs.step_count() == optimizer_->step_count())
      << "packed members must have made the same number of updates (member "
      << k << ": " << theirs.step_count()
      << ", member 0: " << optimizer_->step_count() << ")";
  optimizer_->set_step_count(theirs.step_count());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < online_->packed_parameters().size(); ++i) {
    nn::PackedView(optimizer_->exp_avg(i), members_)[k].copy_(
        theirs.exp_avg(i).reshape({-1}));
    nn::PackedView(optimizer_->exp_avg_sq(i), members_)[k].copy_(
        theirs.exp_avg_sq(i).reshape({-1}));
  }
}

void PackedAgent::Unpack(int64_t k, DqnAgent& member) const {
  online_->Unpack(k, *member.online());
  target_->Unpack(k, *member.target());
  FusedAdam& theirs = member.optimizer();
  theirs.set_step_count(optimizer_->step_count());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < online_->packed_parameters().size(); ++i) {
    theirs.exp_avg(i).copy_(
        nn::PackedView(optimizer_->exp_avg(i), members_)[k].view_as(
            theirs.exp_avg(i)));
    theirs.exp_avg_sq(i).copy_(
        nn::PackedView(optimizer_->exp_avg_sq(i), members_)[k].view_as(
            theirs.exp_avg_sq(i)));
  }
}

}  // namespace tokrl
