#include "tokrl/agents/evaluator.h"

#include <gtest/gtest.h>

#include "tokrl/env/registry.h"

namespace tokrl {
namespace {

Evaluator::Policy Random(int num_actions) {
  return [num_actions](std::span<const uint8_t>, int n, Rng& rng) {
    std::vector<int32_t> actions(n);
    for (auto& a : actions) {
      a = static_cast<int32_t>(
          rng.UniformInt(static_cast<uint32_t>(num_actions)));
    }
    return actions;
  };
}

TEST(Evaluator, SameIndexSameResultAndEpisodeCount) {
  auto env = MakeEnv("minatar/breakout");
  const int actions = env->spec().num_actions;
  Evaluator evaluator(*env, 21, 27'000, /*seed=*/5);
  const EvalResult a = evaluator.Run(3, Random(actions));
  const EvalResult other = evaluator.Run(4, Random(actions));
  const EvalResult again = evaluator.Run(3, Random(actions));
  EXPECT_EQ(a.episodes, 21);
  EXPECT_EQ(again.return_mean, a.return_mean);
  EXPECT_EQ(again.length_mean, a.length_mean);
  EXPECT_NE(other.length_mean, a.length_mean);
  // A fresh evaluator gives evaluation 3 the same result: nothing carries
  // over from earlier evaluations.
  Evaluator fresh(*env, 21, 27'000, 5);
  EXPECT_EQ(fresh.Run(3, Random(actions)).return_mean, a.return_mean);
}

TEST(Evaluator, StepCapEndsEpisodes) {
  auto env = MakeEnv("minatar/freeway");  // 2500-step episodes
  Evaluator evaluator(*env, 3, 10, 0);
  const EvalResult r = evaluator.Run(0, Random(env->spec().num_actions));
  EXPECT_EQ(r.episodes, 3);
  EXPECT_EQ(r.length_mean, 10);
}

}  // namespace
}  // namespace tokrl
