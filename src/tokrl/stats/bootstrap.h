// Stratified bootstrap confidence intervals for aggregates of a
// [runs x tasks] ScoreMatrix (rliable's StratifiedBootstrap with the
// percentile method; Agarwal et al. 2021, section 4; shared/spec/paper.md
// 4.1).
//
// One bootstrap replicate resamples, independently for every task, runs()
// run indices with replacement from that task's own runs (the strata are the
// tasks; a task never borrows another task's scores), then evaluates the
// statistic on the resampled matrix. With reps replicates the interval is
// the (1 - coverage)/2 and (1 + coverage)/2 percentiles of the replicate
// values (linear interpolation between order statistics, numpy's default
// "linear" method), and `point` is the statistic on the original matrix.
//
// Determinism: the result is a pure function of (scores, statistic,
// options), including the seed; the same inputs give bit-identical
// intervals on every machine and thread count. Replicates come in blocks of
// 1000: block b draws from Rng(DeriveSeed(seed, b)), each replicate with
// StratifiedResample's draw order, so blocks are independent streams.
//
// Speed: AsFunction(aggregate) statistics are recognized and evaluated from
// per-entry draw counts, without building the resampled matrix or sorting
// (O(runs x tasks) per replicate); any other AggregateFn is called on a
// replicate matrix that is refilled in place. Both see the same replicates.
//
// Defaults follow rliable: 50,000 replicates, 95% coverage.
#ifndef TOKRL_STATS_BOOTSTRAP_H_
#define TOKRL_STATS_BOOTSTRAP_H_

#include <cstdint>
#include <span>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/stats/aggregate.h"
#include "tokrl/stats/score_matrix.h"

namespace tokrl::stats {

struct Interval {
  double lower = 0, point = 0, upper = 0;
};

struct BootstrapOptions {
  /// Number of bootstrap replicates (>= 1).
  int reps = 50'000;
  /// Interval coverage in (0, 1).
  double coverage = 0.95;
  /// Seed of the resampling RNG.
  uint64_t seed = 0;
};

// CI of one statistic. Throws tokrl::Error on bad options.
Interval StratifiedBootstrapCi(const ScoreMatrix& scores,
                               const AggregateFn& statistic,
                               const BootstrapOptions& options = {});

// CIs of several statistics from the same replicates (cheaper than one call
// each, and the intervals are jointly consistent): result[i] is the CI of
// statistics[i].
std::vector<Interval> StratifiedBootstrapCis(
    const ScoreMatrix& scores, std::span<const AggregateFn> statistics,
    const BootstrapOptions& options = {});

// One stratified resample of `scores` (the building block above, exposed for
// tests and custom statistics): entry (r, t) is scores(idx, t) for an index
// drawn uniformly from [0, runs()), independently per entry. Entries are
// drawn in row-major order from `rng` (Lemire's unbiased method on 16- or
// 32-bit slices of rng.NextU64(); see kernels.h IndexDrawer).
ScoreMatrix StratifiedResample(const ScoreMatrix& scores, Rng& rng);

// The q-th percentile (q in [0, 100]) of non-empty `values` with numpy's
// default "linear" method: the (n - 1) * q / 100-th order statistic,
// interpolated linearly between its neighbours. The interval ends above are
// Percentile(replicates, 100 * (1 -+ coverage) / 2).
double Percentile(std::span<const double> values, double q);

}  // namespace tokrl::stats

#endif  // TOKRL_STATS_BOOTSTRAP_H_
