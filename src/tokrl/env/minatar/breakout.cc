#include "tokrl/env/minatar/breakout.h"

#include <cstring>

#include "tokrl/core/check.h"

namespace tokrl::minatar {
namespace {

// Indexed by Direction: up-left, up-right, down-right, down-left.
constexpr int kDx[4] = {-1, 1, 1, -1};
constexpr int kDy[4] = {-1, -1, 1, 1};

// With the codes above each flip is a tiny bit trick.
constexpr int FlipHorizontal(int dir) { return dir ^ 1; }
constexpr int FlipVertical(int dir) { return 3 - dir; }
constexpr int Reverse(int dir) { return dir ^ 2; }

static_assert(FlipHorizontal(0) == 1 && FlipHorizontal(2) == 3);
static_assert(FlipVertical(0) == 3 && FlipVertical(1) == 2);
static_assert(Reverse(0) == 2 && Reverse(1) == 3);

bool AnyBrick(const Breakout::BrickMap& bricks) {
  for (const auto& row : bricks) {
    for (bool b : row) {
      if (b) return true;
    }
  }
  return false;
}

}  // namespace

Breakout::BrickMap Breakout::FullBricks() {
  BrickMap bricks{};
  for (int y = kFirstBrickRow; y <= kLastBrickRow; ++y) bricks[y].fill(true);
  return bricks;
}

void Breakout::Reset(Rng& rng) {
  state_ = State{};
  state_.bricks = FullBricks();
  // randint(2): 0 starts on the left wall heading down-right, 1 on the right
  // wall heading down-left. The start row is a brick row, so the ball is
  // drawn on top of a brick until it moves.
  if (rng.UniformInt(2) == 0) {
    state_.ball_x = 0;
    state_.ball_dir = kDownRight;
  } else {
    state_.ball_x = kGridSize - 1;
    state_.ball_dir = kDownLeft;
  }
  state_.ball_y = kStartBallRow;
  state_.last_x = state_.ball_x;
  state_.last_y = state_.ball_y;
}

int Breakout::Act(int action, Rng& /*rng*/) {
  TOKRL_DCHECK(action >= 0 && action < kNumFullActions) << action;
  if (state_.terminal) return 0;
  State& s = state_;
  TOKRL_DCHECK(s.ball_y >= 0 && s.ball_y < kPaddleRow) << s.ball_y;
  int reward = 0;

  // 1. Paddle.
  if (action == kLeft) {
    if (s.paddle_x > 0) --s.paddle_x;
  } else if (action == kRight) {
    if (s.paddle_x < kGridSize - 1) ++s.paddle_x;
  }

  // 2. Candidate position.
  s.last_x = s.ball_x;
  s.last_y = s.ball_y;
  int dir = s.ball_dir;
  int new_x = s.ball_x + kDx[dir];
  int new_y = s.ball_y + kDy[dir];

  // 3. Side walls first: the brick test below sees the clamped column.
  if (new_x < 0 || new_x >= kGridSize) {
    new_x = new_x < 0 ? 0 : kGridSize - 1;
    dir = FlipHorizontal(dir);
  }

  // 4. Ceiling, brick or bottom row: exactly one applies.
  bool touched_brick = false;
  if (new_y < 0) {
    new_y = 0;
    dir = FlipVertical(dir);
  } else if (s.bricks[new_y][new_x]) {
    touched_brick = true;
    // The strike flag allows one break per run of consecutive brick
    // contacts; while it is set the ball tunnels into the brick cell.
    if (!s.strike) {
      reward = 1;
      s.strike = true;
      s.bricks[new_y][new_x] = false;
      new_y = s.last_y;
      dir = FlipVertical(dir);
    }
  } else if (new_y == kPaddleRow) {
    // The refill happens before the paddle test, so it also happens on the
    // step the ball is lost.
    if (!AnyBrick(s.bricks)) s.bricks = FullBricks();
    // Paddle under the previous column: the ball bounces up and keeps its
    // horizontal motion. Paddle only under the candidate column (a corner
    // hit): the ball goes back along its incoming diagonal. When both hold
    // (a ball clamped at a wall above the paddle) the first test wins.
    if (s.last_x == s.paddle_x) {
      dir = FlipVertical(dir);
      new_y = s.last_y;
    } else if (new_x == s.paddle_x) {
      dir = Reverse(dir);
      new_y = s.last_y;
    } else {
      s.terminal = true;
    }
  }

  // 5. The flag only survives consecutive brick contacts.
  if (!touched_brick) s.strike = false;

  // 6. Move (a lost ball ends in row 9).
  s.ball_x = new_x;
  s.ball_y = new_y;
  s.ball_dir = dir;
  return reward;
}

void Breakout::Render(uint8_t* obs) const {
  ObsWriter out(obs, kNumChannels);
  out.Clear();
  out.Set(kPaddleChannel, kPaddleRow, state_.paddle_x);
  out.Set(kBallChannel, state_.ball_y, state_.ball_x);
  out.Set(kTrailChannel, state_.last_y, state_.last_x);
  // The brick map is 100 contiguous bools laid out row-major like the
  // channel, and a bool's bytes are 0 or 1: one memcpy instead of a byte
  // loop the compiler cannot vectorise (obs might alias the state).
  static_assert(sizeof(BrickMap) == ObsWriter::kCells);
  std::memcpy(out.channel(kBrickChannel), state_.bricks.data(),
              sizeof(BrickMap));
}

}  // namespace tokrl::minatar
