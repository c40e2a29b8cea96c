#include "tokrl/stats/score_matrix.h"

#include <cmath>
#include <utility>

#include "tokrl/core/check.h"

namespace tokrl::stats {

ScoreMatrix::ScoreMatrix(int64_t runs, int64_t tasks,
                         std::vector<double> values)
    : runs_(runs), tasks_(tasks), values_(std::move(values)) {
  if (runs < 1 || tasks < 1) {
    TOKRL_FAIL() << "score matrix needs at least one run and one task, got "
                 << runs << " runs x " << tasks << " tasks";
  }
  if (static_cast<int64_t>(values_.size()) != runs * tasks) {
    TOKRL_FAIL() << "score matrix of " << runs << " runs x " << tasks
                 << " tasks needs " << runs * tasks << " values, got "
                 << values_.size();
  }
  for (size_t i = 0; i < values_.size(); ++i) {
    if (!std::isfinite(values_[i])) {
      const auto index = static_cast<int64_t>(i);
      TOKRL_FAIL() << "score matrix entry (run " << index / tasks << ", task "
                   << index % tasks << ") is " << values_[i]
                   << "; scores must be finite";
    }
  }
}

ScoreMatrix ScoreMatrix::FromRows(
    const std::vector<std::vector<double>>& rows) {
  if (rows.empty()) TOKRL_FAIL() << "score matrix needs at least one run";
  const size_t tasks = rows.front().size();
  if (tasks == 0) TOKRL_FAIL() << "score matrix needs at least one task";
  std::vector<double> values;
  values.reserve(rows.size() * tasks);
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != tasks) {
      TOKRL_FAIL() << "score matrix rows must have the same length: row 0 has "
                   << tasks << " tasks, row " << r << " has " << rows[r].size();
    }
    values.insert(values.end(), rows[r].begin(), rows[r].end());
  }
  return ScoreMatrix(static_cast<int64_t>(rows.size()),
                     static_cast<int64_t>(tasks), std::move(values));
}

std::vector<double> ScoreMatrix::Task(int64_t task) const {
  TOKRL_CHECK(task >= 0 && task < tasks_)
      << "task " << task << " out of range [0, " << tasks_ << ")";
  std::vector<double> column(static_cast<size_t>(runs_));
  for (int64_t r = 0; r < runs_; ++r) {
    column[static_cast<size_t>(r)] = (*this)(r, task);
  }
  return column;
}

}  // namespace tokrl::stats
