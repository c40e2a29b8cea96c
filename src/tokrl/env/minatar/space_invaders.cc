#include "tokrl/env/minatar/space_invaders.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace tokrl::minatar {
namespace {

constexpr uint16_t kColumn0 = 1u;
constexpr uint16_t kColumn9 = 1u << (kGridSize - 1);

// Rows 0..3 of a fresh wave: columns 2..7.
constexpr uint16_t kWaveRow = 0b0011111100;
constexpr int kWaveRows = 4;

// OR of all rows: bit x is set when column x holds anything.
uint16_t Columns(const SpaceInvaders::Grid& grid) {
  uint16_t any = 0;
  for (int y = 0; y < kGridSize; ++y) any |= grid[y];
  return any;
}

void RenderGrid(const SpaceInvaders::Grid& grid, uint8_t* channel) {
  for (int y = 0; y < kGridSize; ++y) {
    for (uint32_t row = grid[y]; row != 0; row &= row - 1) {
      channel[y * kGridSize + std::countr_zero(row)] = 1;
    }
  }
}

}  // namespace

int SpaceInvaders::State::NumAliens() const {
  int n = 0;
  for (int y = 0; y < kGridSize; ++y) n += std::popcount(aliens[y]);
  return n;
}

void SpaceInvaders::FillWave(Grid& grid) {
  for (int y = 0; y < kGridSize; ++y) grid[y] = y < kWaveRows ? kWaveRow : 0;
}

SpaceInvaders::SpaceInvaders(bool ramping) : ramping_(ramping) {
  Rng unused(0);
  Reset(unused);
}

void SpaceInvaders::Reset(Rng& /*rng*/) {
  state_ = State();
  FillWave(state_.aliens);
}

int SpaceInvaders::Act(int action, Rng& /*rng*/) {
  State& s = state_;
  if (s.terminal) return 0;

  // 1. Player. Fire takes precedence over moving only when it can fire; a
  // fire during the cooldown is a no-op (it is neither left nor right).
  if (action == kFire && s.shot_cooldown == 0) {
    s.friendly_bullets[kGridSize - 1] |= static_cast<uint16_t>(1u << s.cannon);
    s.shot_cooldown = kShotCooldown;
  } else if (action == kLeft) {
    s.cannon = std::max(0, s.cannon - 1);
  } else if (action == kRight) {
    s.cannon = std::min(kGridSize - 1, s.cannon + 1);
  }
  const auto cannon = static_cast<uint16_t>(1u << s.cannon);

  // 2. Friendly bullets up; row 0 falls off the top (no wrap).
  std::memmove(&s.friendly_bullets[0], &s.friendly_bullets[1],
               (kGridSize - 1) * sizeof(uint16_t));
  s.friendly_bullets[kGridSize - 1] = 0;

  // 3. Enemy bullets down; row 9 falls off the bottom (no wrap).
  std::memmove(&s.enemy_bullets[1], &s.enemy_bullets[0],
               (kGridSize - 1) * sizeof(uint16_t));
  s.enemy_bullets[0] = 0;
  if (s.enemy_bullets[kGridSize - 1] & cannon) s.terminal = true;

  // 4. An alien already on the cannon's cell.
  if (s.aliens[kGridSize - 1] & cannon) s.terminal = true;

  // 5. Block move. The reload uses the alien count before this step's hits,
  // which is what makes a small block speed up to "every k steps".
  if (s.move_timer == 0) {
    s.move_timer = std::min(s.NumAliens(), s.move_interval);
    const uint16_t columns = Columns(s.aliens);
    const bool at_wall = (s.alien_direction < 0 && (columns & kColumn0)) ||
                         (s.alien_direction > 0 && (columns & kColumn9));
    if (at_wall) {
      s.alien_direction = -s.alien_direction;
      if (s.aliens[kGridSize - 1] != 0) s.terminal = true;
      // A roll of the rows: the bottom row comes back on top. It only
      // matters in the terminal case just above (see the header).
      const uint16_t bottom = s.aliens[kGridSize - 1];
      std::memmove(&s.aliens[1], &s.aliens[0],
                   (kGridSize - 1) * sizeof(uint16_t));
      s.aliens[0] = bottom;
    } else if (s.alien_direction < 0) {
      // Column 0 is empty here, so nothing is lost by the shift.
      for (uint16_t& row : s.aliens) row = static_cast<uint16_t>(row >> 1);
    } else {
      for (uint16_t& row : s.aliens) {
        row = static_cast<uint16_t>((row << 1) & kRowMask);
      }
    }
    if (s.aliens[kGridSize - 1] & cannon) s.terminal = true;
  }

  // 6. Alien shot from the lowest alien of the nearest non-empty column,
  // checking the left candidate first so that ties go left.
  if (s.shot_timer == 0) {
    s.shot_timer = kShotInterval;
    const uint16_t columns = Columns(s.aliens);
    int column = -1;
    for (int d = 0; d < kGridSize && column < 0; ++d) {
      const int left = s.cannon - d;
      const int right = s.cannon + d;
      if (left >= 0 && ((columns >> left) & 1u)) {
        column = left;
      } else if (right < kGridSize && ((columns >> right) & 1u)) {
        column = right;
      }
    }
    if (column >= 0) {
      const auto bit = static_cast<uint16_t>(1u << column);
      for (int y = kGridSize - 1; y >= 0; --y) {
        if (s.aliens[y] & bit) {
          s.enemy_bullets[y] |= bit;
          break;
        }
      }
    }
  }

  // 7. Hits, only after everything has moved.
  int reward = 0;
  for (int y = 0; y < kGridSize; ++y) {
    const uint16_t hit = s.aliens[y] & s.friendly_bullets[y];
    if (hit == 0) continue;
    reward += std::popcount(hit);
    s.aliens[y] = static_cast<uint16_t>(s.aliens[y] & ~hit);
    s.friendly_bullets[y] = static_cast<uint16_t>(s.friendly_bullets[y] & ~hit);
  }

  // 8. Timers. The move and shot timers decrement unconditionally, so a
  // timer loaded with N fires again N steps later.
  if (s.shot_cooldown > 0) --s.shot_cooldown;
  --s.move_timer;
  --s.shot_timer;

  // 9. New wave. Direction and move_timer deliberately carry over.
  bool any_alien = false;
  for (uint16_t row : s.aliens) any_alien |= row != 0;
  if (!any_alien) {
    if (ramping_ && s.move_interval > kMinMoveInterval) {
      --s.move_interval;
      ++s.ramp_index;
    }
    FillWave(s.aliens);
  }
  return reward;
}

void SpaceInvaders::Render(uint8_t* obs) const {
  ObsWriter out(obs, num_channels());
  out.Clear();
  out.Set(0, kGridSize - 1, state_.cannon);
  RenderGrid(state_.aliens, out.channel(1));
  RenderGrid(state_.aliens, out.channel(state_.alien_direction < 0 ? 2 : 3));
  RenderGrid(state_.friendly_bullets, out.channel(4));
  RenderGrid(state_.enemy_bullets, out.channel(5));
}

}  // namespace tokrl::minatar
