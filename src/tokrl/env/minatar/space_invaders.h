// MinAtar Space Invaders, written from the rules in shared/spec/minatar.md
// section 2.5 (MinAtar is GPL; none of its code is used here).
//
// The player controls a cannon on the bottom row that shoots upwards at a
// block of aliens. The block marches sideways, steps down a row whenever it
// reaches a side wall, and fires back at the cannon.
//
// Channels (6):
//   0  cannon
//   1  alien
//   2  alien, when the block is moving left
//   3  alien, when the block is moving right
//   4  friendly (player) bullet
//   5  enemy (alien) bullet
//
// Actions: kLeft, kRight and kFire are used; kUp and kDown are no-ops. The
// minimal action set is {0 noop, 1 left, 3 right, 5 fire}.
//
// State. The three 10x10 maps (aliens, friendly bullets, enemy bullets) are
// stored as one 10-bit mask per row: bit x of row y is the cell (y, x). This
// makes the whole-block shifts a handful of integer operations.
//   * cannon: column of the cannon, which always sits on row 9.
//   * alien_direction: -1 moving left, +1 moving right.
//   * move_interval: the block's nominal move period (12, ramps down to 6).
//   * move_timer: the block's move countdown.
//   * shot_timer: the aliens' shot countdown.
//   * shot_cooldown: the cannon's fire cooldown.
//   * ramp_index: how many times the difficulty has ramped.
//
// Reset: cannon in column 5; aliens fill rows 0..3, columns 2..7 (24 aliens)
// moving left; move_interval = move_timer = 12; shot_timer = 10;
// shot_cooldown = 0; no bullets; ramp_index = 0. ramping is a constructor
// flag and survives resets; move_interval and ramp_index do not.
//
// Randomness: none. Reset and Act never draw from the RNG.
//
// One step (Act), in this order. Setting "terminal" does not stop the step:
// the remaining stages still run (and may still score).
//   1. Player. Fire with shot_cooldown 0 puts a friendly bullet at
//      (9, cannon) and sets shot_cooldown = 5. Otherwise left/right move the
//      cannon one column, clamped to 0..9. (Fire during the cooldown does
//      nothing.)
//   2. Friendly bullets all move up one row; those on row 0 vanish.
//   3. Enemy bullets all move down one row; those on row 9 vanish (no
//      wrap-around). An enemy bullet now at (9, cannon) makes it terminal.
//   4. An alien at (9, cannon) makes it terminal.
//   5. Block move, when move_timer is 0:
//        * move_timer = min(number of aliens, move_interval);
//        * if the block touches the wall it is heading for (an alien in
//          column 0 while moving left, or column 9 while moving right):
//          reverse the direction; terminal if any alien is on row 9; shift
//          the block down one row. The shift is a rotation of the rows, so
//          in that terminal case the row-9 aliens reappear on row 0 (see
//          the note below);
//        * otherwise shift the block one column in its direction;
//        * then an alien at (9, cannon) makes it terminal.
//   6. Alien shot, when shot_timer is 0: shot_timer = 10; choose the column
//      containing an alien that is nearest to the cannon's column (ties go
//      to the smaller column); the lowest alien of that column puts an enemy
//      bullet on its own cell. The bullet first moves on the next step.
//   7. Hits. Every cell holding both an alien and a friendly bullet loses
//      both and gives +1. Only now, after everything moved, so a bullet and
//      an alien moving towards each other can swap cells without a hit.
//      Friendly and enemy bullets never interact.
//   8. Timers. shot_cooldown decrements if positive; move_timer and
//      shot_timer always decrement.
//   9. New wave, when no aliens remain: with ramping on and move_interval
//      > 6, decrement move_interval and increment ramp_index; refill rows
//      0..3, columns 2..7. Direction and move_timer carry over unchanged.
//
// Consequences (the reference's verified timings): at full strength the
// block moves at steps 13, 25, 37, ...; with k < 12 aliens it moves every k
// steps (a lone alien moves every step); aliens fire at steps 11, 21, 31, ...
// An always-fire policy plays the same episode every time (return 3, length
// 18); no policy survives fewer than 17 steps.
//
// Termination: an enemy bullet or an alien reaches the cannon's cell, or the
// block must step down while an alien is on row 9. There is no step cap.
// Reward: +1 per alien hit. After termination Act returns 0 and changes
// nothing.
//
// Note on the row rotation in stage 5: the rules only say "shift the block
// down". The rows differ between a rotation and a drop only when an alien is
// on row 9, which is exactly the case that also ends the episode. We read
// "shift the whole block" as a roll of the whole map (rows wrap), like the
// sideways shift, which never wraps only because it never runs at a wall.
// The choice can only change the final observation and the reward of that
// final step.
//
// Observation: cannon at (9, cannon) in channel 0; aliens in channel 1 and
// again in channel 2 (moving left) or 3 (moving right); friendly bullets in
// channel 4; enemy bullets in channel 5.
#ifndef TOKRL_ENV_MINATAR_SPACE_INVADERS_H_
#define TOKRL_ENV_MINATAR_SPACE_INVADERS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/env/minatar/game.h"

namespace tokrl::minatar {

class SpaceInvaders final : public Game {
 public:
  static constexpr int kInitialMoveInterval = 12;
  static constexpr int kMinMoveInterval = 6;
  static constexpr int kShotInterval = 10;
  static constexpr int kShotCooldown = 5;
  static constexpr uint16_t kRowMask = (1u << kGridSize) - 1;  // 10 bits

  // Row masks per map: bit x of row y is cell (y, x).
  using Grid = uint16_t[kGridSize];

  struct State {
    int cannon = 5;
    int alien_direction = -1;  // -1 left, +1 right
    int move_interval = kInitialMoveInterval;
    int move_timer = kInitialMoveInterval;
    int shot_timer = kShotInterval;
    int shot_cooldown = 0;
    int ramp_index = 0;
    bool terminal = false;
    Grid aliens = {};
    Grid friendly_bullets = {};
    Grid enemy_bullets = {};
    friend bool operator==(const State&, const State&) = default;

    static bool Get(const Grid& grid, int y, int x) {
      return (grid[y] >> x) & 1u;
    }
    static void Set(Grid& grid, int y, int x, bool on) {
      const auto bit = static_cast<uint16_t>(1u << x);
      grid[y] = static_cast<uint16_t>(on ? grid[y] | bit : grid[y] & ~bit);
    }
    int NumAliens() const;
  };

  explicit SpaceInvaders(bool ramping);

  const char* name() const override { return "space_invaders"; }
  int num_channels() const override { return 6; }
  std::vector<int> minimal_action_set() const override {
    return {kNoop, kLeft, kRight, kFire};
  }

  void Reset(Rng& rng) override;
  int Act(int action, Rng& rng) override;
  bool terminal() const override { return state_.terminal; }
  void Render(uint8_t* obs) const override;
  std::unique_ptr<Game> Clone() const override {
    return std::make_unique<SpaceInvaders>(*this);
  }
  int difficulty_ramp() const override { return state_.ramp_index; }

  bool ramping() const { return ramping_; }
  std::string SaveState() const override { return StateToBytes(state_); }
  void LoadState(std::string_view bytes) override {
    StateFromBytes(bytes, state_, name());
  }
  const State& state() const { return state_; }
  State& mutable_state() { return state_; }

  // Fills rows 0..3, columns 2..7 of `grid` (and clears the rest).
  static void FillWave(Grid& grid);

 private:
  bool ramping_;
  State state_;
};

}  // namespace tokrl::minatar

#endif  // TOKRL_ENV_MINATAR_SPACE_INVADERS_H_
