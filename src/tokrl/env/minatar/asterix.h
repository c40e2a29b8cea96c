// Asterix (MinAtar; Young & Tian 2019), written from the rules in
// shared/spec/minatar.md section 2.1. MinAtar is GPL; no code from it is used.
//
// The player walks around the middle of a 10x10 grid while enemies and gold
// slide horizontally across rows 1-8. Touching gold scores +1; touching an
// enemy ends the episode. With difficulty ramping on, things spawn and move
// faster every 102 steps.
//
// Channels (observation is channels-first, see game.h):
//   0 player   the player's cell
//   1 enemy    each enemy's cell
//   2 trail    the cell behind each entity (column-1 for a right-mover,
//              column+1 for a left-mover), only when that column is inside
//              0-9: the trail never wraps
//   3 gold     each gold's cell
//
// Actions (full set): 0 n no-op, 1 l, 2 u, 3 r, 4 d move the player; 5 f is
// a no-op (the reference keeps a shot cooldown it never uses; we drop it).
// Minimal action set: {0, 1, 2, 3, 4}.
//
// State (see State below):
//   * The player's (row, column). Rows are confined to 1-8, columns to 0-9.
//   * 8 entity slots; slot i always lives in row i + 1, so there is at most
//     one entity per row. An occupied slot has a column, a direction (right
//     or left) and a kind (gold or enemy).
//   * Timers: spawn_speed/spawn_timer, move_speed/move_timer, and for
//     ramping ramp_timer/ramp_index.
//
// Reset (draws nothing from the Rng):
//   player at (row 5, col 5); all slots empty; spawn_speed = spawn_timer =
//   10; move_speed = move_timer = 5; ramp_timer = 100; ramp_index = 0; not
//   terminal.
//
// Act(a), in this order:
//   1. Spawn. If spawn_timer == 0: attempt a spawn, then spawn_timer =
//      spawn_speed. An attempt draws
//        (i)   u1 = rng.Uniform(): moving right iff u1 < 0.5 (a right-mover
//              starts in column 0, a left-mover in column 9);
//        (ii)  u2 = rng.Uniform(): gold iff u2 < 1/3, else enemy;
//        (iii) only if at least one slot is empty: k = rng.UniformInt(n)
//              with n the number of empty slots, and the entity goes into
//              the k-th empty slot counting in increasing slot order.
//      Draws (i) and (ii) are made even when every slot is full (then
//      nothing is placed). A freshly spawned entity can land on the player.
//   2. Player move: l col-1, r col+1 (clamped to 0-9), u row-1, d row+1
//      (clamped to 1-8). n and f do nothing.
//   3. First collision pass, before entities move: for each slot 0..7 whose
//      entity is on the player's cell: gold is removed with reward +1; an
//      enemy makes the game terminal (it stays, and the step goes on).
//   4. Motion. If move_timer == 0: move_timer = move_speed, then for each
//      slot 0..7 the entity moves one column in its direction; it is
//      removed if it leaves columns 0-9, otherwise if it is now on the
//      player's cell, gold is removed with +1 and an enemy makes the game
//      terminal.
//   5. spawn_timer -= 1 and move_timer -= 1, unconditionally.
//   6. Ramping, only if ramping is on and (spawn_speed > 1 or
//      move_speed > 1): if ramp_timer >= 0 decrement it; otherwise ramp:
//      move_speed -= 1 if move_speed > 1 and ramp_index is odd;
//      spawn_speed -= 1 if spawn_speed > 1; ramp_index += 1;
//      ramp_timer = 100.
//   A death does not cut the step short: later passes, timers and ramping
//   still run. Since every row holds at most one entity, at most one touch
//   happens per step (a gold taken in pass 3 is gone before pass 4; an enemy
//   met in pass 3 has moved away by pass 4), so the spec's "gold and death
//   in the same step" cannot actually occur; the step still never stops
//   early, which is what that note guards against.
//
// Resulting timing (checked in asterix_test.cc):
//   * spawn attempts at steps 11, 21, 31, ... (every spawn_speed steps);
//   * entities first move at step 6, then every move_speed steps;
//   * ramps at steps 102, 204, 306, ...; the (spawn_speed, move_speed) pairs
//     after ramps 1..9 are (9,5) (8,4) (7,4) (6,3) (5,3) (4,2) (3,2) (2,1)
//     (1,1), and ramping stops there (ramp_index stays 9);
//   * the shortest episode is 11 steps (an enemy spawning onto the player).
//
// Termination and reward: terminal on contact with an enemy; +1 per gold
// picked up (also in the terminal step); no step cap. After termination
// Act returns 0 and changes nothing (it draws nothing either).
// difficulty_ramp() returns ramp_index.
//
// Performance: all state is fixed-size and lives in the object; Act and
// Render never allocate.
#ifndef TOKRL_ENV_MINATAR_ASTERIX_H_
#define TOKRL_ENV_MINATAR_ASTERIX_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/env/minatar/game.h"

namespace tokrl::minatar {

class Asterix final : public Game {
 public:
  static constexpr int kNumChannels = 4;
  static constexpr int kPlayerChannel = 0;
  static constexpr int kEnemyChannel = 1;
  static constexpr int kTrailChannel = 2;
  static constexpr int kGoldChannel = 3;

  static constexpr int kNumSlots = 8;  // slot i is row i + 1
  static constexpr int kMinPlayerRow = 1;
  static constexpr int kMaxPlayerRow = 8;

  static constexpr int kInitSpawnSpeed = 10;
  static constexpr int kInitMoveSpeed = 5;
  static constexpr int kRampInterval = 100;  // ramps every 102 steps
  static constexpr double kGoldProbability = 1.0 / 3.0;

  // One entity slot. An empty slot is value-initialised (all false/0) so
  // that states compare equal regardless of what used to be there.
  struct Entity {
    bool active = false;
    int x = 0;                  // column, 0-9
    bool moving_right = false;  // else moving left
    bool gold = false;          // else enemy
    friend bool operator==(const Entity&, const Entity&) = default;
  };

  // The whole game state, plain data. Tests may craft any state that keeps
  // the invariants: player row in 1-8, columns in 0-9, timers >= 0,
  // speeds >= 1.
  struct State {
    int player_x = 5;
    int player_y = 5;
    std::array<Entity, kNumSlots> slots{};
    int spawn_speed = kInitSpawnSpeed;
    int spawn_timer = kInitSpawnSpeed;
    int move_speed = kInitMoveSpeed;
    int move_timer = kInitMoveSpeed;
    int ramp_timer = kRampInterval;
    int ramp_index = 0;
    bool terminal = false;
    friend bool operator==(const State&, const State&) = default;
  };

  explicit Asterix(bool ramping) : ramping_(ramping) {}

  const char* name() const override { return "asterix"; }
  int num_channels() const override { return kNumChannels; }
  std::vector<int> minimal_action_set() const override {
    return {kNoop, kLeft, kUp, kRight, kDown};
  }

  void Reset(Rng& rng) override;
  int Act(int action, Rng& rng) override;
  bool terminal() const override { return state_.terminal; }
  void Render(uint8_t* obs) const override;
  std::unique_ptr<Game> Clone() const override {
    return std::make_unique<Asterix>(*this);
  }
  int difficulty_ramp() const override { return state_.ramp_index; }

  bool ramping() const { return ramping_; }
  std::string SaveState() const override { return StateToBytes(state_); }
  void LoadState(std::string_view bytes) override {
    StateFromBytes(bytes, state_, name());
  }
  const State& state() const { return state_; }
  State& mutable_state() { return state_; }

 private:
  void AttemptSpawn(Rng& rng);
  // Resolves the player touching the entity in `slot`; returns the reward.
  int Touch(int slot);

  bool ramping_;
  State state_;
};

}  // namespace tokrl::minatar

#endif  // TOKRL_ENV_MINATAR_ASTERIX_H_
