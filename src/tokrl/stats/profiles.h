// Performance profiles (score distributions) of a [runs x tasks]
// ScoreMatrix, rliable's `create_performance_profile` with the default
// run-score distribution (Agarwal et al. 2021, section 4.2; Dolan & Moré
// 2002):
//
//   profile(tau) = fraction of all runs x tasks entries with score > tau
//                  (strictly greater), i.e. the mean over tasks of the
//                  per-task fraction of runs above tau.
//
// A profile is non-increasing in tau, equals 1 for tau below the minimum
// and 0 at or above the maximum. The CI version bootstraps the whole curve
// with the stratified resampling of bootstrap.h (the same replicates for
// every tau).
#ifndef TOKRL_STATS_PROFILES_H_
#define TOKRL_STATS_PROFILES_H_

#include <span>
#include <vector>

#include "tokrl/stats/bootstrap.h"
#include "tokrl/stats/score_matrix.h"

namespace tokrl::stats {

// result[i] = profile(taus[i]).
std::vector<double> PerformanceProfile(const ScoreMatrix& scores,
                                       std::span<const double> taus);

// result[i] = the CI of profile(taus[i]).
std::vector<Interval> PerformanceProfileCis(
    const ScoreMatrix& scores, std::span<const double> taus,
    const BootstrapOptions& options = {});

// `count` evenly spaced thresholds from lo to hi inclusive (count >= 2),
// like numpy.linspace; rliable's plots use linspace(0, 8, 81) for Atari.
std::vector<double> Linspace(double lo, double hi, int count);

}  // namespace tokrl::stats

#endif  // TOKRL_STATS_PROFILES_H_
