// Point aggregates of a [runs x tasks] ScoreMatrix, with rliable's
// definitions (Agarwal et al., "Deep RL at the Edge of the Statistical
// Precipice", NeurIPS 2021; google-research/rliable metrics.py; see
// shared/spec/paper.md 4.1). All are pure functions of the matrix.
//
//   Mean(S)           mean over tasks of the per-task mean over runs
//                     (= the mean of all entries, the matrix being
//                     rectangular).
//   Median(S)         median over tasks of the per-task means (the average
//                     of the two middle values for an even task count).
//   Iqm(S)            interquartile mean of all runs x tasks entries pooled:
//                     scipy.stats.trim_mean(x, 0.25), i.e. sort the n values,
//                     drop k = floor(0.25 * n) from each end and average the
//                     remaining n - 2k.
//   OptimalityGap(S)  gamma - mean over all entries of min(score, gamma);
//                     gamma = 1 (human / reference level) by default. Lower
//                     is better.
//
// Every function needs a non-empty matrix (runs, tasks >= 1).
#ifndef TOKRL_STATS_AGGREGATE_H_
#define TOKRL_STATS_AGGREGATE_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tokrl/stats/score_matrix.h"

namespace tokrl::stats {

double Mean(const ScoreMatrix& scores);
double Median(const ScoreMatrix& scores);
double Iqm(const ScoreMatrix& scores);
double OptimalityGap(const ScoreMatrix& scores, double gamma = 1.0);

// The four aggregates reported by rliable's plot_interval_estimates, in its
// order.
enum class Aggregate { kMedian, kIqm, kMean, kOptimalityGap };
inline constexpr Aggregate kAllAggregates[] = {
    Aggregate::kMedian, Aggregate::kIqm, Aggregate::kMean,
    Aggregate::kOptimalityGap};

// "Median", "IQM", "Mean", "Optimality Gap".
std::string_view AggregateName(Aggregate aggregate);
// Computes one aggregate (OptimalityGap with gamma = 1).
double Compute(Aggregate aggregate, const ScoreMatrix& scores);

// A scalar statistic of a score matrix, for the bootstrap.
using AggregateFn = std::function<double(const ScoreMatrix&)>;
AggregateFn AsFunction(Aggregate aggregate);

}  // namespace tokrl::stats

#endif  // TOKRL_STATS_AGGREGATE_H_
