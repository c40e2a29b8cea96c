#include "tokrl/env/vec_env.h"

#include <algorithm>
#include <cstring>

#include "tokrl/core/bytes.h"
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
  ForEachRange([&](int begin, int end) { StepRange(begin, end, actions); });
}

std::string VecEnv::SaveState() const {
  ByteWriter w;
  w.PutString("tokrl.VecEnv.v1").PutString(spec().id).Put<int32_t>(num_envs());
  w.PutBytes(obs_.data(), obs_.size())
      .PutBytes(next_obs_.data(), next_obs_.size());
  w.PutBytes(running_return_.data(), running_return_.size() * sizeof(float));
  w.PutBytes(running_length_.data(), running_length_.size() * sizeof(int32_t));
  for (const auto& env : envs_) w.PutString(env->SaveState());
  return w.str();
}

void VecEnv::LoadState(std::string_view blob) {
  ByteReader r(blob, "saved VecEnv state");
  TOKRL_CHECK_EQ(r.GetString(), "tokrl.VecEnv.v1")
      << "not a saved VecEnv state";
  TOKRL_CHECK_EQ(r.GetString(), spec().id)
      << "saved VecEnv state is for another env";
  TOKRL_CHECK_EQ(r.Get<int32_t>(), num_envs())
      << "saved VecEnv state has another num_envs";
  std::vector<uint8_t> obs(obs_.size()), next_obs(next_obs_.size());
  std::vector<float> running_return(running_return_.size());
  std::vector<int32_t> running_length(running_length_.size());
  r.GetBytes(obs.data(), obs.size());
  r.GetBytes(next_obs.data(), next_obs.size());
  r.GetBytes(running_return.data(), running_return.size() * sizeof(float));
  r.GetBytes(running_length.data(), running_length.size() * sizeof(int32_t));
  std::vector<std::string> env_blobs;
  for (int i = 0; i < num_envs(); ++i) env_blobs.push_back(r.GetString());
  r.ExpectDone();
  // Restore into clones first so a bad blob leaves this VecEnv untouched.
  std::vector<std::unique_ptr<Env>> envs;
  for (int i = 0; i < num_envs(); ++i) {
    envs.push_back(envs_[i]->Clone());
    envs.back()->LoadState(env_blobs[i]);
  }
  envs_ = std::move(envs);
  obs_ = std::move(obs);
  next_obs_ = std::move(next_obs);
  running_return_ = std::move(running_return);
  running_length_ = std::move(running_length);
  episode_return_ = running_return_;
  episode_length_ = running_length_;
  std::fill(reward_.begin(), reward_.end(), 0.0f);
  std::fill(terminated_.begin(), terminated_.end(), 0);
  std::fill(truncated_.begin(), truncated_.end(), 0);
}

}  // namespace tokrl
