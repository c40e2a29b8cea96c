#include "tokrl/io/run_info.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

namespace tokrl::io {
namespace {

TEST(RunInfo, FieldsAreFilled) {
  const RunInfo info = CollectRunInfo("1.2.3", {"tokrl", "train", "--seed=1"});
  EXPECT_EQ(info.tokrl_version, "1.2.3");
  EXPECT_FALSE(info.git_commit.empty());
  EXPECT_FALSE(info.hostname.empty());
  EXPECT_FALSE(info.cpu_model.empty());
  EXPECT_GT(info.num_cores, 0);
  EXPECT_EQ(info.os.rfind("Linux ", 0), 0u) << info.os;
  EXPECT_NE(info.compiler.find(__VERSION__), std::string::npos);
  EXPECT_TRUE(std::regex_match(
      info.start_time,
      std::regex(
          R"(20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z)")))
      << info.start_time;
  EXPECT_EQ(info.command_line,
            (std::vector<std::string>{"tokrl", "train", "--seed=1"}));
#ifndef TOKRL_GIT_COMMIT
  EXPECT_EQ(info.git_commit, "unknown");
#endif
  // An empty version is reported as unknown rather than left blank.
  EXPECT_EQ(CollectRunInfo("", {}).tokrl_version, "unknown");
}

TEST(RunInfo, ToJsonParses) {
  RunInfo info = CollectRunInfo("0.1.0", {"tokrl", "a \"quoted\" arg", "\xff"});
  const std::string text = info.ToJson();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const nlohmann::json json = nlohmann::json::parse(text);
  ASSERT_TRUE(json.is_object());
  for (const char* key : {"tokrl_version", "git_commit", "hostname",
                          "cpu_model", "os", "compiler", "start_time"}) {
    ASSERT_TRUE(json.contains(key)) << key;
    EXPECT_TRUE(json[key].is_string()) << key;
    EXPECT_FALSE(json[key].get<std::string>().empty()) << key;
  }
  EXPECT_EQ(json["tokrl_version"], "0.1.0");
  EXPECT_EQ(json["hostname"], info.hostname);
  EXPECT_EQ(json["num_cores"], info.num_cores);
  ASSERT_TRUE(json["command_line"].is_array());
  ASSERT_EQ(json["command_line"].size(), 3u);
  EXPECT_EQ(json["command_line"][1], "a \"quoted\" arg");
}

TEST(RunInfo, FormatIsoUtc) {
  EXPECT_EQ(FormatIsoUtc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIsoUtc(1700000000), "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace tokrl::io
