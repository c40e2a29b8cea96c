// The interface every MinAtar game implements (Young & Tian 2019), written
// from the rules in shared/spec/minatar.md (MinAtar itself is GPL; no code
// from it is used).
//
// A Game holds only the game's own state. Sticky actions, the minimal action
// set, seeding and truncation live in MinAtarEnv (minatar_env.h), exactly as
// the reference splits Environment from its game objects. The RNG is passed
// in on every call because the reference shares one generator between the
// sticky-action draw and the game's draws.
//
// Conventions (spec section 1):
//   * 10x10 grid, (row y, column x), row 0 at the top, "up" is y-1.
//   * Actions are indices into the full set: 0 n, 1 l, 2 u, 3 r, 4 d, 5 f.
//     Actions a game does not use are no-ops.
//   * Observations are written channels-first: obs[c * 100 + y * 10 + x] is 1
//     when channel c is set at (y, x), else 0. Render writes all C*100 bytes.
//   * After the game has terminated, Act returns 0, changes nothing and the
//     game stays terminal (the reference's behaviour).
#ifndef TOKRL_ENV_MINATAR_GAME_H_
#define TOKRL_ENV_MINATAR_GAME_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/rng.h"

namespace tokrl::minatar {

inline constexpr int kGridSize = 10;
inline constexpr int kNumFullActions = 6;

enum Action : int {
  kNoop = 0,
  kLeft = 1,
  kUp = 2,
  kRight = 3,
  kDown = 4,
  kFire = 5,
};

// A channels-first observation buffer view with bounds-free setters for
// speed; callers keep (c, y, x) in range.
class ObsWriter {
 public:
  ObsWriter(uint8_t* data, int num_channels)
      : data_(data), num_channels_(num_channels) {}
  void Clear() {
    std::memset(data_, 0, static_cast<size_t>(num_channels_) * kCells);
  }
  void Set(int channel, int y, int x) {
    data_[channel * kCells + y * kGridSize + x] = 1;
  }
  uint8_t* channel(int c) { return data_ + c * kCells; }

  static constexpr int kCells = kGridSize * kGridSize;

 private:
  uint8_t* data_;
  int num_channels_;
};

class Game {
 public:
  virtual ~Game() = default;

  virtual const char* name() const = 0;  // "breakout", "space_invaders", ...
  virtual int num_channels() const = 0;
  virtual std::vector<int> minimal_action_set() const = 0;

  // Starts a new episode. Draws from `rng` as the rules say.
  virtual void Reset(Rng& rng) = 0;
  // Advances one step with a full-set action in [0, 6); returns the reward.
  virtual int Act(int action, Rng& rng) = 0;
  virtual bool terminal() const = 0;
  // Writes num_channels() * 100 bytes.
  virtual void Render(uint8_t* obs) const = 0;
  virtual std::unique_ptr<Game> Clone() const = 0;

  // The complete game state as bytes, and back (for exact training resume).
  // LoadState throws Error on a blob of the wrong size.
  virtual std::string SaveState() const = 0;
  virtual void LoadState(std::string_view bytes) = 0;

  // The reference's env.difficulty_ramp(): the ramp index, or -1 for games
  // without ramping (Breakout, Freeway).
  virtual int difficulty_ramp() const { return -1; }
};

// SaveState/LoadState for games whose State is trivially copyable.
template <typename State>
std::string StateToBytes(const State& state) {
  static_assert(std::is_trivially_copyable_v<State>);
  return std::string(reinterpret_cast<const char*>(&state), sizeof(State));
}
template <typename State>
void StateFromBytes(std::string_view bytes, State& state, const char* game) {
  static_assert(std::is_trivially_copyable_v<State>);
  TOKRL_CHECK_EQ(bytes.size(), sizeof(State))
      << "saved " << game << " state has the wrong size";
  std::memcpy(&state, bytes.data(), sizeof(State));
}

// Game factory: `ramping` is the reference's difficulty_ramping flag.
std::unique_ptr<Game> MakeGame(const std::string& name, bool ramping);
// "asterix", "breakout", "freeway", "seaquest", "space_invaders".
const std::vector<std::string>& GameNames();

}  // namespace tokrl::minatar

#endif  // TOKRL_ENV_MINATAR_GAME_H_
