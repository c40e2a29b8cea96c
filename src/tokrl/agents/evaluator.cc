#include "tokrl/agents/evaluator.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "tokrl/agents/frame_stacker.h"

namespace tokrl {

Evaluator::Evaluator(const Env& prototype, int episodes, int64_t max_steps,
                     uint64_t seed, int frame_stack)
    : episodes_(episodes),
      max_steps_(max_steps),
      seed_(seed),
      obs_size_(prototype.spec().obs_size()),
      frame_stack_(frame_stack) {
  const int num = std::min(episodes, 16);
  for (int i = 0; i < num; ++i) envs_.push_back(prototype.Clone());
}

EvalResult Evaluator::Run(uint64_t index, const Policy& policy) {
  const int num = static_cast<int>(envs_.size());
  const auto obs_size = static_cast<size_t>(obs_size_);
  std::vector<int> episodes_left(num);
  std::vector<double> returns_now(num, 0.0);
  std::vector<int64_t> lengths_now(num, 0);
  std::vector<uint8_t> obs(num * obs_size);
  for (int i = 0; i < num; ++i) {
    envs_[i]->Seed(DeriveSeed(DeriveSeed(seed_, 1), index * 64 + i));
    envs_[i]->Reset({obs.data() + i * obs_size, obs_size});
    episodes_left[i] = episodes_ / num + (i < episodes_ % num ? 1 : 0);
  }
  Rng rng(DeriveSeed(DeriveSeed(seed_, 4), index));
  // Only with frame_stack > 1: at 1 it would copy every frame for nothing.
  std::optional<FrameStacker> stacker;
  if (frame_stack_ > 1) {
    stacker.emplace(num, obs_size_, frame_stack_);
    stacker->ResetAll(obs);
  }
  std::vector<double> returns, lengths;
  while (static_cast<int>(returns.size()) < episodes_) {
    const std::vector<int32_t> actions =
        policy(stacker ? stacker->stacked() : obs, num, rng);
    for (int i = 0; i < num; ++i) {
      if (episodes_left[i] == 0) continue;  // its actions are ignored
      ObsSpan row{obs.data() + i * obs_size, obs_size};
      const StepResult r = envs_[i]->Step(actions[i], row);
      returns_now[i] += r.reward;
      ++lengths_now[i];
      if (r.done() || lengths_now[i] >= max_steps_) {
        returns.push_back(returns_now[i]);
        lengths.push_back(static_cast<double>(lengths_now[i]));
        returns_now[i] = 0;
        lengths_now[i] = 0;
        if (--episodes_left[i] > 0) envs_[i]->Reset(row);
        if (stacker) stacker->Reset(i, row);
      } else if (stacker) {
        stacker->Push(i, row);
      }
    }
  }
  EvalResult e;
  e.episodes = static_cast<int>(returns.size());
  for (size_t i = 0; i < returns.size(); ++i) {
    e.return_mean += returns[i];
    e.length_mean += lengths[i];
  }
  e.return_mean /= e.episodes;
  e.length_mean /= e.episodes;
  for (double r : returns) {
    e.return_std += (r - e.return_mean) * (r - e.return_mean);
  }
  e.return_std =
      e.episodes > 1 ? std::sqrt(e.return_std / (e.episodes - 1)) : 0.0;
  return e;
}

}  // namespace tokrl
