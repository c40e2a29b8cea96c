#include "tokrl/env/vec_env.h"

#include <algorithm>
#include <cstring>

#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"
#include "tokrl/env/registry.h"

namespace tokrl {
namespace {

int ResolveThreads(int requested) {
  TOKRL_CHECK_GE(requested, 0) << "num_threads must be >= 0";
  return requested == 0 ? ThreadPool::HardwareThreads() : requested;
}

}  // namespace

VecEnv::VecEnv(const Env& prototype, const VecEnvOptions& options)
    : pool_(ResolveThreads(options.num_threads)) {
  Init(prototype, options);
}

VecEnv::VecEnv(const std::string& env_id, const VecEnvOptions& options)
    : pool_(ResolveThreads(options.num_threads)) {
  Init(*MakeEnv(env_id), options);
}

void VecEnv::Init(const Env& prototype, const VecEnvOptions& options) {
  TOKRL_CHECK_GE(options.num_envs, 1) << "num_envs must be >= 1";
  const int n = options.num_envs;
  for (int i = 0; i < n; ++i) {
    envs_.push_back(prototype.Clone());
    envs_.back()->Seed(DeriveSeed(options.seed, static_cast<uint64_t>(i)));
  }
  obs_size_ = prototype.spec().obs_size();
  obs_.assign(static_cast<size_t>(n * obs_size_), 0);
  next_obs_.assign(obs_.size(), 0);
  reward_.assign(n, 0.0f);
  terminated_.assign(n, 0);
  truncated_.assign(n, 0);
  episode_return_.assign(n, 0.0f);
  episode_length_.assign(n, 0);
  running_return_.assign(n, 0.0f);
  running_length_.assign(n, 0);
  // A few tasks per thread balance uneven env costs; more would only add
  // scheduling overhead for these ~100 ns steps.
  num_tasks_ = std::min(n, 4 * pool_.num_threads());
}

void VecEnv::ForEachRange(const std::function<void(int, int)>& fn) {
  const int64_t n = num_envs();
  pool_.ParallelFor(num_tasks_, [&](int task) {
    fn(static_cast<int>(n * task / num_tasks_),
       static_cast<int>(n * (task + 1) / num_tasks_));
  });
}

void VecEnv::Reset() {
  ForEachRange([this](int begin, int end) {
    for (int i = begin; i < end; ++i) envs_[i]->Reset(ObsRow(obs_, i));
  });
  next_obs_ = obs_;
  std::fill(reward_.begin(), reward_.end(), 0.0f);
  std::fill(terminated_.begin(), terminated_.end(), 0);
  std::fill(truncated_.begin(), truncated_.end(), 0);
  std::fill(episode_return_.begin(), episode_return_.end(), 0.0f);
  std::fill(episode_length_.begin(), episode_length_.end(), 0);
  std::fill(running_return_.begin(), running_return_.end(), 0.0f);
  std::fill(running_length_.begin(), running_length_.end(), 0);
}

void VecEnv::StepRange(int begin, int end, std::span<const int32_t> actions) {
  for (int i = begin; i < end; ++i) {
    ObsSpan next = ObsRow(next_obs_, i);
    const StepResult r = envs_[i]->Step(actions[i], next);
    reward_[i] = r.reward;
    terminated_[i] = r.terminated;
    truncated_[i] = r.truncated;
    running_return_[i] += r.reward;
    running_length_[i] += 1;
    episode_return_[i] = running_return_[i];
    episode_length_[i] = running_length_[i];
    if (r.done()) {
      running_return_[i] = 0.0f;
      running_length_[i] = 0;
      envs_[i]->Reset(ObsRow(obs_, i));
    } else {
      std::memcpy(ObsRow(obs_, i).data(), next.data(), next.size());
    }
  }
}

void VecEnv::Step(std::span<const int32_t> actions) {
  TOKRL_CHECK_EQ(static_cast<int>(actions.size()), num_envs())
      << "VecEnv::Step needs one action per env";
  ForEachRange(
      [&](int begin, int end) { StepRange(begin, end, actions); });
}

}  // namespace tokrl
