// Evaluator: runs a policy for a number of episodes on its own envs, apart
// from training.
//
// The envs are cloned once from a prototype (at most 16; episodes are
// spread over them) and reseeded for every evaluation from the root seed
// and the evaluation's index k: env i of evaluation k is seeded with
// DeriveSeed(DeriveSeed(seed, 1), k * 64 + i), and the policy's RNG with
// DeriveSeed(DeriveSeed(seed, 4), k). So evaluating never touches
// training's random streams, and evaluation k gives the same result after
// a resume. An episode ends at a terminal or truncated step, or after
// `max_steps` steps. Finished envs idle until every episode is done.
#ifndef TOKRL_AGENTS_EVALUATOR_H_
#define TOKRL_AGENTS_EVALUATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/env/env.h"

namespace tokrl {

struct EvalResult {
  int episodes = 0;
  double return_mean = 0, return_std = 0, length_mean = 0;
};

class Evaluator {
 public:
  // Acts for `num_envs` observations (uint8, num_envs * obs_size bytes).
  using Policy = std::function<std::vector<int32_t>(
      std::span<const uint8_t> obs, int num_envs, Rng& rng)>;

  // frame_stack > 1: the policy gets each env's last frame_stack
  // observations (frame_stacker.h) instead of its last one.
  Evaluator(const Env& prototype, int episodes, int64_t max_steps,
            uint64_t seed, int frame_stack = 1);

  // Evaluation number `index` (see the file comment).
  EvalResult Run(uint64_t index, const Policy& policy);

 private:
  std::vector<std::unique_ptr<Env>> envs_;
  int episodes_;
  int64_t max_steps_;
  uint64_t seed_;
  int64_t obs_size_;
  int frame_stack_;
};

}  // namespace tokrl

#endif  // TOKRL_AGENTS_EVALUATOR_H_
