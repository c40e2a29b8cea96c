// MinAtar Seaquest, written from the rules in shared/spec/minatar.md
// (section 2.4). MinAtar is GPL; no code from it is used.
//
// The player steers a submarine through a 10x10 sea. Row 0 is the surface.
// Fish and enemy subs cross the rows 1..8 from one side to the other, enemy
// subs shoot, divers drift across and can be picked up. Oxygen runs out while
// submerged; surfacing with at least one diver refills it, surfacing with
// none ends the game.
//
// Channels (observation is channels-first, see game.h):
//   0 sub front      the player's cell (the cell every collision test uses)
//   1 sub back       the cell behind the front: column - 1 when facing
//                    right, column + 1 when facing left (never off the grid in
//                    reachable states; skipped if it is)
//   2 friendly bullet
//   3 trail          the cell behind each fish, enemy sub and diver (column
//                    - 1 for right-movers, + 1 for left-movers), only when
//                    that cell is inside the grid: trails do not wrap
//   4 enemy bullet
//   5 enemy fish
//   6 enemy sub
//   7 oxygen gauge   row 9, columns 0 .. floor(max(0, oxygen) * 10 / 200) - 1
//   8 diver gauge    row 9, columns 9 - count .. 8; empty when count <= 0
//   9 diver
//
// Actions: all six of the full set are used; minimal_action_set() is
// {0, 1, 2, 3, 4, 5}.
//
// Constants: oxygen 200 at most; enemy spawn interval 20 at the start; diver
// spawn interval 30; enemy move interval (move_speed) 5 at the start; player
// shot cooldown 5; enemy-sub shot interval 10; diver move interval 5; at most
// 6 divers carried.
//
// Reset state: the front cell at (row 0, column 5) facing left; oxygen 200;
// 0 divers carried; every entity list empty; enemy spawn interval and timer
// 20; diver spawn timer 30; move_speed 5; ramp_index 0; shot cooldown 0; the
// "at surface" flag set. Reset draws no random numbers.
//
// Timers. Entity move and shot timers are "reload or decrement": on each step
// a timer at 0 triggers its event and is reloaded with N, otherwise it is
// decremented, so the period is N + 1. The spawn timers and the shot cooldown
// are "cooldowns": the event needs the timer at 0, sets it to N, and the
// timer is decremented at the end of every step when positive.
//
// One step (Act) runs nine phases in this order. Every entity loop walks its
// list from the newest entity to the oldest; removals during the walk keep
// the order of the remaining entities (oldest first).
//   1. Enemy spawn. If the enemy spawn timer is 0: attempt a spawn and reload
//      the timer with the current enemy spawn interval. An attempt draws, in
//      this order and always all three: Uniform() (moves right when < 0.5;
//      right-movers start in column 0, left-movers in column 9), Uniform()
//      (a sub when < 1/3, else a fish), UniformRange(1, 8) (the row). The
//      spawn is cancelled when a fish or enemy sub in that row moves the
//      opposite way (divers do not count). Otherwise the new enemy gets move
//      timer = move_speed, and a sub also gets shot timer 10. A new enemy is
//      not tested against the player here; phases 6 and 8 catch it.
//   2. Diver spawn. If the diver spawn timer is 0: draw Uniform() (right when
//      < 0.5) and UniformRange(1, 8) (row), add a diver with move timer 5 at
//      column 0 or 9, and reload the timer with 30. No row restriction.
//   3. Player action. Fire with the shot cooldown at 0 adds a friendly bullet
//      at the front cell heading the way the sub faces and sets the cooldown
//      to 5; fire during the cooldown does nothing. Left: column - 1 (min 0)
//      and face left. Right: column + 1 (max 9) and face right. Up: row - 1
//      (min 0). Down: row + 1 (max 8). No-op does nothing.
//   4. Friendly bullets. Each moves one column; one that leaves the grid is
//      removed. Otherwise, if a fish is on its cell the oldest such fish and
//      the bullet are removed (+1); else if an enemy sub is on its cell the
//      oldest such sub and the bullet are removed (+1). At most one enemy per
//      bullet. A bullet fired in phase 3 therefore first shows one cell ahead
//      of the sub.
//   5. Divers. A diver on the front cell is picked up (removed, count + 1)
//      when the count is < 6. Otherwise its move timer runs: at 0 it is
//      reloaded with 5 and the diver moves one column; if it left the grid it
//      is removed, else if it is now on the front cell and the count is < 6
//      it is picked up. A non-zero timer is decremented.
//   6. Enemy subs. On the front cell: terminal. Then the move timer: at 0 it
//      is reloaded with the current move_speed and the sub moves one column;
//      if it left the grid it is removed; else on the front cell: terminal;
//      else if a friendly bullet is on its cell, the sub and the oldest such
//      bullet are removed (+1). A non-zero timer is decremented. Then, even if
//      the sub was just removed, the shot timer: at 0 it is reloaded with 10
//      and an enemy bullet is added at the sub's (possibly off-grid) cell with
//      the sub's direction; otherwise it is decremented.
//   7. Enemy bullets. On the front cell: terminal. Then move one column;
//      removed if off the grid, else on the front cell: terminal. Bullets
//      fired in phase 6 move here in the same step, so they first show one
//      cell ahead of the sub; one fired off the grid vanishes unseen.
//   8. Fish. As enemy subs in phase 6, without shooting.
//   9. Timers, oxygen, surfacing. Decrement the enemy spawn timer, the diver
//      spawn timer and the shot cooldown, each only when positive. If oxygen
//      <= 0: terminal (tested before this step's oxygen change, so staying
//      submerged from full oxygen ends on the 201st submerged step). If the
//      row is > 0: oxygen - 1 and clear the "at surface" flag. Else, if the
//      flag is clear, the sub is surfacing:
//        * count exactly 0: terminal;
//        * otherwise: when count is 6, set it to 0 and add the reward
//          floor(oxygen * 10 / 200) (0..10, oxygen before the refill); set
//          oxygen to 200; count - 1 (so a 6-diver surfacing leaves -1, and
//          surfacing again leaves -2 without ending the game; pickups count
//          back up, allowed while count < 6); set the flag; and, when ramping
//          is on and (enemy spawn interval > 1 or move_speed > 2): if
//          move_speed > 2 and ramp_index is odd, move_speed - 1; if the enemy
//          spawn interval > 1, decrement it; ramp_index + 1.
//
// Termination marks the game terminal; the rest of the step still runs (its
// rewards count, oxygen may go to -1). After that Act returns 0 and changes
// nothing. Rewards: +1 per enemy destroyed plus the surfacing bonus. There is
// no step limit: a sub that stays at the surface lives forever, so the
// harness must cap episodes.
//
// Randomness: only the two spawns draw (phases 1 and 2, in that order within
// a step); enemy spawns happen at steps 21, 41, 61, ... and diver spawns at
// 31, 61, ... while the intervals are unchanged.
#ifndef TOKRL_ENV_MINATAR_SEAQUEST_H_
#define TOKRL_ENV_MINATAR_SEAQUEST_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"
#include "tokrl/env/minatar/game.h"

namespace tokrl::minatar {

class Seaquest final : public Game {
 public:
  static constexpr int kNumChannels = 10;
  static constexpr int kMaxOxygen = 200;
  static constexpr int kInitEnemySpawnInterval = 20;
  static constexpr int kDiverSpawnInterval = 30;
  static constexpr int kInitMoveSpeed = 5;
  static constexpr int kShotCooldown = 5;
  static constexpr int kEnemyShotInterval = 10;
  static constexpr int kDiverMoveInterval = 5;
  static constexpr int kMaxDivers = 6;

  enum Channel : int {
    kSubFront = 0,
    kSubBack = 1,
    kFriendlyBullet = 2,
    kTrail = 3,
    kEnemyBullet = 4,
    kEnemyFish = 5,
    kEnemySub = 6,
    kOxygenGauge = 7,
    kDiverGauge = 8,
    kDiver = 9,
  };

  // List capacities. Reachable states stay far below them:
  //   * friendly bullets: one per 5 steps, each gone within 10 steps -> <= 2;
  //   * divers: one per 30 steps, each gone within 60 steps -> <= 2;
  //   * fish and enemy subs together: at most one spawn per step (the spawn
  //     interval never drops below 1) and each enemy leaves the grid within
  //     60 steps of spawning (move timers never exceed 5, so 10 moves take at
  //     most 5 + 9 * 6 steps) -> <= 60;
  //   * enemy bullets: each lives <= 10 steps and each sub fires at most once
  //     in 10 steps, only from 10 steps after spawning -> <= 60.
  // Crafted states that overflow a list throw tokrl::Error.
  static constexpr int kMaxFriendlyBullets = 8;
  static constexpr int kMaxDiversOnGrid = 8;
  static constexpr int kMaxEnemies = 64;
  static constexpr int kMaxEnemyBullets = 64;

  // A fixed-capacity list that keeps insertion order (index 0 is the oldest)
  // and erases by shifting, so a newest-to-oldest index loop may erase the
  // current element.
  template <typename T, int kCapacity>
  class List {
   public:
    int size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const T& operator[](int i) const { return items_[i]; }
    T& operator[](int i) { return items_[i]; }
    const T* begin() const { return items_.data(); }
    const T* end() const { return items_.data() + size_; }
    void push_back(const T& item) {
      TOKRL_CHECK(size_ < kCapacity)
          << "Seaquest entity list overflow (capacity " << kCapacity << ")";
      items_[size_++] = item;
    }
    void erase(int i) {
      for (int j = i + 1; j < size_; ++j) items_[j - 1] = items_[j];
      --size_;
    }
    void clear() { size_ = 0; }

    friend bool operator==(const List& a, const List& b) {
      if (a.size_ != b.size_) return false;
      for (int i = 0; i < a.size_; ++i) {
        if (!(a.items_[i] == b.items_[i])) return false;
      }
      return true;
    }

   private:
    std::array<T, kCapacity> items_{};
    int size_ = 0;
  };

  // Friendly and enemy bullets.
  struct Bullet {
    int x = 0;
    int y = 0;
    bool right = false;  // moving towards larger columns
    friend bool operator==(const Bullet&, const Bullet&) = default;
  };
  // Fish and divers.
  struct Swimmer {
    int x = 0;
    int y = 0;
    bool right = false;
    int move_timer = 0;
    friend bool operator==(const Swimmer&, const Swimmer&) = default;
  };
  struct EnemySub {
    int x = 0;
    int y = 0;
    bool right = false;
    int move_timer = 0;
    int shot_timer = 0;
    friend bool operator==(const EnemySub&, const EnemySub&) = default;
  };

  // The whole game state; the defaults are the reset state.
  struct State {
    int sub_x = 5;  // front cell
    int sub_y = 0;
    bool sub_right = false;  // facing
    int oxygen = kMaxOxygen;
    int diver_count = 0;  // may go negative, see phase 9
    List<Bullet, kMaxFriendlyBullets> friendly_bullets;
    List<Bullet, kMaxEnemyBullets> enemy_bullets;
    List<Swimmer, kMaxEnemies> fish;
    List<EnemySub, kMaxEnemies> subs;
    List<Swimmer, kMaxDiversOnGrid> divers;
    int enemy_spawn_interval = kInitEnemySpawnInterval;
    int enemy_spawn_timer = kInitEnemySpawnInterval;
    int diver_spawn_timer = kDiverSpawnInterval;
    int move_speed = kInitMoveSpeed;
    int ramp_index = 0;
    int shot_cooldown = 0;
    bool at_surface = true;
    bool terminal = false;

    friend bool operator==(const State&, const State&) = default;
  };

  explicit Seaquest(bool ramping) : ramping_(ramping) {}

  const char* name() const override { return "seaquest"; }
  int num_channels() const override { return kNumChannels; }
  std::vector<int> minimal_action_set() const override {
    return {0, 1, 2, 3, 4, 5};
  }

  void Reset(Rng& rng) override;
  int Act(int action, Rng& rng) override;
  bool terminal() const override { return state_.terminal; }
  void Render(uint8_t* obs) const override;
  std::unique_ptr<Game> Clone() const override {
    return std::make_unique<Seaquest>(*this);
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
  void SpawnEnemy(Rng& rng);
  void SpawnDiver(Rng& rng);
  void Surface(int& reward);

  bool ramping_;
  State state_;
};

}  // namespace tokrl::minatar

#endif  // TOKRL_ENV_MINATAR_SEAQUEST_H_
