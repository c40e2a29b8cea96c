// Catch: the reference toy env, written as a tutorial for adding an env.
//
// A ball falls one row per step from the top row, in a column drawn uniformly
// at reset; a paddle in the bottom row moves left, stays or moves right. When
// the ball reaches the bottom row the episode terminates with reward +1 if
// the paddle is under it and -1 otherwise. Every episode lasts rows-1 steps,
// so an optimal agent scores +1 every episode and a random one about
// 2*P(catch)-1. Small enough that DQN learns it in a few thousand steps,
// which makes it the learning-test env (Osband et al. 2020, bsuite "catch").
//
//   option   default  meaning
//   rows     10       grid height, >= 2
//   columns  5        grid width, >= 1
//
// Observation: uint8 {2, rows, columns}; channel 0 is the ball, channel 1 the
// paddle. Actions: 0 left, 1 stay, 2 right (the paddle is clamped).
//
// How an env is built (the recipe for new envs):
//   1. Keep all state in plain members, including the Rng, so the implicit
//      copy constructor is a correct Clone().
//   2. Fill an EnvSpec once in the constructor.
//   3. Reset/Step write the whole observation into the caller's span.
//   4. Register a factory that reads its options with EnvOptions getters
//      (see RegisterCatchEnv in catch.cc).
#ifndef TOKRL_ENV_TOY_CATCH_H_
#define TOKRL_ENV_TOY_CATCH_H_

#include "tokrl/core/rng.h"
#include "tokrl/env/env.h"

namespace tokrl {

class CatchEnv final : public Env {
 public:
  CatchEnv(int rows, int columns);

  const EnvSpec& spec() const override { return spec_; }
  void Seed(uint64_t seed) override { rng_.Seed(seed); }
  void Reset(ObsSpan obs) override;
  StepResult Step(int action, ObsSpan obs) override;
  std::unique_ptr<Env> Clone() const override;
  std::string SaveState() const override;
  void LoadState(std::string_view blob) override;

  int ball_row() const { return ball_row_; }
  int ball_column() const { return ball_column_; }
  int paddle_column() const { return paddle_column_; }

 private:
  void Render(ObsSpan obs) const;

  int rows_;
  int columns_;
  EnvSpec spec_;
  Rng rng_;
  int ball_row_ = 0;
  int ball_column_ = 0;
  int paddle_column_ = 0;
  bool terminated_ = false;
};

// Registers "toy/catch".
void RegisterCatchEnv();

}  // namespace tokrl

#endif  // TOKRL_ENV_TOY_CATCH_H_
