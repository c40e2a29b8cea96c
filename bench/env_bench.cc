// Env throughput: steps/s per MinAtar game for one env on one core, and for a
// VecEnv stepped by the thread pool. Compare with the Python reference's
// single-env numbers in docs/minatar_reference_stats.md.
//
//   ./build/bench_env --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/env/registry.h"
#include "tokrl/env/vec_env.h"

namespace tokrl {
namespace {

const char* const kGames[] = {"minatar/asterix", "minatar/breakout",
                              "minatar/freeway", "minatar/seaquest",
                              "minatar/space_invaders"};

void BM_SingleEnv(benchmark::State& state) {
  auto env = MakeEnv(kGames[state.range(0)]);
  state.SetLabel(kGames[state.range(0)]);
  std::vector<uint8_t> obs(env->spec().obs_size());
  Rng policy(1);
  const auto n = static_cast<uint32_t>(env->spec().num_actions);
  env->Reset(obs);
  for (auto _ : state) {
    if (env->Step(static_cast<int>(policy.UniformInt(n)), obs).done())
      env->Reset(obs);
  }
  state.counters["steps/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SingleEnv)->DenseRange(0, 4);

void BM_VecEnv(benchmark::State& state) {
  const int num_envs = 256;
  const int threads = static_cast<int>(state.range(1));
  VecEnv venv(kGames[state.range(0)],
              {.num_envs = num_envs, .num_threads = threads});
  state.SetLabel(kGames[state.range(0)]);
  venv.Reset();
  Rng policy(1);
  const auto n = static_cast<uint32_t>(venv.spec().num_actions);
  std::vector<int32_t> actions(num_envs);
  for (auto _ : state) {
    for (auto& a : actions) a = static_cast<int32_t>(policy.UniformInt(n));
    venv.Step(actions);
  }
  const double steps = static_cast<double>(state.iterations()) * num_envs;
  state.counters["steps/s"] =
      benchmark::Counter(steps, benchmark::Counter::kIsRate);
  state.counters["steps/s/thread"] =
      benchmark::Counter(steps / threads, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VecEnv)->ArgsProduct({{0, 1, 2, 3, 4}, {1, 2}})->UseRealTime();

}  // namespace
}  // namespace tokrl

BENCHMARK_MAIN();
