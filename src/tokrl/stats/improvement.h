// Probability of improvement P(X > Y) between two algorithms' score
// matrices over the same tasks, rliable's `probability_of_improvement`
// (Agarwal et al. 2021, section 4.3):
//
//   P(X > Y) = (1 / tasks) * sum over tasks t of
//              (1 / (m_t n_t)) * sum_i sum_j S(x_it, y_jt),
//   S(a, b)  = 1 if a > b, 1/2 if a == b, 0 if a < b
//
// (the Mann-Whitney U statistic of each task, normalized, averaged over
// tasks). X and Y need the same number of tasks (columns, in the same
// order); their run counts may differ. P(X > Y) + P(Y > X) = 1.
//
// The CI resamples X and Y independently, each stratified by task
// (rliable's StratifiedIndependentBootstrap), percentile method. Replicate
// streams as in bootstrap.h; each replicate draws X's resample, then Y's.
#ifndef TOKRL_STATS_IMPROVEMENT_H_
#define TOKRL_STATS_IMPROVEMENT_H_

#include "tokrl/stats/bootstrap.h"
#include "tokrl/stats/score_matrix.h"

namespace tokrl::stats {

// Throws tokrl::Error when the task counts differ.
double ProbabilityOfImprovement(const ScoreMatrix& x, const ScoreMatrix& y);

Interval ProbabilityOfImprovementCi(const ScoreMatrix& x, const ScoreMatrix& y,
                                    const BootstrapOptions& options = {});

}  // namespace tokrl::stats

#endif  // TOKRL_STATS_IMPROVEMENT_H_
