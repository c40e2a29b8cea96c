// Breakout (MinAtar; Young & Tian 2019), written from the rules in
// shared/spec/minatar.md section 2.2. MinAtar is GPL; no code from it is used.
//
// A ball bounces diagonally around a 10x10 grid. The player moves a paddle
// along the bottom row to keep it in play and scores +1 per brick broken.
// Missing the ball ends the episode. There is no difficulty ramping.
//
// Channels (observation is channels-first, see game.h):
//   0 paddle   (row 9, paddle column)
//   1 ball     the ball's cell
//   2 trail    the ball's previous cell (the ball's own cell right after
//              reset)
//   3 brick    every brick
// A cell may be set in several channels (the ball starts on a brick).
//
// Actions (full set): 1 l and 3 r move the paddle one column, clamped to
// 0-9; every other action is a no-op. Minimal action set: {0, 1, 3}.
//
// Ball directions (Direction below), and the three flips used by the rules:
//   0 up-left (-1,-1)  1 up-right (+1,-1)  2 down-right (+1,+1)
//   3 down-left (-1,+1)                                  as (dx, dy)
//   horizontal flip 0<->1, 2<->3 (dir ^ 1); vertical flip 0<->3, 1<->2
//   (3 - dir); full reversal 0<->2, 1<->3 (dir ^ 2).
//
// Reset, one draw: side = rng.UniformInt(2) (the reference's randint(2)).
//   side 0: ball at (row 3, col 0) heading down-right (2);
//   side 1: ball at (row 3, col 9) heading down-left (3).
//   Bricks fill rows 1-3 in every column (30 bricks); the paddle is in
//   column 4; the strike flag is off; the previous ball position equals the
//   ball position; not terminal.
//
// Act(a), in this order:
//   1. Move the paddle.
//   2. previous := ball; candidate := ball + direction.
//   3. If the candidate column is outside 0-9, clamp it and flip the
//      direction horizontally. (This comes before the brick test, so a ball
//      bouncing off a wall tests the brick in the clamped column.)
//   4. Exactly one of, checked in this order:
//      (a) ceiling: candidate row < 0 -> candidate row = 0, vertical flip;
//      (b) brick at the candidate cell -> "touched a brick this step"; if
//          the strike flag is off: reward +1, set the strike flag, remove
//          the brick, candidate row = previous row, vertical flip. If it is
//          on, nothing else happens: the ball enters the brick's cell
//          without breaking it;
//      (c) candidate row == 9 -> first, if no brick is left anywhere,
//          refill rows 1-3; then if the previous column equals the paddle
//          column: vertical flip and candidate row = previous row; else if
//          the candidate column equals the paddle column: full reversal
//          and candidate row = previous row; else the game is terminal.
//   5. If no brick was touched this step, clear the strike flag.
//   6. ball := candidate. A terminal ball therefore sits in row 9.
//
// Notes:
//   * Bricks are refilled only when the ball reaches row 9 with none left,
//     also on the terminal step.
//   * The paddle test uses the paddle's column after this step's move.
//   * The shortest episode is 6 steps (the ball falls from row 3 to row 9).
//
// Termination and reward: terminal when the ball reaches row 9 and misses
// the paddle; +1 per broken brick; no step cap. After termination Act
// returns 0 and changes nothing (it draws nothing). difficulty_ramp()
// returns -1; the ramping flag is ignored.
//
// Performance: all state is fixed-size and lives in the object; Act and
// Render never allocate.
#ifndef TOKRL_ENV_MINATAR_BREAKOUT_H_
#define TOKRL_ENV_MINATAR_BREAKOUT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/env/minatar/game.h"

namespace tokrl::minatar {

class Breakout final : public Game {
 public:
  static constexpr int kNumChannels = 4;
  static constexpr int kPaddleChannel = 0;
  static constexpr int kBallChannel = 1;
  static constexpr int kTrailChannel = 2;
  static constexpr int kBrickChannel = 3;

  static constexpr int kPaddleRow = 9;
  static constexpr int kFirstBrickRow = 1;
  static constexpr int kLastBrickRow = 3;
  static constexpr int kStartBallRow = 3;
  static constexpr int kStartPaddleX = 4;

  enum Direction : int {
    kUpLeft = 0,
    kUpRight = 1,
    kDownRight = 2,
    kDownLeft = 3,
  };

  using BrickMap = std::array<std::array<bool, kGridSize>, kGridSize>;

  // The whole game state, plain data. Tests may craft any state that keeps
  // the invariants: columns in 0-9, a non-terminal ball in rows 0-8,
  // ball_dir in 0-3.
  struct State {
    int ball_x = 0;
    int ball_y = kStartBallRow;
    int ball_dir = kDownRight;
    int last_x = 0;  // the ball's previous position (the trail)
    int last_y = kStartBallRow;
    int paddle_x = kStartPaddleX;
    bool strike = false;  // a brick was touched on the previous step
    bool terminal = false;
    BrickMap bricks{};  // bricks[row][column]
    friend bool operator==(const State&, const State&) = default;
  };

  // `ramping` is accepted for the common constructor and ignored.
  explicit Breakout(bool /*ramping*/) {}

  const char* name() const override { return "breakout"; }
  int num_channels() const override { return kNumChannels; }
  std::vector<int> minimal_action_set() const override {
    return {kNoop, kLeft, kRight};
  }

  void Reset(Rng& rng) override;
  int Act(int action, Rng& rng) override;
  bool terminal() const override { return state_.terminal; }
  void Render(uint8_t* obs) const override;
  std::unique_ptr<Game> Clone() const override {
    return std::make_unique<Breakout>(*this);
  }
  int difficulty_ramp() const override { return -1; }

  std::string SaveState() const override { return StateToBytes(state_); }
  void LoadState(std::string_view bytes) override {
    StateFromBytes(bytes, state_, name());
  }
  const State& state() const { return state_; }
  State& mutable_state() { return state_; }

  // The brick map right after reset: rows 1-3 full.
  static BrickMap FullBricks();

 private:
  State state_;
};

}  // namespace tokrl::minatar

#endif  // TOKRL_ENV_MINATAR_BREAKOUT_H_
