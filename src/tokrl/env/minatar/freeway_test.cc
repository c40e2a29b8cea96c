#include "tokrl/env/minatar/freeway.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>

#include "tokrl/env/minatar/testing.h"

namespace tokrl::minatar {
namespace {

constexpr int kChannels = 7;

// A state where no car will reach the chicken's column for a while: every
// car in column 0 drives left at speed 5 (0 -> 9 -> 8 ...), far from 4.
Freeway MakeQuietGame() {
  Freeway game(true);
  Freeway::State& s = game.mutable_state();
  for (auto& car : s.cars) {
    car.x = 0;
    car.speed = -5;
    car.timer = 5;
  }
  return game;
}

TEST(Freeway, Metadata) {
  Freeway game(true);
  EXPECT_STREQ(game.name(), "freeway");
  EXPECT_EQ(game.num_channels(), 7);
  EXPECT_EQ(game.minimal_action_set(), (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(game.difficulty_ramp(), -1);
  Freeway unramped(false);
  EXPECT_EQ(unramped.difficulty_ramp(), -1);
}

TEST(Freeway, ResetState) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Freeway game(true);
    Rng rng(seed);
    game.Reset(rng);
    // Dirty every field, then reset again.
    for (int step = 0; step < 100; ++step) game.Act(kUp, rng);
    game.mutable_state().time_left = 3;
    game.mutable_state().terminal = true;
    for (auto& car : game.mutable_state().cars) car.x = 7;
    game.Reset(rng);
    const Freeway::State& s = game.state();
    EXPECT_EQ(s.chicken_row, 9);
    EXPECT_EQ(s.move_cooldown, 3);
    EXPECT_EQ(s.time_left, 2500);
    EXPECT_FALSE(s.terminal);
    EXPECT_FALSE(game.terminal());
    for (const auto& car : s.cars) {
      EXPECT_EQ(car.x, 0);
      const int magnitude = car.speed > 0 ? car.speed : -car.speed;
      EXPECT_GE(magnitude, 1);
      EXPECT_LE(magnitude, 5);
      EXPECT_EQ(car.timer, magnitude);
    }
  }
}

TEST(Freeway, ResetDrawsMagnitudesThenSigns) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng rng(seed);
    Rng expected = rng;
    int magnitude[8];
    for (int& m : magnitude) m = expected.UniformRange(1, 5);
    bool negative[8];
    for (bool& n : negative) n = expected.Uniform() < 0.5;

    Freeway game(true);
    game.Reset(rng);
    EXPECT_TRUE(rng == expected) << "Reset must draw exactly 8 + 8 numbers";
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(game.state().cars[i].speed,
                negative[i] ? -magnitude[i] : magnitude[i]);
    }
  }
}

TEST(Freeway, ResetDrawsAreFairlySpread) {
  // Over many resets every magnitude and both signs occur.
  int seen[6] = {};
  int negatives = 0;
  int total = 0;
  Rng rng(5);
  Freeway game(true);
  for (int episode = 0; episode < 500; ++episode) {
    game.Reset(rng);
    for (const auto& car : game.state().cars) {
      ++seen[car.speed > 0 ? car.speed : -car.speed];
      negatives += car.speed < 0;
      ++total;
    }
  }
  for (int m = 1; m <= 5; ++m) EXPECT_GT(seen[m], total / 5 - 150) << m;
  EXPECT_GT(negatives, total / 2 - 150);
  EXPECT_LT(negatives, total / 2 + 150);
}

TEST(Freeway, InitialObservation) {
  Freeway game(true);
  Rng rng(3);
  game.Reset(rng);
  const Obs obs = RenderObs(game);
  for (uint8_t v : obs) EXPECT_LE(v, 1);
  EXPECT_EQ(CountChannel(obs, 0), 1);
  EXPECT_EQ(At(obs, 0, 9, 4), 1);
  EXPECT_EQ(CountChannel(obs, 1), 8);
  int trails = 0;
  for (int c = 2; c < 7; ++c) trails += CountChannel(obs, c);
  EXPECT_EQ(trails, 8);
  for (int i = 0; i < 8; ++i) {
    const int speed = game.state().cars[i].speed;
    const int magnitude = speed > 0 ? speed : -speed;
    EXPECT_EQ(At(obs, 1, i + 1, 0), 1);
    // Column 0 car: the trail is behind it, wrapping to column 9 for a car
    // driving right.
    EXPECT_EQ(At(obs, 1 + magnitude, i + 1, speed > 0 ? 9 : 1), 1) << i;
  }
}

TEST(Freeway, TrailWrapsOnBothEdges) {
  Freeway game = MakeQuietGame();
  Freeway::State& s = game.mutable_state();
  s.cars[0] = {0, 2, 2};   // right-moving at column 0: trail at column 9
  s.cars[1] = {9, -4, 4};  // left-moving at column 9: trail at column 0
  s.cars[2] = {5, 3, 3};   // ordinary: trail at column 4
  s.cars[3] = {5, -1, 1};  // ordinary: trail at column 6
  const Obs obs = RenderObs(game);
  EXPECT_EQ(At(obs, 3, 1, 9), 1);
  EXPECT_EQ(At(obs, 5, 2, 0), 1);
  EXPECT_EQ(At(obs, 4, 3, 4), 1);
  EXPECT_EQ(At(obs, 2, 4, 6), 1);
  EXPECT_EQ(At(obs, 1, 2, 9), 1);
  EXPECT_EQ(At(obs, 1, 2, 0), 0);
}

TEST(Freeway, EveryEpisodeLasts2501Steps) {
  Freeway game(true);
  Rng rng(11);
  Rng policy(12);
  for (int episode = 0; episode < 5; ++episode) {
    game.Reset(rng);
    int steps = 0;
    while (!game.terminal()) {
      game.Act(static_cast<int>(policy.UniformInt(6)), rng);
      ++steps;
      ASSERT_LE(steps, 2501);
      if (!game.terminal()) {
        EXPECT_EQ(game.state().time_left, 2500 - steps);
      }
    }
    EXPECT_EQ(steps, 2501);
  }
}

TEST(Freeway, AlwaysUpEpisodeLasts2501StepsAndScores) {
  Freeway game(true);
  Rng rng(4);
  game.Reset(rng);
  int steps = 0;
  int score = 0;
  while (!game.terminal()) {
    score += game.Act(kUp, rng);
    ++steps;
  }
  EXPECT_EQ(steps, 2501);
  EXPECT_GT(score, 0);
}

TEST(Freeway, CarWithSpeedSMovesEverySPlusOneSteps) {
  for (int s = 1; s <= 5; ++s) {
    for (int sign : {1, -1}) {
      Freeway game = MakeQuietGame();
      game.mutable_state().cars[2] = {0, sign * s, s};
      Rng rng(0);
      int moves = 0;
      int x = 0;
      for (int step = 1; step <= 4 * (s + 1); ++step) {
        game.Act(kNoop, rng);
        const bool should_move = step % (s + 1) == 0;
        if (should_move) {
          ++moves;
          x = (x + sign + 10) % 10;
        }
        ASSERT_EQ(game.state().cars[2].x, x)
            << "speed " << sign * s << " step " << step;
      }
      EXPECT_EQ(moves, 4);
    }
  }
}

TEST(Freeway, CarTimerReloadsWithMagnitude) {
  Freeway game = MakeQuietGame();
  game.mutable_state().cars[0] = {0, -3, 0};
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_EQ(game.state().cars[0].x, 9);  // wrapped left
  EXPECT_EQ(game.state().cars[0].timer, 3);
  game.mutable_state().cars[1] = {9, 2, 0};
  game.Act(kNoop, rng);
  EXPECT_EQ(game.state().cars[1].x, 0);  // wrapped right
  EXPECT_EQ(game.state().cars[1].timer, 2);
  EXPECT_EQ(game.state().cars[0].timer, 2);  // decremented, not moved
  EXPECT_EQ(game.state().cars[0].x, 9);
}

TEST(Freeway, ChickenPressingUpMovesAtSteps4_7_10) {
  Freeway game = MakeQuietGame();
  Rng rng(0);
  int row = 9;
  for (int step = 1; step <= 10; ++step) {
    game.Act(kUp, rng);
    if (step == 4 || step == 7 || step == 10) --row;
    ASSERT_EQ(game.state().chicken_row, row) << "step " << step;
  }
  EXPECT_EQ(row, 6);
}

TEST(Freeway, CooldownAfterMove) {
  Freeway game = MakeQuietGame();
  Freeway::State& s = game.mutable_state();
  s.move_cooldown = 0;
  s.chicken_row = 9;
  Rng rng(0);
  game.Act(kUp, rng);
  EXPECT_EQ(game.state().chicken_row, 8);
  EXPECT_EQ(game.state().move_cooldown, 2);
  game.Act(kDown, rng);  // blocked by the cooldown
  EXPECT_EQ(game.state().chicken_row, 8);
  EXPECT_EQ(game.state().move_cooldown, 1);
  game.Act(kDown, rng);
  EXPECT_EQ(game.state().move_cooldown, 0);
  game.Act(kDown, rng);
  EXPECT_EQ(game.state().chicken_row, 9);
  EXPECT_EQ(game.state().move_cooldown, 2);
}

TEST(Freeway, DownAtBottomUsesCooldown) {
  Freeway game = MakeQuietGame();
  game.mutable_state().move_cooldown = 0;
  Rng rng(0);
  game.Act(kDown, rng);
  EXPECT_EQ(game.state().chicken_row, 9);
  EXPECT_EQ(game.state().move_cooldown, 2);
  game.Act(kUp, rng);  // still cooling down
  EXPECT_EQ(game.state().chicken_row, 9);
}

TEST(Freeway, OtherActionsAreNoops) {
  for (int action : {kNoop, kLeft, kRight, kFire}) {
    Freeway game = MakeQuietGame();
    game.mutable_state().move_cooldown = 0;
    game.mutable_state().chicken_row = 5;
    Rng rng(0);
    game.Act(action, rng);
    EXPECT_EQ(game.state().chicken_row, 5);
    EXPECT_EQ(game.state().move_cooldown, 0);
  }
}

TEST(Freeway, CrossingRewardsAndRerandomisesKeepingPositions) {
  Freeway game = MakeQuietGame();
  Freeway::State& s = game.mutable_state();
  s.chicken_row = 1;
  s.move_cooldown = 0;
  for (int i = 0; i < 8; ++i) s.cars[i] = {i, -5, 5};
  Rng rng(77);
  Rng expected = rng;
  int magnitude[8];
  for (int& m : magnitude) m = expected.UniformRange(1, 5);
  bool negative[8];
  for (bool& n : negative) n = expected.Uniform() < 0.5;

  EXPECT_EQ(game.Act(kUp, rng), 1);
  EXPECT_TRUE(rng == expected);
  EXPECT_EQ(game.state().chicken_row, 9);
  for (int i = 0; i < 8; ++i) {
    const auto& car = game.state().cars[i];
    EXPECT_EQ(car.x, i) << "positions are kept";
    EXPECT_EQ(car.speed, negative[i] ? -magnitude[i] : magnitude[i]);
    // Timer set to the new |v|, then decremented by this step's car update.
    EXPECT_EQ(car.timer, magnitude[i] - 1);
  }
}

TEST(Freeway, NoCrossingNoDraws) {
  Freeway game = MakeQuietGame();
  Rng rng(8);
  const Rng before = rng;
  for (int step = 0; step < 50; ++step) game.Act(kNoop, rng);
  EXPECT_TRUE(rng == before);
}

TEST(Freeway, HitBeforeCarMoves) {
  Freeway game = MakeQuietGame();
  Freeway::State& s = game.mutable_state();
  s.chicken_row = 4;
  s.move_cooldown = 2;
  s.cars[3] = {4, 1, 3};  // row 4, on the chicken, not moving this step
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  EXPECT_EQ(game.state().chicken_row, 9);
}

TEST(Freeway, HitBeforeCarMovesAway) {
  Freeway game = MakeQuietGame();
  Freeway::State& s = game.mutable_state();
  s.chicken_row = 4;
  s.move_cooldown = 2;
  s.cars[3] = {4, 1, 0};  // on the chicken and about to drive off
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_EQ(game.state().chicken_row, 9);
  EXPECT_EQ(game.state().cars[3].x, 5);
}

TEST(Freeway, HitAfterCarMoves) {
  for (int speed : {1, -2}) {
    Freeway game = MakeQuietGame();
    Freeway::State& s = game.mutable_state();
    s.chicken_row = 6;
    s.move_cooldown = 2;
    s.cars[5] = {speed > 0 ? 3 : 5, speed, 0};  // row 6, moves onto column 4
    Rng rng(0);
    game.Act(kNoop, rng);
    EXPECT_EQ(game.state().cars[5].x, 4);
    EXPECT_EQ(game.state().chicken_row, 9) << speed;
  }
}

TEST(Freeway, NoHitWhenCarStaysAdjacent) {
  Freeway game = MakeQuietGame();
  Freeway::State& s = game.mutable_state();
  s.chicken_row = 6;
  s.move_cooldown = 2;
  s.cars[5] = {3, 1, 1};  // next to the chicken but not moving yet
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_EQ(game.state().chicken_row, 6);
}

TEST(Freeway, ChickenMovingIntoCarIsHit) {
  // The chicken's move comes first, then the car check on the new row.
  Freeway game = MakeQuietGame();
  Freeway::State& s = game.mutable_state();
  s.chicken_row = 8;
  s.move_cooldown = 0;
  s.cars[6] = {4, 5, 5};  // row 7, column 4, not moving
  Rng rng(0);
  game.Act(kUp, rng);
  EXPECT_EQ(game.state().chicken_row, 9);
}

TEST(Freeway, TerminatesWhenTimeGoesNegative) {
  Freeway game = MakeQuietGame();
  game.mutable_state().time_left = 1;
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_FALSE(game.terminal());
  EXPECT_EQ(game.state().time_left, 0);
  game.Act(kNoop, rng);
  EXPECT_TRUE(game.terminal());
}

TEST(Freeway, CrossingOnLastStepStillScores) {
  Freeway game = MakeQuietGame();
  Freeway::State& s = game.mutable_state();
  s.time_left = 0;
  s.chicken_row = 1;
  s.move_cooldown = 0;
  Rng rng(0);
  EXPECT_EQ(game.Act(kUp, rng), 1);
  EXPECT_TRUE(game.terminal());
}

TEST(Freeway, AfterTerminationNothingChanges) {
  Freeway game = MakeQuietGame();
  Freeway::State& s = game.mutable_state();
  s.time_left = 0;
  Rng rng(0);
  game.Act(kNoop, rng);
  ASSERT_TRUE(game.terminal());
  // A state that would score and move cars if the game were live.
  s.chicken_row = 1;
  s.move_cooldown = 0;
  s.cars[0].timer = 0;
  ExpectFrozenAfterTermination(game, rng);
}
TEST(Freeway, CloneHasIdenticalFuture) {
  Freeway game(true);
  Rng rng(21);
  Rng policy(22);
  game.Reset(rng);
  for (int step = 0; step < 700; ++step) {
    game.Act(static_cast<int>(policy.UniformInt(6)), rng);
  }
  ExpectCloneHasIdenticalFuture(game, rng, policy, 3000);
}
TEST(Freeway, RandomRolloutInvariants) {
  Freeway game(true);
  Rng rng(31);
  Rng policy(32);
  game.Reset(rng);
  int episodes = 0;
  int total_reward = 0;
  Obs obs(kChannels * 100);
  for (int step = 0; step < 30000; ++step) {
    const int reward = game.Act(static_cast<int>(policy.UniformInt(6)), rng);
    ASSERT_TRUE(reward == 0 || reward == 1);
    total_reward += reward;
    std::fill(obs.begin(), obs.end(), 9);
    game.Render(obs.data());
    for (uint8_t v : obs) ASSERT_LE(v, 1);
    ASSERT_EQ(CountChannel(obs, 0), 1);
    ASSERT_EQ(At(obs, 0, game.state().chicken_row, 4), 1);
    ASSERT_EQ(CountChannel(obs, 1), 8);
    int trails = 0;
    for (int c = 2; c < 7; ++c) trails += CountChannel(obs, c);
    ASSERT_EQ(trails, 8);
    for (int y : {0, 9}) {
      for (int c = 1; c < 7; ++c) {
        for (int x = 0; x < 10; ++x) ASSERT_EQ(At(obs, c, y, x), 0);
      }
    }
    for (const auto& car : game.state().cars) {
      ASSERT_GE(car.x, 0);
      ASSERT_LT(car.x, 10);
      ASSERT_GE(car.timer, 0);
      ASSERT_LE(car.timer, car.speed > 0 ? car.speed : -car.speed);
    }
    if (game.terminal()) {
      ++episodes;
      game.Reset(rng);
    }
  }
  EXPECT_EQ(episodes, 30000 / 2501);
  EXPECT_GE(total_reward, 0);
}

}  // namespace
}  // namespace tokrl::minatar
