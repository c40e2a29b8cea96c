// Helpers shared by the MinAtar game tests (never used by the library).
#ifndef TOKRL_ENV_MINATAR_TESTING_H_
#define TOKRL_ENV_MINATAR_TESTING_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/env/minatar/game.h"

namespace tokrl::minatar {

using Obs = std::vector<uint8_t>;

// The game's observation, C x 10 x 10; the buffer starts as 7s so that a
// byte Render fails to write shows.
inline Obs RenderObs(const Game& game) {
  Obs obs(static_cast<size_t>(game.num_channels()) * 100, 7);
  game.Render(obs.data());
  return obs;
}

inline int At(const Obs& obs, int channel, int y, int x) {
  return obs[static_cast<size_t>(channel * 100 + y * 10 + x)];
}

inline int CountChannel(const Obs& obs, int channel) {
  int n = 0;
  for (int i = 0; i < 100; ++i) n += At(obs, channel, i / 10, i % 10);
  return n;
}

// `game` has terminated: every action scores 0 and changes nothing (state,
// observation, the RNG).
template <typename G>
void ExpectFrozenAfterTermination(G& game, Rng& rng) {
  ASSERT_TRUE(game.terminal());
  const auto state = game.state();
  const Obs obs = RenderObs(game);
  const Rng rng_before = rng;
  for (int action = 0; action < kNumFullActions; ++action) {
    EXPECT_EQ(game.Act(action, rng), 0);
    EXPECT_TRUE(game.terminal());
  }
  EXPECT_TRUE(game.state() == state);
  EXPECT_EQ(RenderObs(game), obs);
  EXPECT_EQ(rng, rng_before);
}

// A clone of `game` (with a copy of `rng`) plays `steps` random actions of
// `policy` exactly as the original does: rewards, terminals, observations,
// states and RNGs stay equal, through resets.
template <typename G>
void ExpectCloneHasIdenticalFuture(G& game, Rng& rng, Rng& policy, int steps) {
  std::unique_ptr<Game> clone_game = game.Clone();
  G& clone = static_cast<G&>(*clone_game);
  ASSERT_TRUE(clone.state() == game.state());
  Rng clone_rng = rng;
  for (int step = 0; step < steps; ++step) {
    if (game.terminal()) {
      game.Reset(rng);
      clone.Reset(clone_rng);
    }
    const int action = static_cast<int>(policy.UniformInt(kNumFullActions));
    ASSERT_EQ(game.Act(action, rng), clone.Act(action, clone_rng));
    ASSERT_EQ(game.terminal(), clone.terminal());
    ASSERT_EQ(RenderObs(game), RenderObs(clone));
    ASSERT_TRUE(clone.state() == game.state()) << "step " << step;
    ASSERT_EQ(rng, clone_rng);
  }
}

}  // namespace tokrl::minatar

#endif  // TOKRL_ENV_MINATAR_TESTING_H_
