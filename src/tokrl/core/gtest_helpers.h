// gtest helpers shared by the unit tests (never used by the library; kept
// apart from core/testing.h, which benchmarks include without gtest).
#ifndef TOKRL_CORE_GTEST_HELPERS_H_
#define TOKRL_CORE_GTEST_HELPERS_H_

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "tokrl/core/check.h"

namespace tokrl {

// EXPECT_TRUE(Contains(ErrorOf(...), "needle")) prints the whole text on
// failure (the test binaries do not link gmock's HasSubstr).
inline ::testing::AssertionResult Contains(const std::string& text,
                                           std::string_view needle) {
  if (text.find(needle) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "'" << text << "' does not contain '" << needle << "'";
}

// The message of the tokrl::Error that f throws, or "" when it throws none.
template <typename F>
std::string ErrorText(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace tokrl

#endif  // TOKRL_CORE_GTEST_HELPERS_H_
