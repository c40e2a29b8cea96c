#include "tokrl/env/minatar/seaquest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"
#include "tokrl/env/minatar/testing.h"

namespace tokrl::minatar {
namespace {

using State = Seaquest::State;
using Cells = std::set<std::pair<int, int>>;  // (row, column)

constexpr int kObsSize = Seaquest::kNumChannels * ObsWriter::kCells;

Cells ChannelCells(const std::vector<uint8_t>& obs, int channel) {
  Cells cells;
  for (int y = 0; y < kGridSize; ++y) {
    for (int x = 0; x < kGridSize; ++x) {
      if (obs[channel * ObsWriter::kCells + y * kGridSize + x]) {
        cells.insert({y, x});
      }
    }
  }
  return cells;
}

Cells Row9(int from, int to) {  // columns [from, to)
  Cells cells;
  for (int x = from; x < to; ++x) cells.insert({9, x});
  return cells;
}

// A game whose spawn timers will not reach 0 during a test, so no random
// numbers are drawn and only the crafted entities exist.
Seaquest Quiet(bool ramping = true) {
  Seaquest game(ramping);
  Rng rng(0);
  game.Reset(rng);
  game.mutable_state().enemy_spawn_timer = 100000;
  game.mutable_state().diver_spawn_timer = 100000;
  return game;
}

// Places the sub submerged (so surfacing rules apply on the way up).
void Submerge(Seaquest& game, int x, int y) {
  State& s = game.mutable_state();
  s.sub_x = x;
  s.sub_y = y;
  s.at_surface = false;
}

Rng Advanced(Rng rng, int draws) {
  for (int i = 0; i < draws; ++i) rng.NextU64();
  return rng;
}

TEST(Seaquest, ResetStateAndObservation) {
  Seaquest game(true);
  Rng rng(123);
  const Rng before = rng;
  game.Reset(rng);
  EXPECT_EQ(rng, before) << "reset draws nothing";
  const State& s = game.state();
  EXPECT_EQ(s.sub_x, 5);
  EXPECT_EQ(s.sub_y, 0);
  EXPECT_FALSE(s.sub_right);
  EXPECT_EQ(s.oxygen, 200);
  EXPECT_EQ(s.diver_count, 0);
  EXPECT_TRUE(s.friendly_bullets.empty());
  EXPECT_TRUE(s.enemy_bullets.empty());
  EXPECT_TRUE(s.fish.empty());
  EXPECT_TRUE(s.subs.empty());
  EXPECT_TRUE(s.divers.empty());
  EXPECT_EQ(s.enemy_spawn_interval, 20);
  EXPECT_EQ(s.enemy_spawn_timer, 20);
  EXPECT_EQ(s.diver_spawn_timer, 30);
  EXPECT_EQ(s.move_speed, 5);
  EXPECT_EQ(s.ramp_index, 0);
  EXPECT_EQ(s.shot_cooldown, 0);
  EXPECT_TRUE(s.at_surface);
  EXPECT_FALSE(game.terminal());
  EXPECT_EQ(game.difficulty_ramp(), 0);

  std::vector<uint8_t> expected(kObsSize, 0);
  expected[Seaquest::kSubFront * 100 + 0 * 10 + 5] = 1;
  expected[Seaquest::kSubBack * 100 + 0 * 10 + 6] = 1;
  for (int x = 0; x < 10; ++x)
    expected[Seaquest::kOxygenGauge * 100 + 90 + x] = 1;
  EXPECT_EQ(RenderObs(game), expected);
}

TEST(Seaquest, Interface) {
  Seaquest game(false);
  EXPECT_STREQ(game.name(), "seaquest");
  EXPECT_EQ(game.num_channels(), 10);
  EXPECT_EQ(game.minimal_action_set(), (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_FALSE(game.ramping());
  EXPECT_TRUE(Seaquest(true).ramping());
}

TEST(Seaquest, ResetRestoresInitialStateAfterPlay) {
  Seaquest game(true);
  Rng rng(5);
  game.Reset(rng);
  for (int t = 0; t < 40 && !game.terminal(); ++t) game.Act(t % 6, rng);
  game.mutable_state().ramp_index = 3;
  game.mutable_state().diver_count = -2;
  game.Reset(rng);
  EXPECT_EQ(game.state(), State{});
}

TEST(Seaquest, SpawnAttemptsAtSteps21And41And61DiversAt31And61) {
  Seaquest game(true);
  Rng rng(7);
  game.Reset(rng);
  std::vector<int> draw_steps;
  for (int step = 1; step <= 100; ++step) {
    const Rng before = rng;
    EXPECT_EQ(game.Act(kNoop, rng), 0);
    ASSERT_FALSE(game.terminal()) << "the surface is safe";
    if (!(rng == before)) {
      draw_steps.push_back(step);
      // Three draws per enemy attempt, two per diver spawn.
      int draws = 0;
      if (step % 20 == 1) draws += 3;
      if (step % 30 == 1) draws += 2;
      EXPECT_EQ(rng, Advanced(before, draws)) << "step " << step;
    }
  }
  EXPECT_EQ(draw_steps, (std::vector<int>{21, 31, 41, 61, 81, 91}));
}

TEST(Seaquest, EnemySpawnDrawOrderAndPlacement) {
  bool seen[2][2] = {};  // [is_sub][right]
  for (uint64_t seed = 0; seed < 64; ++seed) {
    Seaquest game = Quiet();
    game.mutable_state().enemy_spawn_timer = 0;
    Rng rng(seed);
    Rng peek = rng;
    const bool right = peek.Uniform() < 0.5;
    const bool is_sub = peek.Uniform() < 1.0 / 3.0;
    const int row = peek.UniformRange(1, 8);
    game.Act(kNoop, rng);
    EXPECT_EQ(rng, peek);
    const State& s = game.state();
    const int x = right ? 0 : 9;
    if (is_sub) {
      ASSERT_EQ(s.subs.size(), 1);
      EXPECT_TRUE(s.fish.empty());
      // Timers were set (5 and 10) and decremented once in the same step.
      EXPECT_EQ(s.subs[0], (Seaquest::EnemySub{x, row, right, 4, 9}));
    } else {
      ASSERT_EQ(s.fish.size(), 1);
      EXPECT_TRUE(s.subs.empty());
      EXPECT_EQ(s.fish[0], (Seaquest::Swimmer{x, row, right, 4}));
    }
    EXPECT_EQ(s.enemy_spawn_timer, 19);
    seen[is_sub][right] = true;
  }
  EXPECT_TRUE(seen[0][0] && seen[0][1] && seen[1][0] && seen[1][1]);
}

TEST(Seaquest, NewEnemyUsesCurrentMoveSpeedAndSpawnInterval) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.enemy_spawn_timer = 0;
  s.enemy_spawn_interval = 7;
  s.move_speed = 3;
  Rng rng(1);
  game.Act(kNoop, rng);
  EXPECT_EQ(game.state().enemy_spawn_timer, 6);
  const int timer = game.state().fish.empty() ? game.state().subs[0].move_timer
                                              : game.state().fish[0].move_timer;
  EXPECT_EQ(timer, 2);
}

TEST(Seaquest, DiverSpawnDrawOrderAndPlacement) {
  bool seen[2] = {};
  for (uint64_t seed = 0; seed < 16; ++seed) {
    Seaquest game = Quiet();
    game.mutable_state().diver_spawn_timer = 0;
    Rng rng(seed);
    Rng peek = rng;
    const bool right = peek.Uniform() < 0.5;
    const int row = peek.UniformRange(1, 8);
    game.Act(kNoop, rng);
    EXPECT_EQ(rng, peek);
    ASSERT_EQ(game.state().divers.size(), 1);
    EXPECT_EQ(game.state().divers[0],
              (Seaquest::Swimmer{right ? 0 : 9, row, right, 4}));
    EXPECT_EQ(game.state().diver_spawn_timer, 29);
    seen[right] = true;
  }
  EXPECT_TRUE(seen[0] && seen[1]);
}

TEST(Seaquest, EnemyThenDiverDrawsInOneStep) {
  Seaquest game = Quiet();
  game.mutable_state().enemy_spawn_timer = 0;
  game.mutable_state().diver_spawn_timer = 0;
  Rng rng(99);
  Rng peek = rng;
  peek.Uniform();
  peek.Uniform();
  const int enemy_row = peek.UniformRange(1, 8);
  const bool diver_right = peek.Uniform() < 0.5;
  const int diver_row = peek.UniformRange(1, 8);
  game.Act(kNoop, rng);
  EXPECT_EQ(rng, peek);
  const State& s = game.state();
  EXPECT_EQ(s.fish.size() + s.subs.size(), 1);
  EXPECT_EQ(s.fish.empty() ? s.subs[0].y : s.fish[0].y, enemy_row);
  ASSERT_EQ(s.divers.size(), 1);
  EXPECT_EQ(s.divers[0].right, diver_right);
  EXPECT_EQ(s.divers[0].y, diver_row);
}

// The row and direction the next enemy spawn attempt will draw from rng.
std::pair<int, bool> PeekEnemySpawn(const Rng& rng) {
  Rng peek = rng;
  const bool right = peek.Uniform() < 0.5;
  peek.Uniform();
  return {peek.UniformRange(1, 8), right};
}

TEST(Seaquest, SpawnCancelledByOppositeEnemyInRowButDrawsAllThree) {
  for (int blocker = 0; blocker < 2; ++blocker) {  // 0 fish, 1 sub
    Seaquest game = Quiet();
    game.mutable_state().enemy_spawn_timer = 0;
    Rng rng(11 + blocker);
    const auto [row, right] = PeekEnemySpawn(rng);
    // An opposite-direction enemy in the row, mid-grid and slow.
    if (blocker == 0) {
      game.mutable_state().fish.push_back({4, row, !right, 3});
    } else {
      game.mutable_state().subs.push_back({4, row, !right, 3, 3});
    }
    game.Act(kNoop, rng);
    EXPECT_EQ(rng, Advanced(Rng(11 + blocker), 3));
    EXPECT_EQ(game.state().fish.size() + game.state().subs.size(), 1);
    EXPECT_EQ(game.state().enemy_spawn_timer, 19) << "reloaded anyway";
  }
}

TEST(Seaquest, SpawnNotCancelledBySameDirectionOtherRowOrDiver) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.enemy_spawn_timer = 0;
  Rng rng(21);
  const auto [row, right] = PeekEnemySpawn(rng);
  s.fish.push_back({4, row, right, 3});                // same direction
  s.fish.push_back({4, row == 1 ? 2 : 1, !right, 3});  // other row
  s.divers.push_back({4, row, !right, 3});             // a diver
  game.Act(kNoop, rng);
  EXPECT_EQ(game.state().fish.size() + game.state().subs.size(), 3);
}

TEST(Seaquest, EnemySpawnedOnPlayerIsCaughtTheSameStep) {
  Seaquest game = Quiet();
  Rng rng(3);
  const auto [row, right] = PeekEnemySpawn(rng);
  Submerge(game, right ? 0 : 9, row);
  game.mutable_state().enemy_spawn_timer = 0;
  game.Act(kNoop, rng);
  EXPECT_TRUE(game.terminal());
}

TEST(Seaquest, EnemiesAndDiversMoveEvery6StepsFirstMove5AfterSpawn) {
  Seaquest game(true);
  Rng rng(17);
  game.Reset(rng);
  for (int step = 1; step <= 21; ++step) game.Act(kNoop, rng);
  // The step-21 enemy stays the oldest of its list.
  const bool is_sub = game.state().fish.empty();
  auto enemy_x = [&game, is_sub]() {
    const State& s = game.state();
    return is_sub ? s.subs[0].x : s.fish[0].x;
  };
  std::vector<int> enemy_moves;
  std::vector<int> diver_moves;
  int last_enemy = enemy_x();
  int last_diver = -100;
  for (int step = 22; step <= 79; ++step) {
    game.Act(kNoop, rng);
    ASSERT_FALSE(game.terminal());
    ASSERT_FALSE(is_sub ? game.state().subs.empty()
                        : game.state().fish.empty());
    if (enemy_x() != last_enemy) enemy_moves.push_back(step);
    last_enemy = enemy_x();
    if (step >= 31) {
      const int x = game.state().divers[0].x;
      if (step > 31 && x != last_diver) diver_moves.push_back(step);
      last_diver = x;
    }
  }
  EXPECT_EQ(enemy_moves,
            (std::vector<int>{26, 32, 38, 44, 50, 56, 62, 68, 74}));
  EXPECT_EQ(diver_moves, (std::vector<int>{36, 42, 48, 54, 60, 66, 72, 78}));
}

TEST(Seaquest, EnemySubFiresEvery11StepsFirstShot10AfterSpawn) {
  // Find a seed whose step-21 spawn is a sub.
  for (uint64_t seed = 0;; ++seed) {
    ASSERT_LT(seed, 100u);
    Seaquest game(true);
    Rng rng(seed);
    game.Reset(rng);
    for (int step = 1; step <= 21; ++step) game.Act(kNoop, rng);
    if (game.state().subs.empty()) continue;
    const bool right = game.state().subs[0].right;
    std::vector<int> shots;
    for (int step = 22; step <= 79; ++step) {
      game.Act(kNoop, rng);
      const Seaquest::EnemySub& sub = game.state().subs[0];
      if (sub.shot_timer == 10) {
        shots.push_back(step);
        // The oldest sub fires last, so its bullet is the newest; it moved
        // immediately and shows one cell ahead of the sub (unless that is
        // off the grid, as for the shot from column 9 or 0 at step 75).
        const int ahead = sub.x + (right ? 1 : -1);
        if (step < 75) {
          ASSERT_FALSE(game.state().enemy_bullets.empty());
          EXPECT_EQ(game.state().enemy_bullets.end()[-1],
                    (Seaquest::Bullet{ahead, sub.y, right}));
        } else {
          EXPECT_TRUE(ahead < 0 || ahead > 9);
        }
      }
    }
    EXPECT_EQ(shots, (std::vector<int>{31, 42, 53, 64, 75}));
    return;
  }
}

TEST(Seaquest, PlayerCanFireEvery5Steps) {
  Seaquest game = Quiet();
  Rng rng(0);
  std::vector<int> shots;
  for (int step = 1; step <= 20; ++step) {
    game.Act(kFire, rng);
    for (const auto& b : game.state().friendly_bullets) {
      // Fired at column 5 facing left, so a new bullet shows at column 4.
      if (b.x == 4) shots.push_back(step);
    }
  }
  EXPECT_EQ(shots, (std::vector<int>{1, 6, 11, 16}));
  EXPECT_EQ(game.state().sub_x, 5) << "fire never moves the sub";
}

TEST(Seaquest, FireDuringCooldownDoesNothing) {
  Seaquest game = Quiet();
  game.mutable_state().shot_cooldown = 3;
  const State before = game.state();
  Rng rng(0);
  game.Act(kFire, rng);
  State expected = before;
  expected.shot_cooldown = 2;
  expected.enemy_spawn_timer -= 1;
  expected.diver_spawn_timer -= 1;
  EXPECT_EQ(game.state(), expected);
}

TEST(Seaquest, FiredBulletMovesImmediately) {
  for (bool right : {false, true}) {
    Seaquest game = Quiet();
    Submerge(game, 5, 3);
    game.mutable_state().sub_right = right;
    Rng rng(0);
    game.Act(kFire, rng);
    ASSERT_EQ(game.state().friendly_bullets.size(), 1);
    EXPECT_EQ(game.state().friendly_bullets[0],
              (Seaquest::Bullet{right ? 6 : 4, 3, right}));
    EXPECT_EQ(game.state().shot_cooldown, 4);
  }
  // Fired from the edge outwards: gone at once, cooldown still spent.
  Seaquest game = Quiet();
  game.mutable_state().sub_x = 0;
  Rng rng(0);
  game.Act(kFire, rng);
  EXPECT_TRUE(game.state().friendly_bullets.empty());
  EXPECT_EQ(game.state().shot_cooldown, 4);
}

TEST(Seaquest, PlayerMovementClampsAndFacing) {
  Seaquest game = Quiet();
  Rng rng(0);
  State& s = game.mutable_state();
  game.Act(kUp, rng);
  EXPECT_EQ(s.sub_y, 0);
  game.Act(kRight, rng);
  EXPECT_EQ(s.sub_x, 6);
  EXPECT_TRUE(s.sub_right);
  s.sub_x = 9;
  game.Act(kRight, rng);
  EXPECT_EQ(s.sub_x, 9);
  game.Act(kLeft, rng);
  EXPECT_EQ(s.sub_x, 8);
  EXPECT_FALSE(s.sub_right);
  s.sub_x = 0;
  s.sub_right = true;
  game.Act(kLeft, rng);
  EXPECT_EQ(s.sub_x, 0);
  EXPECT_FALSE(s.sub_right) << "left at the wall still turns the sub";
  s.oxygen = 200;
  for (int i = 0; i < 12; ++i) game.Act(kDown, rng);
  EXPECT_EQ(s.sub_y, 8) << "row 9 holds the gauges";
  game.Act(kUp, rng);
  EXPECT_EQ(s.sub_y, 7);
  game.Act(kNoop, rng);
  EXPECT_EQ(s.sub_y, 7);
  EXPECT_EQ(s.sub_x, 0);
}

TEST(Seaquest, FriendlyBulletTakesOldestFishBeforeSub) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.friendly_bullets.push_back({2, 4, true});
  s.subs.push_back({3, 4, false, 3, 3});
  s.fish.push_back({3, 4, false, 3});  // oldest fish: taken
  s.fish.push_back({3, 4, true, 2});   // newer fish: survives
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_TRUE(s.friendly_bullets.empty());
  ASSERT_EQ(s.fish.size(), 1);
  EXPECT_EQ(s.fish[0], (Seaquest::Swimmer{3, 4, true, 1}));
  EXPECT_EQ(s.subs.size(), 1) << "one enemy per bullet";
}

TEST(Seaquest, FriendlyBulletTakesOldestSubWhenNoFish) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.friendly_bullets.push_back({2, 4, true});
  s.subs.push_back({3, 4, false, 3, 3});
  s.subs.push_back({3, 4, true, 3, 3});
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  ASSERT_EQ(s.subs.size(), 1);
  EXPECT_TRUE(s.subs[0].right);
  EXPECT_TRUE(s.friendly_bullets.empty());
}

TEST(Seaquest, FriendlyBulletLeavingGridIsRemoved) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.friendly_bullets.push_back({9, 4, true});
  s.friendly_bullets.push_back({0, 5, false});
  s.friendly_bullets.push_back({8, 6, true});
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  ASSERT_EQ(s.friendly_bullets.size(), 1);
  EXPECT_EQ(s.friendly_bullets[0], (Seaquest::Bullet{9, 6, true}));
}

TEST(Seaquest, FriendlyBulletsRunNewestFirst) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.friendly_bullets.push_back({2, 4, true});   // older, right-moving
  s.friendly_bullets.push_back({4, 4, false});  // newer, left-moving
  s.fish.push_back({3, 4, true, 3});
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_TRUE(s.fish.empty());
  // The newer bullet reached the fish first; the older one passes on.
  ASSERT_EQ(s.friendly_bullets.size(), 1);
  EXPECT_EQ(s.friendly_bullets[0], (Seaquest::Bullet{3, 4, true}));
}

TEST(Seaquest, DiverPickedUpOnFrontCell) {
  Seaquest game = Quiet();
  Submerge(game, 4, 3);
  State& s = game.mutable_state();
  s.divers.push_back({4, 3, true, 0});
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_TRUE(s.divers.empty());
  EXPECT_EQ(s.diver_count, 1);
}

TEST(Seaquest, DiverPickedUpAfterMovingOntoFrontCell) {
  Seaquest game = Quiet();
  Submerge(game, 4, 3);
  State& s = game.mutable_state();
  s.divers.push_back({3, 3, true, 0});
  s.diver_count = -1;  // pickups count up from negative values too
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_TRUE(s.divers.empty());
  EXPECT_EQ(s.diver_count, 0);
}

TEST(Seaquest, DiverNotPickedUpWhenSixCarried) {
  Seaquest game = Quiet();
  Submerge(game, 4, 3);
  State& s = game.mutable_state();
  s.diver_count = 6;
  s.divers.push_back({4, 3, true, 2});
  s.divers.push_back({3, 3, true, 0});
  Rng rng(0);
  game.Act(kNoop, rng);
  ASSERT_EQ(s.divers.size(), 2);
  EXPECT_EQ(s.divers[0], (Seaquest::Swimmer{4, 3, true, 1}));
  EXPECT_EQ(s.divers[1], (Seaquest::Swimmer{4, 3, true, 5}));
  EXPECT_EQ(s.diver_count, 6);
}

TEST(Seaquest, DiversRunNewestFirstAgainstTheCarryLimit) {
  Seaquest game = Quiet();
  Submerge(game, 4, 3);
  State& s = game.mutable_state();
  s.diver_count = 5;
  s.divers.push_back({4, 3, false, 2});  // older: left behind
  s.divers.push_back({4, 3, true, 2});   // newer: picked up
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_EQ(s.diver_count, 6);
  ASSERT_EQ(s.divers.size(), 1);
  EXPECT_EQ(s.divers[0], (Seaquest::Swimmer{4, 3, false, 1}));
}

TEST(Seaquest, DiverLeavingGridIsRemovedAndTimerReloads) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.divers.push_back({0, 3, false, 0});
  s.divers.push_back({5, 4, true, 0});
  Rng rng(0);
  game.Act(kNoop, rng);
  ASSERT_EQ(s.divers.size(), 1);
  EXPECT_EQ(s.divers[0], (Seaquest::Swimmer{6, 4, true, 5}));
}

TEST(Seaquest, EnemyOnPlayerCellIsFatal) {
  for (int kind = 0; kind < 2; ++kind) {
    Seaquest game = Quiet();
    Submerge(game, 4, 3);
    if (kind == 0) {
      game.mutable_state().fish.push_back({4, 3, true, 3});
    } else {
      game.mutable_state().subs.push_back({4, 3, true, 3, 3});
    }
    Rng rng(0);
    game.Act(kNoop, rng);
    EXPECT_TRUE(game.terminal()) << kind;
  }
}

TEST(Seaquest, EnemyMovingOntoPlayerIsFatalAndStays) {
  for (int kind = 0; kind < 2; ++kind) {
    Seaquest game = Quiet();
    Submerge(game, 4, 3);
    State& s = game.mutable_state();
    s.move_speed = 3;
    if (kind == 0) {
      s.fish.push_back({5, 3, false, 0});
    } else {
      s.subs.push_back({5, 3, false, 0, 4});
    }
    Rng rng(0);
    game.Act(kNoop, rng);
    EXPECT_TRUE(game.terminal()) << kind;
    if (kind == 0) {
      EXPECT_EQ(s.fish[0], (Seaquest::Swimmer{4, 3, false, 3}));
    } else {
      EXPECT_EQ(s.subs[0], (Seaquest::EnemySub{4, 3, false, 3, 3}));
    }
  }
}

TEST(Seaquest, EnemyMovingPastPlayerIsNotHit) {
  Seaquest game = Quiet();
  Submerge(game, 4, 3);
  State& s = game.mutable_state();
  s.fish.push_back({2, 3, true, 0});  // moves to column 3, beside the player
  s.fish.push_back({9, 3, true, 0});  // leaves the grid
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_FALSE(game.terminal());
  ASSERT_EQ(s.fish.size(), 1);
  EXPECT_EQ(s.fish[0].x, 3);
}

TEST(Seaquest, EnemyMovingIntoFriendlyBulletDiesTakingOldestBullet) {
  for (int kind = 0; kind < 2; ++kind) {
    Seaquest game = Quiet();
    State& s = game.mutable_state();
    s.friendly_bullets.push_back({2, 4, true});   // older, ends on column 3
    s.friendly_bullets.push_back({4, 4, false});  // newer, ends on column 3
    if (kind == 0) {
      s.fish.push_back({2, 4, true, 0});
    } else {
      s.subs.push_back({2, 4, true, 0, 5});
    }
    Rng rng(0);
    EXPECT_EQ(game.Act(kNoop, rng), 1) << kind;
    EXPECT_TRUE(s.fish.empty());
    EXPECT_TRUE(s.subs.empty());
    ASSERT_EQ(s.friendly_bullets.size(), 1);
    EXPECT_FALSE(s.friendly_bullets[0].right) << "the oldest bullet is used";
  }
}

TEST(Seaquest, EnemySubFiresOnTheStepItDies) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.friendly_bullets.push_back({5, 4, false});  // moves to (4, 4) first
  s.subs.push_back({3, 4, true, 0, 0});         // moves into it and fires
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_TRUE(s.subs.empty());
  EXPECT_TRUE(s.friendly_bullets.empty());
  ASSERT_EQ(s.enemy_bullets.size(), 1);
  EXPECT_EQ(s.enemy_bullets[0], (Seaquest::Bullet{5, 4, true}));
}

TEST(Seaquest, EnemySubShotFromOffGridVanishes) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.subs.push_back({9, 4, true, 0, 0});
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_TRUE(s.subs.empty());
  EXPECT_TRUE(s.enemy_bullets.empty());
}

TEST(Seaquest, SubKilledByFriendlyBulletPhaseDoesNotFire) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.friendly_bullets.push_back({2, 4, true});
  s.subs.push_back({3, 4, true, 3, 0});
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_TRUE(s.enemy_bullets.empty());
}

TEST(Seaquest, EnemySubTimersAndMoveSpeedReload) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.move_speed = 2;
  s.subs.push_back({4, 4, false, 0, 7});
  s.subs.push_back({4, 5, true, 3, 0});
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_EQ(s.subs[0], (Seaquest::EnemySub{3, 4, false, 2, 6}));
  EXPECT_EQ(s.subs[1], (Seaquest::EnemySub{4, 5, true, 2, 10}));
  ASSERT_EQ(s.enemy_bullets.size(), 1);
  EXPECT_EQ(s.enemy_bullets[0], (Seaquest::Bullet{5, 5, true}));
}

TEST(Seaquest, EnemyBulletHitsPlayerBeforeOrAfterMoving) {
  {
    Seaquest game = Quiet();
    Submerge(game, 4, 3);
    game.mutable_state().enemy_bullets.push_back({4, 3, true});  // on player
    Rng rng(0);
    game.Act(kNoop, rng);
    EXPECT_TRUE(game.terminal());
  }
  {
    Seaquest game = Quiet();
    Submerge(game, 4, 3);
    game.mutable_state().enemy_bullets.push_back({5, 3, false});  // moves on
    Rng rng(0);
    game.Act(kNoop, rng);
    EXPECT_TRUE(game.terminal());
  }
  {
    Seaquest game = Quiet();
    Submerge(game, 4, 3);
    State& s = game.mutable_state();
    s.enemy_bullets.push_back({5, 3, true});   // moving away
    s.enemy_bullets.push_back({0, 3, false});  // leaves the grid
    Rng rng(0);
    game.Act(kNoop, rng);
    EXPECT_FALSE(game.terminal());
    ASSERT_EQ(s.enemy_bullets.size(), 1);
    EXPECT_EQ(s.enemy_bullets[0], (Seaquest::Bullet{6, 3, true}));
  }
}

TEST(Seaquest, EnemyBulletAgainstAMovingPlayer) {
  // The player moves before bullets do. Stepping onto a bullet's cell is
  // caught by the test before the bullet moves.
  {
    Seaquest game = Quiet();
    Submerge(game, 4, 3);
    game.mutable_state().enemy_bullets.push_back({5, 3, false});
    Rng rng(0);
    game.Act(kRight, rng);
    EXPECT_TRUE(game.terminal());
  }
  // Moving away in front of a bullet: it lands on the cell just left.
  {
    Seaquest game = Quiet();
    Submerge(game, 4, 3);
    game.mutable_state().enemy_bullets.push_back({5, 3, false});
    Rng rng(0);
    game.Act(kLeft, rng);
    EXPECT_FALSE(game.terminal());
    EXPECT_EQ(game.state().enemy_bullets[0].x, 4);
  }
}

TEST(Seaquest, OxygenRunsOutOnThe201stSubmergedStep) {
  Seaquest game = Quiet();
  Rng rng(0);
  game.Act(kDown, rng);  // submerged step 1
  for (int step = 2; step <= 200; ++step) {
    game.Act(kNoop, rng);
    ASSERT_FALSE(game.terminal()) << step;
  }
  EXPECT_EQ(game.state().oxygen, 0);
  EXPECT_TRUE(ChannelCells(RenderObs(game), Seaquest::kOxygenGauge).empty());
  game.Act(kNoop, rng);
  EXPECT_TRUE(game.terminal());
  // The step still ran to the end: oxygen went below zero.
  EXPECT_EQ(game.state().oxygen, -1);
  EXPECT_TRUE(ChannelCells(RenderObs(game), Seaquest::kOxygenGauge).empty());
}

TEST(Seaquest, TerminalStepStillCountsLaterRewards) {
  Seaquest game = Quiet();
  Submerge(game, 4, 3);
  State& s = game.mutable_state();
  s.enemy_bullets.push_back({4, 3, true});  // kills the player in phase 7
  s.fish.push_back({7, 6, false, 0});       // dies in phase 8 afterwards
  s.friendly_bullets.push_back({5, 6, true});
  Rng rng(0);
  EXPECT_EQ(game.Act(kNoop, rng), 1);
  EXPECT_TRUE(game.terminal());
  EXPECT_TRUE(s.fish.empty());
}

TEST(Seaquest, StayingAtSurfaceKeepsOxygenAndLife) {
  Seaquest game = Quiet();
  game.mutable_state().oxygen = 37;
  Rng rng(0);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(game.Act(kNoop, rng), 0);
  EXPECT_FALSE(game.terminal());
  EXPECT_EQ(game.state().oxygen, 37);
}

TEST(Seaquest, ShortestEpisodeIsDownThenUp) {
  Seaquest game(true);
  Rng rng(0);
  game.Reset(rng);
  EXPECT_EQ(game.Act(kDown, rng), 0);
  EXPECT_FALSE(game.terminal());
  EXPECT_FALSE(game.state().at_surface);
  EXPECT_EQ(game.state().oxygen, 199);
  EXPECT_EQ(game.Act(kUp, rng), 0);
  EXPECT_TRUE(game.terminal());
}

TEST(Seaquest, SurfacingWithSixDiversThenAgainWithMinusOne) {
  Seaquest game = Quiet();
  Submerge(game, 5, 1);
  State& s = game.mutable_state();
  s.diver_count = 6;
  s.oxygen = 150;
  Rng rng(0);
  EXPECT_EQ(game.Act(kUp, rng), 7);  // floor(150 * 10 / 200)
  EXPECT_FALSE(game.terminal());
  EXPECT_EQ(s.diver_count, -1);
  EXPECT_EQ(s.oxygen, 200);
  EXPECT_TRUE(s.at_surface);
  EXPECT_TRUE(ChannelCells(RenderObs(game), Seaquest::kDiverGauge).empty());
  EXPECT_EQ(game.Act(kDown, rng), 0);
  EXPECT_EQ(game.Act(kUp, rng), 0);
  EXPECT_FALSE(game.terminal()) << "only a count of exactly 0 is fatal";
  EXPECT_EQ(s.diver_count, -2);
  EXPECT_EQ(s.oxygen, 200);
}

TEST(Seaquest, SurfacingWithSomeDiversRefillsWithoutReward) {
  Seaquest game = Quiet();
  Submerge(game, 5, 1);
  State& s = game.mutable_state();
  s.diver_count = 3;
  s.oxygen = 12;
  Rng rng(0);
  EXPECT_EQ(game.Act(kUp, rng), 0);
  EXPECT_FALSE(game.terminal());
  EXPECT_EQ(s.diver_count, 2);
  EXPECT_EQ(s.oxygen, 200);
  EXPECT_TRUE(s.at_surface);
  // At the surface again: nothing more happens.
  EXPECT_EQ(game.Act(kNoop, rng), 0);
  EXPECT_EQ(s.diver_count, 2);
}

TEST(Seaquest, SurfacingBonusUsesOxygenBeforeRefill) {
  const std::pair<int, int> cases[] = {{199, 9}, {150, 7}, {39, 1},
                                       {20, 1},  {19, 0},  {1, 0}};
  for (const auto& [oxygen, bonus] : cases) {
    Seaquest game = Quiet();
    Submerge(game, 5, 1);
    game.mutable_state().diver_count = 6;
    game.mutable_state().oxygen = oxygen;
    Rng rng(0);
    EXPECT_EQ(game.Act(kUp, rng), bonus) << oxygen;
    EXPECT_EQ(game.state().diver_count, -1);
  }
}

TEST(Seaquest, RampingOnEachSurfacing) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.diver_count = -1;  // surfacing never fatal from here on
  Rng rng(0);
  // (interval, move_speed) after each surfacing.
  std::vector<std::pair<int, int>> got;
  for (int i = 0; i < 22; ++i) {
    game.Act(kDown, rng);
    game.Act(kUp, rng);
    ASSERT_FALSE(game.terminal());
    got.push_back({s.enemy_spawn_interval, s.move_speed});
  }
  const std::vector<std::pair<int, int>> expected = {
      {19, 5}, {18, 4}, {17, 4}, {16, 3}, {15, 3}, {14, 2}, {13, 2}, {12, 2},
      {11, 2}, {10, 2}, {9, 2},  {8, 2},  {7, 2},  {6, 2},  {5, 2},  {4, 2},
      {3, 2},  {2, 2},  {1, 2},  {1, 2},  {1, 2},  {1, 2}};
  EXPECT_EQ(got, expected);
  EXPECT_EQ(s.ramp_index, 19);
  EXPECT_EQ(game.difficulty_ramp(), 19);
  EXPECT_EQ(s.diver_count, -23);
}

TEST(Seaquest, RampingConditionAndOddIndexRule) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.diver_count = -1;
  s.enemy_spawn_interval = 1;
  s.move_speed = 4;
  s.ramp_index = 8;  // even: speed stays
  Rng rng(0);
  game.Act(kDown, rng);
  game.Act(kUp, rng);
  EXPECT_EQ(s.move_speed, 4);
  EXPECT_EQ(s.enemy_spawn_interval, 1);
  EXPECT_EQ(s.ramp_index, 9);
  game.Act(kDown, rng);
  game.Act(kUp, rng);  // odd: speed 3
  EXPECT_EQ(s.move_speed, 3);
  EXPECT_EQ(s.ramp_index, 10);
}

TEST(Seaquest, NoRampingWhenFlagOff) {
  Seaquest game = Quiet(/*ramping=*/false);
  State& s = game.mutable_state();
  s.diver_count = -1;
  Rng rng(0);
  for (int i = 0; i < 5; ++i) {
    game.Act(kDown, rng);
    game.Act(kUp, rng);
  }
  EXPECT_FALSE(game.terminal());
  EXPECT_EQ(s.enemy_spawn_interval, 20);
  EXPECT_EQ(s.move_speed, 5);
  EXPECT_EQ(game.difficulty_ramp(), 0);
}

TEST(Seaquest, TimersDecrementOnlyWhenPositive) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.enemy_spawn_timer = 2;
  s.diver_spawn_timer = 1;
  s.shot_cooldown = 1;
  Rng rng(0);
  game.Act(kNoop, rng);
  EXPECT_EQ(s.enemy_spawn_timer, 1);
  EXPECT_EQ(s.diver_spawn_timer, 0);
  EXPECT_EQ(s.shot_cooldown, 0);
  game.Act(kLeft, rng);  // diver spawns: timer reloaded to 30, then 29
  EXPECT_EQ(s.enemy_spawn_timer, 0);
  EXPECT_EQ(s.diver_spawn_timer, 29);
  EXPECT_EQ(s.shot_cooldown, 0);
}

TEST(Seaquest, RenderCraftedState) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  s.sub_x = 3;
  s.sub_y = 2;
  s.sub_right = true;
  s.oxygen = 105;     // 5 bars
  s.diver_count = 3;  // columns 6..8
  s.friendly_bullets.push_back({6, 2, true});
  s.enemy_bullets.push_back({1, 7, false});
  s.fish.push_back({0, 4, false, 1});     // trail at column 1
  s.fish.push_back({0, 5, true, 1});      // trail off-grid: not wrapped to 9
  s.subs.push_back({9, 6, false, 1, 1});  // trail off-grid: not wrapped to 0
  s.subs.push_back({5, 7, true, 1, 1});   // trail at column 4
  s.divers.push_back({8, 8, true, 1});    // trail at column 7
  const std::vector<uint8_t> obs = RenderObs(game);
  for (uint8_t v : obs) ASSERT_LE(v, 1);
  EXPECT_EQ(ChannelCells(obs, Seaquest::kSubFront), (Cells{{2, 3}}));
  EXPECT_EQ(ChannelCells(obs, Seaquest::kSubBack), (Cells{{2, 2}}));
  EXPECT_EQ(ChannelCells(obs, Seaquest::kFriendlyBullet), (Cells{{2, 6}}));
  EXPECT_EQ(ChannelCells(obs, Seaquest::kEnemyBullet), (Cells{{7, 1}}));
  EXPECT_EQ(ChannelCells(obs, Seaquest::kEnemyFish), (Cells{{4, 0}, {5, 0}}));
  EXPECT_EQ(ChannelCells(obs, Seaquest::kEnemySub), (Cells{{6, 9}, {7, 5}}));
  EXPECT_EQ(ChannelCells(obs, Seaquest::kDiver), (Cells{{8, 8}}));
  EXPECT_EQ(ChannelCells(obs, Seaquest::kTrail),
            (Cells{{4, 1}, {7, 4}, {8, 7}}));
  EXPECT_EQ(ChannelCells(obs, Seaquest::kOxygenGauge), Row9(0, 5));
  EXPECT_EQ(ChannelCells(obs, Seaquest::kDiverGauge), Row9(6, 9));
}

TEST(Seaquest, RenderBackCellFacingLeft) {
  Seaquest game = Quiet();
  game.mutable_state().sub_x = 0;
  const std::vector<uint8_t> obs = RenderObs(game);
  EXPECT_EQ(ChannelCells(obs, Seaquest::kSubBack), (Cells{{0, 1}}));
}

TEST(Seaquest, RenderGauges) {
  const std::pair<int, int> oxygen_cases[] = {
      {200, 10}, {199, 9}, {39, 1}, {20, 1}, {19, 0}, {0, 0}, {-1, 0}};
  for (const auto& [oxygen, bars] : oxygen_cases) {
    Seaquest game = Quiet();
    game.mutable_state().oxygen = oxygen;
    EXPECT_EQ(ChannelCells(RenderObs(game), Seaquest::kOxygenGauge),
              Row9(0, bars))
        << oxygen;
  }
  const std::pair<int, Cells> diver_cases[] = {
      {6, Row9(3, 9)}, {1, Row9(8, 9)}, {0, {}}, {-1, {}}, {-5, {}}};
  for (const auto& [count, cells] : diver_cases) {
    Seaquest game = Quiet();
    game.mutable_state().diver_count = count;
    EXPECT_EQ(ChannelCells(RenderObs(game), Seaquest::kDiverGauge), cells)
        << count;
  }
}

TEST(Seaquest, AfterTerminationNothingChanges) {
  Seaquest game(true);
  Rng rng(0);
  game.Reset(rng);
  game.Act(kDown, rng);
  game.Act(kUp, rng);
  ASSERT_TRUE(game.terminal());
  State& s = game.mutable_state();
  s.fish.push_back({4, 4, true, 0});
  s.friendly_bullets.push_back({3, 4, true});
  s.enemy_spawn_timer = 0;
  s.diver_spawn_timer = 0;
  s.diver_count = 6;
  ExpectFrozenAfterTermination(game, rng);
}
TEST(Seaquest, CloneGivesIdenticalFutures) {
  Seaquest game(true);
  Rng rng(42);
  game.Reset(rng);
  Rng policy(7);
  for (int t = 0; t < 60; ++t) {
    // Stay mostly near the top so the game lasts a while.
    game.Act(t % 2 ? static_cast<int>(kFire)
                   : static_cast<int>(policy.UniformInt(4)),
             rng);
    if (game.terminal()) game.Reset(rng);
  }
  ExpectCloneHasIdenticalFuture(game, rng, policy, 2000);
  // The clone is independent: stepping one leaves the other alone.
  std::unique_ptr<Game> clone = game.Clone();
  const State saved = static_cast<const Seaquest&>(*clone).state();
  game.Act(kDown, rng);
  EXPECT_EQ(static_cast<const Seaquest&>(*clone).state(), saved);
}

void CheckRandomRollouts(bool ramping, uint64_t seed) {
  Seaquest game(ramping);
  Rng rng(seed);
  Rng policy(seed + 1000);
  game.Reset(rng);
  std::vector<uint8_t> obs(kObsSize);
  int episodes = 0;
  int episode_steps = 0;
  int shortest = 1 << 30;
  int64_t total_reward = 0;
  for (int step = 0; step < 100000; ++step) {
    const int action = static_cast<int>(policy.UniformInt(6));
    const int reward = game.Act(action, rng);
    ++episode_steps;
    ASSERT_GE(reward, 0);
    ASSERT_LE(reward, 10);
    total_reward += reward;
    game.Render(obs.data());
    int front = 0;
    for (int i = 0; i < kObsSize; ++i) ASSERT_LE(obs[i], 1) << i;
    int back = 0;
    for (int i = 0; i < ObsWriter::kCells; ++i) {
      front += obs[Seaquest::kSubFront * ObsWriter::kCells + i];
      back += obs[Seaquest::kSubBack * ObsWriter::kCells + i];
    }
    ASSERT_EQ(front, 1);
    ASSERT_EQ(back, 1);
    const State& s = game.state();
    ASSERT_LE(s.diver_count, 6);
    ASSERT_LE(s.oxygen, 200);
    ASSERT_GE(s.oxygen, -1);
    ASSERT_LE(s.friendly_bullets.size(), 2);
    ASSERT_LE(s.divers.size(), 2);
    ASSERT_LE(s.fish.size() + s.subs.size(), 60);
    ASSERT_LE(s.enemy_bullets.size(), 60);
    for (const auto& f : s.fish) ASSERT_TRUE(f.y >= 1 && f.y <= 8);
    for (const auto& e : s.subs) ASSERT_TRUE(e.y >= 1 && e.y <= 8);
    if (game.terminal() || episode_steps >= 5000) {
      if (game.terminal()) shortest = std::min(shortest, episode_steps);
      ++episodes;
      episode_steps = 0;
      game.Reset(rng);
    }
  }
  EXPECT_GT(episodes, 100);
  EXPECT_GT(total_reward, 0);
  EXPECT_GE(shortest, 2);
}

TEST(Seaquest, RandomRolloutInvariants) {
  CheckRandomRollouts(true, 1);
  CheckRandomRollouts(false, 2);
}

TEST(Seaquest, ListOverflowThrows) {
  Seaquest game = Quiet();
  State& s = game.mutable_state();
  for (int i = 0; i < Seaquest::kMaxFriendlyBullets; ++i) {
    s.friendly_bullets.push_back({i, 3, true});
  }
  EXPECT_THROW(s.friendly_bullets.push_back({0, 3, true}), Error);
}

}  // namespace
}  // namespace tokrl::minatar
