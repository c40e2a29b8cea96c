// Stratified bootstrap speed: StratifiedBootstrapCis of rliable's four
// aggregates (Median, IQM, Mean, Optimality Gap) at rliable's default 50,000
// replicates, on 5 runs x 20 tasks (the 20-game subset) and 5 x 57 (Atari-57).
//
// BM_BootstrapCis times tokrl's implementation. BM_NaiveBootstrapCis times a
// straightforward baseline in the same process: one freshly allocated
// resampled matrix per replicate (StratifiedResample), each aggregate
// computed by the public functions (IQM copies and fully sorts), replicate
// values fully sorted for the percentiles. BM_Speedup runs both on the same
// inputs, checks that they agree, and reports naive_time / fast_time.
//
//   ./build/bench_stats --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/stats/aggregate.h"
#include "tokrl/stats/bootstrap.h"

namespace tokrl::stats {
namespace {

constexpr int kReps = 50'000;

ScoreMatrix MakeScores(int64_t tasks) {
  Rng rng(2021);
  std::vector<double> values(static_cast<size_t>(5 * tasks));
  // Human-normalized-like scores: mostly in [0, 2], a few large outliers.
  for (double& v : values) {
    v = 2 * rng.Uniform();
    if (rng.Bernoulli(0.05)) v *= 20;
  }
  return ScoreMatrix(5, tasks, std::move(values));
}

std::vector<AggregateFn> Statistics() {
  std::vector<AggregateFn> fns;
  for (Aggregate a : kAllAggregates) fns.push_back(AsFunction(a));
  return fns;
}

// Linear-interpolated percentile of sorted values (numpy's default).
double SortedPercentile(const std::vector<double>& sorted, double q) {
  const double h = static_cast<double>(sorted.size() - 1) * q / 100;
  const auto lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  const double frac = h - static_cast<double>(lo);
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

// The baseline: same replicate streams as the library, nothing reused.
std::vector<Interval> NaiveBootstrapCis(const ScoreMatrix& scores,
                                        const BootstrapOptions& options) {
  std::vector<std::vector<double>> replicates(std::size(kAllAggregates));
  for (int block = 0; block * 1000 < options.reps; ++block) {
    Rng rng(DeriveSeed(options.seed, static_cast<uint64_t>(block)));
    const int end = std::min(options.reps, (block + 1) * 1000);
    for (int rep = block * 1000; rep < end; ++rep) {
      const ScoreMatrix resample = StratifiedResample(scores, rng);
      for (size_t i = 0; i < replicates.size(); ++i) {
        replicates[i].push_back(Compute(kAllAggregates[i], resample));
      }
    }
  }
  std::vector<Interval> out;
  for (size_t i = 0; i < replicates.size(); ++i) {
    std::sort(replicates[i].begin(), replicates[i].end());
    out.push_back(
        {SortedPercentile(replicates[i], 100 * (1 - options.coverage) / 2),
         Compute(kAllAggregates[i], scores),
         SortedPercentile(replicates[i], 100 * (1 + options.coverage) / 2)});
  }
  return out;
}

void BM_BootstrapCis(benchmark::State& state) {
  const ScoreMatrix scores = MakeScores(state.range(0));
  const auto fns = Statistics();
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        StratifiedBootstrapCis(scores, fns, {.reps = kReps}));
  }
  state.SetLabel("5x" + std::to_string(state.range(0)));
  state.counters["reps/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kReps,
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_BootstrapCis)->Arg(20)->Arg(57)->Unit(benchmark::kMillisecond);

void BM_NaiveBootstrapCis(benchmark::State& state) {
  const ScoreMatrix scores = MakeScores(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(NaiveBootstrapCis(scores, {.reps = kReps}));
  }
  state.SetLabel("5x" + std::to_string(state.range(0)));
  state.counters["reps/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kReps,
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_NaiveBootstrapCis)
    ->Arg(20)
    ->Arg(57)
    ->Unit(benchmark::kMillisecond);

// Both implementations, alternated in one loop; counters in milliseconds.
void BM_Speedup(benchmark::State& state) {
  using Clock = std::chrono::steady_clock;
  const ScoreMatrix scores = MakeScores(state.range(0));
  const auto fns = Statistics();
  double fast_s = 0, naive_s = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    const auto fast = StratifiedBootstrapCis(scores, fns, {.reps = kReps});
    const auto t1 = Clock::now();
    const auto naive = NaiveBootstrapCis(scores, {.reps = kReps});
    const auto t2 = Clock::now();
    fast_s += std::chrono::duration<double>(t1 - t0).count();
    naive_s += std::chrono::duration<double>(t2 - t1).count();
    for (size_t i = 0; i < fast.size(); ++i) {
      if (std::abs(fast[i].lower - naive[i].lower) > 1e-9 ||
          std::abs(fast[i].upper - naive[i].upper) > 1e-9) {
        state.SkipWithError("fast and naive bootstrap disagree");
        return;
      }
    }
  }
  const auto n = static_cast<double>(state.iterations());
  state.SetLabel("5x" + std::to_string(state.range(0)));
  state.counters["fast_ms"] = 1e3 * fast_s / n;
  state.counters["naive_ms"] = 1e3 * naive_s / n;
  state.counters["speedup"] = naive_s / fast_s;
}
BENCHMARK(BM_Speedup)
    ->Arg(20)
    ->Arg(57)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tokrl::stats

BENCHMARK_MAIN();
