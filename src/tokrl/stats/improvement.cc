#include "tokrl/stats/improvement.h"

#include <algorithm>
#include <numeric>

#include "tokrl/core/check.h"
#include "tokrl/stats/kernels.h"

namespace tokrl::stats {
namespace {

void CheckInputs(const ScoreMatrix& x, const ScoreMatrix& y) {
  if (x.runs() < 1 || x.tasks() < 1 || y.runs() < 1 || y.tasks() < 1) {
    TOKRL_FAIL() << "probability of improvement of an empty score matrix (x is "
                 << x.runs() << " runs x " << x.tasks() << " tasks, y is "
                 << y.runs() << " runs x " << y.tasks() << " tasks)";
  }
  if (x.tasks() != y.tasks()) {
    TOKRL_FAIL() << "probability of improvement needs the same tasks for X "
                 << "and Y: X has " << x.tasks() << " tasks, Y has "
                 << y.tasks();
  }
}

// P(X > Y) of resamples given as counts (row-major [runs x tasks], counts of
// ones for the original matrices). Per task, a merge over both columns in
// sorted order (precomputed) gives the weighted Mann-Whitney U in
// O(runs_x + runs_y).
class ImprovementKernel {
 public:
  ImprovementKernel(const ScoreMatrix& x, const ScoreMatrix& y)
      : x_(x), y_(y), x_order_(Orders(x)), y_order_(Orders(y)) {}

  double Evaluate(std::span<const uint32_t> x_counts,
                  std::span<const uint32_t> y_counts) const {
    const int64_t tasks = x_.tasks();
    const auto stride = static_cast<size_t>(tasks);
    const auto mx = static_cast<size_t>(x_.runs());
    const auto my = static_cast<size_t>(y_.runs());
    double total = 0;
    for (int64_t t = 0; t < tasks; ++t) {
      const uint32_t* xo = &x_order_[static_cast<size_t>(t) * mx];
      const uint32_t* yo = &y_order_[static_cast<size_t>(t) * my];
      const auto tu = static_cast<size_t>(t);
      double u = 0;      // sum over pairs of S(x, y), weighted by counts
      int64_t less = 0;  // y copies below the current x value
      size_t j = 0;      // first y (sorted) not yet counted in `less`
      for (size_t i = 0; i < mx; ++i) {
        const uint32_t cx = x_counts[xo[i] * stride + tu];
        if (cx == 0) continue;
        const double xv = x_(xo[i], t);
        while (j < my && y_(yo[j], t) < xv) {
          less += y_counts[yo[j] * stride + tu];
          ++j;
        }
        int64_t equal = 0;
        for (size_t k = j; k < my && y_(yo[k], t) == xv; ++k) {
          equal += y_counts[yo[k] * stride + tu];
        }
        u += static_cast<double>(cx) *
             (static_cast<double>(less) + 0.5 * static_cast<double>(equal));
      }
      total += u / (static_cast<double>(mx) * static_cast<double>(my));
    }
    return total / static_cast<double>(tasks);
  }

 private:
  // Per task, the run indices sorted by score: [tasks x runs].
  static std::vector<uint32_t> Orders(const ScoreMatrix& m) {
    const auto runs = static_cast<size_t>(m.runs());
    std::vector<uint32_t> order(runs * static_cast<size_t>(m.tasks()));
    for (int64_t t = 0; t < m.tasks(); ++t) {
      auto begin =
          order.begin() + static_cast<ptrdiff_t>(static_cast<size_t>(t) * runs);
      auto end = begin + static_cast<ptrdiff_t>(runs);
      std::iota(begin, end, 0u);
      std::stable_sort(begin, end, [&](uint32_t a, uint32_t b) {
        return m(a, t) < m(b, t);
      });
    }
    return order;
  }

  const ScoreMatrix& x_;
  const ScoreMatrix& y_;
  std::vector<uint32_t> x_order_, y_order_;
};

}  // namespace

double ProbabilityOfImprovement(const ScoreMatrix& x, const ScoreMatrix& y) {
  CheckInputs(x, y);
  const std::vector<uint32_t> x_ones(x.values().size(), 1u);
  const std::vector<uint32_t> y_ones(y.values().size(), 1u);
  return ImprovementKernel(x, y).Evaluate(x_ones, y_ones);
}

Interval ProbabilityOfImprovementCi(const ScoreMatrix& x, const ScoreMatrix& y,
                                    const BootstrapOptions& options) {
  internal::CheckBootstrapOptions(options);
  CheckInputs(x, y);
  const ImprovementKernel kernel(x, y);
  std::vector<uint32_t> x_counts(x.values().size()),
      y_counts(y.values().size());
  std::vector<double> replicates(static_cast<size_t>(options.reps));
  const std::vector<uint32_t> x_ones(x.values().size(), 1u);
  const std::vector<uint32_t> y_ones(y.values().size(), 1u);
  const double point = kernel.Evaluate(x_ones, y_ones);
  // X and Y are resampled independently, each stratified by task (rliable's
  // StratifiedIndependentBootstrap): X's draws, then Y's, from one stream.
  internal::ForEachReplicate(options, [&](int rep, Rng& rng) {
    internal::DrawCounts(rng, x.runs(), x.tasks(), x_counts);
    internal::DrawCounts(rng, y.runs(), y.tasks(), y_counts);
    replicates[static_cast<size_t>(rep)] = kernel.Evaluate(x_counts, y_counts);
  });
  return internal::PercentileInterval(replicates, point, options.coverage);
}

}  // namespace tokrl::stats
