#include "tokrl/env/env_options.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "tokrl/core/check.h"
#include "tokrl/core/testing.h"

namespace tokrl {
namespace {

TEST(EnvOptions, ParsesIdWithOptions) {
  auto [name, options] =
      ParseEnvId("minatar/breakout(sticky=0.25, ramping=false)");
  EXPECT_EQ(name, "minatar/breakout");
  EXPECT_DOUBLE_EQ(options.GetDouble("sticky", 0.1, 0, 1), 0.25);
  EXPECT_FALSE(options.GetBool("ramping", true));
  EXPECT_NO_THROW(options.Finish(name));
  EXPECT_EQ(options.ToString(), "ramping=false,sticky=0.25");
}

TEST(EnvOptions, PlainIdHasNoOptions) {
  auto [name, options] = ParseEnvId("toy/catch");
  EXPECT_EQ(name, "toy/catch");
  EXPECT_TRUE(options.values().empty());
  EXPECT_EQ(options.GetInt("rows", 10, 2, 100), 10);
}

TEST(EnvOptions, MalformedIdsAreRejected) {
  EXPECT_NE(ErrorOf([] { ParseEnvId("a(b=1"); }).find("malformed"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseEnvId("a(b)"); }).find("key=value"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseEnvId("a(=1)"); }).find("empty key"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseEnvId("a(b=1,b=2)"); }).find("duplicate"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseEnvId("a)"); }).find("stray"), std::string::npos);
}

TEST(EnvOptions, BadValuesNameKeyAndValue) {
  EnvOptions o(std::map<std::string, std::string>{
      {"sticky", "lots"}, {"steps", "-3"}, {"flag", "maybe"}, {"p", "2"}});
  const std::string a = ErrorOf([&] { o.GetDouble("sticky", 0, 0, 1); });
  EXPECT_NE(a.find("'sticky'"), std::string::npos);
  EXPECT_NE(a.find("lots"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { o.GetInt("steps", 0, 0, 10); }).find("out of range"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { o.GetBool("flag", true); }).find("boolean"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { o.GetDouble("p", 0, 0, 1); }).find("out of range"),
            std::string::npos);
  EnvOptions ints(std::map<std::string, std::string>{{"n", "1.5"}});
  EXPECT_NE(ErrorOf([&] { ints.GetInt("n", 0, 0, 10); }).find("not an integer"),
            std::string::npos);
}

TEST(EnvOptions, UnreadKeyIsAnError) {
  EnvOptions o(std::map<std::string, std::string>{{"stiky", "0.1"}});
  o.GetDouble("sticky", 0.1, 0, 1);
  const std::string msg = ErrorOf([&] { o.Finish("minatar/breakout"); });
  EXPECT_NE(msg.find("unknown option 'stiky'"), std::string::npos);
  EXPECT_NE(msg.find("sticky"), std::string::npos);  // lists the known keys
}

}  // namespace
}  // namespace tokrl
