#include "tokrl/env/minatar/asterix.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/env/minatar/testing.h"

namespace tokrl::minatar {
namespace {

using Entity = Asterix::Entity;
using State = Asterix::State;
Entity MakeEntity(int x, bool moving_right, bool gold) {
  Entity e;
  e.active = true;
  e.x = x;
  e.moving_right = moving_right;
  e.gold = gold;
  return e;
}

// A reset game whose timers are far from firing, for testing one rule at a
// time.
Asterix QuietGame(bool ramping = false) {
  Asterix game(ramping);
  Rng rng(0);
  game.Reset(rng);
  game.mutable_state().spawn_timer = 50;
  game.mutable_state().move_timer = 50;
  return game;
}

TEST(Asterix, Basics) {
  Asterix game(true);
  EXPECT_STREQ(game.name(), "asterix");
  EXPECT_EQ(game.num_channels(), 4);
  EXPECT_EQ(game.minimal_action_set(), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(game.ramping());
  EXPECT_FALSE(Asterix(false).ramping());
}

TEST(Asterix, ResetStateAndObservation) {
  Asterix game(true);
  Rng rng(123);
  const Rng before = rng;
  game.Reset(rng);
  EXPECT_EQ(rng, before) << "reset draws nothing";
  const State& s = game.state();
  EXPECT_EQ(s.player_y, 5);
  EXPECT_EQ(s.player_x, 5);
  for (const Entity& e : s.slots) EXPECT_FALSE(e.active);
  EXPECT_EQ(s.spawn_speed, 10);
  EXPECT_EQ(s.spawn_timer, 10);
  EXPECT_EQ(s.move_speed, 5);
  EXPECT_EQ(s.move_timer, 5);
  EXPECT_EQ(s.ramp_timer, 100);
  EXPECT_EQ(s.ramp_index, 0);
  EXPECT_FALSE(game.terminal());
  EXPECT_EQ(game.difficulty_ramp(), 0);

  const Obs obs = RenderObs(game);
  for (int c = 0; c < 4; ++c) {
    for (int y = 0; y < 10; ++y) {
      for (int x = 0; x < 10; ++x) {
        const int expected = (c == 0 && y == 5 && x == 5) ? 1 : 0;
        EXPECT_EQ(At(obs, c, y, x), expected) << c << " " << y << " " << x;
      }
    }
  }
}

TEST(Asterix, ResetClearsAnyState) {
  Asterix game(true);
  Rng rng(1);
  State& s = game.mutable_state();
  s.player_x = 0;
  s.slots[3] = MakeEntity(4, true, false);
  s.spawn_speed = 3;
  s.ramp_index = 7;
  s.terminal = true;
  game.Reset(rng);
  EXPECT_EQ(game.state(), State{});
}

TEST(Asterix, PlayerMovesAndIsClampedToRows1To8) {
  Asterix game = QuietGame();
  Rng rng(0);
  game.Act(kLeft, rng);
  EXPECT_EQ(game.state().player_x, 4);
  game.Act(kRight, rng);
  game.Act(kRight, rng);
  EXPECT_EQ(game.state().player_x, 6);
  game.Act(kUp, rng);
  EXPECT_EQ(game.state().player_y, 4);
  game.Act(kDown, rng);
  game.Act(kDown, rng);
  EXPECT_EQ(game.state().player_y, 6);

  for (int i = 0; i < 12; ++i) game.Act(kUp, rng);
  EXPECT_EQ(game.state().player_y, 1) << "row 0 is out of reach";
  for (int i = 0; i < 12; ++i) game.Act(kDown, rng);
  EXPECT_EQ(game.state().player_y, 8) << "row 9 is out of reach";
  for (int i = 0; i < 12; ++i) game.Act(kLeft, rng);
  EXPECT_EQ(game.state().player_x, 0);
  for (int i = 0; i < 12; ++i) game.Act(kRight, rng);
  EXPECT_EQ(game.state().player_x, 9);
}

TEST(Asterix, NoopAndFireDoNothingToThePlayer) {
  Asterix game = QuietGame();
  Rng rng(0);
  game.Act(kNoop, rng);
  game.Act(kFire, rng);
  EXPECT_EQ(game.state().player_x, 5);
  EXPECT_EQ(game.state().player_y, 5);
  // Fire changes nothing that no-op does not.
  Asterix a = QuietGame();
  Asterix b = QuietGame();
  a.mutable_state().slots[0] = MakeEntity(3, true, true);
  b.mutable_state().slots[0] = MakeEntity(3, true, true);
  Rng ra(5);
  Rng rb(5);
  for (int i = 0; i < 60; ++i) {
    EXPECT_EQ(a.Act(kNoop, ra), b.Act(kFire, rb));
    EXPECT_EQ(a.state(), b.state());
  }
}

TEST(Asterix, FirstSpawnAttemptAtStep11ThenEverySpawnSpeed) {
  Asterix game(false);
  Rng rng(7);
  game.Reset(rng);
  std::vector<int> attempts;
  for (int step = 1; step <= 60; ++step) {
    game.mutable_state().slots = {};  // keep the player safe
    const Rng before = rng;
    game.Act(kNoop, rng);
    if (!(rng == before)) attempts.push_back(step);
  }
  EXPECT_EQ(attempts, (std::vector<int>{11, 21, 31, 41, 51}));
}

TEST(Asterix, SpawnFollowsDrawOrder) {
  bool seen_right = false, seen_left = false, seen_gold = false,
       seen_enemy = false;
  std::set<int> slots_seen;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    Asterix game = QuietGame();
    game.mutable_state().spawn_timer = 0;
    Rng rng(seed);
    Rng ref = rng;
    const bool right = ref.Uniform() < 0.5;
    const bool gold = ref.Uniform() < 1.0 / 3.0;
    const int slot = static_cast<int>(ref.UniformInt(8));
    EXPECT_EQ(game.Act(kNoop, rng), 0);
    EXPECT_EQ(rng, ref) << "exactly rand, rand, randint(8)";
    for (int i = 0; i < 8; ++i) {
      if (i == slot) {
        EXPECT_EQ(game.state().slots[i], MakeEntity(right ? 0 : 9, right, gold))
            << seed;
      } else {
        EXPECT_FALSE(game.state().slots[i].active) << seed;
      }
    }
    EXPECT_EQ(game.state().spawn_timer, 9) << "reloaded with 10, then -1";
    seen_right |= right;
    seen_left |= !right;
    seen_gold |= gold;
    seen_enemy |= !gold;
    slots_seen.insert(slot);
  }
  EXPECT_TRUE(seen_right && seen_left && seen_gold && seen_enemy);
  EXPECT_EQ(slots_seen.size(), 8u);
}

TEST(Asterix, SpawnPicksAmongFreeSlotsInIncreasingOrder) {
  const std::array<int, 3> free_slots = {2, 5, 6};
  std::set<int> chosen;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Asterix game = QuietGame();
    State& s = game.mutable_state();
    s.spawn_timer = 0;
    for (int i = 0; i < 8; ++i) {
      if (i != 2 && i != 5 && i != 6) s.slots[i] = MakeEntity(2, false, true);
    }
    const State before = s;
    Rng rng(seed);
    Rng ref = rng;
    const bool right = ref.Uniform() < 0.5;
    const bool gold = ref.Uniform() < 1.0 / 3.0;
    const int slot = free_slots[ref.UniformInt(3)];
    game.Act(kNoop, rng);
    EXPECT_EQ(rng, ref);
    for (int i = 0; i < 8; ++i) {
      if (i == slot) {
        EXPECT_EQ(game.state().slots[i],
                  MakeEntity(right ? 0 : 9, right, gold));
      } else {
        EXPECT_EQ(game.state().slots[i], before.slots[i]);
      }
    }
    chosen.insert(slot);
  }
  EXPECT_EQ(chosen, (std::set<int>{2, 5, 6}));
}

TEST(Asterix, SpawnDrawsEvenWhenAllSlotsAreFull) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Asterix game = QuietGame();
    State& s = game.mutable_state();
    s.spawn_timer = 0;
    for (int i = 0; i < 8; ++i) s.slots[i] = MakeEntity(2, i % 2 == 0, false);
    const State before = s;
    Rng rng(seed);
    Rng ref = rng;
    ref.Uniform();
    ref.Uniform();
    game.Act(kNoop, rng);
    EXPECT_EQ(rng, ref) << "two draws, no randint";
    EXPECT_EQ(game.state().slots, before.slots);
    EXPECT_EQ(game.state().spawn_timer, 9);
  }
}

// Finds a seed whose spawn draws give the wanted direction and kind.
uint64_t SeedForSpawn(bool want_right, bool want_gold) {
  for (uint64_t seed = 0;; ++seed) {
    Rng r(seed);
    const bool right = r.Uniform() < 0.5;
    const bool gold = r.Uniform() < 1.0 / 3.0;
    if (right == want_right && gold == want_gold) return seed;
  }
}

TEST(Asterix, EnemySpawningOnThePlayerKillsInTheFirstPass) {
  Asterix game = QuietGame();
  State& s = game.mutable_state();
  s.spawn_timer = 0;
  s.player_y = 1;
  s.player_x = 1;
  for (int i = 1; i < 8; ++i) s.slots[i] = MakeEntity(5, true, false);
  // Only slot 0 (row 1) is free; a right-mover starts at column 0 and the
  // player steps left onto it.
  Rng rng(SeedForSpawn(/*want_right=*/true, /*want_gold=*/false));
  EXPECT_EQ(game.Act(kLeft, rng), 0);
  EXPECT_TRUE(game.terminal());
  EXPECT_EQ(game.state().slots[0], MakeEntity(0, true, false));
}

TEST(Asterix, GoldSpawningOnThePlayerIsCollected) {
  Asterix game = QuietGame();
  State& s = game.mutable_state();
  s.spawn_timer = 0;
  s.player_y = 8;
  s.player_x = 9;
  for (int i = 0; i < 7; ++i) s.slots[i] = MakeEntity(5, true, false);
  Rng rng(SeedForSpawn(/*want_right=*/false, /*want_gold=*/true));
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_FALSE(game.terminal());
  EXPECT_FALSE(game.state().slots[7].active);
}

TEST(Asterix, EntitiesFirstMoveAtStep6ThenEveryMoveSpeed) {
  Asterix game(false);
  Rng rng(3);
  game.Reset(rng);
  game.mutable_state().slots[0] = MakeEntity(0, true, true);
  std::vector<int> moves;
  int last_x = 0;
  for (int step = 1; step <= 40; ++step) {
    for (int i = 1; i < 8; ++i) game.mutable_state().slots[i] = Entity{};
    game.Act(kNoop, rng);
    ASSERT_TRUE(game.state().slots[0].active);
    if (game.state().slots[0].x != last_x) {
      EXPECT_EQ(game.state().slots[0].x, last_x + 1);
      moves.push_back(step);
      last_x = game.state().slots[0].x;
    }
  }
  EXPECT_EQ(moves, (std::vector<int>{6, 11, 16, 21, 26, 31, 36}));
}

TEST(Asterix, MotionUsesMoveSpeedAndTimersAlwaysDecrement) {
  Asterix game = QuietGame();
  State& s = game.mutable_state();
  s.move_speed = 3;
  s.move_timer = 0;
  s.spawn_speed = 7;
  s.spawn_timer = 0;
  s.slots[0] = MakeEntity(4, false, true);
  s.slots[1] = MakeEntity(4, false, true);  // may be joined by a spawn
  Rng rng(11);
  game.Act(kNoop, rng);
  EXPECT_EQ(game.state().move_timer, 2);
  EXPECT_EQ(game.state().spawn_timer, 6);
  EXPECT_EQ(game.state().slots[0].x, 3);
  game.Act(kNoop, rng);
  EXPECT_EQ(game.state().move_timer, 1);
  EXPECT_EQ(game.state().spawn_timer, 5);
  EXPECT_EQ(game.state().slots[0].x, 3);
  game.Act(kNoop, rng);
  game.Act(kNoop, rng);
  EXPECT_EQ(game.state().slots[0].x, 2) << "period move_speed = 3";
}

TEST(Asterix, EntitiesLeavingTheGridAreRemoved) {
  Asterix game = QuietGame();
  State& s = game.mutable_state();
  s.move_timer = 0;
  s.slots[0] = MakeEntity(9, true, false);
  s.slots[1] = MakeEntity(0, false, true);
  s.slots[2] = MakeEntity(8, true, false);
  s.slots[3] = MakeEntity(1, false, false);
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  EXPECT_FALSE(game.state().slots[0].active);
  EXPECT_FALSE(game.state().slots[1].active);
  EXPECT_EQ(game.state().slots[2], MakeEntity(9, true, false));
  EXPECT_EQ(game.state().slots[3], MakeEntity(0, false, false));
}

TEST(Asterix, FirstPassCollectsGoldBeforeItMovesAway) {
  Asterix game = QuietGame();
  State& s = game.mutable_state();
  s.player_x = 4;
  s.move_timer = 0;
  s.slots[4] = MakeEntity(5, true, true);  // row 5, moves away to 6
  Rng rng(0);
  EXPECT_EQ(game.Act(kRight, rng), 1);
  EXPECT_FALSE(game.state().slots[4].active);
  EXPECT_FALSE(game.terminal());
}

TEST(Asterix, FirstPassEnemyKillsAndTheStepGoesOn) {
  Asterix game = QuietGame(/*ramping=*/true);
  State& s = game.mutable_state();
  s.player_x = 4;
  s.move_timer = 0;
  s.spawn_timer = 3;
  s.slots[4] = MakeEntity(5, true, false);
  s.slots[1] = MakeEntity(7, false, true);
  Rng rng(0);
  EXPECT_EQ(game.Act(kRight, rng), 0);
  EXPECT_TRUE(game.terminal());
  // The enemy is left in place, then moves with the others; timers and the
  // ramp timer still tick.
  EXPECT_EQ(game.state().slots[4], MakeEntity(6, true, false));
  EXPECT_EQ(game.state().slots[1], MakeEntity(6, false, true));
  EXPECT_EQ(game.state().move_timer, 4);
  EXPECT_EQ(game.state().spawn_timer, 2);
  EXPECT_EQ(game.state().ramp_timer, 99);
}

TEST(Asterix, SecondPassCollectsGoldMovingOntoThePlayer) {
  Asterix game = QuietGame();
  State& s = game.mutable_state();
  s.move_timer = 0;
  s.slots[4] = MakeEntity(4, true, true);
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_FALSE(game.state().slots[4].active);
  EXPECT_FALSE(game.terminal());
}

TEST(Asterix, SecondPassEnemyMovingOntoThePlayerKills) {
  Asterix game = QuietGame();
  State& s = game.mutable_state();
  s.move_timer = 0;
  s.slots[4] = MakeEntity(6, false, false);
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  EXPECT_TRUE(game.terminal());
  EXPECT_EQ(game.state().slots[4], MakeEntity(5, false, false));
}

TEST(Asterix, PlayerAndEnemySwappingCellsCollideInTheSecondPass) {
  // Player 4 -> 5 while the enemy 6 -> 5: no first-pass hit, second-pass hit.
  Asterix game = QuietGame();
  State& s = game.mutable_state();
  s.player_x = 4;
  s.move_timer = 0;
  s.slots[4] = MakeEntity(6, false, false);
  Rng rng(0);
  game.Act(kRight, rng);
  EXPECT_TRUE(game.terminal());
}

TEST(Asterix, NoCollisionWhenMovingApart) {
  // The player steps off the enemy's path before it moves.
  Asterix game = QuietGame();
  State& s = game.mutable_state();
  s.move_timer = 0;
  s.slots[4] = MakeEntity(4, true, false);  // would reach (5, 5)
  Rng rng(0);
  game.Act(kUp, rng);
  EXPECT_FALSE(game.terminal());
  // An entity in another row at the player's column does nothing.
  s.slots[2] = MakeEntity(5, true, false);  // row 3; player is in row 4
  s.move_timer = 50;
  game.Act(kNoop, rng);
  EXPECT_FALSE(game.terminal());
}

TEST(Asterix, RampsEvery102StepsWithExactSpeedPairs) {
  Asterix game(true);
  Rng rng(5);
  game.Reset(rng);
  const std::vector<std::pair<int, int>> expected_pairs = {
      {9, 5}, {8, 4}, {7, 4}, {6, 3}, {5, 3}, {4, 2}, {3, 2}, {2, 1}, {1, 1}};
  std::vector<int> ramp_steps;
  std::vector<std::pair<int, int>> pairs;
  for (int step = 1; step <= 1500; ++step) {
    game.mutable_state().slots = {};  // keep the player alive
    const int index_before = game.difficulty_ramp();
    game.Act(kNoop, rng);
    ASSERT_FALSE(game.terminal());
    if (game.difficulty_ramp() != index_before) {
      EXPECT_EQ(game.difficulty_ramp(), index_before + 1);
      ramp_steps.push_back(step);
      pairs.emplace_back(game.state().spawn_speed, game.state().move_speed);
    }
  }
  std::vector<int> expected_steps;
  for (int k = 1; k <= 9; ++k) expected_steps.push_back(102 * k);
  EXPECT_EQ(ramp_steps, expected_steps);
  EXPECT_EQ(pairs, expected_pairs);
  EXPECT_EQ(game.difficulty_ramp(), 9);
  EXPECT_EQ(game.state().ramp_timer, 100) << "frozen once both speeds are 1";
}

TEST(Asterix, FasterSpeedsAfterRampsChangeEventPeriods) {
  // With spawn_speed 1 and move_speed 1 something happens every step.
  Asterix game = QuietGame(/*ramping=*/true);
  State& s = game.mutable_state();
  s.spawn_speed = 1;
  s.spawn_timer = 0;
  s.move_speed = 1;
  s.move_timer = 0;
  s.ramp_index = 9;
  s.ramp_timer = 100;
  for (int step = 0; step < 10; ++step) {
    game.mutable_state().slots = {};
    game.mutable_state().slots[0] = MakeEntity(4, true, true);
    Rng rng(static_cast<uint64_t>(step));
    const Rng before = rng;
    game.Act(kNoop, rng);
    EXPECT_FALSE(rng == before) << "a spawn attempt every step";
    EXPECT_EQ(game.state().slots[0].x, 5) << "a move every step";
    EXPECT_EQ(game.state().spawn_timer, 0);
    EXPECT_EQ(game.state().move_timer, 0);
    EXPECT_EQ(game.state().ramp_timer, 100);
  }
}

TEST(Asterix, RampingOffKeepsInitialSpeeds) {
  Asterix game(false);
  Rng rng(5);
  game.Reset(rng);
  for (int step = 1; step <= 1000; ++step) {
    game.mutable_state().slots = {};
    game.Act(kNoop, rng);
  }
  EXPECT_EQ(game.state().spawn_speed, 10);
  EXPECT_EQ(game.state().move_speed, 5);
  EXPECT_EQ(game.state().ramp_timer, 100);
  EXPECT_EQ(game.difficulty_ramp(), 0);
}

TEST(Asterix, RenderDrawsEntitiesAndNonWrappingTrails) {
  Asterix game = QuietGame();
  State& s = game.mutable_state();
  s.player_y = 8;
  s.player_x = 2;
  s.slots[0] = MakeEntity(0, true, true);    // row 1, trail at -1: none
  s.slots[1] = MakeEntity(3, true, false);   // row 2, trail at 2
  s.slots[2] = MakeEntity(9, false, false);  // row 3, trail at 10: none
  s.slots[3] = MakeEntity(6, false, true);   // row 4, trail at 7
  const Obs obs = RenderObs(game);
  EXPECT_EQ(At(obs, 0, 8, 2), 1);
  EXPECT_EQ(CountChannel(obs, 0), 1);
  EXPECT_EQ(At(obs, 3, 1, 0), 1);
  EXPECT_EQ(At(obs, 1, 2, 3), 1);
  EXPECT_EQ(At(obs, 1, 3, 9), 1);
  EXPECT_EQ(At(obs, 3, 4, 6), 1);
  EXPECT_EQ(CountChannel(obs, 1), 2);
  EXPECT_EQ(CountChannel(obs, 3), 2);
  EXPECT_EQ(At(obs, 2, 2, 2), 1);
  EXPECT_EQ(At(obs, 2, 4, 7), 1);
  EXPECT_EQ(At(obs, 2, 1, 9), 0) << "no wrap for a right-mover at column 0";
  EXPECT_EQ(At(obs, 2, 3, 0), 0) << "no wrap for a left-mover at column 9";
  EXPECT_EQ(CountChannel(obs, 2), 2);
  for (uint8_t v : obs) EXPECT_LE(v, 1);
}

TEST(Asterix, ActAfterTerminationChangesNothing) {
  Asterix game = QuietGame();
  State& s = game.mutable_state();
  s.move_timer = 0;
  s.spawn_timer = 0;
  s.slots[4] = MakeEntity(6, false, false);
  s.slots[2] = MakeEntity(6, false, true);
  Rng rng(0);
  game.Act(kNoop, rng);
  ExpectFrozenAfterTermination(game, rng);
}
TEST(Asterix, CloneGivesIdenticalFutures) {
  Asterix game(true);
  Rng rng(99);
  game.Reset(rng);
  Rng policy(1);
  for (int i = 0; i < 30; ++i)
    game.Act(static_cast<int>(policy.UniformInt(6)), rng);
  ExpectCloneHasIdenticalFuture(game, rng, policy, 2000);
}
TEST(Asterix, ShortestEpisodeIs11Steps) {
  // A random policy never dies before step 11 ...
  Rng policy(2);
  int shortest = 1 << 30;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    Asterix game(true);
    Rng rng(seed);
    game.Reset(rng);
    int steps = 0;
    while (!game.terminal()) {
      game.Act(static_cast<int>(policy.UniformInt(6)), rng);
      ++steps;
    }
    shortest = std::min(shortest, steps);
  }
  EXPECT_GE(shortest, 11);
  // ... and step 11 is reachable: the player waits at column 0 and an
  // enemy spawns onto it.
  bool found = false;
  for (uint64_t seed = 0; seed < 1000 && !found; ++seed) {
    Asterix game(true);
    Rng rng(seed);
    game.Reset(rng);
    int steps = 0;
    while (!game.terminal() && steps < 11) {
      game.Act(kLeft, rng);
      ++steps;
    }
    found = game.terminal() && steps == 11;
  }
  EXPECT_TRUE(found);
}

TEST(Asterix, RandomRolloutKeepsInvariants) {
  Asterix game(true);
  Rng rng(2024);
  Rng policy(17);
  game.Reset(rng);
  int episodes = 0;
  int64_t total_reward = 0;
  for (int step = 0; step < 50000; ++step) {
    if (game.terminal()) {
      game.Reset(rng);
      ++episodes;
    }
    const int reward = game.Act(static_cast<int>(policy.UniformInt(6)), rng);
    ASSERT_GE(reward, 0);
    ASSERT_LE(reward, 1);
    total_reward += reward;
    const State& s = game.state();
    ASSERT_GE(s.player_y, 1);
    ASSERT_LE(s.player_y, 8);
    ASSERT_GE(s.spawn_timer, 0);
    ASSERT_GE(s.move_timer, 0);
    ASSERT_GE(s.spawn_speed, 1);
    ASSERT_GE(s.move_speed, 1);
    ASSERT_LE(game.difficulty_ramp(), 9);
    const Obs obs = RenderObs(game);
    for (uint8_t v : obs) ASSERT_LE(v, 1);
    ASSERT_EQ(CountChannel(obs, 0), 1);
    ASSERT_EQ(At(obs, 0, s.player_y, s.player_x), 1);
    int entities = 0;
    for (int y = 0; y < 10; ++y) {
      int in_row = 0;
      for (int x = 0; x < 10; ++x) {
        ASSERT_LE(At(obs, 1, y, x) + At(obs, 3, y, x), 1);
        in_row += At(obs, 1, y, x) + At(obs, 3, y, x);
      }
      ASSERT_LE(in_row, 1);
      if (y == 0 || y == 9) {
        ASSERT_EQ(in_row, 0);
      }
      entities += in_row;
    }
    ASSERT_LE(entities, 8);
    ASSERT_LE(CountChannel(obs, 2), entities);
  }
  EXPECT_GT(episodes, 100);
  EXPECT_GT(total_reward, 0);
}

}  // namespace
}  // namespace tokrl::minatar
