// VecEnv: N copies of one env stepped together into one batch buffer.
//
// Each step, env i receives actions[i]; the results land in flat arrays
// indexed by env (observations as one [N, C, H, W] uint8 block), ready to be
// wrapped as tensors without copying.
//
// Auto-reset (same step): when env i's episode ends (terminated or
// truncated), it is reset inside the same Step call.
//   next_obs()[i]  the observation the action led to: for a finished episode
//                  its final observation (what a replay buffer stores);
//   obs()[i]       the observation to act on next: the new episode's first
//                  observation for a finished env, otherwise equal to
//                  next_obs()[i].
//   reward, terminated, truncated  of the transition just taken.
//   episode_return/length  running totals of the current episode including
//                  this step; for an env that finished this step, the totals
//                  of the finished episode (the next Step starts from 0).
//
// Seeding: env i is seeded with DeriveSeed(seed, i) at construction; Reset()
// resets every env without reseeding, so consecutive episodes continue each
// env's own random stream.
//
// Threads: envs are stepped by a ThreadPool with num_threads threads (1 =
// inline on the caller, 0 = one per hardware thread). Each env is touched by
// one thread per step and owns its RNG, so every output is bit-identical for
// any num_threads (tested). An exception in any env (e.g. an invalid action)
// is rethrown by Step on the caller.
//
// Not copyable; not thread-safe (call from one thread).
#ifndef TOKRL_ENV_VEC_ENV_H_
#define TOKRL_ENV_VEC_ENV_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tokrl/core/thread_pool.h"
#include "tokrl/env/env.h"

namespace tokrl {

struct VecEnvOptions {
  int num_envs = 1;
  int num_threads = 1;  // 0 = ThreadPool::HardwareThreads()
  uint64_t seed = 0;
};

class VecEnv {
 public:
  // Clones `prototype` num_envs times.
  VecEnv(const Env& prototype, const VecEnvOptions& options);
  // Builds the prototype with MakeEnv(env_id) (options allowed in the id).
  VecEnv(const std::string& env_id, const VecEnvOptions& options);
  VecEnv(const VecEnv&) = delete;
  VecEnv& operator=(const VecEnv&) = delete;

  // Resets every env; fills obs() (and next_obs()), zeroes rewards, flags and
  // episode totals.
  void Reset();
  // Steps env i with actions[i]; actions.size() must equal num_envs().
  void Step(std::span<const int32_t> actions);

  const EnvSpec& spec() const { return envs_.front()->spec(); }
  int num_envs() const { return static_cast<int>(envs_.size()); }
  int num_threads() const { return pool_.num_threads(); }
  int64_t obs_size() const { return obs_size_; }  // bytes per env

  std::span<const uint8_t> obs() const { return obs_; }
  std::span<const uint8_t> next_obs() const { return next_obs_; }
  std::span<const float> reward() const { return reward_; }
  std::span<const uint8_t> terminated() const { return terminated_; }
  std::span<const uint8_t> truncated() const { return truncated_; }
  std::span<const float> episode_return() const { return episode_return_; }
  std::span<const int32_t> episode_length() const { return episode_length_; }
  bool done(int i) const { return terminated_[i] || truncated_[i]; }

  Env& env(int i) { return *envs_[i]; }

  // Everything needed to continue exactly (each env's state, the current
  // observations and the running episode totals), as an opaque blob.
  // LoadState throws Error naming the problem if the blob does not match
  // this VecEnv (env id, num_envs) or is corrupt.
  std::string SaveState() const;
  void LoadState(std::string_view blob);

 private:
  void Init(const Env& prototype, const VecEnvOptions& options);
  // Splits [0, num_envs) into num_tasks_ contiguous ranges run on the pool.
  void ForEachRange(const std::function<void(int, int)>& fn);
  void StepRange(int begin, int end, std::span<const int32_t> actions);
  ObsSpan ObsRow(std::vector<uint8_t>& buffer, int i) {
    return {buffer.data() + static_cast<int64_t>(i) * obs_size_,
            static_cast<size_t>(obs_size_)};
  }

  std::vector<std::unique_ptr<Env>> envs_;
  ThreadPool pool_;
  int num_tasks_ = 1;
  int64_t obs_size_ = 0;
  std::vector<uint8_t> obs_, next_obs_;
  std::vector<float> reward_;
  std::vector<uint8_t> terminated_, truncated_;
  std::vector<float> episode_return_;
  std::vector<int32_t> episode_length_;
  std::vector<float> running_return_;
  std::vector<int32_t> running_length_;
};

}  // namespace tokrl

#endif  // TOKRL_ENV_VEC_ENV_H_
