#include "tokrl/env/minatar/breakout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/env/minatar/testing.h"

namespace tokrl::minatar {
namespace {

using State = Breakout::State;
using BrickMap = Breakout::BrickMap;

constexpr int kUL = Breakout::kUpLeft;
constexpr int kUR = Breakout::kUpRight;
constexpr int kDR = Breakout::kDownRight;
constexpr int kDL = Breakout::kDownLeft;

int CountBricks(const BrickMap& bricks) {
  int n = 0;
  for (const auto& row : bricks)
    n += static_cast<int>(std::count(row.begin(), row.end(), true));
  return n;
}

// A game with the ball at (y, x) heading `dir`, the paddle at `paddle`, the
// standard brick rows and no strike.
Breakout Crafted(int y, int x, int dir, int paddle) {
  Breakout game(true);
  Rng rng(0);
  game.Reset(rng);
  State& s = game.mutable_state();
  s.ball_y = y;
  s.ball_x = x;
  s.ball_dir = dir;
  s.last_y = y;
  s.last_x = x;
  s.paddle_x = paddle;
  return game;
}

void ExpectBall(const Breakout& game, int y, int x, int dir) {
  EXPECT_EQ(game.state().ball_y, y);
  EXPECT_EQ(game.state().ball_x, x);
  EXPECT_EQ(game.state().ball_dir, dir);
}

TEST(Breakout, Basics) {
  Breakout game(true);
  EXPECT_STREQ(game.name(), "breakout");
  EXPECT_EQ(game.num_channels(), 4);
  EXPECT_EQ(game.minimal_action_set(), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(game.difficulty_ramp(), -1);
}

TEST(Breakout, ResetStateFollowsTheSingleDraw) {
  bool seen_left = false, seen_right = false;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    Breakout game(seed % 2 == 0);  // the flag changes nothing
    Rng rng(seed);
    Rng ref = rng;
    const uint32_t side = ref.UniformInt(2);
    game.Reset(rng);
    EXPECT_EQ(rng, ref) << "exactly one randint(2)";
    const State& s = game.state();
    if (side == 0) {
      seen_left = true;
      EXPECT_EQ(s.ball_x, 0);
      EXPECT_EQ(s.ball_dir, kDR);
    } else {
      seen_right = true;
      EXPECT_EQ(s.ball_x, 9);
      EXPECT_EQ(s.ball_dir, kDL);
    }
    EXPECT_EQ(s.ball_y, 3);
    EXPECT_EQ(s.last_x, s.ball_x);
    EXPECT_EQ(s.last_y, 3);
    EXPECT_EQ(s.paddle_x, 4);
    EXPECT_FALSE(s.strike);
    EXPECT_FALSE(game.terminal());
    for (int y = 0; y < 10; ++y) {
      for (int x = 0; x < 10; ++x) {
        EXPECT_EQ(s.bricks[y][x], y >= 1 && y <= 3) << y << " " << x;
      }
    }
    EXPECT_EQ(game.difficulty_ramp(), -1);
  }
  EXPECT_TRUE(seen_left && seen_right);
}

TEST(Breakout, InitialObservation) {
  Breakout game(false);
  Rng rng(0);
  game.Reset(rng);
  const int bx = game.state().ball_x;
  const Obs obs = RenderObs(game);
  for (int y = 0; y < 10; ++y) {
    for (int x = 0; x < 10; ++x) {
      EXPECT_EQ(At(obs, 0, y, x), y == 9 && x == 4);
      EXPECT_EQ(At(obs, 1, y, x), y == 3 && x == bx);
      EXPECT_EQ(At(obs, 2, y, x), y == 3 && x == bx) << "trail on the ball";
      EXPECT_EQ(At(obs, 3, y, x), y >= 1 && y <= 3);
    }
  }
}

TEST(Breakout, ResetClearsAnyState) {
  Breakout game(true);
  Rng rng(4);
  State& s = game.mutable_state();
  s.terminal = true;
  s.strike = true;
  s.paddle_x = 0;
  s.bricks = BrickMap{};
  s.bricks[7][7] = true;
  game.Reset(rng);
  EXPECT_FALSE(game.terminal());
  EXPECT_FALSE(game.state().strike);
  EXPECT_EQ(game.state().paddle_x, 4);
  EXPECT_EQ(game.state().bricks, Breakout::FullBricks());
  EXPECT_EQ(CountBricks(game.state().bricks), 30);
}

TEST(Breakout, PaddleMovesAndIsClamped) {
  Breakout game = Crafted(5, 5, kUR, 4);
  Rng rng(0);
  game.Act(kLeft, rng);
  EXPECT_EQ(game.state().paddle_x, 3);
  game.Act(kRight, rng);
  game.Act(kRight, rng);
  EXPECT_EQ(game.state().paddle_x, 5);
  for (int a : {kNoop, kUp, kDown, kFire}) {
    game.Act(a, rng);
    EXPECT_EQ(game.state().paddle_x, 5) << a;
  }
  game = Crafted(6, 5, kUL, 1);
  game.Act(kLeft, rng);
  game.Act(kLeft, rng);
  EXPECT_EQ(game.state().paddle_x, 0);
  game = Crafted(6, 5, kUL, 8);
  game.Act(kRight, rng);
  game.Act(kRight, rng);
  EXPECT_EQ(game.state().paddle_x, 9);
}

TEST(Breakout, FreeFlightAndTrail) {
  Breakout game = Crafted(6, 5, kUR, 4);
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  ExpectBall(game, 5, 6, kUR);
  EXPECT_EQ(game.state().last_y, 6);
  EXPECT_EQ(game.state().last_x, 5);
  const Obs obs = RenderObs(game);
  EXPECT_EQ(At(obs, 1, 5, 6), 1);
  EXPECT_EQ(At(obs, 2, 6, 5), 1);
  EXPECT_EQ(CountChannel(obs, 1), 1);
  EXPECT_EQ(CountChannel(obs, 2), 1);
  game.Act(kNoop, rng);
  ExpectBall(game, 4, 7, kUR);
  game = Crafted(5, 5, kDL, 4);
  game.Act(kNoop, rng);
  ExpectBall(game, 6, 4, kDL);
  game = Crafted(5, 5, kUL, 4);
  game.Act(kNoop, rng);
  ExpectBall(game, 4, 4, kUL);
}

TEST(Breakout, SideWallsClampAndFlipHorizontally) {
  Rng rng(0);
  Breakout game = Crafted(6, 9, kUR, 4);
  game.Act(kNoop, rng);
  ExpectBall(game, 5, 9, kUL);
  game = Crafted(6, 0, kDL, 4);
  game.Act(kNoop, rng);
  ExpectBall(game, 7, 0, kDR);
  game = Crafted(6, 0, kUL, 4);
  game.Act(kNoop, rng);
  ExpectBall(game, 5, 0, kUR);
  game = Crafted(6, 9, kDR, 4);
  game.Act(kNoop, rng);
  ExpectBall(game, 7, 9, kDL);
}

TEST(Breakout, CeilingFlipsVertically) {
  Rng rng(0);
  Breakout game = Crafted(0, 4, kUL, 4);
  game.mutable_state().bricks = BrickMap{};
  game.Act(kNoop, rng);
  ExpectBall(game, 0, 3, kDL);
  game = Crafted(0, 4, kUR, 4);
  game.Act(kNoop, rng);
  ExpectBall(game, 0, 5, kDR);
  // Corner: the wall flip, then the ceiling flip.
  game = Crafted(0, 0, kUL, 4);
  game.Act(kNoop, rng);
  ExpectBall(game, 0, 0, kDR);
  game = Crafted(0, 9, kUR, 4);
  game.Act(kNoop, rng);
  ExpectBall(game, 0, 9, kDL);
  EXPECT_FALSE(game.terminal());
}

TEST(Breakout, BreakingABrickFromBelow) {
  Breakout game = Crafted(4, 4, kUR, 0);
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_FALSE(game.state().bricks[3][5]);
  EXPECT_EQ(CountBricks(game.state().bricks), 29);
  ExpectBall(game, 4, 5, kDR);  // stays in its row, moves sideways
  EXPECT_TRUE(game.state().strike);
  // Next step touches no brick: the flag clears.
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  ExpectBall(game, 5, 6, kDR);
  EXPECT_FALSE(game.state().strike);
}

TEST(Breakout, BreakingABrickFromAbove) {
  Breakout game = Crafted(0, 2, kDL, 0);
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_FALSE(game.state().bricks[1][1]);
  ExpectBall(game, 0, 1, kUL);
}

TEST(Breakout, WallClampComesBeforeTheBrickTest) {
  // Up-right from (4, 9): the candidate column 10 is clamped to 9, so the
  // brick at (3, 9) is hit, not (3, 8) and not nothing.
  Breakout game = Crafted(4, 9, kUR, 0);
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_FALSE(game.state().bricks[3][9]);
  EXPECT_TRUE(game.state().bricks[3][8]);
  ExpectBall(game, 4, 9, kDL);  // horizontal, then vertical flip
  // Same on the left wall.
  game = Crafted(4, 0, kUL, 9);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_FALSE(game.state().bricks[3][0]);
  EXPECT_TRUE(game.state().bricks[3][1]);
  ExpectBall(game, 4, 0, kDR);
}

TEST(Breakout, StrikeFlagLetsTheBallEnterTheNextBrick) {
  // The ball sits in a hole in row 2 heading down-right: it breaks (3, 4),
  // stays in row 2 heading up-right, then enters (1, 5) without breaking it.
  Breakout game = Crafted(2, 3, kDR, 0);
  game.mutable_state().bricks[2][3] = false;
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  ExpectBall(game, 2, 4, kUR);
  EXPECT_TRUE(game.state().strike);
  EXPECT_FALSE(game.state().bricks[3][4]);

  EXPECT_EQ(game.Act(kNoop, rng), 0);
  ExpectBall(game, 1, 5, kUR);
  EXPECT_TRUE(game.state().bricks[1][5]) << "not broken";
  EXPECT_TRUE(game.state().strike) << "touched again: stays on";
  const Obs obs = RenderObs(game);
  EXPECT_EQ(At(obs, 1, 1, 5), 1);
  EXPECT_EQ(At(obs, 3, 1, 5), 1) << "ball drawn on top of the brick";

  // Row 0 has no brick: the flag clears; then the ceiling bounce.
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  ExpectBall(game, 0, 6, kUR);
  EXPECT_FALSE(game.state().strike);
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  ExpectBall(game, 0, 7, kDR);
  EXPECT_EQ(CountBricks(game.state().bricks), 28);
}

TEST(Breakout, StrikeFlagSetTunnelsThroughConsecutiveBricks) {
  Breakout game = Crafted(4, 2, kUR, 0);
  game.mutable_state().strike = true;
  Rng rng(0);
  for (int step = 1; step <= 3; ++step) {
    EXPECT_EQ(game.Act(kNoop, rng), 0);
    ExpectBall(game, 4 - step, 2 + step, kUR);
    EXPECT_TRUE(game.state().strike);
  }
  EXPECT_EQ(CountBricks(game.state().bricks), 30);
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  ExpectBall(game, 0, 6, kUR);
  EXPECT_FALSE(game.state().strike);
}

TEST(Breakout, PaddleUnderPreviousColumnFlipsVertically) {
  Breakout game = Crafted(8, 4, kDR, 4);
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  EXPECT_FALSE(game.terminal());
  ExpectBall(game, 8, 5, kUR);
  game = Crafted(8, 4, kDL, 4);
  game.Act(kNoop, rng);
  ExpectBall(game, 8, 3, kUL);
}

TEST(Breakout, PaddleUnderCandidateColumnReversesFully) {
  Breakout game = Crafted(8, 3, kDR, 4);
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  EXPECT_FALSE(game.terminal());
  ExpectBall(game, 8, 4, kUL);
  game = Crafted(8, 5, kDL, 4);
  game.Act(kNoop, rng);
  ExpectBall(game, 8, 4, kUR);
}

TEST(Breakout, PreviousColumnTestWinsAtTheWall) {
  // At the right wall the clamped candidate column equals the previous
  // one; the vertical flip (tested first) applies, not the full reversal.
  Breakout game = Crafted(8, 9, kDR, 9);
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_FALSE(game.terminal());
  ExpectBall(game, 8, 9, kUL);
  game = Crafted(8, 0, kDL, 0);
  game.Act(kNoop, rng);
  ExpectBall(game, 8, 0, kUR);
}

TEST(Breakout, PaddleMovesBeforeTheBallIsTested) {
  Breakout game = Crafted(8, 2, kDR, 4);
  Rng rng(0);
  game.Act(kLeft, rng);  // paddle to 3, under the candidate column
  EXPECT_FALSE(game.terminal());
  ExpectBall(game, 8, 3, kUL);
  game = Crafted(8, 2, kDR, 2);
  game.Act(kRight, rng);  // paddle leaves the previous column for 3
  EXPECT_FALSE(game.terminal());
  ExpectBall(game, 8, 3, kUL);
  game = Crafted(8, 2, kDR, 3);
  game.Act(kRight, rng);  // paddle moves away to 4
  EXPECT_TRUE(game.terminal());
}

TEST(Breakout, MissingThePaddleIsTerminalWithTheBallInRow9) {
  Breakout game = Crafted(8, 0, kDR, 9);
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  EXPECT_TRUE(game.terminal());
  ExpectBall(game, 9, 1, kDR);
  EXPECT_EQ(game.state().last_y, 8);
  EXPECT_EQ(game.state().last_x, 0);
  EXPECT_EQ(game.state().bricks, Breakout::FullBricks());
  const Obs obs = RenderObs(game);
  EXPECT_EQ(At(obs, 1, 9, 1), 1);
  EXPECT_EQ(At(obs, 0, 9, 9), 1);
  EXPECT_EQ(At(obs, 2, 8, 0), 1);
}

TEST(Breakout, BricksRefillAtRow9WhenNoneLeftEvenOnTheTerminalStep) {
  Rng rng(0);
  // Lost ball.
  Breakout game = Crafted(8, 0, kDR, 9);
  game.mutable_state().bricks = BrickMap{};
  game.Act(kNoop, rng);
  EXPECT_TRUE(game.terminal());
  EXPECT_EQ(game.state().bricks, Breakout::FullBricks());
  // Caught ball.
  game = Crafted(8, 4, kDR, 4);
  game.mutable_state().bricks = BrickMap{};
  game.Act(kNoop, rng);
  EXPECT_FALSE(game.terminal());
  EXPECT_EQ(CountBricks(game.state().bricks), 30);
  // One brick left anywhere (even outside rows 1-3): no refill.
  game = Crafted(8, 4, kDR, 4);
  game.mutable_state().bricks = BrickMap{};
  game.mutable_state().bricks[6][0] = true;
  game.Act(kNoop, rng);
  EXPECT_EQ(CountBricks(game.state().bricks), 1);
}

TEST(Breakout, BricksDoNotRefillUntilTheBallReachesRow9) {
  Breakout game = Crafted(4, 4, kUR, 0);
  game.mutable_state().bricks = BrickMap{};
  game.mutable_state().bricks[3][5] = true;
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_EQ(CountBricks(game.state().bricks), 0);
  // Ball now at (4, 5) heading down-right; the paddle waits under (9, 9)...
  game.mutable_state().paddle_x = 9;
  for (int step = 0; step < 3; ++step) {
    game.Act(kNoop, rng);
    EXPECT_EQ(CountBricks(game.state().bricks), 0);
  }
  ExpectBall(game, 7, 8, kDR);
  game.Act(kNoop, rng);  // row 8, column 9
  EXPECT_EQ(CountBricks(game.state().bricks), 0);
  game.Act(kNoop, rng);  // wall clamp, row 9, previous column 9 = paddle
  EXPECT_FALSE(game.terminal());
  EXPECT_EQ(CountBricks(game.state().bricks), 30);
  ExpectBall(game, 8, 9, kUL);
}

TEST(Breakout, ShortestEpisodeIs6Steps) {
  // Start on the left heading down-right with a still paddle: lost at step 6.
  uint64_t seed = 0;
  while (Rng(seed).UniformInt(2) != 0) ++seed;
  Breakout game(true);
  Rng rng(seed);
  game.Reset(rng);
  ASSERT_EQ(game.state().ball_x, 0);
  for (int step = 1; step <= 5; ++step) {
    game.Act(kNoop, rng);
    ASSERT_FALSE(game.terminal()) << step;
    ExpectBall(game, 3 + step, step, kDR);
  }
  game.Act(kNoop, rng);
  EXPECT_TRUE(game.terminal());
  ExpectBall(game, 9, 6, kDR);

  // No random episode is shorter.
  Rng policy(8);
  int shortest = 1 << 30;
  for (uint64_t s = 0; s < 500; ++s) {
    Breakout g(true);
    Rng r(s);
    g.Reset(r);
    int steps = 0;
    while (!g.terminal()) {
      g.Act(static_cast<int>(policy.UniformInt(6)), r);
      ++steps;
    }
    shortest = std::min(shortest, steps);
  }
  EXPECT_EQ(shortest, 6);
}

TEST(Breakout, ActAfterTerminationChangesNothing) {
  Breakout game = Crafted(8, 0, kDR, 9);
  Rng rng(0);
  game.Act(kNoop, rng);
  ExpectFrozenAfterTermination(game, rng);
}
TEST(Breakout, CloneGivesIdenticalFutures) {
  Breakout game(true);
  Rng rng(31);
  game.Reset(rng);
  Rng policy(3);
  for (int i = 0; i < 4; ++i) {
    game.Act(static_cast<int>(policy.UniformInt(6)), rng);
  }
  ExpectCloneHasIdenticalFuture(game, rng, policy, 3000);
}
TEST(Breakout, RandomRolloutKeepsInvariants) {
  Breakout game(true);
  Rng rng(77);
  Rng policy(5);
  game.Reset(rng);
  int episodes = 0;
  int64_t total_reward = 0;
  for (int step = 0; step < 50000; ++step) {
    if (game.terminal()) {
      game.Reset(rng);
      ++episodes;
    }
    const int bricks_before = CountBricks(game.state().bricks);
    const int reward = game.Act(static_cast<int>(policy.UniformInt(6)), rng);
    ASSERT_GE(reward, 0);
    ASSERT_LE(reward, 1);
    total_reward += reward;
    const State& s = game.state();
    const int bricks_after = CountBricks(s.bricks);
    if (bricks_after <= bricks_before) {
      ASSERT_EQ(bricks_before - bricks_after, reward);
    } else {
      ASSERT_EQ(bricks_after, 30) << "only a full refill adds bricks";
    }
    ASSERT_GE(s.ball_y, 0);
    ASSERT_LE(s.ball_y, game.terminal() ? 9 : 8);
    if (game.terminal()) {
      ASSERT_EQ(s.ball_y, 9);
    }
    ASSERT_GE(s.ball_dir, 0);
    ASSERT_LE(s.ball_dir, 3);
    // The ball moves one diagonal step or (after a bounce) one sideways.
    ASSERT_LE(std::abs(s.ball_x - s.last_x), 1);
    ASSERT_LE(std::abs(s.ball_y - s.last_y), 1);
    const Obs obs = RenderObs(game);
    for (uint8_t v : obs) ASSERT_LE(v, 1);
    ASSERT_EQ(CountChannel(obs, 0), 1);
    ASSERT_EQ(CountChannel(obs, 1), 1);
    ASSERT_EQ(CountChannel(obs, 2), 1);
    ASSERT_EQ(CountChannel(obs, 3), bricks_after);
    ASSERT_LE(bricks_after, 30);
    for (int y : {0, 4, 5, 6, 7, 8, 9}) {
      for (int x = 0; x < 10; ++x) ASSERT_EQ(At(obs, 3, y, x), 0);
    }
  }
  EXPECT_GT(episodes, 100);
  EXPECT_GT(total_reward, 0);
}

}  // namespace
}  // namespace tokrl::minatar
