#include "tokrl/env/minatar/seaquest.h"

#include <algorithm>

namespace tokrl::minatar {
namespace {

bool Inside(int x) { return x >= 0 && x < kGridSize; }

int Step(bool right) { return right ? 1 : -1; }

// Python's floor division (the reference's //), exact for negative numerators
// too; reachable states only divide non-negative oxygen.
int FloorDiv(int a, int b) {
  const int q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int OxygenBars(int oxygen) {
  return FloorDiv(oxygen * 10, Seaquest::kMaxOxygen);
}

// Index of the oldest entity at (x, y), or -1.
template <typename L>
int FindOldestAt(const L& list, int x, int y) {
  for (int i = 0; i < list.size(); ++i) {
    if (list[i].x == x && list[i].y == y) return i;
  }
  return -1;
}

}  // namespace

void Seaquest::Reset(Rng& /*rng*/) { state_ = State{}; }

void Seaquest::SpawnEnemy(Rng& rng) {
  // All three draws happen before the cancellation test, as in the
  // reference, so a cancelled spawn still consumes them.
  const bool right = rng.Uniform() < 0.5;
  const bool is_sub = rng.Uniform() < 1.0 / 3.0;
  const int y = rng.UniformRange(1, 8);
  const int x = right ? 0 : kGridSize - 1;
  // Opposite-direction enemies in the row would pass through each other, so
  // the reference refuses the spawn. Divers are not considered.
  for (const Swimmer& f : state_.fish) {
    if (f.y == y && f.right != right) return;
  }
  for (const EnemySub& s : state_.subs) {
    if (s.y == y && s.right != right) return;
  }
  if (is_sub) {
    state_.subs.push_back({x, y, right, state_.move_speed, kEnemyShotInterval});
  } else {
    state_.fish.push_back({x, y, right, state_.move_speed});
  }
}

void Seaquest::SpawnDiver(Rng& rng) {
  const bool right = rng.Uniform() < 0.5;
  const int y = rng.UniformRange(1, 8);
  state_.divers.push_back(
      {right ? 0 : kGridSize - 1, y, right, kDiverMoveInterval});
}

void Seaquest::Surface(int& reward) {
  State& s = state_;
  // Only exactly 0 is fatal: a 6-diver surfacing leaves -1 (the reference
  // zeroes the count and then still subtracts the diver used to surface).
  if (s.diver_count == 0) {
    s.terminal = true;
    return;
  }
  if (s.diver_count == kMaxDivers) {
    s.diver_count = 0;
    reward += OxygenBars(s.oxygen);  // oxygen before the refill
  }
  s.oxygen = kMaxOxygen;
  s.diver_count -= 1;
  s.at_surface = true;
  if (ramping_ && (s.enemy_spawn_interval > 1 || s.move_speed > 2)) {
    if (s.move_speed > 2 && s.ramp_index % 2 == 1) --s.move_speed;
    if (s.enemy_spawn_interval > 1) --s.enemy_spawn_interval;
    ++s.ramp_index;
  }
}

int Seaquest::Act(int action, Rng& rng) {
  TOKRL_DCHECK(action >= 0 && action < kNumFullActions);
  State& s = state_;
  if (s.terminal) return 0;
  int reward = 0;
  auto on_player = [&s](int x, int y) { return x == s.sub_x && y == s.sub_y; };

  // 1-2. Spawns (the only random draws), enemy first.
  if (s.enemy_spawn_timer == 0) {
    SpawnEnemy(rng);
    s.enemy_spawn_timer = s.enemy_spawn_interval;
  }
  if (s.diver_spawn_timer == 0) {
    SpawnDiver(rng);
    s.diver_spawn_timer = kDiverSpawnInterval;
  }

  // 3. Player. Fire takes precedence only when allowed; during the cooldown
  // it is simply a no-op.
  if (action == kFire) {
    if (s.shot_cooldown == 0) {
      s.friendly_bullets.push_back({s.sub_x, s.sub_y, s.sub_right});
      s.shot_cooldown = kShotCooldown;
    }
  } else if (action == kLeft) {
    s.sub_x = std::max(0, s.sub_x - 1);
    s.sub_right = false;
  } else if (action == kRight) {
    s.sub_x = std::min(kGridSize - 1, s.sub_x + 1);
    s.sub_right = true;
  } else if (action == kUp) {
    s.sub_y = std::max(0, s.sub_y - 1);
  } else if (action == kDown) {
    s.sub_y = std::min(kGridSize - 2, s.sub_y + 1);
  }

  // 4. Friendly bullets, newest first. The bullet fired above moves now, so
  // it never hits anything on the sub's own cell.
  for (int i = s.friendly_bullets.size() - 1; i >= 0; --i) {
    Bullet& b = s.friendly_bullets[i];
    b.x += Step(b.right);
    if (!Inside(b.x)) {
      s.friendly_bullets.erase(i);
      continue;
    }
    // Fish are searched before subs; a bullet takes at most one enemy.
    if (const int f = FindOldestAt(s.fish, b.x, b.y); f >= 0) {
      s.fish.erase(f);
      s.friendly_bullets.erase(i);
      reward += 1;
    } else if (const int e = FindOldestAt(s.subs, b.x, b.y); e >= 0) {
      s.subs.erase(e);
      s.friendly_bullets.erase(i);
      reward += 1;
    }
  }

  // 5. Divers, newest first. A pickup on the spot skips the timer.
  for (int i = s.divers.size() - 1; i >= 0; --i) {
    Swimmer& d = s.divers[i];
    if (on_player(d.x, d.y) && s.diver_count < kMaxDivers) {
      s.divers.erase(i);
      ++s.diver_count;
    } else if (d.move_timer == 0) {
      d.move_timer = kDiverMoveInterval;
      d.x += Step(d.right);
      if (!Inside(d.x)) {
        s.divers.erase(i);
      } else if (on_player(d.x, d.y) && s.diver_count < kMaxDivers) {
        s.divers.erase(i);
        ++s.diver_count;
      }
    } else {
      --d.move_timer;
    }
  }

  // Phases 6 and 8 share the move-and-collide rule. Returns true when the
  // enemy must be removed (left the grid or met a friendly bullet).
  auto move_enemy = [&](int& x, int y, bool right, int& move_timer) {
    if (on_player(x, y)) s.terminal = true;
    if (move_timer != 0) {
      --move_timer;
      return false;
    }
    // Reload with the current speed: ramping speeds up enemies in flight.
    move_timer = s.move_speed;
    x += Step(right);
    if (!Inside(x)) return true;
    if (on_player(x, y)) {
      s.terminal = true;
      return false;
    }
    if (const int b = FindOldestAt(s.friendly_bullets, x, y); b >= 0) {
      s.friendly_bullets.erase(b);
      reward += 1;
      return true;
    }
    return false;
  };

  // 6. Enemy subs, newest first. Work on a copy so the shot timer can still
  // run (and fire) after the sub has been removed this step.
  for (int i = s.subs.size() - 1; i >= 0; --i) {
    EnemySub sub = s.subs[i];
    const bool removed = move_enemy(sub.x, sub.y, sub.right, sub.move_timer);
    if (sub.shot_timer == 0) {
      sub.shot_timer = kEnemyShotInterval;
      s.enemy_bullets.push_back({sub.x, sub.y, sub.right});
    } else {
      --sub.shot_timer;
    }
    if (removed) {
      s.subs.erase(i);
    } else {
      s.subs[i] = sub;
    }
  }

  // 7. Enemy bullets, newest first, including those fired just above.
  for (int i = s.enemy_bullets.size() - 1; i >= 0; --i) {
    Bullet& b = s.enemy_bullets[i];
    if (on_player(b.x, b.y)) s.terminal = true;
    b.x += Step(b.right);
    if (!Inside(b.x)) {
      s.enemy_bullets.erase(i);
    } else if (on_player(b.x, b.y)) {
      s.terminal = true;
    }
  }

  // 8. Fish, newest first.
  for (int i = s.fish.size() - 1; i >= 0; --i) {
    Swimmer& f = s.fish[i];
    if (move_enemy(f.x, f.y, f.right, f.move_timer)) s.fish.erase(i);
  }

  // 9. Timers, oxygen and surfacing.
  if (s.enemy_spawn_timer > 0) --s.enemy_spawn_timer;
  if (s.diver_spawn_timer > 0) --s.diver_spawn_timer;
  if (s.shot_cooldown > 0) --s.shot_cooldown;
  // Tested before this step's decrement: 200 oxygen lasts 200 submerged
  // steps and the 201st is fatal.
  if (s.oxygen <= 0) s.terminal = true;
  if (s.sub_y > 0) {
    s.oxygen -= 1;
    s.at_surface = false;
  } else if (!s.at_surface) {
    Surface(reward);
  }
  return reward;
}

void Seaquest::Render(uint8_t* obs) const {
  ObsWriter out(obs, kNumChannels);
  out.Clear();
  const State& s = state_;
  // Crafted states may hold off-grid cells; reachable ones never do (except
  // trails at the edge, which are dropped rather than wrapped).
  auto set = [&out](int c, int y, int x) {
    if (Inside(x) && Inside(y)) out.Set(c, y, x);
  };
  set(kSubFront, s.sub_y, s.sub_x);
  set(kSubBack, s.sub_y, s.sub_right ? s.sub_x - 1 : s.sub_x + 1);
  for (const Bullet& b : s.friendly_bullets) set(kFriendlyBullet, b.y, b.x);
  for (const Bullet& b : s.enemy_bullets) set(kEnemyBullet, b.y, b.x);
  for (const Swimmer& f : s.fish) {
    set(kEnemyFish, f.y, f.x);
    set(kTrail, f.y, f.x - Step(f.right));
  }
  for (const EnemySub& e : s.subs) {
    set(kEnemySub, e.y, e.x);
    set(kTrail, e.y, e.x - Step(e.right));
  }
  for (const Swimmer& d : s.divers) {
    set(kDiver, d.y, d.x);
    set(kTrail, d.y, d.x - Step(d.right));
  }
  const int bars = std::min(kGridSize, OxygenBars(std::max(0, s.oxygen)));
  for (int x = 0; x < bars; ++x) out.Set(kOxygenGauge, kGridSize - 1, x);
  const int divers = std::min(kGridSize - 1, s.diver_count);
  for (int x = kGridSize - 1 - divers; x < kGridSize - 1; ++x) {
    out.Set(kDiverGauge, kGridSize - 1, x);
  }
}

}  // namespace tokrl::minatar
