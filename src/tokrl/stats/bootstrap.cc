#include "tokrl/stats/bootstrap.h"

#include <cmath>
#include <optional>

#include "tokrl/core/check.h"
#include "tokrl/stats/kernels.h"

namespace tokrl::stats {
namespace internal {

// Writes a replicate into a reused matrix (no allocation per replicate). The
// values come from a valid matrix, so the invariants hold.
struct ScoreMatrixAccess {
  static std::vector<double>& values(ScoreMatrix& m) { return m.values_; }
};

void CheckBootstrapOptions(const BootstrapOptions& options) {
  if (options.reps < 1) {
    TOKRL_FAIL() << "bootstrap reps must be >= 1, got " << options.reps;
  }
  if (!(options.coverage > 0 && options.coverage < 1)) {
    TOKRL_FAIL() << "bootstrap coverage must be in (0, 1), got "
                 << options.coverage;
  }
}

Interval PercentileInterval(std::span<double> replicates, double point,
                            double coverage) {
  Interval interval;
  interval.point = point;
  interval.lower = PercentileInPlace(replicates, 100 * (1 - coverage) / 2);
  interval.upper = PercentileInPlace(replicates, 100 * (1 + coverage) / 2);
  return interval;
}

}  // namespace internal

namespace {

void CheckScores(const ScoreMatrix& scores) {
  if (scores.runs() < 1 || scores.tasks() < 1) {
    TOKRL_FAIL() << "bootstrap of an empty score matrix (it needs at least "
                 << "one run and one task)";
  }
}

}  // namespace

ScoreMatrix StratifiedResample(const ScoreMatrix& scores, Rng& rng) {
  CheckScores(scores);
  const int64_t runs = scores.runs(), tasks = scores.tasks();
  internal::IndexDrawer draw(rng, static_cast<uint32_t>(runs));
  std::vector<double> values(scores.values().size());
  size_t p = 0;
  for (int64_t r = 0; r < runs; ++r) {
    for (int64_t t = 0; t < tasks; ++t, ++p) {
      values[p] = scores(draw.Next(), t);
    }
  }
  return ScoreMatrix(runs, tasks, std::move(values));
}

double Percentile(std::span<const double> values, double q) {
  std::vector<double> copy(values.begin(), values.end());
  return internal::PercentileInPlace(copy, q);
}

std::vector<Interval> StratifiedBootstrapCis(
    const ScoreMatrix& scores, std::span<const AggregateFn> statistics,
    const BootstrapOptions& options) {
  internal::CheckBootstrapOptions(options);
  CheckScores(scores);
  TOKRL_CHECK(scores.values().size() < (size_t{1} << 31))
      << "score matrix too large for the bootstrap";
  const int64_t runs = scores.runs(), tasks = scores.tasks();
  const size_t num_stats = statistics.size();

  // Built-in aggregates are evaluated from counts (kernels.h); any other
  // statistic is called on a materialized replicate.
  std::vector<std::optional<Aggregate>> builtin(num_stats);
  bool any_builtin = false, any_custom = false;
  for (size_t i = 0; i < num_stats; ++i) {
    TOKRL_CHECK(static_cast<bool>(statistics[i]))
        << "bootstrap statistic " << i << " is an empty function";
    if (const auto* b = statistics[i].target<internal::BuiltinAggregate>()) {
      builtin[i] = b->aggregate;
      any_builtin = true;
    } else {
      any_custom = true;
    }
  }

  std::vector<double> points(num_stats);
  for (size_t i = 0; i < num_stats; ++i) points[i] = statistics[i](scores);

  std::vector<std::vector<double>> replicates(
      num_stats, std::vector<double>(static_cast<size_t>(options.reps)));
  std::optional<internal::CountAggregator> aggregator;
  if (any_builtin) aggregator.emplace(scores);
  std::vector<uint32_t> counts(scores.values().size());
  ScoreMatrix replicate = any_custom ? scores : ScoreMatrix();
  const auto stride = static_cast<size_t>(tasks);

  internal::ForEachReplicate(options, [&](int rep, Rng& rng) {
    const auto r_index = static_cast<size_t>(rep);
    if (any_custom) {
      // Same draws as DrawCounts, kept as indices to build the replicate.
      std::vector<double>& values =
          internal::ScoreMatrixAccess::values(replicate);
      std::fill(counts.begin(), counts.end(), 0u);
      internal::IndexDrawer draw(rng, static_cast<uint32_t>(runs));
      size_t p = 0;
      for (int64_t r = 0; r < runs; ++r) {
        for (size_t t = 0; t < stride; ++t, ++p) {
          const uint32_t run = draw.Next();
          ++counts[run * stride + t];
          values[p] = scores(run, static_cast<int64_t>(t));
        }
      }
    } else {
      internal::DrawCounts(rng, runs, tasks, counts);
    }
    if (any_builtin) aggregator->SetCounts(counts);
    for (size_t i = 0; i < num_stats; ++i) {
      double value;
      if (builtin[i]) {
        value = aggregator->Evaluate(*builtin[i]);
      } else {
        value = statistics[i](replicate);
        if (!std::isfinite(value)) {
          TOKRL_FAIL() << "bootstrap statistic " << i << " returned " << value
                       << " on replicate " << rep;
        }
      }
      replicates[i][r_index] = value;
    }
  });

  std::vector<Interval> intervals(num_stats);
  for (size_t i = 0; i < num_stats; ++i) {
    intervals[i] = internal::PercentileInterval(replicates[i], points[i],
                                                options.coverage);
  }
  return intervals;
}

Interval StratifiedBootstrapCi(const ScoreMatrix& scores,
                               const AggregateFn& statistic,
                               const BootstrapOptions& options) {
  return StratifiedBootstrapCis(scores, std::span(&statistic, 1), options)
      .front();
}

}  // namespace tokrl::stats
