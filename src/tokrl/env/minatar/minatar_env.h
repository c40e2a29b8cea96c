// MinAtarEnv: a MinAtar game behind the Env contract (env.h), with the
// reference wrapper's behaviour (shared/spec/minatar.md sections 1 and 3).
//
// Registered as "minatar/<game>" for asterix, breakout, freeway, seaquest and
// space_invaders. Options (all optional):
//
//   option             default  meaning
//   sticky             0.1      probability of repeating the previously
//                               executed action, in [0, 1]
//   ramping            true     the reference's difficulty_ramping flag
//   minimal_actions    false    act in the game's minimal action set instead
//                               of the full 6-action set (gymnasium -v1)
//   max_episode_steps  0        truncate episodes after this many steps;
//                               0 = no cap, as in the reference
//
// Sticky actions, exactly as the reference:
//   * every Step draws u ~ U[0,1) from the env's RNG, also when sticky = 0;
//   * if u < sticky the previously *executed* action runs instead;
//   * the executed action becomes the new previous action;
//   * the previous action starts as no-op at construction and is NOT cleared
//     by Reset, so it carries over between episodes.
//   One RNG is shared by the sticky draw and the game, as in the reference
//   after seed(s).
//
// Freeway's 2501-step limit is part of the game and reported as terminated,
// as in the reference. Truncation only comes from max_episode_steps.
//
// Observation: uint8 {C, 10, 10}, channels first, values 0/1.
#ifndef TOKRL_ENV_MINATAR_MINATAR_ENV_H_
#define TOKRL_ENV_MINATAR_MINATAR_ENV_H_

#include <memory>
#include <string>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/env/env.h"
#include "tokrl/env/env_options.h"
#include "tokrl/env/minatar/game.h"

namespace tokrl::minatar {

struct MinAtarOptions {
  double sticky = 0.1;
  bool ramping = true;
  bool minimal_actions = false;
  int max_episode_steps = 0;
};

class MinAtarEnv final : public Env {
 public:
  MinAtarEnv(const std::string& game, const MinAtarOptions& options);
  MinAtarEnv(const MinAtarEnv& other);

  const EnvSpec& spec() const override { return spec_; }
  void Seed(uint64_t seed) override { rng_.Seed(seed); }
  void Reset(ObsSpan obs) override;
  StepResult Step(int action, ObsSpan obs) override;
  std::unique_ptr<Env> Clone() const override;
  std::string SaveState() const override;
  void LoadState(std::string_view blob) override;

  const Game& game() const { return *game_; }
  Game& mutable_game() { return *game_; }
  int previous_action() const { return previous_action_; }
  int episode_steps() const { return episode_steps_; }

 private:
  std::unique_ptr<Game> game_;
  MinAtarOptions options_;
  EnvSpec spec_;
  std::vector<int> action_map_;  // env action -> full-set action
  Rng rng_;
  int previous_action_ = kNoop;
  int episode_steps_ = 0;
};

// Reads MinAtarOptions from env options (validating ranges).
MinAtarOptions ParseMinAtarOptions(EnvOptions& options);

// Registers minatar/<game> for the five games.
void RegisterMinAtarEnvs();

}  // namespace tokrl::minatar

#endif  // TOKRL_ENV_MINATAR_MINATAR_ENV_H_
