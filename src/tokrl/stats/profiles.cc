#include "tokrl/stats/profiles.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tokrl/core/check.h"
#include "tokrl/stats/kernels.h"

namespace tokrl::stats {
namespace {

void CheckInputs(const ScoreMatrix& scores, std::span<const double> taus) {
  if (scores.runs() < 1 || scores.tasks() < 1) {
    TOKRL_FAIL() << "performance profile of an empty score matrix (it needs "
                 << "at least one run and one task)";
  }
  for (size_t i = 0; i < taus.size(); ++i) {
    if (std::isnan(taus[i])) {
      TOKRL_FAIL() << "performance profile threshold tau[" << i << "] is NaN";
    }
  }
}

// The q-th percentile (numpy "linear") of `total` replicate values given as
// a histogram: hist[c] replicates had profile value c / n.
double HistogramPercentile(std::span<const int64_t> hist, int64_t total,
                           double n, double q) {
  const double h = static_cast<double>(total - 1) * (q / 100.0);
  const auto lo = static_cast<int64_t>(std::floor(h));
  const double frac = h - static_cast<double>(lo);
  // Value of the k-th order statistic (0-based).
  auto order_statistic = [&](int64_t k) {
    int64_t seen = 0;
    for (size_t c = 0; c < hist.size(); ++c) {
      seen += hist[c];
      if (seen > k) return static_cast<double>(c) / n;
    }
    return static_cast<double>(hist.size() - 1) / n;
  };
  const double a = order_statistic(lo);
  if (frac == 0 || lo + 1 >= total) return a;
  const double b = order_statistic(lo + 1);
  return frac >= 0.5 ? b - (b - a) * (1 - frac) : a + (b - a) * frac;
}

}  // namespace

std::vector<double> PerformanceProfile(const ScoreMatrix& scores,
                                       std::span<const double> taus) {
  CheckInputs(scores, taus);
  const auto n = static_cast<double>(scores.values().size());
  std::vector<double> profile(taus.size());
  for (size_t i = 0; i < taus.size(); ++i) {
    int64_t above = 0;
    for (double v : scores.values()) above += v > taus[i] ? 1 : 0;
    profile[i] = static_cast<double>(above) / n;
  }
  return profile;
}

std::vector<Interval> PerformanceProfileCis(const ScoreMatrix& scores,
                                            std::span<const double> taus,
                                            const BootstrapOptions& options) {
  internal::CheckBootstrapOptions(options);
  CheckInputs(scores, taus);
  const std::vector<double> point = PerformanceProfile(scores, taus);
  const size_t num_taus = taus.size();
  const size_t n = scores.values().size();

  // Sort the thresholds; bucket[p] = how many of them lie strictly below
  // entry p, so entry p counts towards profile(tau_sorted[j]) iff
  // j < bucket[p].
  std::vector<size_t> order(num_taus);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return taus[a] < taus[b]; });
  std::vector<double> sorted_taus(num_taus);
  for (size_t j = 0; j < num_taus; ++j) sorted_taus[j] = taus[order[j]];
  std::vector<uint32_t> bucket(n);
  for (size_t p = 0; p < n; ++p) {
    bucket[p] = static_cast<uint32_t>(std::lower_bound(sorted_taus.begin(),
                                                       sorted_taus.end(),
                                                       scores.values()[p]) -
                                      sorted_taus.begin());
  }

  // A replicate's profile at any tau is (count above tau) / n, so each
  // tau's replicate distribution is a histogram over 0..n: exact and small.
  std::vector<int64_t> hist(num_taus * (n + 1), 0);
  std::vector<uint32_t> counts(n);
  std::vector<int64_t> per_bucket(num_taus + 1);
  internal::ForEachReplicate(options, [&](int, Rng& rng) {
    internal::DrawCounts(rng, scores.runs(), scores.tasks(), counts);
    std::fill(per_bucket.begin(), per_bucket.end(), 0);
    for (size_t p = 0; p < n; ++p) per_bucket[bucket[p]] += counts[p];
    int64_t above = 0;
    for (size_t j = num_taus; j-- > 0;) {
      above += per_bucket[j + 1];
      ++hist[order[j] * (n + 1) + static_cast<size_t>(above)];
    }
  });

  std::vector<Interval> intervals(num_taus);
  const auto total = static_cast<int64_t>(options.reps);
  const auto n_double = static_cast<double>(n);
  for (size_t i = 0; i < num_taus; ++i) {
    const std::span<const int64_t> h(hist.data() + i * (n + 1), n + 1);
    intervals[i].point = point[i];
    intervals[i].lower = HistogramPercentile(h, total, n_double,
                                             100 * (1 - options.coverage) / 2);
    intervals[i].upper = HistogramPercentile(h, total, n_double,
                                             100 * (1 + options.coverage) / 2);
  }
  return intervals;
}

std::vector<double> Linspace(double lo, double hi, int count) {
  TOKRL_CHECK(count >= 2) << "Linspace needs count >= 2, got " << count;
  TOKRL_CHECK(std::isfinite(lo) && std::isfinite(hi))
      << "Linspace bounds must be finite, got " << lo << " and " << hi;
  // numpy.linspace: start + i * step, with the last point exactly hi.
  const double step = (hi - lo) / static_cast<double>(count - 1);
  std::vector<double> out(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    out[static_cast<size_t>(i)] = lo + static_cast<double>(i) * step;
  }
  out.back() = hi;
  return out;
}

}  // namespace tokrl::stats
