#include "tokrl/core/check.h"

#include <gtest/gtest.h>

namespace tokrl {
namespace {

TEST(Check, PassingChecksDoNotThrow) {
  EXPECT_NO_THROW({ TOKRL_CHECK(1 + 1 == 2) << "never"; });
  EXPECT_NO_THROW({ TOKRL_CHECK_LT(1, 2); });
}

TEST(Check, FailureMessageNamesBothOperandsAndContext) {
  try {
    const int limit = 3;
    TOKRL_CHECK_LE(7, limit) << "too many widgets";
    FAIL() << "no throw";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("7 <= limit"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[7 vs 3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("too many widgets"), std::string::npos) << msg;
  }
}

TEST(Check, OperandsAreEvaluatedOnce) {
  int calls = 0;
  auto next = [&calls] { return ++calls; };
  EXPECT_THROW({ TOKRL_CHECK_EQ(next(), 5); }, Error);
  EXPECT_EQ(calls, 1);
  TOKRL_CHECK_EQ(next(), 2);
  EXPECT_EQ(calls, 2);
}

TEST(Check, FailThrowsWithMessage) {
  try {
    TOKRL_FAIL() << "unknown thing '"
                 << "x"
                 << "'";
    FAIL() << "no throw";
  } catch (const Error& e) {
    // Exactly the message: no "error:" prefix (the CLI adds one) and no
    // source location (these messages are for users).
    EXPECT_EQ(std::string(e.what()), "unknown thing 'x'");
  }
}

}  // namespace
}  // namespace tokrl
