#include "tokrl/core/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "tokrl/core/check.h"
#include "tokrl/core/gtest_helpers.h"
#include "tokrl/core/testing.h"

namespace tokrl {
namespace {

Config MakeConfig() {
  return Config({{"seed", int64_t{0}, "root seed"},
                 {"agent.lr", 1e-4, "learning rate"},
                 {"agent.double_q", true, "double DQN"},
                 {"agent.loss", std::string("mse"), "mse or huber"},
                 {"env.id", std::string("minatar/breakout"), "env"}});
}

TEST(Config, DefaultsTomlAndOverridesInOrder) {
  Config c = MakeConfig();
  EXPECT_EQ(c.GetInt("seed"), 0);
  c.LoadTomlString("seed = 3\n[agent]\nlr = 2.5e-4\nloss = \"huber\"\n",
                   "test.toml");
  EXPECT_EQ(c.GetInt("seed"), 3);
  EXPECT_DOUBLE_EQ(c.GetDouble("agent.lr"), 2.5e-4);
  EXPECT_EQ(c.GetString("agent.loss"), "huber");
  c.SetAssignment("agent.lr=1e-3");
  c.SetAssignment("agent.double_q=false");
  c.SetAssignment("env.id=minatar/asterix(sticky=0)");
  EXPECT_DOUBLE_EQ(c.GetDouble("agent.lr"), 1e-3);
  EXPECT_FALSE(c.GetBool("agent.double_q"));
  EXPECT_EQ(c.GetString("env.id"), "minatar/asterix(sticky=0)");
}

TEST(Config, IntegerIsAcceptedForFloat) {
  Config c = MakeConfig();
  c.LoadTomlString("[agent]\nlr = 1\n", "t");
  EXPECT_DOUBLE_EQ(c.GetDouble("agent.lr"), 1.0);
}

TEST(Config, ToTomlRoundTrips) {
  Config c = MakeConfig();
  c.SetAssignment("agent.lr=0.000123456789");
  c.SetAssignment("agent.loss=\"hu\\ber\"");
  Config d = MakeConfig();
  d.LoadTomlString(c.ToToml(), "resolved");
  EXPECT_EQ(d.ToToml(), c.ToToml());
  EXPECT_EQ(d.ToJson(), c.ToJson());
}

TEST(Config, MalformedTomlNamesFileAndLine) {
  Config c = MakeConfig();
  const std::string msg = ErrorOf(
      [&] { c.LoadTomlString("seed = 1\n[agent\nlr=1\n", "bad.toml"); });
  EXPECT_NE(msg.find("malformed TOML in bad.toml at line 2"), std::string::npos)
      << msg;
}

TEST(Config, UnknownKeySuggestsCloseOnes) {
  Config c = MakeConfig();
  const std::string msg =
      ErrorOf([&] { c.LoadTomlString("[agent]\nlrr = 1.0\n", "x.toml"); });
  EXPECT_NE(msg.find("unknown config key 'agent.lrr'"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("agent.lr"), std::string::npos) << msg;
  EXPECT_NE(msg.find("x.toml:2"), std::string::npos) << msg;
  EXPECT_NE(ErrorOf([&] {
              c.SetAssignment("agent.nope=1");
            }).find("unknown config key"),
            std::string::npos);
}

TEST(Config, WrongTypesAreRejected) {
  Config c = MakeConfig();
  EXPECT_NE(ErrorOf([&] {
              c.LoadTomlString("seed = 1.5\n", "t");
            }).find("must be an integer"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              c.LoadTomlString("[agent]\ndouble_q = \"yes\"\n", "t");
            }).find("must be a boolean, got string"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf([&] { c.SetAssignment("seed=abc"); }).find("not an integer"),
      std::string::npos);
  EXPECT_NE(
      ErrorOf([&] { c.SetAssignment("agent.lr=fast"); }).find("not a number"),
      std::string::npos);
  EXPECT_NE(
      ErrorOf([&] { c.SetAssignment("agent.double_q=1"); }).find("boolean"),
      std::string::npos);
  EXPECT_NE(ErrorOf([&] { c.SetAssignment("noequals"); }).find("key=value"),
            std::string::npos);
}

TEST(Config, IncludeLoadsTheBaseFirst) {
  const auto dir = std::filesystem::temp_directory_path() / "tokrl_config_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "base.toml") << "seed = 5\n[agent]\nlr = 0.5\n";
  std::ofstream(dir / "child.toml")
      << "include = \"base.toml\"\n[agent]\nlr = 0.25\n";
  Config c = MakeConfig();
  c.LoadTomlFile(dir / "child.toml");
  EXPECT_EQ(c.GetInt("seed"), 5);
  EXPECT_DOUBLE_EQ(c.GetDouble("agent.lr"), 0.25);
  EXPECT_EQ(c.sources().size(), 2u);
  std::ofstream(dir / "loop.toml") << "include = \"loop.toml\"\n";
  EXPECT_NE(ErrorOf([&] {
              MakeConfig().LoadTomlFile(dir / "loop.toml");
            }).find("too deep"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              MakeConfig().LoadTomlFile(dir / "missing.toml");
            }).find("cannot read config file"),
            std::string::npos);
  std::filesystem::remove_all(dir);
}

// Regression (issue 9.5): strings with quotes, backslashes and shell
// characters are written as TOML strings that load back unchanged.
TEST(Config, ToTomlEscapesEveryStringCharacter) {
  Config c = MakeConfig();
  const std::string tricky = "x`touch pwned` $HOME \\ \"q\" 'a' #c [t] é";
  c.Set("agent.loss", tricky);
  Config back = MakeConfig();
  back.LoadTomlString(c.ToToml(), "round trip");
  EXPECT_EQ(back.GetString("agent.loss"), tricky);
}

// Regression (issue 9.5): a newline in a label made config.toml unreadable.
TEST(Config, ControlCharactersInStringsAreRejected) {
  Config c = MakeConfig();
  EXPECT_TRUE(Contains(ErrorOf([&] { c.Set("agent.loss", "a\nb"); }),
                       "'agent.loss' contains a control character (code 10)"));
  EXPECT_TRUE(Contains(ErrorOf([&] {
                         c.LoadTomlString("[agent]\nloss = \"a\\tb\"\n",
                                          "t.toml");
                       }),
                       "t.toml:2: config key 'agent.loss' contains a control "
                       "character (code 9)"));
  EXPECT_EQ(c.GetString("agent.loss"), "mse");
}

// Regression (issue 9.12): a directory used to load as an empty config.
TEST(Config, DirectoryIsNotAConfigFile) {
  Config c = MakeConfig();
  const auto dir = std::filesystem::temp_directory_path();
  EXPECT_TRUE(Contains(ErrorOf([&] { c.LoadTomlFile(dir); }),
                       "is a directory, not a TOML file"));
  EXPECT_TRUE(Contains(
      ErrorOf([&] { c.LoadTomlString("include = \"/tmp\"\n", "inc.toml"); }),
      "inc.toml: included file '/tmp' is a directory"));
}

}  // namespace
}  // namespace tokrl
