#include "tokrl/env/minatar/freeway.h"

#include <algorithm>

namespace tokrl::minatar {

Freeway::Freeway(bool /*ramping*/) {
  // The reference resets in its constructor with an unseeded generator; a
  // fixed placeholder seed keeps construction deterministic. Callers reset
  // with their own RNG before playing.
  Rng placeholder(0);
  Reset(placeholder);
}

void Freeway::RandomizeCars(Rng& rng) {
  // All magnitudes first, then all signs: the reference's
  // randint(1, 6, size=8) followed by rand(8). Interleaving the draws would
  // give the same distribution but different seeded trajectories.
  int magnitude[kNumCars];
  for (int i = 0; i < kNumCars; ++i) magnitude[i] = rng.UniformRange(1, 5);
  for (int i = 0; i < kNumCars; ++i) {
    const bool left = rng.Uniform() < 0.5;
    Car& car = state_.cars[i];
    car.speed = left ? -magnitude[i] : magnitude[i];
    car.timer = magnitude[i];
  }
}

void Freeway::Reset(Rng& rng) {
  state_.chicken_row = 9;
  state_.move_cooldown = kMoveCooldown;
  state_.time_left = kTimeLimit;
  state_.terminal = false;
  for (Car& car : state_.cars) car.x = 0;
  RandomizeCars(rng);
}

int Freeway::Act(int action, Rng& rng) {
  State& s = state_;
  if (s.terminal) return 0;
  int reward = 0;

  // 1. Chicken move. A blocked "down" on row 9 still spends the cooldown.
  if (action == kUp && s.move_cooldown == 0) {
    s.move_cooldown = kMoveCooldown;
    s.chicken_row = std::max(0, s.chicken_row - 1);
  } else if (action == kDown && s.move_cooldown == 0) {
    s.move_cooldown = kMoveCooldown;
    s.chicken_row = std::min(9, s.chicken_row + 1);
  }

  // 2. Crossing: the cars get new speeds but keep their columns.
  if (s.chicken_row == 0) {
    reward = 1;
    RandomizeCars(rng);
    s.chicken_row = 9;
  }

  // 3. Cars. Each car is checked against the chicken both before and after
  // its own move, so a car that jumps over the chicken's column still hits.
  for (int i = 0; i < kNumCars; ++i) {
    Car& car = s.cars[i];
    const int row = i + 1;
    if (car.x == kChickenColumn && row == s.chicken_row) s.chicken_row = 9;
    if (car.timer == 0) {
      car.timer = car.speed > 0 ? car.speed : -car.speed;
      car.x += car.speed > 0 ? 1 : -1;
      if (car.x < 0) car.x = kGridSize - 1;
      if (car.x >= kGridSize) car.x = 0;
      if (car.x == kChickenColumn && row == s.chicken_row) s.chicken_row = 9;
    } else {
      --car.timer;
    }
  }

  // 4. Timers. The limit fires when the counter goes below zero, which is
  // why episodes are 2501 steps rather than 2500.
  if (s.move_cooldown > 0) --s.move_cooldown;
  if (--s.time_left < 0) s.terminal = true;
  return reward;
}

void Freeway::Render(uint8_t* obs) const {
  ObsWriter out(obs, num_channels());
  out.Clear();
  out.Set(0, state_.chicken_row, kChickenColumn);
  for (int i = 0; i < kNumCars; ++i) {
    const Car& car = state_.cars[i];
    const int row = i + 1;
    const int magnitude = car.speed > 0 ? car.speed : -car.speed;
    out.Set(1, row, car.x);
    // The trail sits one cell behind the car and wraps like the car does.
    int trail = car.x + (car.speed > 0 ? -1 : 1);
    if (trail < 0) trail = kGridSize - 1;
    if (trail >= kGridSize) trail = 0;
    out.Set(1 + magnitude, row, trail);
  }
}

}  // namespace tokrl::minatar
