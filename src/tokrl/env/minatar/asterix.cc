#include "tokrl/env/minatar/asterix.h"

#include <algorithm>

#include "tokrl/core/check.h"

namespace tokrl::minatar {
namespace {

// Player displacement per full-set action: n, l, u, r, d, f.
constexpr int kActionDx[kNumFullActions] = {0, -1, 0, 1, 0, 0};
constexpr int kActionDy[kNumFullActions] = {0, 0, -1, 0, 1, 0};

}  // namespace

void Asterix::Reset(Rng& /*rng*/) {
  // The reference draws nothing at reset: the first randomness is the spawn
  // at step 11.
  state_ = State{};
}

void Asterix::AttemptSpawn(Rng& rng) {
  // Both draws come first and are made even when no slot is free: skipping
  // them would shift every later draw of the shared generator.
  const bool moving_right = rng.Uniform() < 0.5;
  const bool gold = rng.Uniform() < kGoldProbability;

  int free_slots[kNumSlots];
  int num_free = 0;
  for (int i = 0; i < kNumSlots; ++i) {
    if (!state_.slots[i].active) free_slots[num_free++] = i;
  }
  if (num_free == 0) return;
  // The index counts free slots in increasing slot order (spec section 3),
  // so the same draw picks the same slot as the reference.
  const int slot = free_slots[rng.UniformInt(static_cast<uint32_t>(num_free))];
  Entity& e = state_.slots[slot];
  e.active = true;
  e.x = moving_right ? 0 : kGridSize - 1;
  e.moving_right = moving_right;
  e.gold = gold;
}

int Asterix::Touch(int slot) {
  Entity& e = state_.slots[slot];
  if (e.gold) {
    e = Entity{};
    return 1;
  }
  // An enemy ends the game but is left in place; the caller keeps going.
  state_.terminal = true;
  return 0;
}

int Asterix::Act(int action, Rng& rng) {
  TOKRL_DCHECK(action >= 0 && action < kNumFullActions) << action;
  if (state_.terminal) return 0;
  State& s = state_;
  int reward = 0;

  // 1. Spawn.
  if (s.spawn_timer == 0) {
    AttemptSpawn(rng);
    s.spawn_timer = s.spawn_speed;
  }

  // 2. Player move (f is deliberately a no-op).
  s.player_x = std::clamp(s.player_x + kActionDx[action], 0, kGridSize - 1);
  s.player_y =
      std::clamp(s.player_y + kActionDy[action], kMinPlayerRow, kMaxPlayerRow);

  // 3. First collision pass, before anything moves. Without it a player
  // stepping onto an entity that then moves away would never touch it.
  // Slot i lives in row i + 1, so only the player's row can collide (the
  // spec's pass over slots 0..7 finds the same one).
  TOKRL_DCHECK(s.player_y >= kMinPlayerRow && s.player_y <= kMaxPlayerRow)
      << s.player_y;
  const int player_slot = s.player_y - 1;
  if (s.slots[player_slot].active && s.slots[player_slot].x == s.player_x) {
    reward += Touch(player_slot);
  }

  // 4. Motion with the second collision pass.
  if (s.move_timer == 0) {
    s.move_timer = s.move_speed;
    for (int i = 0; i < kNumSlots; ++i) {
      Entity& e = s.slots[i];
      if (!e.active) continue;
      e.x += e.moving_right ? 1 : -1;
      if (e.x < 0 || e.x >= kGridSize) {
        e = Entity{};
        continue;
      }
      if (i + 1 == s.player_y && e.x == s.player_x) reward += Touch(i);
    }
  }

  // 5. Both timers are decremented every step, so an event whose timer is
  // reloaded with N recurs every N steps and the first one (timer starting
  // at N) is at step N + 1.
  --s.spawn_timer;
  --s.move_timer;

  // 6. Ramping. The timer is checked with >= 0 before decrementing, so it
  // runs 100 -> -1 over 101 steps and the ramp itself takes one more: a
  // period of 102. move_speed only drops on odd ramp indices.
  if (ramping_ && (s.spawn_speed > 1 || s.move_speed > 1)) {
    if (s.ramp_timer >= 0) {
      --s.ramp_timer;
    } else {
      if (s.move_speed > 1 && s.ramp_index % 2 == 1) --s.move_speed;
      if (s.spawn_speed > 1) --s.spawn_speed;
      ++s.ramp_index;
      s.ramp_timer = kRampInterval;
    }
  }
  return reward;
}

void Asterix::Render(uint8_t* obs) const {
  ObsWriter out(obs, kNumChannels);
  out.Clear();
  out.Set(kPlayerChannel, state_.player_y, state_.player_x);
  for (int i = 0; i < kNumSlots; ++i) {
    const Entity& e = state_.slots[i];
    if (!e.active) continue;
    const int row = i + 1;
    out.Set(e.gold ? kGoldChannel : kEnemyChannel, row, e.x);
    // The trail sits where the entity came from and is dropped, not
    // wrapped, when that column is off the grid.
    const int trail_x = e.moving_right ? e.x - 1 : e.x + 1;
    if (trail_x >= 0 && trail_x < kGridSize) {
      out.Set(kTrailChannel, row, trail_x);
    }
  }
}

}  // namespace tokrl::minatar
