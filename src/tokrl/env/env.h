// The single-environment contract of tokrl.
//
// An Env is one instance of a game. It is not thread-safe; a VecEnv owns many
// and steps each from one thread at a time. It never allocates per step.
//
// Observations
//   Every env observes a uint8 tensor of shape spec().obs_shape = {C, H, W}
//   (channels first, row-major, C*H*W bytes), written by Reset and Step into a
//   caller-owned buffer (ObsSpan) so a VecEnv can point each env at its row of
//   one batch buffer. MinAtar observations are 0/1 per channel; other envs may
//   use the whole 0..255 range. Every byte of the buffer is overwritten.
//
// Episodes
//   Reset() starts an episode. Step(a) advances it and returns the reward and
//   two separate end flags:
//     terminated  the game reached a terminal state (bootstrap with 0);
//     truncated   the episode was cut by a time limit (bootstrap normally).
//   At most one of them is true. After either, call Reset() before the next
//   Step; stepping a finished episode is allowed and follows the env's own
//   rules (MinAtar returns reward 0 and terminated=true again, as in the
//   reference) but is never needed by a VecEnv.
//
// Actions
//   Integers in [0, spec().num_actions). Out-of-range actions throw Error.
//
// Randomness
//   Each instance owns its RNG, set by Seed(seed). Reset does not reseed; an
//   unseeded env behaves as if seeded with 0. Two envs seeded alike and fed
//   the same actions produce byte-identical trajectories, and Clone() copies
//   the RNG too, so a clone's future equals the original's; so does an env
//   restored with LoadState(SaveState()).
#ifndef TOKRL_ENV_ENV_H_
#define TOKRL_ENV_ENV_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tokrl {

using ObsSpan = std::span<uint8_t>;

struct EnvSpec {
  std::string id;                  // registry id with options, e.g.
                                   // "minatar/breakout(sticky=0.1)"
  std::vector<int64_t> obs_shape;  // {C, H, W}
  int num_actions = 0;
  std::vector<std::string> action_names;  // one per action
  int max_episode_steps = 0;              // truncation limit, 0 = none

  int64_t obs_size() const {
    int64_t n = 1;
    for (int64_t d : obs_shape) n *= d;
    return n;
  }
};

struct StepResult {
  float reward = 0.0f;
  bool terminated = false;
  bool truncated = false;
  bool done() const { return terminated || truncated; }
};

class Env {
 public:
  virtual ~Env() = default;
  virtual const EnvSpec& spec() const = 0;
  virtual void Seed(uint64_t seed) = 0;
  virtual void Reset(ObsSpan obs) = 0;
  virtual StepResult Step(int action, ObsSpan obs) = 0;
  // Deep copy, including RNG state and the position in the current episode.
  virtual std::unique_ptr<Env> Clone() const = 0;
  // The complete state (RNG included) as an opaque blob, and back, so that a
  // training run resumes exactly. LoadState throws Error if the blob was not
  // saved by an env with the same spec().id or is corrupt; the env is then
  // unchanged.
  virtual std::string SaveState() const = 0;
  virtual void LoadState(std::string_view blob) = 0;
};

}  // namespace tokrl

#endif  // TOKRL_ENV_ENV_H_
