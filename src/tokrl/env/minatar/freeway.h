// MinAtar Freeway, written from the rules in shared/spec/minatar.md section
// 2.3 (MinAtar is GPL; none of its code is used here).
//
// The player is a chicken that has to cross a road of eight lanes of cars,
// from the bottom row to the top row, as many times as it can before a fixed
// time limit runs out.
//
// Channels (7):
//   0      the chicken
//   1      a car
//   2..6   speed trails: a car whose speed has magnitude s (1..5) leaves a
//          trail in channel 1 + s, one cell behind it
//
// Actions: kUp and kDown move the chicken; every other action is a no-op.
// The minimal action set is {0 noop, 2 up, 4 down}.
//
// State:
//   * The chicken always stands in column 4; its row is `chicken_row`.
//   * `move_cooldown` is the chicken's movement cooldown: it may only move
//     when the cooldown is 0, and moving sets it to 3.
//   * `time_left` counts down the episode's time limit.
//   * Eight cars. Car i drives in row i + 1. Each has a column `x`, a signed
//     speed `speed` (|speed| in 1..5, never 0) and a countdown `timer`.
//
// Reset:
//   chicken_row = 9, move_cooldown = 3, time_left = 2500, every car in column
//   0, and the cars are randomised (below).
//
// Car randomisation (at reset and on every crossing), drawing from the RNG in
// exactly this order:
//   1. eight draws rng.UniformRange(1, 5), one per car 0..7, giving |speed|;
//   2. eight draws rng.Uniform(), one per car 0..7; the car drives left
//      (negative speed) when the draw is < 0.5, else right.
//   Each car's timer is then set to its new |speed|. Car columns are NOT
//   touched: at reset they are all 0 anyway, and on a crossing the cars stay
//   where they are.
//   This matches the reference's randint(1, 6, size=8) then rand(8).
//
// One step (Act), in this order:
//   1. Chicken move. If the action is up and the cooldown is 0: cooldown = 3,
//      row = max(0, row - 1). Otherwise if the action is down and the cooldown
//      is 0: cooldown = 3, row = min(9, row + 1). Pressing down on the bottom
//      row does not move the chicken but still starts the cooldown.
//   2. Crossing. If the chicken is on row 0: reward +1, randomise the cars as
//      above, and put the chicken back on row 9.
//   3. Cars, in order 0..7, each:
//        a. if the car is on the chicken's cell (column 4, chicken row), the
//           chicken is hit and goes back to row 9;
//        b. if the car's timer is 0: reload it with |speed|, move the car one
//           column in its direction (wrapping -1 -> 9 and 10 -> 0), and if
//           the car is now on the chicken's cell the chicken goes back to
//           row 9; otherwise decrement the timer.
//      So a car with |speed| = s moves every s + 1 steps, first at step s + 1
//      after a reset. The chicken row used by later cars is the one left by
//      earlier cars.
//   4. Timers. Decrement the cooldown if positive. Decrement time_left; when
//      it becomes negative the episode is over.
//   A chicken pressing up every step therefore moves on steps 4, 7, 10, ...
//
// Termination and reward: every episode lasts exactly 2501 steps (time_left
// goes 2500 -> -1). Each crossing gives +1; a hit only costs position. After
// termination Act returns 0 and changes nothing.
//
// Observation: chicken at (chicken_row, 4) in channel 0; each car at
// (row i + 1, x) in channel 1; each car's trail at (row i + 1, x - sign(speed))
// in channel 1 + |speed|, wrapping around the edge like the car does.
//
// Freeway ignores the difficulty-ramping flag; difficulty_ramp() is -1.
//
// The constructor leaves the game in a reset state drawn from a fixed
// placeholder seed; call Reset with the episode's RNG before playing.
#ifndef TOKRL_ENV_MINATAR_FREEWAY_H_
#define TOKRL_ENV_MINATAR_FREEWAY_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/env/minatar/game.h"

namespace tokrl::minatar {

class Freeway final : public Game {
 public:
  static constexpr int kNumCars = 8;
  static constexpr int kChickenColumn = 4;
  static constexpr int kMoveCooldown = 3;
  static constexpr int kTimeLimit = 2500;

  struct Car {
    int x = 0;      // column 0..9; the row is the car's index + 1
    int speed = 1;  // signed; |speed| in 1..5
    int timer = 1;  // per-car countdown, see "Cars" above
    friend bool operator==(const Car&, const Car&) = default;
  };

  struct State {
    int chicken_row = 9;
    int move_cooldown = kMoveCooldown;
    int time_left = kTimeLimit;
    bool terminal = false;
    Car cars[kNumCars];
    friend bool operator==(const State&, const State&) = default;
  };

  explicit Freeway(bool ramping);

  const char* name() const override { return "freeway"; }
  int num_channels() const override { return 7; }
  std::vector<int> minimal_action_set() const override {
    return {kNoop, kUp, kDown};
  }

  void Reset(Rng& rng) override;
  int Act(int action, Rng& rng) override;
  bool terminal() const override { return state_.terminal; }
  void Render(uint8_t* obs) const override;
  std::unique_ptr<Game> Clone() const override {
    return std::make_unique<Freeway>(*this);
  }

  std::string SaveState() const override { return StateToBytes(state_); }
  void LoadState(std::string_view bytes) override {
    StateFromBytes(bytes, state_, name());
  }
  const State& state() const { return state_; }
  State& mutable_state() { return state_; }

 private:
  // Re-draws every car's speed and resets its timer; columns are kept.
  void RandomizeCars(Rng& rng);

  State state_;
};

}  // namespace tokrl::minatar

#endif  // TOKRL_ENV_MINATAR_FREEWAY_H_
