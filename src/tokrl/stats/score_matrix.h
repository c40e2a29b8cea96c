// ScoreMatrix: the input of every aggregate in tokrl/stats, a dense
// [runs x tasks] table of doubles (rliable's `score_matrix` layout).
//
//   row r    = one independent run (a seed), 0 <= r < runs()
//   column t = one task (a game),            0 <= t < tasks()
//
// Invariants: runs() >= 1 and tasks() >= 1 for a matrix built from data
// (an empty matrix is only default-constructed); every row has tasks()
// entries (the table is rectangular: each task has the same number of runs,
// as rliable requires). Values may be any finite double; a NaN or infinity
// is rejected at construction with tokrl::Error, because every aggregate
// would silently turn into NaN.
#ifndef TOKRL_STATS_SCORE_MATRIX_H_
#define TOKRL_STATS_SCORE_MATRIX_H_

#include <cstdint>
#include <span>
#include <vector>

namespace tokrl::stats {

namespace internal {
struct ScoreMatrixAccess;  // bootstrap.cc: refills a replicate in place
}  // namespace internal

class ScoreMatrix {
 public:
  ScoreMatrix() = default;
  // `values` is row-major, size runs * tasks. Throws tokrl::Error on a size
  // mismatch, runs < 1, tasks < 1 or a non-finite value.
  ScoreMatrix(int64_t runs, int64_t tasks, std::vector<double> values);
  // rows[r][t]; every row must have the same, non-zero length.
  static ScoreMatrix FromRows(const std::vector<std::vector<double>>& rows);

  int64_t runs() const { return runs_; }
  int64_t tasks() const { return tasks_; }
  double operator()(int64_t run, int64_t task) const {
    return values_[static_cast<size_t>(run * tasks_ + task)];
  }
  // All runs x tasks values, row-major.
  std::span<const double> values() const { return values_; }
  // Column `task` (its runs() values), copied.
  std::vector<double> Task(int64_t task) const;

 private:
  friend struct internal::ScoreMatrixAccess;
  int64_t runs_ = 0, tasks_ = 0;
  std::vector<double> values_;
};

}  // namespace tokrl::stats

#endif  // TOKRL_STATS_SCORE_MATRIX_H_
