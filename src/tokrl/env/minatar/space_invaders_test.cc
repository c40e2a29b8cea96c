#include "tokrl/env/minatar/space_invaders.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "tokrl/env/minatar/testing.h"

namespace tokrl::minatar {
namespace {

constexpr int kChannels = 6;
using State = SpaceInvaders::State;

int Count(const SpaceInvaders::Grid& grid) {
  int n = 0;
  for (int y = 0; y < 10; ++y) {
    for (int x = 0; x < 10; ++x) n += State::Get(grid, y, x);
  }
  return n;
}

void Clear(SpaceInvaders::Grid& grid) { std::memset(grid, 0, sizeof(grid)); }

bool SameGrid(const SpaceInvaders::Grid& a, const SpaceInvaders::Grid& b) {
  return std::memcmp(a, b, sizeof(SpaceInvaders::Grid)) == 0;
}

// A game with no aliens except the ones a test places, and timers far from
// firing so that only the rule under test acts.
SpaceInvaders MakeEmptyGame(bool ramping = true) {
  SpaceInvaders game(ramping);
  State& s = game.mutable_state();
  Clear(s.aliens);
  s.move_timer = 100;
  s.shot_timer = 100;
  return game;
}

int RunEpisode(SpaceInvaders& game, Rng& rng, Rng& policy, int max_steps,
               int* ret) {
  Rng unused(0);
  game.Reset(unused);
  int steps = 0;
  *ret = 0;
  while (!game.terminal() && steps < max_steps) {
    *ret += game.Act(static_cast<int>(policy.UniformInt(6)), rng);
    ++steps;
  }
  return steps;
}

// A scripted player that clears waves now and then, so that rollouts reach
// the ramping code: with probability `eps` a uniformly random action,
// otherwise walk under the nearest alien column and fire, stepping aside from
// falling bullets. Unless eps is 1 (purely random), a move onto a cell that
// is about to be hit is replaced by a safe one.
int ColumnAfter(const State& s, int action) {
  if (action == kLeft) return std::max(0, s.cannon - 1);
  if (action == kRight) return std::min(9, s.cannon + 1);
  return s.cannon;
}

bool Safe(const State& s, int action) {
  const int x = ColumnAfter(s, action);
  return !State::Get(s.enemy_bullets, 8, x) && !State::Get(s.aliens, 8, x) &&
         !State::Get(s.aliens, 9, x);
}

int HunterAction(const State& s, Rng& policy, double eps) {
  int action;
  if (policy.Uniform() < eps) {
    action = static_cast<int>(policy.UniformInt(6));
  } else {
    uint16_t columns = 0;
    for (uint16_t row : s.aliens) columns |= row;
    int best = -1;
    for (int x = 0; x < 10; ++x) {
      if (((columns >> x) & 1) &&
          (best < 0 || std::abs(x - s.cannon) < std::abs(best - s.cannon))) {
        best = x;
      }
    }
    action = best < 0 || best == s.cannon ? kFire
             : best < s.cannon            ? kLeft
                                          : kRight;
    if (State::Get(s.enemy_bullets, 6, s.cannon) ||
        State::Get(s.enemy_bullets, 7, s.cannon)) {
      action = s.cannon > 0 ? kLeft : kRight;
    }
  }
  if (eps >= 1.0 || Safe(s, action)) return action;  // eps 1: pure random
  for (int other : {kFire, kLeft, kRight}) {
    if (Safe(s, other)) return other;
  }
  return action;
}

TEST(SpaceInvaders, Metadata) {
  SpaceInvaders game(true);
  EXPECT_STREQ(game.name(), "space_invaders");
  EXPECT_EQ(game.num_channels(), 6);
  EXPECT_EQ(game.minimal_action_set(), (std::vector<int>{0, 1, 3, 5}));
  EXPECT_EQ(game.difficulty_ramp(), 0);
  EXPECT_TRUE(game.ramping());
  EXPECT_FALSE(SpaceInvaders(false).ramping());
}

TEST(SpaceInvaders, ResetState) {
  SpaceInvaders game(true);
  Rng rng(1);
  for (int i = 0; i < 30; ++i) game.Act(kFire, rng);  // dirty the state
  const Rng before = rng;
  game.Reset(rng);
  EXPECT_TRUE(rng == before) << "Reset draws nothing";
  const State& s = game.state();
  EXPECT_EQ(s.cannon, 5);
  EXPECT_EQ(s.alien_direction, -1);
  EXPECT_EQ(s.move_interval, 12);
  EXPECT_EQ(s.move_timer, 12);
  EXPECT_EQ(s.shot_timer, 10);
  EXPECT_EQ(s.shot_cooldown, 0);
  EXPECT_EQ(s.ramp_index, 0);
  EXPECT_FALSE(game.terminal());
  EXPECT_EQ(s.NumAliens(), 24);
  for (int y = 0; y < 10; ++y) {
    for (int x = 0; x < 10; ++x) {
      EXPECT_EQ(State::Get(s.aliens, y, x), y <= 3 && x >= 2 && x <= 7);
    }
  }
  EXPECT_EQ(Count(s.friendly_bullets), 0);
  EXPECT_EQ(Count(s.enemy_bullets), 0);
}

TEST(SpaceInvaders, InitialObservation) {
  SpaceInvaders game(true);
  const Obs obs = RenderObs(game);
  for (uint8_t v : obs) EXPECT_LE(v, 1);
  EXPECT_EQ(CountChannel(obs, 0), 1);
  EXPECT_EQ(At(obs, 0, 9, 5), 1);
  EXPECT_EQ(CountChannel(obs, 1), 24);
  EXPECT_EQ(CountChannel(obs, 2), 24);  // moving left
  EXPECT_EQ(CountChannel(obs, 3), 0);
  EXPECT_EQ(CountChannel(obs, 4), 0);
  EXPECT_EQ(CountChannel(obs, 5), 0);
  for (int y = 0; y < 10; ++y) {
    for (int x = 0; x < 10; ++x) {
      const int alien = y <= 3 && x >= 2 && x <= 7;
      EXPECT_EQ(At(obs, 1, y, x), alien);
      EXPECT_EQ(At(obs, 2, y, x), alien);
    }
  }
}

TEST(SpaceInvaders, ObservationChannels) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  s.cannon = 2;
  s.alien_direction = 1;
  State::Set(s.aliens, 4, 7, true);
  State::Set(s.friendly_bullets, 6, 1, true);
  State::Set(s.enemy_bullets, 8, 3, true);
  const Obs obs = RenderObs(game);
  EXPECT_EQ(At(obs, 0, 9, 2), 1);
  EXPECT_EQ(At(obs, 1, 4, 7), 1);
  EXPECT_EQ(CountChannel(obs, 2), 0);
  EXPECT_EQ(At(obs, 3, 4, 7), 1);
  EXPECT_EQ(At(obs, 4, 6, 1), 1);
  EXPECT_EQ(At(obs, 5, 8, 3), 1);
  int total = 0;
  for (uint8_t v : obs) total += v;
  EXPECT_EQ(total, 5);
}

TEST(SpaceInvaders, UsesNoRandomness) {
  SpaceInvaders game(true);
  Rng rng(3);
  Rng policy(4);
  const Rng before = rng;
  for (int step = 0; step < 2000; ++step) {
    game.Act(static_cast<int>(policy.UniformInt(6)), rng);
    if (game.terminal()) game.Reset(rng);
  }
  EXPECT_TRUE(rng == before);
}

TEST(SpaceInvaders, FireCreatesBulletAndCooldown) {
  SpaceInvaders game = MakeEmptyGame();
  State::Set(game.mutable_state().aliens, 0, 9, true);  // no new wave
  game.mutable_state().cannon = 3;
  Rng rng(0);
  game.Act(kFire, rng);
  const State& s = game.state();
  // Placed on row 9, then moved up with the other bullets in the same step.
  EXPECT_TRUE(State::Get(s.friendly_bullets, 8, 3));
  EXPECT_EQ(Count(s.friendly_bullets), 1);
  EXPECT_EQ(s.shot_cooldown, 4);
  EXPECT_EQ(s.cannon, 3);
  // Fire while cooling down: no bullet and no move.
  for (int i = 0; i < 4; ++i) game.Act(kFire, rng);
  EXPECT_EQ(Count(s.friendly_bullets), 1);
  EXPECT_TRUE(State::Get(s.friendly_bullets, 4, 3));
  EXPECT_EQ(s.shot_cooldown, 0);
  game.Act(kFire, rng);
  EXPECT_EQ(Count(s.friendly_bullets), 2);
  EXPECT_TRUE(State::Get(s.friendly_bullets, 8, 3));
}

TEST(SpaceInvaders, CannonMovesAndClamps) {
  SpaceInvaders game = MakeEmptyGame();
  State::Set(game.mutable_state().aliens, 0, 9, true);  // no new wave
  Rng rng(0);
  game.Act(kLeft, rng);
  EXPECT_EQ(game.state().cannon, 4);
  game.Act(kUp, rng);
  game.Act(kDown, rng);
  game.Act(kNoop, rng);
  EXPECT_EQ(game.state().cannon, 4);
  for (int i = 0; i < 8; ++i) game.Act(kLeft, rng);
  EXPECT_EQ(game.state().cannon, 0);
  for (int i = 0; i < 12; ++i) game.Act(kRight, rng);
  EXPECT_EQ(game.state().cannon, 9);
}

TEST(SpaceInvaders, FriendlyBulletsVanishAtTop) {
  SpaceInvaders game = MakeEmptyGame();
  State::Set(game.mutable_state().aliens, 0, 9, true);  // no new wave
  State& s = game.mutable_state();
  State::Set(s.friendly_bullets, 0, 4, true);
  State::Set(s.friendly_bullets, 1, 6, true);
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_EQ(Count(s.friendly_bullets), 1);
  EXPECT_TRUE(State::Get(s.friendly_bullets, 0, 6));
  game.Act(kNoop, rng);
  EXPECT_EQ(Count(s.friendly_bullets), 0);
}

TEST(SpaceInvaders, EnemyBulletsVanishAtBottom) {
  SpaceInvaders game = MakeEmptyGame();
  State::Set(game.mutable_state().aliens, 0, 9, true);  // no new wave
  State& s = game.mutable_state();
  s.cannon = 0;
  State::Set(s.enemy_bullets, 9, 4, true);
  State::Set(s.enemy_bullets, 7, 6, true);
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_EQ(Count(s.enemy_bullets), 1);
  EXPECT_TRUE(State::Get(s.enemy_bullets, 8, 6));
  EXPECT_FALSE(State::Get(s.enemy_bullets, 0, 4)) << "no wrap-around";
  game.Act(kNoop, rng);
  EXPECT_TRUE(State::Get(s.enemy_bullets, 9, 6));
  game.Act(kNoop, rng);
  EXPECT_EQ(Count(s.enemy_bullets), 0);
  EXPECT_FALSE(game.terminal());
}

TEST(SpaceInvaders, EnemyBulletHitsCannon) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 0, 0, true);
  State::Set(s.enemy_bullets, 8, 5, true);
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_TRUE(game.terminal());
}

TEST(SpaceInvaders, CannonDodgesBulletByMoving) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 0, 0, true);
  State::Set(s.enemy_bullets, 8, 5, true);
  Rng rng(0);
  game.Act(kRight, rng);  // the cannon moves before the bullet lands
  EXPECT_FALSE(game.terminal());
}

TEST(SpaceInvaders, CannonWalkingIntoBulletDies) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 0, 0, true);
  State::Set(s.enemy_bullets, 8, 6, true);
  Rng rng(0);
  game.Act(kRight, rng);
  EXPECT_TRUE(game.terminal());
}

TEST(SpaceInvaders, AlienOnCannonCellIsTerminal) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 9, 5, true);
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_TRUE(game.terminal());
}

TEST(SpaceInvaders, AlienOnRow9ElsewhereIsNotTerminal) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 9, 2, true);
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_FALSE(game.terminal());
}

TEST(SpaceInvaders, BlockShiftsSideways) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 2, 3, true);
  State::Set(s.aliens, 5, 8, true);
  s.move_timer = 0;
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_TRUE(State::Get(s.aliens, 2, 2));
  EXPECT_TRUE(State::Get(s.aliens, 5, 7));
  EXPECT_EQ(s.NumAliens(), 2);
  EXPECT_EQ(s.alien_direction, -1);
  s.alien_direction = 1;
  s.move_timer = 0;
  game.Act(kNoop, rng);
  EXPECT_TRUE(State::Get(s.aliens, 2, 3));
  EXPECT_TRUE(State::Get(s.aliens, 5, 8));
  EXPECT_EQ(s.NumAliens(), 2);
}

TEST(SpaceInvaders, BlockAtWallDescendsAndReverses) {
  for (int direction : {-1, 1}) {
    SpaceInvaders game = MakeEmptyGame();
    State& s = game.mutable_state();
    const int wall = direction < 0 ? 0 : 9;
    State::Set(s.aliens, 3, wall, true);
    State::Set(s.aliens, 1, 5, true);
    s.alien_direction = direction;
    s.move_timer = 0;
    Rng rng(0);
    game.Act(kNoop, rng);
    EXPECT_EQ(s.alien_direction, -direction);
    EXPECT_TRUE(State::Get(s.aliens, 4, wall));
    EXPECT_TRUE(State::Get(s.aliens, 2, 5));
    EXPECT_EQ(s.NumAliens(), 2);
    EXPECT_FALSE(game.terminal());
  }
}

TEST(SpaceInvaders, WallOnTheOtherSideDoesNotTriggerDescent) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 3, 9, true);  // right wall while moving left
  s.move_timer = 0;
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_TRUE(State::Get(s.aliens, 3, 8));
  EXPECT_EQ(s.alien_direction, -1);
}

TEST(SpaceInvaders, DescentWithAlienOnRow9IsTerminal) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 9, 0, true);  // cannon is at column 5
  State::Set(s.aliens, 4, 1, true);
  s.move_timer = 0;
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_TRUE(game.terminal());
  EXPECT_EQ(s.alien_direction, 1);
  EXPECT_TRUE(State::Get(s.aliens, 5, 1));
  // The documented choice: the rows roll, so the row-9 alien reappears on
  // row 0.
  EXPECT_TRUE(State::Get(s.aliens, 0, 0));
  EXPECT_EQ(s.NumAliens(), 2);
}

TEST(SpaceInvaders, BlockMovingOntoCannonIsTerminal) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 9, 6, true);
  s.move_timer = 0;
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_TRUE(State::Get(s.aliens, 9, 5));
  EXPECT_TRUE(game.terminal());
}

TEST(SpaceInvaders, MoveTimerReloadsWithMinOfAliensAndInterval) {
  for (int aliens : {1, 3, 11, 12, 20}) {
    SpaceInvaders game = MakeEmptyGame();
    State& s = game.mutable_state();
    for (int i = 0; i < aliens; ++i) State::Set(s.aliens, i / 8, 1 + i % 8, 1);
    s.move_timer = 0;
    Rng rng(0);
    game.Act(kNoop, rng);
    EXPECT_EQ(s.move_timer, std::min(aliens, 12) - 1) << aliens;
  }
}

TEST(SpaceInvaders, MoveTimerCountsAliensBeforeHits) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 2, 4, true);
  State::Set(s.aliens, 2, 6, true);
  State::Set(s.aliens, 2, 8, true);
  State::Set(s.friendly_bullets, 3, 3, true);  // meets the shifted alien
  s.move_timer = 0;
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_EQ(s.NumAliens(), 2);
  EXPECT_EQ(s.move_timer, 2);  // reloaded with 3, then decremented
}

TEST(SpaceInvaders, ShooterIsLowestAlienInNearestColumnTiesLeft) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  s.cannon = 5;
  State::Set(s.aliens, 0, 3, true);
  State::Set(s.aliens, 2, 3, true);
  State::Set(s.aliens, 4, 7, true);  // same distance, to the right
  State::Set(s.aliens, 6, 0, true);  // lower but farther
  s.shot_timer = 0;
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_EQ(Count(s.enemy_bullets), 1);
  EXPECT_TRUE(State::Get(s.enemy_bullets, 2, 3));
  EXPECT_EQ(s.shot_timer, 9);
  // The bullet starts moving on the next step.
  game.Act(kNoop, rng);
  EXPECT_TRUE(State::Get(s.enemy_bullets, 3, 3));
}

TEST(SpaceInvaders, ShooterColumnUnderCannonWins) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  s.cannon = 5;
  State::Set(s.aliens, 1, 5, true);
  State::Set(s.aliens, 3, 4, true);
  State::Set(s.aliens, 3, 6, true);
  s.shot_timer = 0;
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_TRUE(State::Get(s.enemy_bullets, 1, 5));
  EXPECT_EQ(Count(s.enemy_bullets), 1);
}

TEST(SpaceInvaders, ShooterUsesPositionsAfterTheBlockMoved) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  s.cannon = 5;
  State::Set(s.aliens, 2, 7, true);
  State::Set(s.aliens, 2, 2, true);
  s.move_timer = 0;
  s.shot_timer = 0;
  Rng rng(0);
  game.Act(kNoop, rng);
  // After the left shift the aliens are in columns 1 and 6; 6 is nearer.
  EXPECT_TRUE(State::Get(s.enemy_bullets, 2, 6));
}

TEST(SpaceInvaders, HitRemovesBothAndRewards) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 5, 4, true);
  State::Set(s.aliens, 5, 6, true);
  State::Set(s.aliens, 1, 1, true);
  State::Set(s.friendly_bullets, 6, 4, true);
  State::Set(s.friendly_bullets, 6, 6, true);
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 2);
  EXPECT_EQ(s.NumAliens(), 1);
  EXPECT_EQ(Count(s.friendly_bullets), 0);
}

TEST(SpaceInvaders, HitAfterBlockShift) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 5, 5, true);
  State::Set(s.aliens, 0, 0 + 8, true);
  State::Set(s.friendly_bullets, 6, 4, true);  // alien shifts left onto it
  s.move_timer = 0;
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_FALSE(State::Get(s.aliens, 5, 4));
}

TEST(SpaceInvaders, BulletAndDescendingAlienSwapWithoutHit) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 4, 0, true);  // at the left wall: descends
  State::Set(s.friendly_bullets, 5, 0, true);
  s.move_timer = 0;
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  EXPECT_TRUE(State::Get(s.aliens, 5, 0));
  EXPECT_TRUE(State::Get(s.friendly_bullets, 4, 0));
}

TEST(SpaceInvaders, BulletsDoNotInteract) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 0, 0, true);
  State::Set(s.friendly_bullets, 5, 3, true);
  State::Set(s.enemy_bullets, 3, 3, true);
  Rng rng(0);
  game.Act(kNoop, rng);  // they meet in row 4
  EXPECT_TRUE(State::Get(s.friendly_bullets, 4, 3));
  EXPECT_TRUE(State::Get(s.enemy_bullets, 4, 3));
  game.Act(kNoop, rng);  // and pass through each other
  EXPECT_TRUE(State::Get(s.friendly_bullets, 3, 3));
  EXPECT_TRUE(State::Get(s.enemy_bullets, 5, 3));
}

TEST(SpaceInvaders, TimersDecrement) {
  SpaceInvaders game(true);
  Rng rng(0);
  game.Act(kFire, rng);
  EXPECT_EQ(game.state().shot_cooldown, 4);
  EXPECT_EQ(game.state().move_timer, 11);
  EXPECT_EQ(game.state().shot_timer, 9);
}

TEST(SpaceInvaders, NewWaveRampsAndCarriesDirectionAndTimer) {
  for (bool ramping : {true, false}) {
    SpaceInvaders game = MakeEmptyGame(ramping);
    State& s = game.mutable_state();
    State::Set(s.aliens, 3, 3, true);
    State::Set(s.friendly_bullets, 4, 3, true);
    s.alien_direction = 1;
    s.move_timer = 7;
    Rng rng(0);
    EXPECT_EQ(game.Act(kNoop, rng), 1);
    EXPECT_EQ(s.NumAliens(), 24);
    for (int y = 0; y < 10; ++y) {
      for (int x = 0; x < 10; ++x) {
        EXPECT_EQ(State::Get(s.aliens, y, x), y <= 3 && x >= 2 && x <= 7);
      }
    }
    EXPECT_EQ(s.alien_direction, 1);
    EXPECT_EQ(s.move_timer, 6);
    EXPECT_EQ(s.move_interval, ramping ? 11 : 12);
    EXPECT_EQ(s.ramp_index, ramping ? 1 : 0);
    EXPECT_EQ(game.difficulty_ramp(), ramping ? 1 : 0);
    EXPECT_FALSE(game.terminal());
  }
}

TEST(SpaceInvaders, RampFloorIsSix) {
  SpaceInvaders game = MakeEmptyGame(true);
  State& s = game.mutable_state();
  for (int wave = 0; wave < 10; ++wave) {
    Clear(s.aliens);
    State::Set(s.aliens, 3, 3, true);
    State::Set(s.friendly_bullets, 4, 3, true);
    s.move_timer = 100;
    s.shot_timer = 100;
    Clear(s.enemy_bullets);
    Rng rng(0);
    ASSERT_EQ(game.Act(kNoop, rng), 1);
    EXPECT_EQ(s.move_interval, std::max(6, 11 - wave));
    EXPECT_EQ(s.ramp_index, std::min(6, wave + 1));
  }
}

TEST(SpaceInvaders, ResetClearsRampButKeepsFlag) {
  SpaceInvaders game = MakeEmptyGame(true);
  game.mutable_state().move_interval = 8;
  game.mutable_state().ramp_index = 4;
  Rng rng(0);
  game.Reset(rng);
  EXPECT_EQ(game.state().move_interval, 12);
  EXPECT_EQ(game.difficulty_ramp(), 0);
  EXPECT_TRUE(game.ramping());
}

// Steps (1-based) at which the block moves / the aliens shoot from reset,
// with enemy bullets removed each step so that the cannon survives.
TEST(SpaceInvaders, VerifiedTimingMoveAndShoot) {
  SpaceInvaders game(true);
  Rng rng(0);
  std::vector<int> moves;
  std::vector<int> shots;
  for (int step = 1; step <= 40; ++step) {
    SpaceInvaders::Grid before;
    std::memcpy(before, game.state().aliens, sizeof(before));
    Clear(game.mutable_state().enemy_bullets);
    game.Act(kNoop, rng);
    ASSERT_FALSE(game.terminal());
    if (!SameGrid(before, game.state().aliens)) moves.push_back(step);
    if (Count(game.state().enemy_bullets) > 0) shots.push_back(step);
  }
  EXPECT_EQ(moves, (std::vector<int>{13, 25, 37}));
  EXPECT_EQ(shots, (std::vector<int>{11, 21, 31}));
}

TEST(SpaceInvaders, VerifiedTimingFewAliensMoveEveryKSteps) {
  for (int k = 1; k < 12; ++k) {
    SpaceInvaders game(true);
    State& s = game.mutable_state();
    Clear(s.aliens);
    for (int i = 0; i < k; ++i) State::Set(s.aliens, i / 6, 2 + i % 6, true);
    Rng rng(0);
    std::vector<int> moves;
    for (int step = 1; moves.size() < 6; ++step) {
      ASSERT_LT(step, 200);
      SpaceInvaders::Grid before;
      std::memcpy(before, s.aliens, sizeof(before));
      Clear(s.enemy_bullets);
      game.Act(kNoop, rng);
      ASSERT_FALSE(game.terminal());
      ASSERT_EQ(s.NumAliens(), k);
      if (!SameGrid(before, s.aliens)) moves.push_back(step);
    }
    // The first move comes when the initial timer of 12 runs out; after that
    // the reload is min(k, 12) = k.
    EXPECT_EQ(moves[0], 13) << k;
    for (size_t i = 1; i < moves.size(); ++i) {
      EXPECT_EQ(moves[i] - moves[i - 1], k) << "k=" << k;
    }
  }
}

TEST(SpaceInvaders, VerifiedAlwaysFireReturn3Length18) {
  SpaceInvaders game(true);
  Rng rng(5);
  for (int episode = 0; episode < 5; ++episode) {
    game.Reset(rng);
    int steps = 0;
    int ret = 0;
    while (!game.terminal()) {
      ret += game.Act(kFire, rng);
      ++steps;
      ASSERT_LT(steps, 1000);
    }
    EXPECT_EQ(ret, 3);
    EXPECT_EQ(steps, 18);
  }
}

TEST(SpaceInvaders, VerifiedRandomPolicyShortestEpisodeIs17) {
  SpaceInvaders game(true);
  Rng rng(0);
  Rng policy(9);
  int shortest = 1 << 30;
  for (int episode = 0; episode < 2000; ++episode) {
    int ret = 0;
    const int steps = RunEpisode(game, rng, policy, 100000, &ret);
    ASSERT_TRUE(game.terminal());
    shortest = std::min(shortest, steps);
  }
  EXPECT_GE(shortest, 17);
  EXPECT_EQ(shortest, 17);  // reached by some of the 2000 episodes
}

TEST(SpaceInvaders, AfterTerminationNothingChanges) {
  SpaceInvaders game = MakeEmptyGame();
  State& s = game.mutable_state();
  State::Set(s.aliens, 3, 3, true);
  State::Set(s.enemy_bullets, 8, 5, true);
  Rng rng(0);
  game.Act(kNoop, rng);
  ASSERT_TRUE(game.terminal());
  // Arrange for every rule to fire if the game were still live.
  State::Set(s.friendly_bullets, 4, 3, true);
  State::Set(s.enemy_bullets, 2, 2, true);
  s.move_timer = 0;
  s.shot_timer = 0;
  ExpectFrozenAfterTermination(game, rng);
}
TEST(SpaceInvaders, CloneHasIdenticalFuture) {
  SpaceInvaders game(true);
  Rng rng(0);
  Rng policy(41);
  for (int step = 0; step < 15; ++step) {
    game.Act(static_cast<int>(policy.UniformInt(6)), rng);
  }
  ASSERT_FALSE(game.terminal());
  ExpectCloneHasIdenticalFuture(game, rng, policy, 3000);
}
TEST(SpaceInvaders, RandomRolloutInvariants) {
  // eps 1 is the uniformly random policy; eps 0.3 also clears waves.
  struct Config {
    bool ramping;
    double eps;
  };
  for (const Config& config :
       {Config{true, 1.0}, Config{true, 0.3}, Config{false, 0.3}}) {
    const bool ramping = config.ramping;
    SpaceInvaders game(ramping);
    Rng rng(0);
    Rng policy(51);
    int episodes = 0;
    int total_reward = 0;
    int max_ramp = 0;
    Obs obs(kChannels * 100);
    for (int step = 0; step < 50000; ++step) {
      const int action = HunterAction(game.state(), policy, config.eps);
      const int reward = game.Act(action, rng);
      ASSERT_GE(reward, 0);
      ASSERT_LE(reward, 24);
      total_reward += reward;
      const State& s = game.state();
      std::fill(obs.begin(), obs.end(), 9);
      game.Render(obs.data());
      for (uint8_t v : obs) ASSERT_LE(v, 1);
      ASSERT_EQ(CountChannel(obs, 0), 1);
      ASSERT_EQ(At(obs, 0, 9, s.cannon), 1);
      ASSERT_GE(CountChannel(obs, 1), 1);
      ASSERT_EQ(CountChannel(obs, 1),
                CountChannel(obs, 2) + CountChannel(obs, 3));
      ASSERT_EQ(CountChannel(obs, 1), s.NumAliens());
      ASSERT_LE(s.NumAliens(), 24);
      ASSERT_GE(s.move_timer, 0);
      ASSERT_LE(s.move_timer, 12);
      ASSERT_GE(s.shot_timer, 0);
      ASSERT_LE(s.shot_timer, 10);
      ASSERT_GE(s.move_interval, 6);
      ASSERT_EQ(s.move_interval + s.ramp_index, 12);
      max_ramp = std::max(max_ramp, s.ramp_index);
      for (int y = 0; y < 10; ++y) {
        ASSERT_EQ(s.aliens[y] & ~SpaceInvaders::kRowMask, 0);
        ASSERT_EQ(s.friendly_bullets[y] & ~SpaceInvaders::kRowMask, 0);
        ASSERT_EQ(s.enemy_bullets[y] & ~SpaceInvaders::kRowMask, 0);
      }
      if (game.terminal()) {
        ++episodes;
        game.Reset(rng);
      }
    }
    EXPECT_GT(episodes, 50);
    if (ramping && config.eps < 1.0) {
      EXPECT_GT(max_ramp, 0);
    } else if (!ramping) {
      EXPECT_EQ(max_ramp, 0);
    }
    EXPECT_GT(total_reward, 0);
  }
}

}  // namespace
}  // namespace tokrl::minatar
