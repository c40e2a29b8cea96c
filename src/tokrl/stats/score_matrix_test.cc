#include "tokrl/stats/score_matrix.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tokrl/core/testing.h"
#include "tokrl/stats/stats_testing.h"

namespace tokrl::stats {
namespace {

using testing::Contains;

TEST(ScoreMatrixTest, RowMajorLayout) {
  const ScoreMatrix m(2, 3, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(m.runs(), 2);
  EXPECT_EQ(m.tasks(), 3);
  EXPECT_EQ(m(0, 0), 1);
  EXPECT_EQ(m(0, 2), 3);
  EXPECT_EQ(m(1, 0), 4);
  EXPECT_EQ(m(1, 2), 6);
  EXPECT_EQ(m.Task(1), (std::vector<double>{2, 5}));
  EXPECT_EQ(m.values().size(), 6u);
}

TEST(ScoreMatrixTest, FromRowsMatchesConstructor) {
  const ScoreMatrix m = ScoreMatrix::FromRows({{1, -2}, {3, 4}, {5, 6}});
  EXPECT_EQ(m.runs(), 3);
  EXPECT_EQ(m.tasks(), 2);
  EXPECT_EQ(m(1, 0), 3);
  EXPECT_EQ(m(0, 1), -2);
  EXPECT_EQ(m.Task(0), (std::vector<double>{1, 3, 5}));
}

TEST(ScoreMatrixTest, DefaultIsEmpty) {
  const ScoreMatrix m;
  EXPECT_EQ(m.runs(), 0);
  EXPECT_EQ(m.tasks(), 0);
  EXPECT_TRUE(m.values().empty());
}

TEST(ScoreMatrixTest, RejectsNonRectangularRows) {
  const std::string error = ErrorOf([] {
    ScoreMatrix::FromRows({{1, 2}, {3}, {4, 5}});
  });
  EXPECT_TRUE(Contains(error, "same length"));
  EXPECT_TRUE(Contains(error, "row 1 has 1"));
}

TEST(ScoreMatrixTest, RejectsEmptyShapes) {
  EXPECT_TRUE(
      Contains(ErrorOf([] { ScoreMatrix::FromRows({}); }), "at least one run"));
  EXPECT_TRUE(Contains(ErrorOf([] {
                         ScoreMatrix::FromRows({{}, {}});
                       }),
                       "at least one task"));
  EXPECT_TRUE(Contains(ErrorOf([] { ScoreMatrix(0, 3, {}); }),
                       "at least one run and one task"));
  EXPECT_TRUE(Contains(ErrorOf([] { ScoreMatrix(2, 0, {}); }),
                       "at least one run and one task"));
}

TEST(ScoreMatrixTest, RejectsSizeMismatch) {
  EXPECT_TRUE(Contains(ErrorOf([] {
                         ScoreMatrix(2, 3, {1, 2, 3, 4, 5});
                       }),
                       "needs 6 values, got 5"));
}

TEST(ScoreMatrixTest, RejectsNonFiniteValues) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::string error = ErrorOf([&] {
    ScoreMatrix::FromRows({{1, 2}, {3, nan}});
  });
  EXPECT_TRUE(Contains(error, "(run 1, task 1)"));
  EXPECT_TRUE(Contains(error, "finite"));
  EXPECT_TRUE(Contains(ErrorOf([&] {
                         ScoreMatrix(1, 2, {-inf, 0});
                       }),
                       "(run 0, task 0)"));
}

TEST(ScoreMatrixTest, TaskOutOfRange) {
  const ScoreMatrix m(1, 2, {1, 2});
  EXPECT_TRUE(Contains(ErrorOf([&] { m.Task(2); }), "out of range"));
}

}  // namespace
}  // namespace tokrl::stats
