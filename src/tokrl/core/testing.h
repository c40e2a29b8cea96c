// Helpers shared by tests and benchmarks (never used by the library).
#ifndef TOKRL_CORE_TESTING_H_
#define TOKRL_CORE_TESTING_H_

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "tokrl/core/check.h"

namespace tokrl {

// Where the source tree (configs/, tests/golden/) is: the TOKRL_SOURCE_DIR
// environment variable, else the path CMake compiled in (TOKRL_SOURCE_DIR
// macro), else ".".
inline std::filesystem::path SourceDir() {
  if (const char* env = std::getenv("TOKRL_SOURCE_DIR")) return env;
#ifdef TOKRL_SOURCE_DIR
  return TOKRL_SOURCE_DIR;
#else
  return ".";
#endif
}

// The message of the tokrl::Error that fn throws, or "" if it throws none.
inline std::string ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// '<path>' as error messages quote it. Built by appending: GCC 12 reports a
// false -Wrestrict for "literal" + std::string&& (GCC bug 105329).
inline std::string Quoted(const std::filesystem::path& path) {
  std::string out = "'";
  out.append(path.string()).append("'");
  return out;
}

}  // namespace tokrl

#endif  // TOKRL_CORE_TESTING_H_
