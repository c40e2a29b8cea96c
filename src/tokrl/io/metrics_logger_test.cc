#include "tokrl/io/metrics_logger.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/testing.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/io/tfevents.h"

namespace tokrl::io {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<int64_t> JsonlSteps(const fs::path& path) {
  std::vector<int64_t> steps;
  for (const std::string& line : Lines(ReadFile(path))) {
    steps.push_back(nlohmann::json::parse(line).at("step").get<int64_t>());
  }
  return steps;
}

std::vector<int64_t> CsvSteps(const fs::path& path) {
  std::vector<int64_t> steps;
  const std::vector<std::string> lines = Lines(ReadFile(path));
  for (size_t i = 1; i < lines.size(); ++i) {
    steps.push_back(std::stoll(lines[i].substr(0, lines[i].find(','))));
  }
  return steps;
}

class MetricsLoggerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("tokrl_metrics_" + std::string(info->name()) + "_" +
            std::to_string(::getpid())) /
           "run";
    fs::remove_all(dir_.parent_path());
  }
  void TearDown() override { fs::remove_all(dir_.parent_path()); }

  fs::path csv() const { return dir_ / "metrics.csv"; }
  fs::path jsonl() const { return dir_ / "metrics.jsonl"; }

  fs::path dir_;
};

TEST_F(MetricsLoggerTest, WritesAllThreeSinks) {
  fs::path events;
  {
    MetricsLogger log(dir_, /*tensorboard=*/true);  // creates dir_
    events = log.tfevents_path();
    EXPECT_EQ(events.parent_path(), dir_);
    log.Log(100, {{"loss", 0.5}, {"return", 2.0}});
    log.Log(200, {{"loss", 0.25}, {"return", -1.5}});
    EXPECT_EQ(log.columns(), (std::vector<std::string>{"loss", "return"}));
    EXPECT_EQ(log.last_step(), 200);
    // Written through before Log() returns, without closing the logger.
    EXPECT_EQ(ReadFile(csv()), "step,loss,return\n100,0.5,2\n200,0.25,-1.5\n");
    EXPECT_EQ(ReadFile(jsonl()),
              "{\"step\":100,\"loss\":0.5,\"return\":2.0}\n"
              "{\"step\":200,\"loss\":0.25,\"return\":-1.5}\n");
    EXPECT_EQ(ReadTfEvents(events).scalars.size(), 4u);
  }
  const TfEventsFile file = ReadTfEvents(events);
  ASSERT_EQ(file.scalars.size(), 4u);
  EXPECT_EQ(file.scalars[0].tag, "loss");
  EXPECT_EQ(file.scalars[0].step, 100);
  EXPECT_EQ(file.scalars[3].tag, "return");
  EXPECT_EQ(file.scalars[3].value, -1.5f);

  MetricsLogger without_tb(dir_ / "other", false);
  EXPECT_TRUE(without_tb.tfevents_path().empty());
}

TEST_F(MetricsLoggerTest, ValuesRoundTripExactly) {
  const std::vector<double> values = {0.1,   1.0 / 3.0, -2.5e-300,
                                      1e300, 0.0,       123456789.123456789};
  {
    MetricsLogger log(dir_, false);
    for (size_t i = 0; i < values.size(); ++i) {
      log.Log(static_cast<int64_t>(i), {{"v", values[i]}});
    }
    log.Log(99, {{"v", std::numeric_limits<double>::quiet_NaN()}});
  }
  const std::vector<std::string> csv_lines = Lines(ReadFile(csv()));
  const std::vector<std::string> json_lines = Lines(ReadFile(jsonl()));
  ASSERT_EQ(csv_lines.size(), values.size() + 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string cell =
        csv_lines[i + 1].substr(csv_lines[i + 1].find(',') + 1);
    EXPECT_EQ(std::stod(cell), values[i]) << cell;
    EXPECT_EQ(nlohmann::json::parse(json_lines[i])["v"].get<double>(),
              values[i]);
  }
  EXPECT_EQ(csv_lines.back(), "99,nan");
  EXPECT_TRUE(nlohmann::json::parse(json_lines.back())["v"].is_null());
}

TEST_F(MetricsLoggerTest, ColumnPolicy) {
  MetricsLogger log(dir_, false);
  log.Log(1, {{"b", 1}, {"a", 2}});  // columns sorted: a, b
  log.Log(2, {{"b", 3}});            // a missing: empty cell
  log.Log(2, {{"a", 4}});            // same step again is fine
  const std::string error = ErrorOf([&] { log.Log(3, {{"a", 5}, {"c", 6}}); });
  EXPECT_NE(error.find("metric 'c' (step 3) is not a column"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("columns: a, b"), std::string::npos) << error;
  // The rejected row was written nowhere.
  EXPECT_EQ(ReadFile(csv()), "step,a,b\n1,2,1\n2,,3\n2,4,\n");
  EXPECT_EQ(Lines(ReadFile(jsonl())).size(), 3u);
  EXPECT_EQ(Lines(ReadFile(jsonl()))[1], "{\"step\":2,\"b\":3.0}");

  EXPECT_NE(ErrorOf([&] {
              log.Log(4, {{"step", 1}});
            }).find("reserved"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              log.Log(4, {{"a,b", 1}});
            }).find("'a,b'"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { log.Log(4, {}); }).find("no values"),
            std::string::npos);
  const std::string backwards = ErrorOf([&] { log.Log(1, {{"a", 1}}); });
  EXPECT_NE(backwards.find("step 1 is before the last logged step 2"),
            std::string::npos)
      << backwards;
  EXPECT_EQ(CsvSteps(csv()), (std::vector<int64_t>{1, 2, 2}));
}

TEST_F(MetricsLoggerTest, DeclaredColumns) {
  const MetricsLoggerOptions options{.tensorboard = false,
                                     .resume_step = {},
                                     .columns = {"train/loss", "eval/return"}};
  {
    MetricsLogger log(dir_, options);
    EXPECT_EQ(log.columns(), options.columns);
    log.Log(10, {{"train/loss", 1.5}});
    log.Log(20, {{"eval/return", 7}, {"train/loss", 1.25}});
  }
  EXPECT_EQ(ReadFile(csv()),
            "step,train/loss,eval/return\n10,1.5,\n20,1.25,7\n");

  // Reopening with other declared columns is refused.
  const std::string error = ErrorOf([&] {
    MetricsLogger log(dir_, MetricsLoggerOptions{.tensorboard = false,
                                                 .resume_step = {},
                                                 .columns = {"train/loss"}});
  });
  EXPECT_NE(error.find(csv().string()), std::string::npos) << error;
  EXPECT_NE(error.find("differ from the declared columns"), std::string::npos)
      << error;
  EXPECT_NE(ErrorOf([&] {
              MetricsLogger log(dir_ / "x",
                                MetricsLoggerOptions{.tensorboard = false,
                                                     .resume_step = {},
                                                     .columns = {"a", "a"}});
            }).find("listed twice"),
            std::string::npos);
}

TEST_F(MetricsLoggerTest, ReopenAppends) {
  {
    MetricsLogger log(dir_, false);
    log.Log(1, {{"x", 1}});
    log.Log(2, {{"x", 2}});
  }
  {
    MetricsLogger log(dir_, false);
    EXPECT_EQ(log.columns(), std::vector<std::string>{"x"});  // from header
    EXPECT_EQ(log.last_step(), 2);
    EXPECT_NE(ErrorOf([&] {
                log.Log(3, {{"y", 1}});
              }).find("not a column"),
              std::string::npos);
    log.Log(3, {{"x", 3}});
  }
  EXPECT_EQ(ReadFile(csv()), "step,x\n1,1\n2,2\n3,3\n");
  EXPECT_EQ(JsonlSteps(jsonl()), (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(MetricsLoggerTest, ResumeDropsRowsAfterResumeStep) {
  fs::path first_events;
  {
    MetricsLogger log(dir_, true);
    first_events = log.tfevents_path();
    for (int64_t step = 1; step <= 10; ++step) {
      log.Log(step * 100, {{"loss", 1.0 / step}});
    }
  }
  // The crashed run's last checkpoint was at step 500.
  {
    MetricsLogger log(dir_, true, /*resume_step=*/500);
    EXPECT_EQ(log.last_step(), 500);
    EXPECT_NE(log.tfevents_path(), first_events);
    EXPECT_EQ(CsvSteps(csv()), (std::vector<int64_t>{100, 200, 300, 400, 500}));
    EXPECT_EQ(JsonlSteps(jsonl()),
              (std::vector<int64_t>{100, 200, 300, 400, 500}));
    for (int64_t step = 6; step <= 8; ++step) {
      log.Log(step * 100, {{"loss", 2.0 / step}});
    }
    const TfEventsFile events = ReadTfEvents(log.tfevents_path());
    EXPECT_EQ(events.session_starts, std::vector<int64_t>{501});
    EXPECT_EQ(events.scalars.size(), 3u);
  }
  const std::vector<int64_t> expected = {100, 200, 300, 400,
                                         500, 600, 700, 800};
  EXPECT_EQ(CsvSteps(csv()), expected);
  EXPECT_EQ(JsonlSteps(jsonl()), expected);
  EXPECT_EQ(Lines(ReadFile(csv()))[6], "600,0.3333333333333333");
  EXPECT_EQ(Lines(ReadFile(csv()))[0], "step,loss");
  // The old event file is untouched.
  EXPECT_EQ(ReadTfEvents(first_events).scalars.size(), 10u);

  // Resuming before the first row keeps the header only.
  { MetricsLogger log(dir_, false, /*resume_step=*/0); }
  EXPECT_EQ(ReadFile(csv()), "step,loss\n");
  EXPECT_EQ(ReadFile(jsonl()), "");
  // A resume step on a fresh run dir is fine.
  MetricsLogger fresh(dir_ / "fresh", false, 123);
  EXPECT_FALSE(fresh.last_step().has_value());
}

TEST_F(MetricsLoggerTest, TornLastLinesAreDropped) {
  {
    MetricsLogger log(dir_, false);
    log.Log(1, {{"x", 1}});
    log.Log(2, {{"x", 2}});
  }
  // A crash cut the step-3 writes short.
  WriteFileAtomic(csv(), ReadFile(csv()) + "3,0.12");
  WriteFileAtomic(jsonl(), ReadFile(jsonl()) + "{\"step\":3,\"x\"");
  {
    MetricsLogger log(dir_, false);
    EXPECT_EQ(log.last_step(), 2);
    log.Log(3, {{"x", 3}});
  }
  EXPECT_EQ(ReadFile(csv()), "step,x\n1,1\n2,2\n3,3\n");
  EXPECT_EQ(JsonlSteps(jsonl()), (std::vector<int64_t>{1, 2, 3}));

  // A torn header: the header is written again with the first row.
  fs::remove(jsonl());
  WriteFileAtomic(csv(), "step,");
  {
    MetricsLogger log(dir_, false);
    EXPECT_TRUE(log.columns().empty());
    log.Log(5, {{"y", 1}});
  }
  EXPECT_EQ(ReadFile(csv()), "step,y\n5,1\n");
}

TEST_F(MetricsLoggerTest, MalformedExistingFilesNameTheLine) {
  fs::create_directories(dir_);
  WriteFileAtomic(csv(), "step,x\n1,1\nabc,2\n");
  std::string error = ErrorOf([&] { MetricsLogger log(dir_, false); });
  EXPECT_NE(error.find(Quoted(csv()) + " line 3: bad step 'abc'"),
            std::string::npos)
      << error;

  WriteFileAtomic(csv(), "step,x\n1,1,5\n");
  error = ErrorOf([&] { MetricsLogger log(dir_, false); });
  EXPECT_NE(error.find("line 2: expected 2 fields, got 3"), std::string::npos)
      << error;

  WriteFileAtomic(csv(), "loss,x\n");
  error = ErrorOf([&] { MetricsLogger log(dir_, false); });
  EXPECT_NE(error.find("line 1: header"), std::string::npos) << error;

  fs::remove(csv());
  WriteFileAtomic(jsonl(), "{\"step\":1}\n[1,2]\n");
  error = ErrorOf([&] { MetricsLogger log(dir_, false); });
  EXPECT_NE(error.find(Quoted(jsonl()) + " line 2"), std::string::npos)
      << error;
}

}  // namespace
}  // namespace tokrl::io
