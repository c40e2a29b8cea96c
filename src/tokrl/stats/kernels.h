// Internal building blocks shared by aggregate.cc, bootstrap.cc,
// profiles.cc and improvement.cc (not part of the public interface).
//
// The bootstrap's fast path never materializes a resampled matrix: a
// stratified resample of a [runs x tasks] matrix is fully described by how
// many times each original entry was drawn (its count; the counts of one
// task sum to runs()). Every built-in aggregate is a function of the
// original values weighted by those counts, e.g. the IQM is a walk over the
// values in sorted order (precomputed once) that skips the lowest k and
// highest k copies. That is O(runs x tasks) per replicate with no sorting
// and no allocation.
#ifndef TOKRL_STATS_KERNELS_H_
#define TOKRL_STATS_KERNELS_H_

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "tokrl/core/rng.h"
#include "tokrl/stats/aggregate.h"
#include "tokrl/stats/bootstrap.h"
#include "tokrl/stats/score_matrix.h"

namespace tokrl::stats::internal {

// The callable that AsFunction(aggregate) wraps in an AggregateFn. The
// bootstrap recognizes it with std::function::target<BuiltinAggregate>() and
// evaluates it from counts instead of calling it on a resampled matrix.
struct BuiltinAggregate {
  Aggregate aggregate;
  double operator()(const ScoreMatrix& scores) const {
    return Compute(aggregate, scores);
  }
};

// The q-th percentile (q in [0, 100]) of `values` with numpy's default
// "linear" method; reorders `values` (nth_element). values is non-empty.
double PercentileInPlace(std::span<double> values, double q);

// Median of `values` (mean of the two middle ones for an even size);
// reorders `values`. values is non-empty.
double MedianInPlace(std::span<double> values);

// Evaluates the built-in aggregates of one resample given by per-entry
// counts. Construct once per score matrix; SetCounts then Evaluate, for any
// number of aggregates, is allocation-free (Median and Mean share the
// per-task means).
class CountAggregator {
 public:
  explicit CountAggregator(const ScoreMatrix& scores);

  // counts: row-major [runs x tasks], counts(r, t) = how many times run r of
  // task t was drawn. The span must stay valid until the next SetCounts.
  void SetCounts(std::span<const uint32_t> counts) {
    counts_ = counts;
    task_means_valid_ = false;
  }
  double Evaluate(Aggregate aggregate);

 private:
  double Iqm() const;
  double OptimalityGap() const;
  void ComputeTaskMeans();

  std::span<const uint32_t> counts_;
  bool task_means_valid_ = false;

  int64_t runs_, tasks_;
  std::span<const double> values_;
  std::vector<uint32_t> sorted_positions_;  // entries by ascending value
  std::vector<double> sorted_values_;
  std::vector<double> clipped_;     // min(value, 1), for the optimality gap
  std::vector<double> task_means_;  // of the current counts
  std::vector<double> scratch_;     // for the median's nth_element
};

// ---- replicate streams --------------------------------------------------
//
// Replicates come in blocks of kBlockReps; block b draws from
// Rng(DeriveSeed(options.seed, b)). Results therefore depend only on the
// options (not on how blocks are scheduled), so a parallel loop over blocks
// would give bit-identical intervals.
inline constexpr int kBlockReps = 1000;

// Throws tokrl::Error naming the bad field.
void CheckBootstrapOptions(const BootstrapOptions& options);

// Calls fn(rep, rng) for rep = 0 .. options.reps - 1, in order, with rng the
// stream of rep's block.
template <typename Fn>
void ForEachReplicate(const BootstrapOptions& options, Fn&& fn) {
  for (int block = 0; block * kBlockReps < options.reps; ++block) {
    Rng rng(DeriveSeed(options.seed, static_cast<uint64_t>(block)));
    const int end = options.reps - block * kBlockReps < kBlockReps
                        ? options.reps
                        : (block + 1) * kBlockReps;
    for (int rep = block * kBlockReps; rep < end; ++rep) fn(rep, rng);
  }
}

// Unbiased uniform draws from [0, n) for resampling: Lemire's
// multiply-and-reject method on 16-bit slices of Rng::NextU64 (4 draws per
// call) when n <= 256, else on 32-bit halves (2 per call). Rejection keeps
// every index exactly equally likely. One drawer serves one resample, so a
// resample's draws depend only on the Rng state at its start.
class IndexDrawer {
 public:
  IndexDrawer(Rng& rng, uint32_t n)
      : rng_(rng),
        n_(n),
        small_(n <= 256),
        threshold_(small_ ? (65536u - n) % n : static_cast<uint32_t>(-n) % n) {}

  uint32_t Next() {
    if (small_) {
      for (;;) {
        if (left_ == 0) {
          bits_ = rng_.NextU64();
          left_ = 4;
        }
        const auto x = static_cast<uint32_t>(bits_ & 0xFFFF);
        bits_ >>= 16;
        --left_;
        const uint32_t m = x * n_;  // < 2^24
        if ((m & 0xFFFF) >= threshold_) return m >> 16;
      }
    }
    for (;;) {
      if (left_ == 0) {
        bits_ = rng_.NextU64();
        left_ = 2;
      }
      const auto x = static_cast<uint32_t>(bits_);
      bits_ >>= 32;
      --left_;
      const uint64_t m = static_cast<uint64_t>(x) * n_;
      if (static_cast<uint32_t>(m) >= threshold_) {
        return static_cast<uint32_t>(m >> 32);
      }
    }
  }

 private:
  Rng& rng_;
  uint32_t n_;
  bool small_;
  uint32_t threshold_;  // 2^L mod n: low parts below it are rejected
  uint64_t bits_ = 0;
  int left_ = 0;
};

// One stratified resample as counts (row-major [runs x tasks]; the counts of
// each task sum to runs), drawing run indices in StratifiedResample's order
// (entry by entry, row-major, one IndexDrawer), so both describe the same
// resample.
inline void DrawCounts(Rng& rng, int64_t runs, int64_t tasks,
                       std::span<uint32_t> counts) {
  std::fill(counts.begin(), counts.end(), 0u);
  IndexDrawer draw(rng, static_cast<uint32_t>(runs));
  const auto stride = static_cast<size_t>(tasks);
  for (int64_t r = 0; r < runs; ++r) {
    for (size_t t = 0; t < stride; ++t) {
      ++counts[draw.Next() * stride + t];
    }
  }
}

// The percentile interval of the replicate values (reorders them).
Interval PercentileInterval(std::span<double> replicates, double point,
                            double coverage);

}  // namespace tokrl::stats::internal

#endif  // TOKRL_STATS_KERNELS_H_
