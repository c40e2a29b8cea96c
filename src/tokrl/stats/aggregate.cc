#include "tokrl/stats/aggregate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tokrl/core/check.h"
#include "tokrl/stats/kernels.h"

namespace tokrl::stats {
namespace {

void CheckNonEmpty(const ScoreMatrix& scores, const char* what) {
  if (scores.runs() < 1 || scores.tasks() < 1) {
    TOKRL_FAIL() << what << " of an empty score matrix (it needs at least one "
                 << "run and one task)";
  }
}

std::vector<double> TaskMeans(const ScoreMatrix& scores) {
  std::vector<double> means(static_cast<size_t>(scores.tasks()), 0.0);
  for (int64_t r = 0; r < scores.runs(); ++r) {
    for (int64_t t = 0; t < scores.tasks(); ++t) {
      means[static_cast<size_t>(t)] += scores(r, t);
    }
  }
  for (double& m : means) m /= static_cast<double>(scores.runs());
  return means;
}

}  // namespace

namespace internal {

double PercentileInPlace(std::span<double> values, double q) {
  TOKRL_CHECK(!values.empty()) << "percentile of no values";
  TOKRL_CHECK(q >= 0 && q <= 100) << "percentile " << q << " not in [0, 100]";
  // numpy "linear": the (n - 1) * q / 100-th order statistic, interpolated.
  const double h = static_cast<double>(values.size() - 1) * (q / 100.0);
  const auto lo = static_cast<size_t>(std::floor(h));
  const double frac = h - static_cast<double>(lo);
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(lo),
                   values.end());
  const double a = values[lo];
  if (frac == 0 || lo + 1 >= values.size()) return a;
  // The next order statistic is the minimum of the part above lo.
  const double b = *std::min_element(
      values.begin() + static_cast<ptrdiff_t>(lo) + 1, values.end());
  // numpy's _lerp: exact at both ends, monotone in frac.
  return frac >= 0.5 ? b - (b - a) * (1 - frac) : a + (b - a) * frac;
}

double MedianInPlace(std::span<double> values) {
  TOKRL_CHECK(!values.empty()) << "median of no values";
  const size_t n = values.size();
  const size_t mid = n / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(mid),
                   values.end());
  const double upper = values[mid];
  if (n % 2 == 1) return upper;
  const double lower = *std::max_element(
      values.begin(), values.begin() + static_cast<ptrdiff_t>(mid));
  return (lower + upper) / 2;
}

CountAggregator::CountAggregator(const ScoreMatrix& scores)
    : runs_(scores.runs()),
      tasks_(scores.tasks()),
      values_(scores.values()),
      sorted_positions_(values_.size()),
      sorted_values_(values_.size()),
      clipped_(values_.size()),
      task_means_(static_cast<size_t>(tasks_)),
      scratch_(static_cast<size_t>(tasks_)) {
  CheckNonEmpty(scores, "aggregate");
  std::iota(sorted_positions_.begin(), sorted_positions_.end(), 0u);
  // stable: ties keep row-major order, so the walk is fully determined.
  std::stable_sort(
      sorted_positions_.begin(), sorted_positions_.end(),
      [&](uint32_t a, uint32_t b) { return values_[a] < values_[b]; });
  for (size_t i = 0; i < values_.size(); ++i) {
    sorted_values_[i] = values_[sorted_positions_[i]];
    clipped_[i] = std::min(values_[i], 1.0);
  }
}

void CountAggregator::ComputeTaskMeans() {
  if (task_means_valid_) return;
  std::fill(task_means_.begin(), task_means_.end(), 0.0);
  size_t p = 0;
  for (int64_t r = 0; r < runs_; ++r) {
    for (size_t t = 0; t < task_means_.size(); ++t, ++p) {
      task_means_[t] += static_cast<double>(counts_[p]) * values_[p];
    }
  }
  const auto runs = static_cast<double>(runs_);
  for (double& m : task_means_) m /= runs;
  task_means_valid_ = true;
}

double CountAggregator::Iqm() const {
  const auto n = static_cast<int64_t>(values_.size());
  const int64_t k = n / 4;  // floor(0.25 * n), as scipy's trim_mean
  const int64_t lo = k, hi = n - k;
  // The resample, sorted, is sorted_values_[i] repeated c_i = counts of
  // sorted_positions_[i] times; keep the copies whose rank is in [lo, hi).
  // First an integer walk finds the two boundary values (first and last with
  // kept copies); everything strictly between them is kept whole.
  const uint32_t* pos = sorted_positions_.data();
  const uint32_t* counts = counts_.data();
  size_t first = 0;
  int64_t below = 0;  // copies before `first`
  while (below + counts[pos[first]] <= lo) below += counts[pos[first++]];
  const int64_t first_kept =
      std::min<int64_t>(below + counts[pos[first]], hi) - lo;
  size_t last = first;
  int64_t upto = below + counts[pos[first]];  // copies up to and incl. last
  while (upto < hi) upto += counts[pos[++last]];
  if (last == first) return sorted_values_[first];
  const int64_t last_kept = hi - (upto - counts[pos[last]]);
  // Interior: four accumulators to break the floating-point add chain.
  double acc[4] = {0, 0, 0, 0};
  size_t i = first + 1;
  for (; i + 4 <= last; i += 4) {
    for (size_t j = 0; j < 4; ++j) {
      acc[j] += static_cast<double>(counts[pos[i + j]]) * sorted_values_[i + j];
    }
  }
  for (; i < last; ++i) {
    acc[0] += static_cast<double>(counts[pos[i]]) * sorted_values_[i];
  }
  const double sum = static_cast<double>(first_kept) * sorted_values_[first] +
                     ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                     static_cast<double>(last_kept) * sorted_values_[last];
  return sum / static_cast<double>(hi - lo);
}

double CountAggregator::OptimalityGap() const {
  double sum = 0;
  for (size_t p = 0; p < clipped_.size(); ++p) {
    sum += static_cast<double>(counts_[p]) * clipped_[p];
  }
  return 1.0 - sum / static_cast<double>(clipped_.size());
}

double CountAggregator::Evaluate(Aggregate aggregate) {
  TOKRL_DCHECK(counts_.size() == values_.size());
  switch (aggregate) {
    case Aggregate::kMedian:
      ComputeTaskMeans();
      scratch_ = task_means_;  // same size: no allocation
      return MedianInPlace(scratch_);
    case Aggregate::kIqm:
      return Iqm();
    case Aggregate::kMean: {
      ComputeTaskMeans();
      double sum = 0;
      for (double m : task_means_) sum += m;
      return sum / static_cast<double>(tasks_);
    }
    case Aggregate::kOptimalityGap:
      return OptimalityGap();
  }
  TOKRL_FAIL() << "unknown aggregate " << static_cast<int>(aggregate);
}

}  // namespace internal

double Mean(const ScoreMatrix& scores) {
  CheckNonEmpty(scores, "Mean");
  double sum = 0;
  for (double m : TaskMeans(scores)) sum += m;
  return sum / static_cast<double>(scores.tasks());
}

double Median(const ScoreMatrix& scores) {
  CheckNonEmpty(scores, "Median");
  std::vector<double> means = TaskMeans(scores);
  return internal::MedianInPlace(means);
}

double Iqm(const ScoreMatrix& scores) {
  CheckNonEmpty(scores, "IQM");
  std::vector<double> sorted(scores.values().begin(), scores.values().end());
  std::sort(sorted.begin(), sorted.end());
  const size_t k = sorted.size() / 4;  // floor(0.25 * n), as scipy
  double sum = 0;
  for (size_t i = k; i < sorted.size() - k; ++i) sum += sorted[i];
  return sum / static_cast<double>(sorted.size() - 2 * k);
}

double OptimalityGap(const ScoreMatrix& scores, double gamma) {
  CheckNonEmpty(scores, "optimality gap");
  TOKRL_CHECK(std::isfinite(gamma))
      << "optimality gap threshold gamma must be finite, got " << gamma;
  double sum = 0;
  for (double v : scores.values()) sum += std::min(v, gamma);
  return gamma - sum / static_cast<double>(scores.values().size());
}

std::string_view AggregateName(Aggregate aggregate) {
  switch (aggregate) {
    case Aggregate::kMedian:
      return "Median";
    case Aggregate::kIqm:
      return "IQM";
    case Aggregate::kMean:
      return "Mean";
    case Aggregate::kOptimalityGap:
      return "Optimality Gap";
  }
  TOKRL_FAIL() << "unknown aggregate " << static_cast<int>(aggregate);
}

double Compute(Aggregate aggregate, const ScoreMatrix& scores) {
  switch (aggregate) {
    case Aggregate::kMedian:
      return Median(scores);
    case Aggregate::kIqm:
      return Iqm(scores);
    case Aggregate::kMean:
      return Mean(scores);
    case Aggregate::kOptimalityGap:
      return OptimalityGap(scores);
  }
  TOKRL_FAIL() << "unknown aggregate " << static_cast<int>(aggregate);
}

AggregateFn AsFunction(Aggregate aggregate) {
  return internal::BuiltinAggregate{aggregate};
}

}  // namespace tokrl::stats
